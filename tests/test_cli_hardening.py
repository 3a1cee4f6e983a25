"""The command line under misuse (issue 14): the every-interface guard however the address is spelled,
secrets never echoed, every error one line with exit status 2, and defaults that follow the specs.

Nothing here binds a host interface other than loopback: refusals are checked before anything binds,
and the one test that really binds every interface (and a non-loopback address) runs inside a private
network namespace (``unshare -rn``)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from zguide_py import Lab, procs
from zguide_py.__main__ import main
from zguide_py.lab import free_tcp_port
from zguide_py.patterns import security as sec
from zguide_py.rolecall import CLI_DEFAULTS, UsageError, check_endpoint, resolve, role_params, shown

CLI = [sys.executable, "-m", "zguide_py"]
SECRET = "hunter2-Zq9"          # a password that must never be printed


def one_error_line(err: str) -> str:
    """stderr holds exactly one error line (after any one-line warnings), and no traceback."""
    lines = [x for x in err.splitlines() if x.strip() and not x.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# ---- the guard ------------------------------------------------------------------------------------

EVERY_INTERFACE = ["*", "0.0.0.0", "0", "0.0", "000.000.000.000", "0x0", "0x00000000", "[::]", "[::0]",
                   "[::ffff:0.0.0.0]", "[0:0:0:0:0:ffff:0:0]"]
NOT_LOOPBACK = ["10.1.2.3", "192.168.0.1", "8.8.8.8", "0xa010203", "[fe80::1]", "[2001:db8::1]",
                "[::ffff:10.1.2.3]", "eth0"]
LOOPBACK = ["127.0.0.1", "127.1", "127.255.255.254", "0x7f000001", "0177.0.0.1", "localhost", "lo", "[::1]",
            "[::ffff:127.0.0.1]", ""]


@pytest.mark.parametrize("host", EVERY_INTERFACE + NOT_LOOPBACK)
def test_a_bind_that_is_not_loopback_is_refused_without_the_flag_however_it_is_spelled(host, capsys):
    if host == "eth0" and "eth0" not in {n for _, n in __import__("socket").if_nameindex()}:
        pytest.skip("no interface eth0 here")
    port = free_tcp_port()
    for args in (["--bind", f"tcp://{host}:{port}"], [f"endpoint=tcp://{host}:{port}"]):
        assert main(["run", "reqrep.echo_server", *args]) == 2       # refused before anything binds
        line = one_error_line(capsys.readouterr().err)
        assert f"refusing to bind tcp://{host}:{port}" in line and "--all-interfaces" in line, line
    with pytest.raises(UsageError, match="refusing to bind"):
        check_endpoint(f"tcp://{host}:{port}", "bind")
    # with the flag it is allowed (checked here without binding), with a warning that says where
    endpoint, warning = check_endpoint(f"tcp://{host}:{port}", "bind", all_interfaces=True)
    assert endpoint == f"tcp://{host}:{port}" and warning.startswith("warning: ") and "anybody" in warning


def test_every_spelling_of_every_interface_is_named_so_in_the_refusal():
    for host in EVERY_INTERFACE:
        with pytest.raises(UsageError, match=r"\(every network interface\)"):
            check_endpoint(f"tcp://{host}:5555", "bind")


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_binds_pass_without_the_flag(host):
    endpoint, warning = check_endpoint(f"tcp://{host}:5555", "bind")
    assert warning is None and endpoint == f"tcp://{host or '127.0.0.1'}:5555"


def test_an_endpoint_of_unknown_direction_is_guarded_when_it_can_only_be_a_bind():
    with pytest.raises(UsageError, match="refusing to bind tcp://0x0:5"):
        resolve("binarystar.client", [], ["servers=tcp://0x0:5"])          # --bind: the guard applies
    with pytest.raises(UsageError, match="refusing to bind"):
        check_endpoint("tcp://0.0:5", None)
    assert check_endpoint("tcp://10.1.2.3:5", None) == ("tcp://10.1.2.3:5", None)   # probably a connect


def test_a_host_that_is_not_an_address_name_or_interface_cannot_be_bound(capsys):
    assert main(["run", "reqrep.echo_server", "--bind", "tcp://nosuch-if.invalid:5555", "--all-interfaces"]) == 2
    assert "neither an address, a host name nor an interface" in one_error_line(capsys.readouterr().err)


def test_a_process_on_a_namespace_host_may_bind_its_hosts_addresses():
    """procs.process with a prefix (zguide_py.net's hosts) passes the guard (the child gets
    --all-interfaces) and leaves the host's own names to the child."""
    call = procs._call_from_params("reqrep.echo_server", {"endpoint": "tcp://198.18.0.2:5555"},
                                   prefix=["ip", "netns", "exec", "x"])
    assert call.params["endpoint"] == "tcp://198.18.0.2:5555" and call.all_interfaces
    call = procs._call_from_params("reqrep.echo_server", {"endpoint": "tcp://eth9:5555"}, prefix=["x"])
    assert call.params["endpoint"] == "tcp://eth9:5555"
    with pytest.raises(UsageError, match="refusing to bind"):
        procs._call_from_params("reqrep.echo_server", {"endpoint": "tcp://198.18.0.2:5555"})


def _private_network() -> list[str] | None:
    """``unshare -rn``: a new user and network namespace (root inside, nothing of the host's network)."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return None
    probe = subprocess.run(["unshare", "-rn", "ip", "link", "add", "zgprobe", "type", "veth", "peer", "name",
                            "zgprobe1"], capture_output=True, timeout=20)
    return ["unshare", "-rn"] if probe.returncode == 0 else None


DRIVER = textwrap.dedent("""
    import subprocess, sys, zmq
    def sh(*argv):
        subprocess.run(argv, check=True)
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "zg0", "type", "veth", "peer", "name", "zg1")
    sh("ip", "addr", "add", "10.9.8.7/24", "dev", "zg0")
    sh("ip", "link", "set", "zg0", "up")
    sh("ip", "link", "set", "zg1", "up")
    cli = [sys.executable, "-m", "zguide_py", "run", "reqrep.echo_server", "--seconds", "20"]
    out = {}
    for host in ("0x0", "10.9.8.7", "zg0"):
        refused = subprocess.run(cli + ["--bind", f"tcp://{host}:5599"], capture_output=True, text=True)
        server = subprocess.Popen(cli + ["--bind", f"tcp://{host}:5599", "--all-interfaces"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ctx = zmq.Context()
        req = ctx.socket(zmq.REQ)
        req.linger = 0
        req.connect("tcp://10.9.8.7:5599")           # the non-loopback address reaches it
        req.send(b"ping")
        answered = req.poll(20000) and req.recv() == b"ping"
        ctx.destroy(linger=0)
        server.terminate()
        err = server.communicate(timeout=20)[1]
        out[host] = {"refused": refused.returncode, "refusal": refused.stderr, "answered": bool(answered),
                     "exit": server.returncode, "warning": err}
    print(__import__("json").dumps(out))
""")


@pytest.mark.timeout(120)
def test_with_the_flag_every_interface_and_a_non_loopback_address_really_bind_inside_a_private_namespace():
    prefix = _private_network()
    if prefix is None:
        pytest.skip("no private network namespace here (unshare -rn with ip)")
    done = subprocess.run([*prefix, sys.executable, "-c", DRIVER], capture_output=True, text=True, timeout=110,
                          env=procs.child_env())
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for host, seen in result.items():
        assert seen["refused"] == 2 and "refusing to bind" in seen["refusal"], (host, seen)
        assert seen["answered"] and seen["exit"] == 0, (host, seen)
        assert "warning: " in seen["warning"] and "anybody who can reach" in seen["warning"], (host, seen)


# ---- secrets --------------------------------------------------------------------------------------

def test_a_password_on_the_command_line_is_masked_everywhere_and_warned_about(capsys):
    port = free_tcp_port()
    code = main(["run", "security.client", "--connect", str(port), "username=alice", f"password={SECRET}",
                 "requests=1", "timeout=0.1", "--seconds", "2"])
    out, err = capsys.readouterr()
    assert code == 0 and SECRET not in out + err, (out, err)
    assert "'password=***'" in out.splitlines()[0]                  # the first status line's command
    warnings = [x for x in err.splitlines() if x.startswith("warning: password=")]
    assert len(warnings) == 1 and "/proc/PID/cmdline" in warnings[0] and "password_file=" in warnings[0]


def test_json_status_never_carries_a_secret(capsys):
    port = free_tcp_port()
    assert main(["run", "security.client", "--connect", str(port), "username=alice", f"password={SECRET}",
                 "requests=1", "timeout=0.1", "--json-status", "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    assert SECRET not in out and [json.loads(x) for x in out.splitlines()]


def test_secret_values_are_text_and_are_masked_in_errors_and_shown_command_lines():
    call = resolve("security.client", ["username=alice", "password=1234"], connects=["5555"])
    assert call.params["password"] == "1234"                            # not the number 1234
    assert "1234" not in shown(call.argv(), call.fn) and "password=***" in shown(call.argv(), call.fn)
    assert call.secrets == {"password": "1234"} and "password" not in call.argv(secrets=False)[-1]
    with pytest.raises(UsageError, match=r"password must be str \| None, not \*\*\* \(a int\)") as refused:
        resolve("security.client", ["username=alice"], connects=["5555"], secrets={"password": 987654})
    assert "987654" not in str(refused.value)
    with pytest.raises(UsageError, match=r"password=\*\*\* cannot go on a command line") as refused:
        procs.format_value("password", {SECRET: object()})
    assert SECRET not in str(refused.value)
    assert sec.SECRET_PARAMS <= {"password"} | set(role_params(sec.client))


@pytest.mark.timeout(90)
def test_a_process_gets_its_password_in_its_environment_never_on_its_command_line(tmp_path):
    """procs.process: the child's /proc/PID/cmdline, peer.data["command"] and the lab's events hold no
    password, and the PLAIN handshake still works (the child got it)."""
    with Lab("hardening-secret-process") as lab:
        endpoint = lab.endpoint("plain", "tcp")
        lab.start("server", sec.server, endpoint=endpoint, passwords={"alice": SECRET})
        lab.start("client", procs.process, target="security.client", endpoint=endpoint, username="alice",
                  password=SECRET, requests=3, timeout=5.0)
        client = lab.peer("client")
        pid = lab.wait_for(lambda: client.data.get("pid"), 30, "the child's pid")
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            assert b"security.client" in cmdline and SECRET.encode() not in cmdline
        except FileNotFoundError:           # already done: its command line went with it
            pass
        lab.wait_for(lambda: client.state != "running", 60, "the client process to finish")
        assert client.state == "done", client.error
        assert client.data["result"]["answered"] == [0, 1, 2]              # the password was right
        assert SECRET not in client.data["command"] and "password" not in client.data["command"]
        assert SECRET not in repr(list(lab.events)) and SECRET not in repr(client.data)


def test_a_password_from_a_file_or_the_environment_is_not_warned_about(tmp_path, capsys, monkeypatch):
    pw = tmp_path / "pw"
    pw.write_text(SECRET + "\n")
    monkeypatch.setenv("ZGUIDE_TEST_PW", SECRET)
    port = free_tcp_port()
    for way in (f"password_file={pw}", "password_env=ZGUIDE_TEST_PW"):
        assert main(["run", "security.client", "--connect", str(port), "username=alice", way,
                     "requests=1", "timeout=0.1", "--seconds", "2"]) == 0
        out, err = capsys.readouterr()
        assert SECRET not in out + err and "warning" not in err, (out, err)


# ---- errors: one line, exit 2 ---------------------------------------------------------------------

def _bad_runs():
    p = "PORT"             # a free port, chosen when the test runs (ids stay the same in every process)
    return [
        (["run", "reqrep.echo_server", "--bind", str(p), "--seconds", "nan"], "--seconds must be a positive"),
        (["run", "reqrep.echo_server", "--bind", str(p), "--seconds", "inf"], "--seconds must be a positive"),
        (["run", "reqrep.echo_server", "--bind", str(p), "--seconds", "0"], "--seconds must be a positive"),
        (["run", "reqrep.echo_server", "--bind", str(p), "--seconds", "-1"], "--seconds must be a positive"),
        (["run", "reqrep.echo_server", "--bind", str(p), "--every", "nan"], "--every must be a positive"),
        (["run", "majordomo.worker", "--connect", str(p), "heartbeat=0"], "heartbeat must be more than 0"),
        (["run", "majordomo.worker", "--connect", str(p), "heartbeat=-2.5"], "heartbeat must not be negative"),
        (["run", "majordomo.broker", "--bind", str(p), "heartbeat=1e999"], "heartbeat must be a finite number"),
        (["run", "majordomo.broker", "--bind", str(p), "liveness=0"], "liveness must be more than 0"),
        (["run", "paranoidpirate.queue", "--bind", f"frontend={p}", "--bind", "backend=PORT2", "interval=0"],
         "interval must be more than 0"),
        (["run", "paranoidpirate.worker", "--connect", str(p), "interval=-0.1"], "interval must not be negative"),
        (["run", "majordomo.client", "--connect", str(p), "timeout=0"], "timeout must be more than 0"),
        (["run", "lazypirate.client", "--connect", str(p), "retries=-1"], "retries must not be negative"),
        (["run", "reqrep.client", "--connect", "tcp://nosuch-host.invalid:5555"], "does not resolve"),
        (["run", "reqrep.client", "--connect", "tcp://0x0:5555"], "cannot connect to '0x0'"),
        (["run", "reqrep.echo_server", "--bind", f"ipc://{os.sep}no-such-folder-zg/x.ipc"], "does not exist"),
        (["bench", "--messages", "0"], "--messages must be 1 to"),
        (["bench", "--messages", "-1"], "--messages must be 1 to"),
        (["bench", "--rounds", "0"], "--rounds must be 1 to"),
        (["bench", "--messages", "lots"], "must be a whole number"),
        (["bench", "--sweep", "foo"], "unknown transport 'foo'"),
        (["bench", "--sweep", "tcp,foo"], "unknown transport 'foo'"),
        (["run", "reqrep.echo_server", "--nope"], "unrecognized arguments: --nope"),
    ]


BAD_RUNS = _bad_runs()


@pytest.mark.parametrize("args, message", BAD_RUNS, ids=[" ".join(a) for a, _ in BAD_RUNS])
def test_a_bad_value_is_one_line_and_exit_2(args, message, capsys):
    ports = {"PORT": str(free_tcp_port()), "PORT2": str(free_tcp_port())}
    args = [re.sub(r"PORT2?", lambda m: ports[m.group(0)], a) for a in args]
    try:
        code = main(args)
    except SystemExit as exc:               # argparse's own checks exit
        code = exc.code
    assert code == 2
    assert message in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("args, message", [
    (["binarystar.server", "side=middle", "--bind", "frontend={0}", "--bind", "statepub={1}",
      "--connect", "peer_statepub={2}"], "binarystar.server refused its parameters: side must be 'primary' or 'backup'"),
    (["titanic.titanic_service", "service=nosuch", "folder={tmp}", "--connect", "{0}"],
     "titanic.titanic_service refused its parameters"),
    (["security.client", "--connect", "{0}", "username=a", "password_file={tmp}/nope"],
     "security.client refused its parameters: FileNotFoundError"),
    (["security.client", "--connect", "{0}", "username=a", "password_env=ZGUIDE_NO_SUCH_VARIABLE"],
     "no such environment variable"),
], ids=["side=middle", "service=nosuch", "missing password file", "missing password variable"])
def test_a_role_that_refuses_its_values_at_start_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    ports = [free_tcp_port() for _ in range(3)]
    args = [a.format(*ports, tmp=tmp_path) for a in args]
    assert main(["run", *args, "--seconds", "20"]) == 2
    out, err = capsys.readouterr()
    assert message in one_error_line(err), err


@pytest.mark.timeout(60)
def test_bind_errors_are_one_line_and_exit_2_in_a_real_process():
    import zmq
    ctx = zmq.Context()
    held = ctx.socket(zmq.REP)                      # a port in use (libzmq's bind retries for 1 s)
    held.bind("tcp://127.0.0.1:*")
    busy = held.last_endpoint.decode()
    try:
        cases = [(["--bind", busy], f"cannot bind {busy}: Address already in use"),
                 # an address this machine does not have: the bind fails, nothing listens
                 (["--bind", "tcp://192.0.2.77:5555", "--all-interfaces"],
                  "cannot bind tcp://192.0.2.77:5555: Cannot assign requested address"),
                 (["--bind", "tcp://nosuch-host.invalid:5555"], "neither an address, a host name nor an interface")]
        for args, message in cases:
            done = subprocess.run([*CLI, "run", "reqrep.echo_server", *args, "--seconds", "20"],
                                  capture_output=True, text=True, timeout=50)
            assert done.returncode == 2 and message in one_error_line(done.stderr), (args, done.stderr)
    finally:
        ctx.destroy(linger=0)


def test_a_role_that_fails_later_still_exits_1_with_its_traceback(monkeypatch, capsys):
    """Only start-up refusals are one line: an error once the role runs is a bug to read in full."""
    import zmq
    from zguide_py.patterns import reqrep

    def broken_server(peer, endpoint: str):
        rep = peer.socket(zmq.REP)
        rep.bind(endpoint)
        raise ValueError("a bug after the start")

    monkeypatch.setitem(reqrep.ROLES, "echo_server", broken_server)
    assert main(["run", "reqrep.echo_server", "--bind", str(free_tcp_port()), "--seconds", "20"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: a bug after the start" in err


# ---- defaults that follow the specs ---------------------------------------------------------------

SPEC = {"paranoidpirate.queue": {"interval": 1.0, "liveness": 3},
        "paranoidpirate.worker": {"interval": 1.0, "liveness": 3, "interval_init": 1.0, "interval_max": 32.0},
        "majordomo.broker": {"heartbeat": 2.5, "liveness": 3},
        "majordomo.worker": {"heartbeat": 2.5, "liveness": 3, "reconnect": 2.5},
        "titanic.titanic_service": {"heartbeat": 2.5, "liveness": 3}}
ENDPOINTS = {"paranoidpirate.queue": (["frontend=5555", "backend=5556"], []),
             "paranoidpirate.worker": ([], ["5556"]), "majordomo.broker": (["5555"], []),
             "majordomo.worker": ([], ["5555"]), "titanic.titanic_service": ([], ["5555"])}


@pytest.mark.parametrize("target", sorted(SPEC))
def test_the_command_lines_defaults_are_the_specs_heartbeats(target):
    binds, connects = ENDPOINTS[target]
    extra = ["folder=/tmp"] if target.startswith("titanic") else []
    call = resolve(target, extra, binds, connects)
    assert {k: call.params[k] for k in SPEC[target]} == SPEC[target] == CLI_DEFAULTS[target]
    assert call.defaulted == SPEC[target]
    assert set(SPEC[target]) <= set(role_params(call.fn))              # the names are the role's
    for name, value in SPEC[target].items():                           # shown on the first status line
        assert f"{name}={value!r}" in shown(call.argv())
    # a value the user gives wins
    name = next(iter(SPEC[target]))
    assert resolve(target, [*extra, f"{name}=0.2"], binds, connects).params[name] == 0.2
    # a process started from a notebook keeps the role's own (short) values, spelled out for the child
    call = resolve(target, extra, binds, connects, cli_defaults=False)
    own = {k: p.default for k, p in role_params(call.fn).items() if k in SPEC[target]}
    assert {k: call.params[k] for k in SPEC[target]} == own and not call.defaulted
    assert all(f"{k}={v!r}" in call.argv() for k, v in own.items())


def test_the_first_status_line_shows_the_effective_defaults(capsys):
    assert main(["run", "paranoidpirate.worker", "--connect", str(free_tcp_port()), "--seconds", "0.3"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "interval=1.0 liveness=3 interval_init=1.0 interval_max=32.0" in first, first


def test_a_lab_that_refuses_parameters_never_shows_a_secret(lab):
    """Lab.start's one-line refusal echoes the parameters it was given, with secrets as ***."""
    from zguide_py import LabError
    from zguide_py.patterns import security
    with pytest.raises(LabError) as refused:
        lab.start("client", security.client, endpoint="tcp://127.0.0.1:1", password="hunter2", colour="red")
    assert "hunter2" not in str(refused.value) and "'password': '***'" in str(refused.value)
    assert "colour" in str(refused.value)
