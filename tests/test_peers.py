"""Peers in other languages (peers/, notebook 21): a Majordomo worker in C and a Majordomo client in
JavaScript, against our Python broker (``python -m zguide_py run majordomo.broker``), over tcp.

``make peers`` builds them (the C worker into build/, zeromq.js into peers/js/node_modules); the
session fixture runs it. Without a C compiler and libzmq's headers, or without Node and npm, those
tests are skipped with the reason, unless ZGUIDE_REQUIRE_PEERS is set (CI sets it: there they must
run). Every process is a child of the test, killed and reaped in the fixture's teardown; waits poll
output with a bound, never a fixed sleep; every port comes from free_tcp_port. Heartbeats are short
(0.1 s x 3) and given explicitly on every side.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import prockit
import pytest
import zmq

from prockit import TIMEOUT, Proc
from zguide_py.lab import free_tcp_port

ROOT = Path(__file__).resolve().parent.parent
MDWORKER = ROOT / "build" / "mdworker"
MDCLIENT = ROOT / "peers" / "js" / "mdclient.mjs"
ZEROMQ_JS = ROOT / "peers" / "js" / "node_modules" / "zeromq" / "package.json"
HB = ["heartbeat=0.1", "liveness=3"]
MDPW, MDPC = b"MDPW01", b"MDPC01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"


def ep() -> str:
    return f"tcp://127.0.0.1:{free_tcp_port()}"


# ---- building the peers, or saying why not --------------------------------------------------------

def _c_missing() -> str | None:
    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        return "no C compiler (cc): apt-get install gcc"
    probe = subprocess.run([cc, "-E", "-"], input="#include <zmq.h>\n", capture_output=True, text=True, timeout=60)
    return None if probe.returncode == 0 else "no libzmq headers (zmq.h): apt-get install libzmq3-dev"


def _js_missing() -> str | None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "no Node.js and npm: apt-get install nodejs npm"
    return None


@pytest.fixture(scope="session")
def built() -> dict[str, str | None]:
    """``make peers`` once per session; what is still missing after it, per language (None: ready)."""
    missing = {"c": _c_missing(), "js": _js_missing()}
    if not all(missing.values()) and shutil.which("make"):
        result = subprocess.run(["make", "--no-print-directory", "peers"], cwd=ROOT, capture_output=True,
                                text=True, timeout=600)
        if result.returncode != 0:
            pytest.fail(f"make peers failed:\n{result.stdout}{result.stderr}")
    if missing["c"] is None and not MDWORKER.is_file():
        missing["c"] = "make peers did not build build/mdworker"
    if missing["js"] is None and not ZEROMQ_JS.is_file():
        missing["js"] = "make peers did not install zeromq into peers/js/node_modules"
    return missing


def _need(built: dict, *languages: str) -> None:
    problems = [built[lang] for lang in languages if built[lang]]
    if problems:
        reason = "; ".join(problems)
        if os.environ.get("ZGUIDE_REQUIRE_PEERS"):
            pytest.fail(f"the peers must run here (ZGUIDE_REQUIRE_PEERS): {reason}")
        pytest.skip(reason)


@pytest.fixture
def need_c(built):
    _need(built, "c")


@pytest.fixture
def need_js(built):
    _need(built, "js")


# ---- child processes --------------------------------------------------------------------------------

class Procs(prockit.Procs):
    def broker(self, endpoint: str) -> Proc:
        return self.start("broker", [sys.executable, "-m", "zguide_py", "run", "majordomo.broker",
                                     "--bind", endpoint, *HB, "--json-status", "--every", "0.1"])

    def c_worker(self, endpoint: str, service: str = "echo", name: str = "cworker") -> Proc:
        return self.start(name, [str(MDWORKER), endpoint, service, *HB, "reconnect=0.1", f"name={name}"])

    def js_client(self, endpoint: str, *args: str, name: str = "jsclient") -> Proc:
        return self.start(name, ["node", str(MDCLIENT), endpoint, *args, f"name={name}"])


@pytest.fixture
def procs(tmp_path):
    with Procs(tmp_path) as running:
        yield running


def done_line(client: Proc, timeout: float = TIMEOUT) -> dict[str, int]:
    """The JavaScript client's last line, ``done replies=N failed=N mismatched=N``, as numbers; it
    must have exited with status 0."""
    status = client.wait_exit(timeout)
    found = re.findall(r"^done replies=(\d+) failed=(\d+) mismatched=(\d+)$", client.text(), re.M)
    assert status == 0 and found, client.text()[-3000:]
    replies, failed, mismatched = map(int, found[-1])
    return {"replies": replies, "failed": failed, "mismatched": mismatched}


# ---- through our broker ---------------------------------------------------------------------------

def test_c_workers_and_js_clients_through_the_python_broker(procs, need_c, need_js):
    """One C worker per service, one JavaScript client per service, all at once: every reply is
    the right bytes (each client checks each reply byte for byte), none lost."""
    endpoint = ep()
    procs.broker(endpoint)
    services = ["echo", "upper", "reverse"]
    workers = [procs.c_worker(endpoint, s, name=f"c{s}") for s in services]
    for worker in workers:
        worker.wait_line(r"^ready service=")
    clients = [procs.js_client(endpoint, s, "requests=150", "timeout=2", "retries=5", name=f"js{s}")
               for s in services]
    for client, worker in zip(clients, workers):
        assert done_line(client) == {"replies": 150, "failed": 0, "mismatched": 0}
        assert worker.count(r"^served n=") >= 150
        assert worker.count(r"^malformed") == 0


def test_python_client_with_the_c_worker(procs, need_c):
    endpoint = ep()
    procs.broker(endpoint)
    procs.c_worker(endpoint, "upper").wait_line(r"^ready service=upper")
    client = procs.start("pyclient", [sys.executable, "-m", "zguide_py", "run", "majordomo.client",
                                      "--connect", endpoint, "service=upper", "requests=100", "timeout=2",
                                      "retries=5", "--json-status", "--every", "0.1"])
    assert client.wait_exit() == 0, client.text()
    final = json.loads(client.text().splitlines()[-1])
    assert final["final"] and final["counts"]["replies"] == 100 and "mismatched" not in final["counts"]
    assert final["data"]["failed"] == [] and final["data"]["replies"][99] == ["upper 99", "UPPER 99"]


def test_js_client_mmi(procs, need_c, need_js):
    endpoint = ep()
    procs.broker(endpoint)
    procs.c_worker(endpoint, "reverse").wait_line(r"^ready service=reverse")
    # the broker may not have the worker yet: ask until it says 200 (bounded), then check the rest
    end = time.monotonic() + TIMEOUT
    while True:
        client = procs.js_client(endpoint, "mmi=reverse,nothing", "timeout=2")
        assert client.wait_exit() == 0, client.text()
        if "mmi service=reverse answer=200" in client.text() or time.monotonic() > end:
            break
    assert "mmi service=reverse answer=200" in client.text(), client.text()
    assert "mmi service=nothing answer=404" in client.text(), client.text()
    unknown = procs.js_client(endpoint, "mmi=mmi.nothing", "timeout=2")
    assert unknown.wait_exit() == 0 and "answer=404" in unknown.text()


def test_c_worker_sigkilled_and_restarted_js_client_retries(procs, need_c, need_js):
    """SIGKILL the only C worker mid-run: the broker purges it (removed=1), the JavaScript client
    times out and retries; a new C worker process serves the rest. Nothing lost, nothing wrong."""
    endpoint = ep()
    broker = procs.broker(endpoint)
    worker = procs.c_worker(endpoint)
    worker.wait_line(r"^ready service=echo")
    client = procs.js_client(endpoint, "requests=300", "timeout=0.5", "retries=20", "interval=0.002")
    client.wait_line(r"^reply n=50 ")
    worker.kill()
    broker.wait_line(r'"removed": 1')               # purged: 3 silent heartbeats
    client.wait_line(r"^retry n=")                  # the request it took with it: no answer, so again
    again = procs.c_worker(endpoint)
    again.wait_line(r"^served n=1$")
    assert done_line(client) == {"replies": 300, "failed": 0, "mismatched": 0}
    assert worker.proc.returncode == -signal.SIGKILL
    assert again.count(r"^served n=") + worker.count(r"^served n=") >= 300


def test_js_client_and_c_worker_survive_a_broker_restart(procs, need_c, need_js):
    """SIGKILL the broker mid-run and start a new one on the same endpoint: the C worker notices the
    silence and says READY again, the JavaScript client retries; every request is answered."""
    endpoint = ep()
    broker = procs.broker(endpoint)
    worker = procs.c_worker(endpoint)
    worker.wait_line(r"^ready service=echo")
    client = procs.js_client(endpoint, "requests=200", "timeout=0.5", "retries=40", "interval=0.002")
    client.wait_line(r"^reply n=50 ")
    broker.kill()
    client.wait_line(r"^retry n=")
    worker.wait_line(r"^broker-lost$")
    procs.broker(endpoint)
    assert done_line(client) == {"replies": 200, "failed": 0, "mismatched": 0}
    assert worker.count(r"^ready service=echo connection=") >= 2
    assert worker.proc.poll() is None               # the worker never died
    assert worker.terminate() == 0 and "exit status=0" in worker.text()


# ---- a raw ROUTER posing as a broker: the bytes on the wire -----------------------------------------

class FakeBroker:
    """A bare ROUTER socket that plays the broker, so a test can see and send every frame."""

    def __init__(self, ctx: zmq.Context):
        self.router = ctx.socket(zmq.ROUTER)
        self.router.linger = 0
        port = self.router.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"

    def recv(self, timeout: float = TIMEOUT, skip_heartbeats: bool = True) -> list[bytes]:
        end = time.monotonic() + timeout
        while self.router.poll(max(0, int((end - time.monotonic()) * 1000))):
            frames = self.router.recv_multipart()
            if not (skip_heartbeats and frames[2:4] == [MDPW, HEARTBEAT]):
                return frames
        raise AssertionError(f"nothing (but heartbeats) within {timeout} s")


@pytest.fixture
def fake_broker():
    with zmq.Context() as ctx:
        fake = FakeBroker(ctx)
        try:
            yield fake
        finally:
            fake.router.close(0)


def test_c_worker_survives_malformed_frames(procs, need_c, fake_broker):
    """Every message that is not 7/MDP is counted and dropped; the worker goes on and then answers a
    good REQUEST byte for byte; SIGTERM ends it cleanly with a DISCONNECT."""
    worker = procs.start("cworker", [str(MDWORKER), fake_broker.endpoint, "echo", "heartbeat=0.2", "liveness=50"])
    identity, *ready = fake_broker.recv()
    assert ready == [b"", MDPW, READY, b"echo"]
    assert identity.startswith(b"cworker.") and identity.endswith(b".1")
    bad = [
        [b"junk"],
        [b"", b"MDPW01"],
        [b"", b"MDPC01", REQUEST, b"client", b"", b"x"],
        [b"", MDPW, b"\x09"],
        [b"", MDPW, REQUEST + REQUEST, b"client", b"", b"x"],
        [b"", MDPW, REQUEST],
        [b"", MDPW, REQUEST, b"client", b"", ],
        [b"", MDPW, REQUEST, b"", b"", b"x"],              # no client address
        [b"", MDPW, REQUEST, b"client", b"not empty", b"x"],
        [b"", MDPW, HEARTBEAT, b"extra"],
        [b"", MDPW, DISCONNECT, b"extra"],
        [b"", MDPW, REPLY, b"client", b"", b"x"],          # a worker never gets a REPLY
        [b"", MDPW, REQUEST, b"client", b"", *[b"x"] * 100],   # too many frames
        [b"x" * 100_000, MDPW, REQUEST],
    ]
    for frames in bad:
        fake_broker.router.send_multipart([identity, *frames])
    worker.wait_line(r"^malformed why=", n=len(bad))
    request = [b"", MDPW, REQUEST, b"client\x00\xff", b"", b"hello", b"\x00\x01\xfe\xff" * 1000]
    fake_broker.router.send_multipart([identity, *request])
    assert fake_broker.recv() == [identity, b"", MDPW, REPLY, b"client\x00\xff", b"", b"hello",
                                  b"\x00\x01\xfe\xff" * 1000]
    assert worker.count(r"^ready") == 1 and worker.proc.poll() is None
    assert worker.terminate() == 0 and worker.text().rstrip().endswith("exit status=0")
    assert fake_broker.recv() == [identity, b"", MDPW, DISCONNECT]


def test_frames_identical_on_the_wire(procs, need_c, need_js, fake_broker):
    """The same message, sent by a Python peer and by a C or JavaScript one, is the same bytes: a
    worker's READY and its REPLY to one REQUEST (C and Python), a client's request (JavaScript and
    Python). Only the routing identity, which the ROUTER adds, differs."""
    py = [sys.executable, "-m", "zguide_py", "run"]
    # workers: READY, then the REPLY to the same REQUEST
    seen = {}
    for name, argv in (("c", [str(MDWORKER), fake_broker.endpoint, "upper", "heartbeat=1", "liveness=30"]),
                       ("python", [*py, "majordomo.worker", "--connect", fake_broker.endpoint, "service=upper",
                                   "heartbeat=1", "liveness=30"])):
        procs.start(f"{name}-worker", argv)
        identity, *ready = fake_broker.recv()
        fake_broker.router.send_multipart([identity, b"", MDPW, REQUEST, b"client1", b"", b"abc \xe9 xyz"])
        reply_identity, *reply = fake_broker.recv()
        assert reply_identity == identity
        seen[name] = (ready, reply)
    assert seen["c"] == seen["python"]
    assert seen["c"] == ([b"", MDPW, READY, b"upper"], [b"", MDPW, REPLY, b"client1", b"", b"ABC \xe9 XYZ"])
    # clients: the first request of each
    requests = {}
    for name, argv in (("js", ["node", str(MDCLIENT), fake_broker.endpoint, "reverse", "requests=1", "timeout=5",
                               "retries=1"]),
                       ("python", [*py, "majordomo.client", "--connect", fake_broker.endpoint, "service=reverse",
                                   "requests=1", "timeout=5", "retries=1"])):
        client = procs.start(f"{name}-client", argv)
        identity, *request = fake_broker.recv()
        requests[name] = request
        fake_broker.router.send_multipart([identity, b"", MDPC, b"reverse", request[-1][::-1]])
        assert client.wait_exit() == 0, client.text()
    assert requests["js"] == requests["python"] == [b"", MDPC, b"reverse", b"reverse 0"]


# ---- bad input: one clear line, no traceback ---------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    ([], "usage: mdworker"),
    (["tcp://127.0.0.1:1", "frobnicate"], "unknown service frobnicate"),
    (["tcp://127.0.0.1:1", "heartbeat=fast"], "heartbeat=fast is not a number"),
    (["tcp://127.0.0.1:1", "liveness=0"], "out of range"),
    (["tcp://127.0.0.1:1", "delay=-1"], "out of range"),
    (["tcp://127.0.0.1:1", "colour=blue"], "unknown parameter colour=blue"),
    (["nonsense://x"], "cannot connect to nonsense://x"),
])
def test_c_worker_bad_arguments(need_c, args, says):
    result = subprocess.run([str(MDWORKER), *args], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2 and says in result.stderr and not result.stdout, result


@pytest.mark.parametrize("args, says", [
    ([], "usage: node mdclient.mjs"),
    (["tcp://127.0.0.1:1", "frobnicate"], "unknown service frobnicate"),
    (["tcp://127.0.0.1:1", "requests=many"], "requests=many is not a whole number"),
    (["tcp://127.0.0.1:1", "timeout=-1"], "timeout=-1 is not a number of seconds"),
    (["tcp://127.0.0.1:1", "colour=blue"], "unknown parameter colour=blue"),
    (["nonsense://x"], "mdclient:"),
])
def test_js_client_bad_arguments(need_js, args, says):
    result = subprocess.run(["node", str(MDCLIENT), *args], capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode in (1, 2) and says in result.stderr, result
    assert "    at " not in result.stderr and len(result.stderr.strip().splitlines()) <= 2, result.stderr
