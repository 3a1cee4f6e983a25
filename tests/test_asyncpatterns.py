"""The zmq.asyncio roles (zguide_py.patterns.asyncpatterns) keep the guarantees of their thread twins:

* the async Lazy Pirate client gets every request answered across a server kill, gives up after its
  tries when nobody answers, and never takes another request's reply;
* the async Majordomo worker serves through our broker, is purged when killed and registers again
  when restarted (or when the broker comes back), and survives malformed messages;
* its heartbeat is a task of its own: it goes on while the work awaits, and stops while the work
  blocks the loop (the broker then purges a worker that is alive); asyncio.to_thread is the cure;
* async roles are killed within the lab's bound, and close() leaves no thread, task or socket;
* an async role that ends cancelled by itself is reported failed, not left "running";
* the roles run from the command line too.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time

import pytest
import zmq

from zguide_py import Lab
from zguide_py.patterns import asyncpatterns as ap
from zguide_py.patterns import lazypirate, majordomo, reqrep
from zguide_py.peer import KILL_TIMEOUT
from zguide_py.views import majordomo as mdviews
from zguide_py.views import pirates

pytestmark = pytest.mark.timeout(90)


# ---- Lazy Pirate ---------------------------------------------------------------------------------

def test_the_async_lazy_pirate_client_gets_every_request_answered_across_a_server_kill():
    with Lab("alp-kill") as lab:
        ep = lab.endpoint("server", "tcp")
        lab.start("server", lazypirate.server, endpoint=ep)
        client = lab.start("client", ap.lazy_pirate_client, endpoint=ep, requests=80, pause=0.01,
                           timeout=0.25, retries=12)
        lab.wait_for(lambda: client.get("replies") >= 10, 10, "10 replies")
        lab.kill("server")
        lab.wait_for(lambda: client.get("retries") >= 1, 5, "a retry while the server is dead")
        lab.restart("server")
        lab.wait_done("client", 30)
        tally = lazypirate.tally(lab, ["client"])
        assert tally.ok and tally.requests == tally.answered == 80 and tally.abandoned == 0, tally
        assert client.state == "done" and client.get("retries") >= 1
        lab.check()


def test_the_async_lazy_pirate_client_abandons_after_its_tries_when_nobody_answers():
    with Lab("alp-nobody") as lab:
        client = lab.start("client", ap.lazy_pirate_client, endpoint=lab.endpoint("nobody", "tcp"),
                           requests=3, timeout=0.1, retries=3)
        lab.wait_done("client", 10)
        tally = lazypirate.tally(lab, ["client"])
        assert tally.ok and tally.abandoned == 3 and tally.answered == 0
        assert client.get("retries") == 6
        assert all(0.29 <= t <= 0.8 for t in pirates.give_up_times(lab.events)), pirates.give_up_times(lab.events)


def test_the_async_clients_row_says_it_waits_for_a_reply_until_one_comes():
    """As for a thread role's REQ: a send starts the wait the panel shows, the reply ends it."""
    from zguide_py.widgets import pattern_state
    with Lab("alp-waits") as lab:
        ep = lab.endpoint("server", "tcp")
        client = lab.start("client", ap.lazy_pirate_client, endpoint=ep, requests=1, timeout=10, retries=1)
        lab.wait_for(lambda: "waiting for a reply for" in pattern_state(client), 5, "the client's row to wait")
        lab.start("server", lazypirate.server, endpoint=ep)
        lab.wait_for(lambda: client.get("replies") == 1, 10, "the reply")
        assert client.waiting_since is None
        lab.wait_done("client", 10)


def wrong_server(peer, endpoint):
    """A REP server that answers every request with somebody else's reply."""
    rep = peer.socket(zmq.REP)
    rep.bind(endpoint)
    while peer.poll(rep):
        rep.recv_multipart()
        rep.send_multipart([b"someone-else:0"])


def test_the_async_lazy_pirate_client_never_takes_another_requests_reply():
    with Lab("alp-wrong") as lab:
        ep = lab.endpoint("server", "inproc")
        lab.start("server", wrong_server, endpoint=ep)
        client = lab.start("client", ap.lazy_pirate_client, endpoint=ep, requests=2, timeout=0.1, retries=2)
        lab.wait_done("client", 10)
        tally = lazypirate.tally(lab, ["client"])
        assert tally.answered == 0 and tally.abandoned == 2 and tally.mismatched == 4
        assert client.get("mismatched") == 4 and client.state == "done"


# ---- Majordomo worker ----------------------------------------------------------------------------

def removed(lab, name, why="silent"):
    return [w for w, reason in lab.peer("broker").data["removed"]
            if majordomo.worker_name(w) == name and reason == why]


def registered(lab, name):
    return any(majordomo.worker_name(w) == name for w in lab.peer("broker").data["workers"])


def test_the_async_mdp_worker_serves_through_our_broker_and_is_purged_and_registers_again():
    with Lab("amdp-kill") as lab:
        ep = lab.endpoint("broker", "tcp")
        lab.start("broker", majordomo.broker, endpoint=ep, heartbeat=0.1, liveness=3)
        worker = lab.start("worker", ap.mdp_worker, broker=ep, heartbeat=0.1, liveness=3)
        lab.wait_for(lambda: registered(lab, "worker"), 5, "the worker's READY")
        client = lab.start("client", majordomo.client, broker=ep, requests=120, interval=0.005,
                           timeout=1.0, retries=5)
        lab.wait_for(lambda: client.get("replies") >= 20, 10, "20 replies")
        lab.kill("worker")
        lab.wait_for(lambda: removed(lab, "worker"), 3, "the broker to purge the silent worker")
        delay = mdviews.removal_delay(lab.events, "worker")
        assert 0.2 <= delay <= 1.0, delay                 # 3 heartbeats of 0.1 s, checked every 0.1 s
        lab.restart("worker")
        lab.wait_for(lambda: registered(lab, "worker"), 5, "the restarted worker's READY")
        lab.wait_done("client", 30)
        assert client.data["failed"] == [] and client.get("replies") == 120
        assert worker.get("heartbeats") > 0 and worker.get("connects") == 2
        lab.check()


def test_the_async_mdp_worker_finds_a_restarted_broker():
    with Lab("amdp-broker") as lab:
        ep = lab.endpoint("broker", "tcp")
        lab.start("broker", majordomo.broker, endpoint=ep, heartbeat=0.1, liveness=3)
        worker = lab.start("worker", ap.mdp_worker, broker=ep, service="upper", heartbeat=0.1, liveness=3)
        lab.wait_for(lambda: registered(lab, "worker"), 5, "the worker's READY")
        lab.kill("broker")
        lab.wait_for(lambda: lab.events_of("broker lost", "worker"), 3, "the worker to miss the broker")
        lab.restart("broker")
        lab.wait_for(lambda: registered(lab, "worker"), 5, "the worker to register with the new broker")
        client = lab.start("client", majordomo.client, broker=ep, service="upper", requests=5, timeout=1.0)
        lab.wait_done("client", 10)
        assert [reply for _, reply in client.data["replies"]] == [f"UPPER {n}" for n in range(5)]
        assert worker.get("connects") >= 2
        lab.check()


def test_the_async_mdp_worker_counts_malformed_messages_and_goes_on():
    with Lab("amdp-malformed") as lab:
        ep = lab.endpoint("broker", "inproc")
        router = lab.socket(zmq.ROUTER, rcvtimeo=3000)
        router.bind(ep)
        worker = lab.start("worker", ap.mdp_worker, broker=ep, heartbeat=0.1, liveness=30)
        identity, *ready = router.recv_multipart()
        assert ready == [b"", majordomo.MDPW, majordomo.READY, b"echo"]
        for junk in ([b"nonsense"], [b"", b"MDPW01", b"\x09"], [b"", b"MDPW01", majordomo.REQUEST, b"c"]):
            router.send_multipart([identity, *junk])
        router.send_multipart([identity, b"", majordomo.MDPW, majordomo.REQUEST, b"client", b"", b"hello"])
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            frames = router.recv_multipart()
            if frames[3] == majordomo.REPLY:
                break
        assert frames == [identity, b"", majordomo.MDPW, majordomo.REPLY, b"client", b"", b"hello"]
        assert worker.get("malformed") == 3 and worker.state == "running" and worker.get("connects") == 1
        router.close()


# ---- its heartbeat: a task of its own -------------------------------------------------------------

def blocking_echo(body):
    time.sleep(0.6)                      # blocks the worker's loop: the heartbeat task cannot run
    return body


async def awaiting_echo(body):
    await asyncio.sleep(0.6)             # the loop runs the heartbeat task meanwhile
    return body


async def threaded_echo(body):
    return await asyncio.to_thread(blocking_echo, body)   # the cure for a blocking call


def slow_worker_run(name, work, seconds=2.0):
    """A broker (heartbeat 0.1 s x 3), an async worker with ``work``, a client that keeps asking:
    (replies the client got, silent removals of the worker, the longest heartbeat gap)."""
    with Lab(name) as lab:
        ep = lab.endpoint("broker", "inproc")
        lab.start("broker", majordomo.broker, endpoint=ep, heartbeat=0.1, liveness=3)
        worker = lab.start("worker", ap.mdp_worker, broker=ep, heartbeat=0.1, liveness=3, work=work)
        lab.wait_for(lambda: registered(lab, "worker"), 5, "the worker's READY")
        client = lab.start("client", majordomo.client, broker=ep, requests=100, timeout=5.0, retries=1)
        t0 = lab.now()
        lab.wait_for(lambda: lab.now() - t0 >= seconds, seconds + 1)
        gaps = [gap for _t, gap in worker.data["gaps"]]
        return client.get("replies"), len(removed(lab, "worker")), max(gaps)


def test_the_heartbeat_goes_on_while_the_work_awaits():
    replies, removals, longest = slow_worker_run("amdp-awaits", awaiting_echo)
    assert replies >= 2 and removals == 0 and longest < 0.3, (replies, removals, longest)


def test_a_blocking_call_stops_the_heartbeat_and_the_broker_purges_a_live_worker():
    replies, removals, longest = slow_worker_run("amdp-blocks", blocking_echo)
    assert removals >= 1 and longest >= 0.55, (replies, removals, longest)


def test_asyncio_to_thread_keeps_the_heartbeat_going():
    replies, removals, longest = slow_worker_run("amdp-to-thread", threaded_echo)
    assert replies >= 2 and removals == 0 and longest < 0.3, (replies, removals, longest)


# ---- the lab's bounds ------------------------------------------------------------------------------

async def recorded(peer, inner_role, **params):
    """Run ``inner_role`` and leave its loop and, once it is under way, every task of that loop."""
    loop = asyncio.get_running_loop()
    peer.data["loop"] = loop
    inner = asyncio.ensure_future(inner_role(peer, **params))
    await asyncio.sleep(0.3)
    peer.data["tasks"] = asyncio.all_tasks(loop)
    await inner


def test_async_roles_are_killed_within_the_bound_and_close_leaves_no_task_or_thread():
    lab = Lab("async-bounds")
    dead = lab.endpoint("nobody", "tcp")
    ep = lab.endpoint("echo", "tcp")
    lab.start("client", recorded, inner_role=ap.lazy_pirate_client, endpoint=dead, timeout=30.0)  # awaits a poll
    lab.start("worker", recorded, inner_role=ap.mdp_worker, broker=dead, heartbeat=0.05)        # + its heartbeats
    lab.start("server", recorded, inner_role=ap.echo_server, endpoint=ep)
    lab.start("pinger", recorded, inner_role=ap.pinger, endpoint=ep, seconds=60.0)               # busy
    names = ["client", "worker", "server", "pinger"]
    lab.wait_for(lambda: all("tasks" in lab.peer(n).data for n in names), 5, "every role under way")
    assert len(lab.peer("worker").data["tasks"]) >= 3         # _run_async, the role, its heartbeat task
    for name in names:
        started = time.monotonic()
        peer = lab.kill(name)
        took = time.monotonic() - started
        assert peer.state == "killed" and not peer.alive and peer.open_sockets() == 0, name
        assert took < KILL_TIMEOUT, (name, took)
        loop = peer.data["loop"]
        assert loop.is_closed() and all(t.done() for t in peer.data["tasks"]), name
        peer.data.clear()
        lab.restart(name)
    lab.wait_for(lambda: all("tasks" in lab.peer(n).data for n in names), 5, "the restarted roles under way")
    loops = [lab.peer(n).data["loop"] for n in names]
    assert len({id(loop) for loop in loops}) == len(names)    # one loop per peer, each in its thread
    lab.close()
    assert lab.threads() == [] and lab.open_sockets() == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("zguide:async-bounds:")]
    for name in names:
        peer = lab.peer(name)
        assert peer.data["loop"].is_closed() and not asyncio.all_tasks(peer.data["loop"]), name
        assert all(t.done() for t in peer.data["tasks"]), name


async def cancelled_by_itself(peer):
    future = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.05, future.cancel)   # e.g. a recv whose socket was closed
    await future


def test_an_async_role_that_ends_cancelled_by_itself_is_failed_not_running():
    with Lab("async-self-cancel") as lab:
        peer = lab.start("role", cancelled_by_itself)
        lab.wait_for(lambda: not peer.alive, 5, "the role to end")
        assert peer.state == "failed" and "CancelledError" in peer.error


# ---- the cost of each style --------------------------------------------------------------------------

def test_both_pingers_measure_a_rate_on_the_same_pair():
    with Lab("async-rates") as lab:
        a, b = lab.endpoint("threads", "tcp"), lab.endpoint("async", "tcp")
        lab.start("thread_server", reqrep.echo_server, endpoint=a)
        lab.start("async_server", ap.echo_server, endpoint=b)
        for name, role, ep in (("t", ap.thread_pinger, a), ("a", ap.pinger, b)):
            peer = lab.start(name, role, endpoint=ep, seconds=0.3)
            lab.wait_done(name, 10)
            assert peer.state == "done" and peer.data["rate"] > 100 and peer.get("malformed") == 0
            assert peer.get("replies") % 64 == 0 and peer.get("replies") >= 64
        lab.check()


# ---- from the command line ----------------------------------------------------------------------------

def test_the_async_client_runs_from_the_command_line():
    with Lab("async-cli") as lab:
        ep = lab.endpoint("server", "tcp")
        lab.start("server", lazypirate.server, endpoint=ep)
        out = subprocess.run([sys.executable, "-m", "zguide_py", "run", "asyncpatterns.lazy_pirate_client",
                              "--connect", ep, "requests=15", "--json-status"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        final = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")][-1]
        assert final["state"] == "done" and final["counts"]["replies"] == 15, final
        taken = subprocess.run([sys.executable, "-m", "zguide_py", "run", "asyncpatterns.echo_server",
                                "--bind", ep], capture_output=True, text=True, timeout=60)
        assert taken.returncode == 2 and "cannot bind" in taken.stderr and "Traceback" not in taken.stderr
