"""A role runs as its own process over tcp with the same code the notebook runs as a thread:
``python -m zguide_py run PATTERN.ROLE --bind/--connect ...``, its status lines, its signals, its errors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from zguide_py import Lab
from zguide_py.lab import free_tcp_port
from zguide_py.patterns import lazypirate, majordomo, reqrep

CLI = [sys.executable, "-m", "zguide_py"]


def test_echo_server_as_a_process_answers_a_lab_client():
    lab = Lab("cli-test")
    endpoint = lab.endpoint("echo", "tcp")
    server = subprocess.Popen([sys.executable, "-m", "zguide_py", "run", "reqrep", "echo_server",
                               f"endpoint={endpoint}", "--every", "0.2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lab.start("client", reqrep.client, endpoint=endpoint, requests=25, timeout=10)
        lab.wait_done("client", 30)
        assert lab.peer("client").data["answered"] == list(range(25))
    finally:
        server.terminate()
        out, err = server.communicate(timeout=20)
        lab.close()
    assert "echo_server" in out and "replies=25" in out, (out, err)


# ---- the command line: PATTERN.ROLE with --bind/--connect, status lines, signals, bad arguments ----

class Proc:
    """A CLI process whose stdout and stderr go to files (read while it runs)."""

    def __init__(self, folder: Path, *args: str, stdin=None):
        self.out, self.err = folder / f"{args[1]}.out", folder / f"{args[1]}.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([*CLI, *args], stdout=out, stderr=err, stdin=stdin,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def text(self) -> str:
        return self.out.read_text()

    def wait_for(self, lab: Lab, what: str, condition, timeout: float = 30) -> None:
        def ok():
            if self.proc.poll() is not None and not condition(self.text()):
                raise AssertionError(f"process exited {self.proc.returncode}:\n{self.text()}\n{self.err.read_text()}")
            return condition(self.text())
        lab.wait_for(ok, timeout, what)

    def stop(self, sig=signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)


def final_line(text: str, name: str) -> dict[str, int]:
    line = [x for x in text.splitlines() if x.startswith(f"{name} ")][-1]
    return {k.strip(): int(v) for k, v in (i.split("=") for i in line.split(":", 1)[1].split(",") if "=" in i)}


@pytest.mark.timeout(90)
def test_broker_and_worker_as_two_processes_serve_a_client(tmp_path):
    port = free_tcp_port()
    # the parameter names may be left out: the broker binds one endpoint, the worker connects one
    broker = Proc(tmp_path, "run", "majordomo.broker", "--bind", f"tcp://127.0.0.1:{port}", "--every", "0.2")
    worker = Proc(tmp_path, "run", "majordomo.worker", "--connect", str(port), "service='echo'", "--every", "0.2")
    try:
        with Lab("cli-test-mdp") as lab:
            broker.wait_for(lab, "the broker's status", lambda t: "] broker running" in t)
            # a client that timed out before the worker came up would retry, and the worker would
            # then serve 21 requests: start the client once the worker runs
            worker.wait_for(lab, "the worker's status", lambda t: "] worker running" in t)
            lab.start("client", majordomo.client, broker=f"tcp://127.0.0.1:{port}", requests=20,
                      timeout=2.0, retries=10)
            lab.wait_done("client", 60)
            client = lab.peer("client")
            assert len(client.data["replies"]) == 20 and not client.data["failed"], client.data
        assert worker.stop(signal.SIGINT) == 0 and broker.stop(signal.SIGTERM) == 0   # clean stops
        assert final_line(worker.text(), "worker")["requests"] == 20
        assert final_line(broker.text(), "broker")["replies"] == 20
        assert "worker stopped:" in worker.text() and "broker stopped:" in broker.text()
    finally:
        broker.stop(signal.SIGKILL)
        worker.stop(signal.SIGKILL)


BAD = [
    (["run", "nosuch.worker"], "unknown pattern 'nosuch'"),
    (["run", "paranoidpirate.nosuch"], "has no role 'nosuch'"),
    (["run", "paranoidpirate"], "which role of 'paranoidpirate'?"),
    (["run", "paranoidpirate.worker"], "missing endpoint"),
    (["run", "paranoidpirate.worker", "--connect", "tcp://127.0.0.1:99999"], "port 99999 is not in 1..65535"),
    (["run", "paranoidpirate.worker", "--connect", "inproc://backend"], "inproc:// only reaches"),
    (["run", "paranoidpirate.worker", "--connect", "tcp://127.0.0.1"], "bad endpoint 'tcp://127.0.0.1'"),
    (["run", "paranoidpirate.worker", "--bind", "5556"], "connects 'endpoint', it never binds it"),
    (["run", "paranoidpirate.queue", "--bind", "5555"], "binds 2 endpoints (frontend, backend)"),
    (["run", "paranoidpirate.queue", "--bind", "frontend=tcp://*:5555", "--bind", "backend=5556"],
     "refusing to bind tcp://*:5555"),
    (["run", "paranoidpirate.worker", "--connect", "5556", "nope=1"], "unknown parameter 'nope'"),
    (["run", "paranoidpirate.worker", "--connect", "5556", "liveness=many"], "liveness must be int"),
    (["run", "paranoidpirate.worker", "--connect", "interval=5556"], "'interval' is not an endpoint"),
    (["run", "paranoidpirate.worker", "--connect", "5556", "--every", "0"], "--every must be a positive number"),
    (["list", "nosuch"], "unknown pattern 'nosuch'"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_arguments_exit_2_with_a_message_naming_the_problem(args, message, capsys):
    from zguide_py.__main__ import main
    assert main(args) == 2                       # in this process: fast; the next test runs real ones
    err = capsys.readouterr().err
    assert message in err and err.startswith("error: "), err


@pytest.mark.parametrize("index", [0, 4, 9])
def test_bad_arguments_as_a_real_process(index):
    args, message = BAD[index]
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr


def test_a_role_that_refuses_its_values_at_start_exits_2_with_one_line():
    ports = [free_tcp_port() for _ in range(3)]
    result = subprocess.run([*CLI, "run", "binarystar.server", "side=nope", "--bind", f"frontend={ports[0]}",
                             "--bind", f"statepub={ports[1]}", "--connect", f"peer_statepub={ports[2]}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and result.stderr.strip() == (
        "error: binarystar.server refused its parameters: side must be 'primary' or 'backup', not 'nope'")


@pytest.mark.timeout(60)
def test_the_status_line_shows_rates_and_sigterm_stops_cleanly(tmp_path):
    with Lab("cli-test-status") as lab:
        endpoint = lab.endpoint("echo", "tcp")
        server = Proc(tmp_path, "run", "lazypirate.server", "--bind", endpoint, "--every", "0.2")
        try:
            lab.start("client", lazypirate.client, endpoint=endpoint, requests=10**6, pause=0.005, retries=50)
            # a line like "[    1.2 s] server running (replies 123.4/s, requests 123.4/s): replies=..."
            server.wait_for(lab, "a status line with a non-zero rate",
                            lambda t: any("(replies " in x and "(replies 0.0/s" not in x for x in t.splitlines()))
            assert server.stop(signal.SIGTERM) == 0
        finally:
            server.stop(signal.SIGKILL)
    lines = server.text().splitlines()
    assert lines[0].startswith("lazypirate.server as 'server', pid ") and "--bind endpoint=tcp://127.0.0.1:" in lines[0]
    assert lines[-1].startswith("server stopped: ") and final_line(server.text(), "server")["replies"] > 0


@pytest.mark.timeout(60)
def test_json_status_lines_for_a_parent_process_and_stdin_control(tmp_path):
    with Lab("cli-test-json") as lab:
        endpoint = lab.endpoint("echo", "tcp")
        server = Proc(tmp_path, "run", "lazypirate.server", "--bind", endpoint, "--every", "0.1", "--json-status",
                      "--stdin-control", stdin=subprocess.PIPE)
        try:
            lab.start("client", lazypirate.client, endpoint=endpoint, requests=10**6, pause=0.005, retries=50)
            server.wait_for(lab, "JSON status with replies", lambda t: '"replies": 1' in t or '"replies": 2' in t)
            server.proc.stdin.write(b"throttle 0.02\n")
            server.proc.stdin.flush()
            server.wait_for(lab, "the throttle taken", lambda t: '"throttle": 0.02' in t)
            server.proc.stdin.close()                    # the parent is gone: the child stops by itself
            assert server.proc.wait(20) == 0
        finally:
            server.stop(signal.SIGKILL)
    statuses = [json.loads(line) for line in server.text().splitlines()]
    assert all({"t", "name", "pid", "state", "counts", "rates"} <= set(s) for s in statuses)
    assert statuses[0]["pid"] == server.proc.pid and statuses[-1]["final"] and statuses[-1]["state"] == "stopped"
    assert any(s["rates"].get("replies", 0) > 0 for s in statuses[:-1])
    assert statuses[-1]["counts"]["replies"] > 0 and statuses[-1]["error"] is None


def test_binding_every_interface_needs_a_flag_and_warns():
    """Checked without binding anything but loopback: the refusal comes before the role starts, and
    the flag's warning and command line are read from the checked call. (The real bind with the flag
    runs in a private network namespace: tests/test_cli_hardening.py.)"""
    from zguide_py.rolecall import resolve, shown
    port = free_tcp_port()
    refused = subprocess.run([*CLI, "run", "reqrep.echo_server", "--bind", f"tcp://*:{port}"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--all-interfaces" in refused.stderr
    call = resolve("reqrep.echo_server", binds=[f"tcp://*:{port}"], all_interfaces=True)
    assert any("listens on every network interface" in w for w in call.warnings)
    assert f"--bind 'endpoint=tcp://*:{port}' --all-interfaces" in shown(call.argv())     # the header's command


def test_list_shows_roles_and_what_they_bind_and_connect():
    result = subprocess.run([*CLI, "list", "paranoidpirate"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "paranoidpirate: Paranoid Pirate" in result.stdout
    # the command line's defaults: the spec's heartbeat (1 s x 3), not the notebooks' short one
    assert "queue(frontend, backend, interval=1.0, liveness=3)  [binds frontend, backend]" in result.stdout
    assert "[connects endpoint]" in result.stdout


@pytest.mark.timeout(60)
def test_on_a_terminal_the_status_line_is_refreshed_in_place():
    controller, terminal = os.openpty()              # the CLI's stdout is a terminal
    try:
        proc = subprocess.Popen([*CLI, "run", "reqrep.echo_server", "--bind", str(free_tcp_port()),
                                 "--every", "0.1", "--seconds", "1"], stdout=terminal, stderr=subprocess.PIPE)
        os.close(terminal)
        assert proc.wait(60) == 0, proc.stderr.read()
        proc.stderr.close()
        output = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:                          # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(controller)
    text = output.decode()
    assert text.count("\r\x1b[2Kecho_server running") >= 3, text   # one line, rewritten in place
    assert "echo_server stopped:" in text


def test_json_status_sends_each_role_event_once_even_when_the_event_log_wraps(capsys):
    """The child's status lines carry the role's new events (not the lab's lifecycle ones), each
    exactly once, also after the lab's bounded event log has started to drop its oldest entries."""
    from collections import deque

    from zguide_py.__main__ import _Status

    def quiet(peer):
        while peer.running:
            peer.sleep(0.01)

    with Lab("cli-test-events") as lab:
        lab.events = deque(lab.events, maxlen=8)
        peer = lab.start("w", quiet)
        status = _Status("json", "w", "test.quiet")
        sent = []
        for batch in range(6):
            for i in range(5):                       # 5 new events a line, in a log that keeps 8
                peer.log("served", f"{batch}.{i}")
            lab.record("throttle", "w", 0.1)         # the lab's own: not sent
            lab.record("served", "other", "x")       # another peer's: not sent
            status.show(peer, float(batch))
            line = json.loads(capsys.readouterr().out)
            sent += [detail for _ago, kind, detail in line["events"] if kind == "served"]
            assert all(0 <= ago < 5 for ago, *_ in line["events"])
        status.show(peer, 6.0)                       # nothing new: no "events" key at all
        assert "events" not in json.loads(capsys.readouterr().out)
    assert sent == [f"{b}.{i}" for b in range(6) for i in range(5)]


def test_json_status_sends_an_events_fields_as_a_json_object(lab, capsys):
    """A role's structured event (peer.log(kind, **fields)) goes up as a JSON object, so the parent
    records fields again (zguide_py.procs.process), never a sentence to parse."""
    from zguide_py.__main__ import _Status

    def quiet(peer):
        while peer.running:
            peer.sleep(0.01)

    peer = lab.start("w", quiet)
    peer.log("served", seq=3, worker="w1")
    peer.log("note", "plain text")
    _Status("json", "w", "test.quiet").show(peer, 0.0)
    events = json.loads(capsys.readouterr().out)["events"]
    assert [e[1:] for e in events] == [["served", {"seq": 3, "worker": "w1"}], ["note", "plain text"]]


STUCK_ROLE = """
import functools, sys, threading, time
import zguide_py.__main__ as cli
from zguide_py.patterns import reqrep
cli.STOP_PATIENCE = 1.5

@functools.wraps(reqrep.echo_server)
def echo_server(peer, endpoint):          # a role that blocks where no kill reaches it
    print("stuck now", flush=True)
    threading.Event().wait()
reqrep.ROLES["echo_server"] = echo_server
sys.exit(cli.main(["run", "reqrep.echo_server", "endpoint=tcp://127.0.0.1:1"]))
"""


def test_a_role_stuck_past_its_kill_cannot_keep_the_process_alive(tmp_path):
    """Ctrl-C on a role blocked outside peer.poll/peer.sleep: the kill cannot end it, so a watchdog
    prints every thread's stack (where it blocked) and ends the process within STOP_PATIENCE."""
    out = tmp_path / "out"
    with open(out, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", STUCK_ROLE], stdout=fh, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        lab = Lab("stuck-wait")
        lab.wait_for(lambda: "stuck now" in out.read_text(), 30, "the role to start")
        lab.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = out.read_text()
    assert "did not stop within" in text and "Timeout (0:00:01.5" in text, text
    assert "in echo_server" in text, text        # the stuck thread's stack names the role
