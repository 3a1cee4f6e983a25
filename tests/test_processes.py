"""Peers as processes (zguide_py.procs): a Paranoid Pirate queue in the lab, its workers as child
processes over tcp. A kill is a real SIGKILL; the queue must notice and the clients' requests must
still be answered; no child may outlive the lab."""
from __future__ import annotations

import os
import signal
import time

import pytest

from zguide_py import Lab
from zguide_py import procs
from zguide_py.patterns import lazypirate as lp
from zguide_py.patterns import paranoidpirate as pp
from zguide_py.patterns.simplepirate import worker_name

WORKER = procs.as_process("paranoidpirate.worker")
STARTUP = 30       # seconds a child may take to start (imports) on a busy 2-core machine


def queue_with_workers(lab: Lab, workers: list[str], **queue_params):
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", pp.queue, frontend=frontend, backend=backend, **queue_params)
    for name in workers:
        lab.start(name, WORKER, endpoint=backend)
    lab.wait_for(lambda: len(lab.peer("queue").data["ready"]) == len(workers), STARTUP, f"{len(workers)} worker processes ready")
    return frontend, backend


def purges_of(lab: Lab, name: str, since: float) -> list[float]:
    return [e.t for e in lab.events_of("purge", "queue") if e.t >= since and worker_name(e.get("worker", "")) == name]


@pytest.mark.timeout(90)
def test_a_worker_process_killed_with_sigkill_is_purged_and_every_request_answered():
    with Lab("procs-test-sigkill") as lab:
        workers = ["worker1", "worker2"]
        frontend, _ = queue_with_workers(lab, workers)
        pids = {n: lab.peer(n).data["pid"] for n in workers}
        assert len(set(pids.values()) | {os.getpid()}) == 3          # three processes
        clients = ["client1", "client2"]
        for name in clients:
            lab.start(name, lp.client, endpoint=frontend, requests=60, pause=0.02, retries=5)
        lab.wait_for(lambda: lab.peer("client1").get("replies") >= 15, 20, "15 replies")
        served_before = lab.peer("worker2").get("served")
        t_kill = lab.now()
        lab.kill("worker1")                                       # SIGKILL, no goodbye
        assert lab.peer("worker1").data["history"][-1] == {"pid": pids["worker1"], "exit": "SIGKILL"}
        assert not procs.pid_alive(pids["worker1"])             # reaped at once: no zombie
        purged = lab.wait_for(lambda: purges_of(lab, "worker1", t_kill), 5, "the queue to purge worker1")
        lab.wait_for(lambda: not any(lab.peer(n).alive for n in clients), 60, "clients done")
        tally = lp.tally(lab, clients)
        assert tally.ok and tally.answered == tally.requests == 120, tally
        bound = pp.HEARTBEAT_LIVENESS * pp.HEARTBEAT_INTERVAL + pp.HEARTBEAT_INTERVAL
        assert purged[0] - t_kill <= bound + 0.6, purged[0] - t_kill     # slack for a busy machine
        lab.wait_for(lambda: lab.peer("worker2").get("served") > served_before, 5, "worker2's counts")
        assert lab.peer("worker1").state == "killed" and lab.peer("worker2").state == "running"
        lab.check()


@pytest.mark.timeout(90)
def test_the_request_a_killed_worker_process_held_is_answered_by_another():
    """Deterministic: the only worker holds request 0 (throttled 5 s in the child), gets SIGKILL; a
    new worker process comes; the client's retry is routed to it."""
    with Lab("procs-test-inflight") as lab:
        frontend, backend = queue_with_workers(lab, ["worker1"])
        queue, worker1 = lab.peer("queue"), lab.peer("worker1")
        lab.throttle("worker1", 5.0)                               # forwarded on the child's stdin
        lab.wait_for(lambda: worker1.data.get("status", {}).get("throttle") == 5.0, 10, "the child to take the throttle")
        lab.start("client", lp.client, endpoint=frontend, requests=3, timeout=1.5, retries=5)
        lab.wait_for(lambda: queue.get("requests") >= 1, 10, "request 0 routed to worker1")
        t_kill = lab.now()
        lab.kill("worker1")
        lab.wait_for(lambda: purges_of(lab, "worker1", 0), 5, "worker1 purged")
        lab.start("worker2", WORKER, endpoint=backend)
        lab.wait_done("client", 60)
        client = lab.peer("client")
        assert lp.tally(lab, ["client"]).ok and client.data["answered"][0] == 1
        assert client.get("retries") >= 1 and lab.peer("worker1").get("served") == 0
        retried = [e.t for e in lab.events_of("retry", "client") if e.get("seq") == 0]
        assert retried and retried[0] > t_kill - 1.5
        lab.wait_for(lambda: lab.peer("worker2").get("served") >= 3, 5, "worker2 served all three")


def wait_state(peer, state: str, timeout: float) -> None:
    """Poll until a peer reaches ``state`` (lab.wait_for would stop at the first failed peer)."""
    deadline = time.monotonic() + timeout
    while peer.state != state or peer.alive:
        assert time.monotonic() < deadline, f"{peer.name} is {peer.state}, not {state}, after {timeout} s"
        time.sleep(0.01)


@pytest.mark.timeout(90)
def test_a_child_that_dies_on_its_own_makes_the_peer_failed_and_restart_starts_a_new_one():
    with Lab("procs-test-failed") as lab:
        queue_with_workers(lab, ["worker1"])
        peer = lab.peer("worker1")
        first = peer.data["pid"]
        os.kill(first, signal.SIGKILL)                             # not the lab: somebody else
        wait_state(peer, "failed", 10)
        assert "was killed by SIGKILL, not by the lab" in peer.error.strip().splitlines()[-1]
        assert peer.data["exit"] == "SIGKILL" and not procs.pid_alive(first)
        beats = peer.get("heartbeats_out")
        lab.restart("worker1")
        lab.wait_for(lambda: peer.data["pid"] != first and peer.data["up"], STARTUP, "a new worker1 process")
        assert [h["pid"] for h in peer.data["history"]] == [first, peer.data["pid"]] and peer.state == "running"
        lab.wait_for(lambda: peer.get("heartbeats_out") > beats, 10, "counters to carry on")

        lab.start("broken", procs.process, target="binarystar.server", side="nope",
                  frontend=lab.endpoint("f", "tcp"), statepub=lab.endpoint("s", "tcp"),
                  peer_statepub=lab.endpoint("p", "tcp"))
        broken = lab.peer("broken")
        wait_state(broken, "failed", STARTUP)
        assert "exited with status 2, not by the lab" in broken.error      # refused at start: one line
        assert "error: binarystar.server refused its parameters: side must be 'primary' or 'backup'" in broken.error
        assert broken.data["stderr"] and not any("Traceback" in line for line in broken.data["stderr"])
        lab.remove("broken")


def test_bad_parameters_fail_before_any_process_starts():
    with Lab("procs-test-params") as lab:
        lab.start("w", procs.process, target="paranoidpirate.worker", endpoint="inproc://backend")
        wait_state(lab.peer("w"), "failed", 5)
        assert "inproc:// only reaches sockets inside one process" in lab.peer("w").error
        assert "pid" not in lab.peer("w").data
        lab.start("v", procs.process, target="paranoidpirate.worker", endpoint="tcp://127.0.0.1:5", nope=1)
        wait_state(lab.peer("v"), "failed", 5)
        assert "unknown parameter 'nope'" in lab.peer("v").error
        lab.remove("w")
        lab.remove("v")


@pytest.mark.timeout(90)
def test_lab_close_leaves_no_orphan_processes():
    lab = Lab("procs-test-orphans")
    queue_with_workers(lab, ["worker1", "worker2", "worker3"])
    pids = [lab.peer(n).data["pid"] for n in ("worker1", "worker2", "worker3")]
    os.kill(pids[2], signal.SIGSTOP)            # a frozen child ignores SIGTERM: close must still end it
    assert all(procs.pid_alive(p) for p in pids) and set(pids) <= set(procs.live_pids())
    lab.close()
    assert not any(procs.pid_alive(p) for p in pids), [p for p in pids if procs.pid_alive(p)]
    assert not set(pids) & set(procs.live_pids()) and not lab.threads()
    # SIGTERM and a clean exit when there is time for it; the frozen one could only be SIGKILLed
    assert all(lab.peer(n).data["exit"] in ("exit 0", "SIGKILL") for n in ("worker1", "worker2"))
    assert lab.peer("worker3").data["exit"] == "SIGKILL"


@pytest.mark.timeout(90)
def test_a_worker_process_events_reach_the_lab_dated_in_its_clock():
    """What the role logs in the child (peer.log: served, heartbeat...) comes back with the status
    lines, under the peer's name, at the time it happened; lifecycle events are not doubled."""
    with Lab("procs-test-events") as lab:
        frontend, _ = queue_with_workers(lab, ["worker1"])
        t_up = lab.now()
        lab.start("client", lp.client, endpoint=frontend, requests=20, retries=3)
        lab.wait_done("client", 30)
        assert lp.tally(lab, ["client"]).answered == 20
        worker = lab.peer("worker1")
        # the count and the events come in the same status lines: they agree once the next one is in
        served = lab.wait_for(lambda: len(lab.events_of("served", "worker1")) == worker.get("served") == 20
                              and lab.events_of("served", "worker1"), 10, "the served events")
        # the child's fields come back as fields: the request bodies the worker served, in its own events
        assert sorted(int(e.get("request").rsplit(":", 1)[-1]) for e in served) == list(range(20))
        now = lab.now()
        assert all(t_up - 0.5 <= t <= now for t, *_ in served), (t_up, now, served)
        heartbeats = lab.wait_for(lambda: [t for t, *_ in lab.events_of("heartbeat", "worker1") if t > now], 5,
                                  "a heartbeat logged in the child after the run")
        assert heartbeats[0] <= lab.now()
        assert len(lab.events_of("start", "worker1")) == 1 and not lab.events_of("throttle", "worker1")
        spawned = lab.events_of("spawn", "worker1")
        assert [e.get("pid") for e in spawned] == [worker.data["pid"]]
        lab.kill("worker1")
        assert lab.events_of("kill", "worker1")
        assert [(e.get("pid"), e.get("status")) for e in lab.events_of("exit", "worker1")] == [
            (worker.data["pid"], "SIGKILL")]


def test_a_parse_that_meets_cpythons_thread_bug_is_tried_again(monkeypatch):
    """CPython 3.11's ast.parse can fail with a spurious SystemError while another thread builds an
    AST (python/cpython#106905): reading a role's endpoints tries again instead of failing the role."""
    import ast as ast_module

    from zguide_py import rolecall
    real, calls = ast_module.parse, []

    def flaky(source, *args, **kwargs):
        calls.append(source)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=36, after=24)")
        return real(source, *args, **kwargs)

    monkeypatch.setattr(rolecall.ast, "parse", flaky)
    assert isinstance(rolecall._parse("x = 1"), ast_module.Module) and len(calls) == 2


def test_making_a_process_role_reads_its_endpoints_in_the_calling_thread():
    from zguide_py import procs, rolecall
    from zguide_py.patterns import paranoidpirate
    rolecall._directions.cache_clear()
    procs.as_process("paranoidpirate.worker")
    before = rolecall._directions.cache_info()
    assert rolecall.endpoint_params(paranoidpirate.worker)          # now a cache hit: no parse
    assert rolecall._directions.cache_info().hits > before.hits


@pytest.mark.timeout(90)
def test_a_process_peer_shows_its_roles_live_status_in_the_panel():
    """A queue run as a child process: its role's status line (its ready workers, a function of its
    books) comes back in the child's JSON status lines, and the panel shows it, live, as it changes."""
    from zguide_py.widgets import pattern_state
    with Lab("procs-test-says") as lab:
        frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
        lab.start("queue", procs.as_process("paranoidpirate.queue"), frontend=frontend, backend=backend)
        queue = lab.peer("queue")
        lab.wait_for(lambda: "no workers" in pattern_state(queue), STARTUP, "the child's first status line")
        empty = pattern_state(queue)
        lab.start("worker1", pp.worker, endpoint=backend)
        lab.wait_for(lambda: "worker1" in pattern_state(queue), 10, "the status line to name worker1")
        assert pattern_state(queue) != empty
        lab.check()
