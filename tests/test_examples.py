"""The plain-pyzmq scripts in examples/: each runs over tcp on loopback against its partner script
and against the workbook's roles (``python -m zguide_py run ...``), both ways where both exist.

Every process is a child of the test and is killed in the fixture's teardown. Tests wait on output
lines or status counters with a bound, never on fixed sleeps; every port comes from free_tcp_port.
Heartbeats are short and given explicitly on both sides.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import prockit
import pytest

from prockit import TIMEOUT
from zguide_py.lab import free_tcp_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def ep() -> str:
    return f"tcp://127.0.0.1:{free_tcp_port()}"


class Proc(prockit.Proc):
    """A script or a workbook role; the roles print JSON status lines (--json-status)."""

    # ---- the workbook's roles print JSON status lines (--json-status) ----
    def status(self) -> list[dict]:
        return [json.loads(line) for line in self.text().splitlines() if line.startswith("{")]

    def counts(self) -> dict:
        lines = self.status()
        return lines[-1]["counts"] if lines else {}

    def wait_counts(self, what: str, predicate, timeout: float = TIMEOUT) -> dict:
        return self.wait_until(what, lambda: predicate(counts := self.counts()) and [counts], timeout)[0]

    def final(self, timeout: float = TIMEOUT) -> dict:
        """A workbook role that ends by itself: its exit status and its final status line."""
        assert self.wait_exit(timeout) == 0, self.text()
        last = self.status()[-1]
        assert last.get("final") and last["state"] == "done", last
        return last


class Procs(prockit.Procs):
    proc_class = Proc

    def script(self, name: str, *args: str, tag: str = "") -> Proc:
        return self.start(f"{name}{tag}", [sys.executable, str(EXAMPLES / f"{name}.py"), *args])

    def role(self, target: str, *args: str, tag: str = "") -> Proc:
        """A workbook role as a process: PATTERN.ROLE, --bind/--connect and name=value arguments."""
        argv = [sys.executable, "-m", "zguide_py", "run", target, *args, "--json-status", "--every", "0.1"]
        return self.start(f"{target}{tag}", argv)


@pytest.fixture
def procs(tmp_path):
    with Procs(tmp_path) as running:
        yield running


def ok(proc: Proc, needle: str, timeout: float = TIMEOUT) -> str:
    """A script that ends by itself: exit status 0 and ``needle`` in what it printed."""
    assert proc.wait_exit(timeout) == 0, proc.text()
    assert needle in proc.text(), proc.text()
    return proc.text()


def stop(*servers: Proc) -> None:
    for server in servers:
        assert server.interrupt() == 0, server.text()


# ---- every script: plain pyzmq, documented, lint-clean ---------------------------------------------

def test_scripts_use_plain_pyzmq_and_name_their_notebook():
    assert len(SCRIPTS) >= 30
    notebooks = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    for path in SCRIPTS:
        tree = ast.parse(path.read_text(), filename=str(path))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not any(name.split(".")[0] == "zguide_py" for name in imported), f"{path.name} imports zguide_py"
        doc = ast.get_docstring(tree) or ""
        named = re.findall(r"notebooks/(\d\d_\w+\.ipynb)", doc)
        assert named and all(n in notebooks for n in named), f"{path.name}: docstring names no notebook ({named})"
        source = path.read_text()
        assert "zmq.Context.instance" not in source and "while True" not in source, path.name


def test_every_notebook_with_scripts_names_them_all_and_shows_one():
    """examples/README.md maps notebooks to scripts; each such notebook names every one of its
    scripts in its section "The pattern without the lab", and shows at least one with show_example
    (whose names must exist)."""
    table = (EXAMPLES / "README.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| [")]
    assert len(rows) >= 16, rows
    for row in rows:
        notebooks = re.findall(r"\(\.\./notebooks/(\d\d_\w+)\.ipynb\)", row)
        scripts = set(re.findall(r"`(\w+)\.py", row))
        assert notebooks and scripts, row
        shown_any = False
        for nb in notebooks:
            src = (ROOT / "notebooks" / "src" / f"{nb}.py").read_text()
            if "## The pattern without the lab" not in src:
                continue
            section = src.split("## The pattern without the lab", 1)[1].split("## Teardown", 1)[0]
            missing = [name for name in scripts if f"examples/{name}.py" not in section]
            assert not missing, f"{nb} does not name {missing}"
            shown = re.findall(r"show_example\(([^)]*)\)", section)
            for call in shown:
                for name in ast.literal_eval(f"[{call}]"):
                    assert (EXAMPLES / f"{name}.py").is_file(), (nb, name)
            shown_any = shown_any or bool(shown)
        assert shown_any, f"no notebook of {notebooks} shows its scripts"


def test_scripts_pass_ruff():
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", str(EXAMPLES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- 00 basics, 01 request-reply, 02 pub-sub, 03 pipeline ------------------------------------------

def test_push_pull(procs):
    a, b, c = ep(), ep(), ep()
    puller = procs.script("puller", "--bind", a, "--count", "200")
    puller.wait_for("ready")
    procs.script("pusher", "--connect", a, "--count", "200")
    ours = procs.role("basics.puller", "--bind", b)                 # script pusher -> our puller
    procs.script("pusher", "--connect", b, "--count", "200", tag="2")
    theirs = procs.script("puller", "--bind", c, "--count", "200", tag="2")   # our pusher -> script puller
    theirs.wait_for("ready")
    procs.role("basics.pusher", "--connect", c, "count=200")
    ok(puller, "received=200")
    ok(theirs, "received=200")
    ours.wait_counts("200 received", lambda c: c.get("received") == 200)
    stop(ours)


def test_request_reply(procs):
    a, b = ep(), ep()
    server = procs.script("hwserver", "--bind", a)
    ours = procs.role("reqrep.echo_server", "--bind", b)
    server.wait_for("ready")
    client = procs.script("hwclient", "--connect", a, "--count", "20")
    their_client = procs.role("reqrep.client", "--connect", a, "requests=20", "timeout=10")
    our_server_client = procs.script("hwclient", "--connect", b, "--count", "20", tag="2")
    ok(client, "replies=20 of 20")
    ok(our_server_client, "replies=20 of 20")
    assert their_client.final()["counts"]["replies"] == 20
    stop(server, ours)


def test_publish_subscribe(procs):
    a, b = ep(), ep()
    server = procs.script("wuserver", "--bind", a, "--rate", "2000", "--zipcodes", "5")
    ours = procs.role("pubsub.publisher", "--bind", f"endpoint={b}", "topics=['10001 21 60']", "interval=0.001")
    server.wait_for("ready")
    client = procs.script("wuclient", "--connect", a, "--zipcode", "10001", "--count", "20")
    their_sub = procs.role("pubsub.subscriber", "--connect", f"endpoint={a}", "topics=['10001 ']")
    our_pub_client = procs.script("wuclient", "--connect", b, "--zipcode", "10001", "--count", "20", tag="2")
    ok(client, "updates=20")
    ok(our_pub_client, "updates=20 mean temperature for 10001: 21.0")
    their_sub.wait_counts("20 updates", lambda c: c.get("received", 0) >= 20)
    stop(server, ours, their_sub)


def test_pipeline(procs):
    a, b, c, d, e, f = (ep() for _ in range(6))
    # the scripts together: sink, two workers, ventilator
    sink = procs.script("tasksink", "--bind", b)
    workers = [procs.script("taskwork", "--connect", a, "--sink", b, "--name", f"w{i}", tag=str(i)) for i in (1, 2)]
    sink.wait_for("ready")
    for w in workers:
        w.wait_for("ready")
    vent = procs.script("taskvent", "--bind", a, "--sink", b, "--tasks", "40", "--work", "0.002")
    # a script worker between our ventilator and our sink
    our_sink = procs.role("pipeline.sink", "--bind", d)
    procs.script("taskwork", "--connect", c, "--sink", d, tag="3")
    procs.role("pipeline.ventilator", "--bind", c, "--connect", f"sink={d}", "tasks=40", "work=0.002")
    # our worker between the script ventilator and the script sink
    sink2 = procs.script("tasksink", "--bind", f, tag="2")
    procs.role("pipeline.worker", "--connect", f"endpoint={e}", "--connect", f"sink={f}")
    sink2.wait_for("ready")
    vent2 = procs.script("taskvent", "--bind", e, "--sink", f, "--tasks", "40", "--work", "0.002", tag="2")
    ok(sink, "results=40 of 40")
    ok(sink2, "results=40 of 40")
    ok(vent, "sent=40")
    ok(vent2, "sent=40")
    our_sink.wait_counts("40 results", lambda c: c.get("results") == 40)
    stop(*workers)


# ---- 04 router-dealer, 05 load balancing, 08 slow subscriber -----------------------------------------

def test_router_dealer(procs):
    a, front, back = ep(), ep(), ep()
    server = procs.script("asyncsrv", "--bind", a, "--workers", "3")
    our_server = procs.role("routerdealer.server_task", "--bind", f"frontend={front}", "--bind", f"backend={back}")
    procs.role("routerdealer.server_worker", "--connect", back)
    server.wait_for("ready")
    client = procs.script("asynccli", "--connect", a, "--count", "30", "--name", "c1")
    their_client = procs.role("routerdealer.client_task", "--connect", a, "requests=30", "--name", "ours")
    to_ours = procs.script("asynccli", "--connect", front, "--count", "30", "--name", "c2", tag="2")
    ok(client, "replies=30 lost=0")
    ok(to_ours, "replies=30 lost=0")
    assert their_client.final()["counts"]["replies"] == 30
    stop(server, our_server)
    timed = procs.script("asyncsrv", "--bind", ep(), "--seconds", "0.5", tag="2")   # --seconds: TERMINATE
    ok(timed, "asyncsrv: stopped")


def test_load_balancing(procs):
    f1, b1, f2, b2 = ep(), ep(), ep(), ep()
    broker = procs.script("lbbroker", "--frontend", f1, "--backend", b1)
    workers = [procs.script("lbworker", "--connect", b1, "--name", f"w{i}", "--work", "0.005", tag=str(i))
               for i in (1, 2)]
    their_worker = procs.role("loadbalance.worker", "--connect", b1, "work=0.005", "--name", "ours")
    our_broker = procs.role("loadbalance.lru_broker", "--bind", f"frontend={f2}", "--bind", f"backend={b2}")
    procs.script("lbworker", "--connect", b2, "--name", "w3", tag="3")
    for proc in (broker, *workers):
        proc.wait_for("ready")
    their_worker.wait_for('"state": "running"')       # READY sent: the LRU queue holds all three
    client = procs.script("lbclient", "--connect", f1, "--count", "30")
    their_client = procs.role("loadbalance.client", "--connect", f1, "requests=30")
    to_ours = procs.script("lbclient", "--connect", f2, "--count", "30", tag="2")
    text = ok(client, "replies=30 of 30")
    assert "'ours'" in text and "'w1'" in text and "'w2'" in text, text   # every worker took some
    ok(to_ours, "replies=30 of 30")
    assert their_client.final()["counts"]["replies"] == 30
    stop(broker, our_broker, *workers)


def test_slow_subscriber(procs):
    a, b, c, d = ep(), ep(), ep(), ep()
    # a subscriber that keeps up gets everything; a slow one dies at its first gap or stale message
    fast = procs.script("suisnail", "--connect", a)
    procs.script("suisnailpub", "--bind", a, "--rate", "2000", "--count", "1000")
    slow = procs.script("suisnail", "--connect", b, "--delay", "0.01", "--max-age", "0.2", tag="2")
    procs.script("suisnailpub", "--bind", b, "--rate", "5000", "--count", "20000", "--sndhwm", "100", tag="2")
    # the workbook's publisher and subscriber with the scripts
    from_ours = procs.script("suisnail", "--connect", c, tag="3")
    procs.role("slowsub.publisher", "--bind", c, "rate=2000", "count=1000")
    their_sub = procs.role("slowsub.subscriber", "--connect", d)
    procs.script("suisnailpub", "--bind", d, "--rate", "2000", "--count", "1000", tag="3")
    ok(fast, "received=1000, kept up")
    ok(from_ours, "received=1000, kept up")
    assert slow.wait_exit() == 3 and "dying" in slow.text(), slow.text()
    their_sub.wait_counts("1000 received", lambda c: c.get("received") == 1000)
    assert their_sub.counts().get("lost", 0) == 0
    stop(their_sub)


# ---- 09-11 the pirates -------------------------------------------------------------------------------

LP = ["--timeout", "0.3", "--retries", "30"]        # a Lazy Pirate that outlives a restart


def test_lazy_pirate_survives_a_server_crash(procs):
    a, b = ep(), ep()
    server = procs.script("lpserver", "--bind", a)
    server.wait_for("ready")
    client = procs.script("lpclient", "--connect", a, "--count", "40", "--interval", "0.02", *LP)
    client.wait_for("reply 10 OK")
    server.kill()                                    # a crash in the middle of the run
    server2 = procs.script("lpserver", "--bind", a, tag="2")
    ok(client, "replies=40 abandoned=0")
    # the workbook's server with the script client, and the other way round
    our_server = procs.role("lazypirate.server", "--bind", b)
    to_ours = procs.script("lpclient", "--connect", b, "--count", "20", *LP, tag="2")
    their_client = procs.role("lazypirate.client", "--connect", a, "requests=20", "timeout=0.5", "retries=20")
    ok(to_ours, "replies=20 abandoned=0")
    counts = their_client.final()["counts"]
    assert counts["replies"] == 20 and counts.get("abandoned", 0) == 0
    stop(server2, our_server)


def test_async_lazy_pirate_survives_a_server_crash(procs):
    """examples/asyncpirate.py (zmq.asyncio): two clients as tasks on one loop ride out a SIGKILL of
    the script server, then one works against the workbook's server."""
    a, b = ep(), ep()
    server = procs.script("lpserver", "--bind", a)
    server.wait_for("ready")
    clients = procs.script("asyncpirate", "--connect", a, "--clients", "2", "--name", "c", "--count", "30",
                           "--interval", "0.02", *LP)
    clients.wait_for("c-2 reply 10 OK")
    server.kill()                                    # a crash in the middle of the run
    server2 = procs.script("lpserver", "--bind", a, tag="2")
    text = ok(clients, "replies=60 abandoned=0")
    assert {n: text.count(f"asyncpirate: c-{n} reply ") for n in (1, 2)} == {1: 30, 2: 30}, text
    our_server = procs.role("lazypirate.server", "--bind", b)
    to_ours = procs.script("asyncpirate", "--connect", b, "--count", "20", *LP, tag="2")
    ok(to_ours, "replies=20 abandoned=0")
    stop(server2, our_server)


def test_simple_pirate_survives_a_worker_crash(procs):
    f1, b1, f2, b2 = ep(), ep(), ep(), ep()
    queue = procs.script("spqueue", "--frontend", f1, "--backend", b1)
    workers = [procs.script("spworker", "--connect", b1, "--name", f"w{i}", tag=str(i)) for i in (1, 2)]
    queue.wait_for("ready")
    for w in workers:
        w.wait_for("ready")
    client = procs.script("lpclient", "--connect", f1, "--count", "40", "--interval", "0.02", *LP)
    client.wait_for("reply 10 OK")
    workers[0].kill()                                # its next request is lost: the client retries
    ok(client, "replies=40 abandoned=0")
    # the workbook's queue and worker with the scripts
    our_queue = procs.role("simplepirate.queue", "--bind", f"frontend={f2}", "--bind", f"backend={b2}")
    procs.script("spworker", "--connect", b2, tag="3")
    procs.role("simplepirate.worker", "--connect", b1)
    to_ours = procs.script("lpclient", "--connect", f2, "--count", "20", *LP, tag="2")
    their_client = procs.role("lazypirate.client", "--connect", f1, "requests=20", "timeout=0.5", "retries=20")
    ok(to_ours, "replies=20 abandoned=0")
    assert their_client.final()["counts"]["replies"] == 20
    stop(queue, our_queue, workers[1])


PPP = ["--heartbeat", "0.1", "--liveness", "3"]
PPW = [*PPP, "--reconnect", "0.1", "--reconnect-max", "0.4"]
PPP_OURS = ["interval=0.1", "liveness=3"]


def test_paranoid_pirate_survives_worker_and_queue_crashes(procs):
    front, back = ep(), ep()
    queue = procs.script("ppqueue", "--frontend", front, "--backend", back, *PPP)
    w1 = procs.script("ppworker", "--connect", back, "--name", "w1", *PPW, tag="1")
    w2 = procs.script("ppworker", "--connect", back, "--name", "w2", *PPW, tag="2")
    queue.wait_for("ready")
    client = procs.script("lpclient", "--connect", front, "--count", "60", "--interval", "0.02", *LP)
    client.wait_for("reply 10 OK")
    w1.kill()                                        # the queue purges it within 3 heartbeats
    procs.script("ppworker", "--connect", back, "--name", "w3", *PPW, tag="3")
    queue.wait_for("is silent, purged")
    client.wait_for("reply 30 OK")
    queue.kill()                                     # the workers reconnect to the new queue by themselves
    queue2 = procs.script("ppqueue", "--frontend", front, "--backend", back, *PPP, tag="2")
    ok(client, "replies=60 abandoned=0")              # (w2 reconnected, or heartbeated its way in)
    stop(queue2, w2)


def test_paranoid_pirate_against_the_workbook(procs):
    f1, b1, f2, b2 = ep(), ep(), ep(), ep()
    our_queue = procs.role("paranoidpirate.queue", "--bind", f"frontend={f1}", "--bind", f"backend={b1}", *PPP_OURS)
    procs.script("ppworker", "--connect", b1, *PPW)
    queue = procs.script("ppqueue", "--frontend", f2, "--backend", b2, *PPP)
    procs.role("paranoidpirate.worker", "--connect", b2, *PPP_OURS, "interval_init=0.1", "interval_max=0.4")
    to_ours = procs.script("lpclient", "--connect", f1, "--count", "20", *LP)
    their_client = procs.role("lazypirate.client", "--connect", f2, "requests=20", "timeout=0.5", "retries=20")
    ok(to_ours, "replies=20 abandoned=0")
    assert their_client.final()["counts"]["replies"] == 20
    # heartbeats flowed both ways: our queue heard the script worker, the script queue kept ours
    our_queue.wait_counts("a heartbeat from the script worker", lambda c: c.get("heartbeats_in", 0) > 0)
    assert "purged" not in queue.text(), queue.text()
    stop(queue, our_queue)


# ---- 12 Majordomo, 13 Titanic --------------------------------------------------------------------------

MDP = ["--heartbeat", "0.1", "--liveness", "3"]
MDW = [*MDP, "--reconnect", "0.1"]
MDC = ["--timeout", "0.5", "--retries", "20"]


def test_majordomo_survives_a_worker_crash(procs):
    a = ep()
    broker = procs.script("mdbroker", "--bind", a, *MDP)
    w1 = procs.script("mdworker", "--connect", a, "--service", "echo", *MDW, tag="1")
    procs.script("mdworker", "--connect", a, "--service", "echo", *MDW, tag="2")
    broker.wait_for("ready")
    client = procs.script("mdclient", "--connect", a, "--count", "40", "--interval", "0.02", *MDC)
    client.wait_for("reply 10 OK")
    w1.kill()                                        # the broker forgets it; the client retries
    procs.script("mdworker", "--connect", a, "--service", "echo", *MDW, tag="3")
    ok(client, "replies=40 failed=0")
    broker.wait_for("is silent, forgotten")
    # the management interface (8/MMI), asked by the workbook
    mmi = procs.role("majordomo.mmi_lookup", "--connect", a, "services=['echo', 'nope']")
    assert mmi.final()["data"]["mmi"] == {"echo": "200", "nope": "404"}
    stop(broker)


def test_majordomo_against_the_workbook(procs):
    a, b = ep(), ep()
    our_broker = procs.role("majordomo.broker", "--bind", a, "heartbeat=0.1", "liveness=3")
    procs.script("mdworker", "--connect", a, "--service", "upper", "--upper", *MDW)
    broker = procs.script("mdbroker", "--bind", b, *MDP)
    procs.role("majordomo.worker", "--connect", b, "service=upper", "heartbeat=0.1", "liveness=3")
    to_ours = procs.script("mdclient", "--connect", a, "--service", "upper", "--expect", "upper", "--count", "20", *MDC)
    their_client = procs.role("majordomo.client", "--connect", b, "service=upper", "requests=20", "retries=20")
    ok(to_ours, "replies=20 failed=0")
    assert their_client.final()["counts"]["replies"] == 20
    stop(broker, our_broker)


def test_titanic(procs, tmp_path):
    a, b = ep(), ep()
    # all scripts: broker, worker, Titanic, client
    broker = procs.script("mdbroker", "--bind", a, *MDP)
    procs.script("mdworker", "--connect", a, "--service", "echo", *MDW)
    titanic = procs.script("titanic", "--connect", a, "--folder", str(tmp_path / "t1"), *MDP, "--timeout", "0.5")
    client = procs.script("ticlient", "--connect", a, "--count", "5", "--timeout", "0.5", "--poll", "0.05")
    # the script Titanic on the workbook's broker and worker, with the script and workbook clients
    our_broker = procs.role("majordomo.broker", "--bind", b, "heartbeat=0.1", "liveness=3")
    procs.role("majordomo.worker", "--connect", b, "service=echo", "heartbeat=0.1", "liveness=3")
    titanic2 = procs.script("titanic", "--connect", b, "--folder", str(tmp_path / "t2"), *MDP, "--timeout", "0.5",
                            tag="2")
    client2 = procs.script("ticlient", "--connect", b, "--count", "5", "--timeout", "0.5", "--poll", "0.05", tag="2")
    their_client = procs.role("titanic.client", "--connect", b, "requests=5", "timeout=0.5")
    ok(client, "replies=5 of 5")
    ok(client2, "replies=5 of 5")
    assert their_client.final()["counts"]["replies"] == 5
    stop(titanic, titanic2, broker, our_broker)
    assert not os.listdir(tmp_path / "t1"), "every ticket was closed"


# ---- 14 Binary Star, 06/07 Clone, 15 Freelance, 18 security -----------------------------------------------

def bstar_endpoints() -> dict[str, dict[str, str]]:
    f1, f2, s1, s2 = ep(), ep(), ep(), ep()
    return {"primary": {"frontend": f1, "statepub": s1, "peer": s2},
            "backup": {"frontend": f2, "statepub": s2, "peer": s1}}


def bstar_script(procs: Procs, side: str, e: dict) -> Proc:
    return procs.script("bstarsrv", f"--{side}", "--frontend", e["frontend"], "--statepub", e["statepub"],
                        "--peer", e["peer"], "--heartbeat", "0.1", tag=side)


def bstar_role(procs: Procs, side: str, e: dict) -> Proc:
    return procs.role("binarystar.server", f"side={side}", "heartbeat=0.1", "--bind", f"frontend={e['frontend']}",
                      "--bind", f"statepub={e['statepub']}", "--connect", f"peer_statepub={e['peer']}", tag=side)


def test_binary_star_fails_over(procs):
    e = bstar_endpoints()
    primary, backup = bstar_script(procs, "primary", e["primary"]), bstar_script(procs, "backup", e["backup"])
    servers = [e["primary"]["frontend"], e["backup"]["frontend"]]
    client = procs.script("bstarcli", "--servers", *servers, "--count", "40", "--interval", "0.02", "--timeout", "0.3")
    client.wait_for("reply 10 OK")
    primary.kill()
    ok(client, "replies=40 of 40")
    backup.wait_for("failover, passive -> active")
    stop(backup)


def test_binary_star_mixed_pair(procs):
    # a script primary with the workbook's backup; the script client and the workbook's client
    e = bstar_endpoints()
    primary, backup = bstar_script(procs, "primary", e["primary"]), bstar_role(procs, "backup", e["backup"])
    servers = [e["primary"]["frontend"], e["backup"]["frontend"]]
    client = procs.script("bstarcli", "--servers", *servers, "--count", "40", "--interval", "0.02", "--timeout", "0.3")
    their_client = procs.role("binarystar.client", "--connect", f"servers={servers[0]}",
                              "--connect", f"servers={servers[1]}", "requests=40", "timeout=0.3", "interval=0.02")
    client.wait_for("reply 10 OK")
    their_client.wait_counts("10 replies", lambda c: c.get("replies", 0) >= 10)
    primary.kill()
    ok(client, "replies=40 of 40")
    assert their_client.final()["counts"]["replies"] == 40
    stop(backup)
    # and the other way round: the workbook's primary with a script backup
    e = bstar_endpoints()
    bstar_role(procs, "primary", e["primary"])
    backup = bstar_script(procs, "backup", e["backup"])
    client = procs.script("bstarcli", "--servers", e["primary"]["frontend"], e["backup"]["frontend"],
                          "--count", "20", "--timeout", "0.3", tag="2")
    ok(client, "replies=20 of 20")
    stop(backup)


CLONE_FLAGS = ["--rate", "50", "--timeout", "1.0"]


def clone_endpoints() -> list[str]:
    return [ep(), ep(), ep()]


def clone_args(e: list[str]) -> list[str]:
    return ["--snapshot", e[0], "--publisher", e[1], "--collector", e[2]]


def digest_of(text: str) -> str:
    return re.findall(r"digest=(\w+)", text)[-1]


def test_clone(procs):
    e, o = clone_endpoints(), clone_endpoints()
    server = procs.script("clonesrv", *clone_args(e), "--heartbeat", "0.1")
    server.wait_for("ready")
    writers = [procs.script("clonecli", *clone_args(e), "--count", "15", *CLONE_FLAGS, tag=str(i)) for i in (1, 2)]
    for w in writers:
        ok(w, "missing=0")
    reader = procs.script("clonecli", *clone_args(e), "--count", "0", tag="3")   # a late joiner
    ok(reader, "written=0")
    stop(server)
    assert "sequence=30 " in server.text(), server.text()
    assert digest_of(reader.text()) == digest_of(server.text())
    # the script client with the workbook's model 3 server
    our_server = procs.role("clone.clonesrv3", *(f"--bind={n}={x}" for n, x in
                                                 zip(("snapshot", "publisher", "collector"), o)), "heartbeat=0.1")
    writer = procs.script("clonecli", *clone_args(o), "--count", "15", *CLONE_FLAGS, tag="4")
    ok(writer, "missing=0")
    reader = procs.script("clonecli", *clone_args(o), "--count", "0", tag="5")
    text = ok(reader, "sequence=15 ")
    assert digest_of(text) == digest_of(writer.text())
    stop(our_server)


def test_freelance_model_3(procs):
    a, b = ep(), ep()
    s1 = procs.script("flserver", "--bind", a)
    procs.role("freelance.server_router", "--bind", b)
    fl = ["--ping-interval", "0.1", "--server-ttl", "0.3", "--retry", "0.2", "--timeout", "3"]
    s1.wait_for("ready")
    client = procs.script("flclient", "--servers", a, b, "--count", "40", "--interval", "0.02", *fl)
    their_client = procs.role("freelance.client_router", "--connect", f"servers={a}", "--connect", f"servers={b}",
                              "requests=40", "interval=0.02")
    client.wait_for("request 10 OK")
    their_client.wait_counts("10 replies", lambda c: c.get("replies", 0) >= 10)
    s1.kill()                                        # the other server takes every request from here
    ok(client, "replies=40 failed=0")
    counts = their_client.final()["counts"]
    assert counts["replies"] == 40 and counts.get("failed", 0) == 0


def test_freelance_models_1_and_2(procs):
    a, b = ep(), ep()
    s1 = procs.script("flserver1", "--bind", a)
    s2 = procs.role("freelance.server_rep", "--bind", b)
    s1.wait_for("ready")
    seq = procs.script("flclient1", "--servers", a, b, "--count", "20", "--timeout", "0.5")
    shot = procs.script("flclient2", "--servers", a, b, "--count", "20", "--timeout", "0.5")
    their_seq = procs.role("freelance.client_sequential", "--connect", f"servers={b}", "--connect", f"servers={a}",
                           "requests=20", "timeout=0.5")
    their_shot = procs.role("freelance.client_shotgun", "--connect", f"servers={a}", "--connect", f"servers={b}",
                            "requests=20")
    ok(seq, "replies=20 failed=0")
    ok(shot, "replies=20 failed=0")
    assert their_seq.final()["counts"]["replies"] == 20
    assert their_shot.final()["counts"]["replies"] == 20
    s1.kill()                                        # model 1 fails over to the other server
    seq = procs.script("flclient1", "--servers", a, b, "--count", "10", "--timeout", "0.3", tag="2")
    ok(seq, "replies=10 failed=0")
    assert "trying" in seq.text()
    stop(s2)


def test_ironhouse(procs, tmp_path):
    certs = str(tmp_path / "certs")
    subprocess.run([sys.executable, str(EXAMPLES / "ironkeys.py"), certs, "--clients", "alice",
                    "--stranger", "mallory"], check=True, capture_output=True, timeout=30)
    a, b = ep(), ep()
    server = procs.script("ironserver", "--bind", a, "--certs", certs)
    our_server = procs.role("security.server", "--bind", b, f"cert={certs}/server.key_secret", f"allow={certs}/allowed")
    server.wait_for("ready")
    alice = procs.script("ironclient", "--connect", a, "--certs", certs, "--name", "alice")
    mallory = procs.script("ironclient", "--connect", a, "--certs", certs, "--name", "mallory", "--timeout", "1",
                           tag="2")
    their_client = procs.role("security.client", "--connect", a, f"server_key={certs}/server.key",
                              f"cert={certs}/alice.key_secret", "requests=5", "timeout=5")
    to_ours = procs.script("ironclient", "--connect", b, "--certs", certs, "--name", "alice", tag="3")
    ok(alice, "replies=5 of 5")
    ok(to_ours, "replies=5 of 5")
    assert their_client.final()["counts"]["replies"] == 5
    assert mallory.wait_exit() == 1 and "replies=0 of 5" in mallory.text()   # a stranger never gets in
    stop(server, our_server)


def test_workbook_clone_client_with_the_script_server(procs):
    # 12/CHP lets the uuid frame be empty, and clonesrv.py sends empty ones in KTHXBAI and HUGZ
    e = clone_endpoints()
    server = procs.script("clonesrv", *clone_args(e), "--heartbeat", "0.1")
    server.wait_for("ready")
    their_writer = procs.role("clone.clonecli3", *(f"--connect={n}={x}" for n, x in
                                                   zip(("snapshot", "publisher", "collector"), e)),
                              "count=15", "rate=50")
    their_writer.wait_counts("its 15 updates back", lambda c: c.get("mine back") == 15, timeout=10)
    stop(server, their_writer)


# ---- 22 threads ---------------------------------------------------------------------------------------

def test_multithreaded_server(procs):
    a, front, back = ep(), ep(), ep()
    server = procs.script("mtserver", "--bind", a, "--workers", "3", "--work", "0.002")
    server.wait_for("ready")
    clients = [procs.script("hwclient", "--connect", a, "--count", "30", tag=str(i)) for i in (1, 2)]
    their_client = procs.role("lazypirate.client", "--connect", a, "requests=30", "timeout=1", "retries=5")
    for client in clients:
        ok(client, "replies=30 of 30")
    assert their_client.final()["counts"]["replies"] == 30
    stop(server)                                     # Ctrl-C: out of the proxy, the context ended
    assert "mtserver: stopped" in server.text(), server.text()
    timed = procs.script("mtserver", "--bind", ep(), "--seconds", "0.5", tag="2")   # --seconds: TERMINATE
    ok(timed, "mtserver: stopped")
    # the workbook's server and a worker as processes (backend over tcp), with the script client
    ours = procs.role("mtserver.server", "--bind", f"frontend={front}", "--bind", f"backend={back}")
    worker = procs.role("mtserver.worker", "--connect", back)
    to_ours = procs.script("hwclient", "--connect", front, "--count", "20", tag="3")
    ok(to_ours, "replies=20 of 20")
    ours.wait_counts("the proxy's frames", lambda c: c.get("frames_in", 0) >= 60 and c.get("frames_out", 0) >= 60)
    stop(ours, worker)


def test_relay(procs):
    ok(procs.script("mtrelay", "--steps", "4"), "mtrelay: step 4 heard step 3: the relay is complete")


# ---- 23 proxies ------------------------------------------------------------------------------------------

PROXY_TOPICS = ["weather.london", "weather.paris", "sport.football", "sport.tennis"]


def test_espresso_shows_both_ways(procs):
    front, back = ep(), ep()
    proxy = procs.script("espresso", "--frontend", front, "--backend", back, "--show", "5")
    proxy.wait_for("ready")
    pub = procs.role("proxies.publisher", "--connect", front, "interval=0.01")
    sub = procs.role("proxies.subscriber", "--connect", back, "topics=['weather.']", "messages=20")
    assert sub.final()["counts"]["received"] == 20          # through the proxy, then it leaves
    proxy.wait_for(r"espresso: unsubscribe '\x00weather.'")
    pub.wait_counts("its subscription and unsubscription, upstream", lambda c: c.get("unsubscribe") == 1)
    assert pub.counts()["subscribe"] == 1
    assert proxy.count(r"^espresso: data +'weather\.") == 5 and "'sport." not in proxy.text()
    stop(proxy, pub)
    assert re.search(r"captured subscribe=1 unsubscribe=1 data=\d+ other=0", proxy.text()), proxy.text()


def test_last_value_cache(procs):
    front, back = ep(), ep()
    cache = procs.script("lvcache", "--frontend", front, "--backend", back)
    cache.wait_for("ready")
    pub = procs.role("proxies.publisher", "--connect", front, "rounds=3", "interval=0.005", "subscribers=1")
    cache.wait_for("lvcache: update 'sport.tennis' | '2'")          # the last update is in the cache
    late = procs.role("proxies.subscriber", "--connect", back, "topics=['weather.', 'sport.']", "messages=4")
    first = late.final()["data"]["first"]
    assert {topic: seq for topic, (seq, _wait) in first.items()} == dict.fromkeys(PROXY_TOPICS, 2)
    cache.wait_for("lvcache: subscription b'weather.': sent 2 cached values")
    stop(cache, pub)
    assert "topics=4 updates=12 subscriptions=2 replayed=4 malformed=0" in cache.text(), cache.text()


# ---- 26 inter-broker routing ---------------------------------------------------------------------

def test_peering(procs, tmp_path):
    """examples/peering.py, one process per cluster: dc1, with no worker, lends its clients' requests to
    dc2 and dc3, and its Lazy Pirate clients ride out a SIGKILL of dc3. Then the script and the
    workbook's broker peer on the same ipc folder, lending both ways."""
    d = str(tmp_path)
    fast = ["--dir", d, "--state-interval", "0.1"]
    dc2 = procs.script("peering", "dc2", "dc1", "dc3", *fast, "--workers", "2", "--clients", "0", tag="-dc2")
    dc3 = procs.script("peering", "dc3", "dc1", "dc2", *fast, "--workers", "2", "--clients", "0", tag="-dc3")
    dc2.wait_for("ready")
    dc3.wait_for("ready")
    dc1 = procs.script("peering", "dc1", "dc2", "dc3", *fast, "--workers", "0", "--clients", "2", "--requests", "40",
                       "--work", "0.02", "--timeout", "0.5", tag="-dc1")
    dc1.wait_for("dc1-client1: 10 answered")
    dc3.kill()                                       # a crash in the middle of the run
    text = dc1.wait_for("clients done: replies=80 of 80 abandoned=0")
    assert "lent to dc2" in text and "lent to dc3" in text, text
    stop(dc1, dc2)
    # the workbook's broker dc5 (no worker of its own) lends its client's requests to the script's dc4...
    ipc = lambda name, what: f"ipc://{d}/{name}-{what}.ipc"
    dc4 = procs.script("peering", "dc4", "dc5", *fast, "--workers", "1", "--clients", "0", tag="-dc4")
    backend = ep()
    dc5 = procs.role("peering.broker", "--name", "dc5", "--bind", f"frontend={(frontend := ep())}",
                     "--bind", f"backend={backend}", "--bind", f"cloud={ipc('dc5', 'cloud')}",
                     "--bind", f"state={ipc('dc5', 'state')}", *(a for peer in ("dc4", "dc6") for a in (
                         "--connect", f"peer_clouds={ipc(peer, 'cloud')}", "--connect", f"peer_states={ipc(peer, 'state')}")))
    client = procs.role("peering.client", "--connect", frontend, "--name", "dc5-client1", "requests=10", "timeout=2.0")
    assert client.final()["counts"]["replies"] == 10
    # ...and the script's dc6 (no worker) lends to dc5, once the workbook's worker joins dc5
    procs.role("peering.worker", "--connect", backend, "--name", "dc5-worker1")
    dc5.wait_counts("the worker's READY", lambda c: c.get("ready") == 1)
    dc6 = procs.script("peering", "dc6", "dc5", *fast, "--workers", "0", "--clients", "1", "--requests", "10", tag="-dc6")
    text = dc6.wait_for("clients done: replies=10 of 10 abandoned=0")
    assert "lent to dc5 10" in text, text
    stop(dc6, dc4)
    assert "served for peers 10" in dc4.text(), dc4.text()
    dc5.wait_counts("dc5's status line to count the 10 from dc6",      # status lines come every so often
                    lambda c: c.get("from_peers") == 10 and c.get("to_cloud") == 10)


# ---- 25 Clone models 4-6: subtrees, ephemeral values, a reliable pair ------------------------------

def clone6_endpoints() -> dict[str, dict[str, str]]:
    return {side: {n: ep() for n in ("snapshot", "publisher", "collector", "statepub")} for side in ("p", "b")}


def clonesrv6_args(e: dict, side: str) -> list[str]:
    me, other = e[side], e["b" if side == "p" else "p"]
    return ["--primary" if side == "p" else "--backup", *(x for n in ("snapshot", "publisher", "collector", "statepub")
                                                          for x in (f"--{n}", me[n])),
            "--peer-statepub", other["statepub"], "--peer-snapshot", other["snapshot"],
            "--peer-publisher", other["publisher"], "--heartbeat", "0.1", "--hugz", "0.1"]


def clonecli6_args(e: dict) -> list[str]:
    return [*(x for n in ("snapshot", "publisher", "collector") for x in (f"--{n}", e["p"][n], e["b"][n])),
            "--server-ttl", "0.5", "--timeout", "0.3"]


def clone6_role_servers(procs: Procs, e: dict) -> dict[str, Proc]:
    started = {}
    for side, name, other in (("p", "primary", "b"), ("b", "backup", "p")):
        me, them = e[side], e[other]
        started[side] = procs.role("clonepair.server", f"side={name}", "heartbeat=0.1", "hugz=0.1",
                                   *(f"--bind={n}={me[n]}" for n in ("snapshot", "publisher", "collector", "statepub")),
                                   f"--connect=peer_statepub={them['statepub']}",
                                   f"--connect=peer_snapshot={them['snapshot']}",
                                   f"--connect=peer_publisher={them['publisher']}", tag=side)
    return started


def test_clone_pair_fails_over_without_losing_an_update(procs):
    e = clone6_endpoints()
    primary = procs.script("clonesrv6", *clonesrv6_args(e, "p"), tag="p")
    backup = procs.script("clonesrv6", *clonesrv6_args(e, "b"), tag="b")
    backup.wait_for("snapshot from the active server")
    whole = procs.script("clonecli6", *clonecli6_args(e), "--count", "40", "--rate", "40", tag="1")
    red = procs.script("clonecli6", *clonecli6_args(e), "--subtree", "/red/", "--count", "40", "--rate", "40",
                       "--ttl", "60", tag="2")
    # the workbook's client follows the script pair through the failover
    their_reader = procs.role("clonepair.client", *(f"--connect={n}={e[s][n]}" for n in ("snapshot", "publisher",
                              "collector") for s in ("p", "b")), "server_ttl=0.5", "timeout=0.3")
    their_reader.wait_counts("its snapshot from the primary", lambda c: c.get("snapshots", 0) >= 1)
    whole.wait_for("written 10")
    red.wait_for("written 10")
    primary.kill()
    backup.wait_for("passive -> active (takeover")
    ok(whole, "missing=0")
    ok(red, "missing=0")
    their_reader.wait_counts("all 80 updates, on the backup", lambda c: c.get("sequence") == 80 and c.get("failovers") == 1)
    late = procs.script("clonecli6", *clonecli6_args(e), "--count", "0", tag="3")    # asks the dead one first
    text = ok(late, "sequence=80 ")
    stop(backup)
    assert "sequence=80 " in backup.text() and digest_of(text) == digest_of(backup.text()), backup.text()


def test_workbook_clone_pair_with_the_script_clients(procs):
    e = clone6_endpoints()
    servers = clone6_role_servers(procs, e)
    servers["b"].wait_counts("the backup in sync", lambda c: c.get("synced", 0) >= 1)
    writer = procs.script("clonecli6", *clonecli6_args(e), "--subtree", "/blue/", "--count", "40", "--rate", "40",
                          tag="1")
    writer.wait_for("written 10")
    servers["p"].kill()
    ok(writer, "failovers=1 sequence=40 ")
    text = ok(procs.script("clonecli6", *clonecli6_args(e), "--subtree", "/blue/", "--count", "0", tag="2"), "keys=")
    assert digest_of(text) == digest_of(writer.text())
    assert servers["b"].wait_counts("40 stored", lambda c: c.get("sequence") == 40)["pending numbered"] > 0
