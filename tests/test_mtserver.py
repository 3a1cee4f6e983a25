"""Threads that share nothing but messages (notebook 22): the PAIR relay, the multithreaded server
under kills, and what a socket shared by two threads does.

The server's guarantee: a request is lost only if it was in flight at a worker's kill (dealt to
that worker and not yet answered); a Lazy Pirate client sends those again, so every request is
answered exactly once. A kill of the server ends its proxy thread within the lab's kill bound.
"""
from __future__ import annotations

import time

import pytest
import zmq

from zguide_py import Scenario
from zguide_py.patterns import lazypirate as lp
from zguide_py.patterns import mtserver as mt
from zguide_py.views import mtserver as views

CLIENTS = ["client1", "client2", "client3", "client4"]
TIMEOUT = 0.5


def start_server(lab, workers: int = 3, work: float = 0.0):
    front = lab.endpoint("frontend", "tcp")
    back = lab.endpoint("workers")
    lab.start("server", mt.server, frontend=front, backend=back, every=0.05)
    for i in range(1, workers + 1):
        lab.start(f"worker{i}", mt.worker, endpoint=back, work=work)
    return front, back


def ask(lab, endpoint: str, body: bytes, timeout: float = 5.0) -> list[bytes]:
    req = lab.socket(zmq.REQ)
    req.connect(endpoint)
    req.send(body)
    assert req.poll(int(timeout * 1000)), f"no reply to {body!r} within {timeout} s"
    reply = req.recv_multipart()
    req.close(linger=0)
    return reply


# ---- the relay ---------------------------------------------------------------------------------------

@pytest.mark.timeout(30)
def test_the_relay_binds_before_it_starts_the_thread_that_connects(lab):
    lab.start("step4", mt.relay_step, step=4)
    lab.wait_for(lambda: lab.peer("step4").data.get("done"), timeout=5, what="the relay to complete")
    for name in ("step1", "step2", "step3", "step4"):
        lab.wait_done(name, timeout=5)
        assert lab.peer(name).state == "done"
    assert views.bound_before_started(lab.events, last=4)
    story = [what for _, _, what in views.relay_story(lab.events)]
    assert story[0] == "bound inproc://relay-step4" and "the relay is complete" in story
    assert [w for w in story if w.startswith("heard")] == ["heard step1", "heard step2", "heard step3"]


@pytest.mark.timeout(30)
def test_a_relay_step_counts_a_malformed_signal_and_waits_for_ready(lab):
    # our PAIR connects before the step binds (inproc allows it), so it is the step's one peer
    stray = lab.socket(zmq.PAIR)
    stray.connect("inproc://relay-step2")
    stray.send(b"hello")
    stray.send_multipart([b"READY", b"extra"])
    lab.start("step2", mt.relay_step, step=2)
    lab.wait_for(lambda: lab.peer("step2").get("malformed") == 2, timeout=5, what="two malformed signals")
    assert not lab.peer("step2").data.get("done")
    stray.send(mt.READY)
    lab.wait_for(lambda: lab.peer("step2").data.get("done"), timeout=5, what="READY to complete the relay")
    assert lab.peer("step2").get("malformed") == 2
    # the real step1 was refused by the exclusive PAIR (ours came first): its READY never reached
    # step2, and it waits to send until the lab closes, which ends it within one slice


@pytest.mark.timeout(30)
def test_pair_takes_one_peer_where_push_deals_to_two(lab):
    def received(kind_out, kind_in):
        out = lab.socket(kind_out)
        out.bind(f"inproc://signals-{kind_out}")
        ins = [lab.socket(kind_in) for _ in range(2)]
        for sock in ins:
            sock.connect(f"inproc://signals-{kind_out}")
        for n in range(10):
            out.send(str(n).encode(), zmq.NOBLOCK)
        counts = []
        for sock in ins:
            n = 0
            while sock.poll(100):
                sock.recv()
                n += 1
            counts.append(n)
        return counts
    assert received(zmq.PUSH, zmq.PULL) == [5, 5]
    assert received(zmq.PAIR, zmq.PAIR) == [10, 0]


# ---- the multithreaded server ------------------------------------------------------------------------

@pytest.mark.timeout(30)
def test_the_server_answers_through_its_worker_threads_and_counts_frames(lab):
    front, _ = start_server(lab, workers=2)
    for n in range(6):
        assert ask(lab, front, f"hello {n}".encode()) == [f"hello {n}".encode()]
    served = [lab.peer(w).get("replies") for w in ("worker1", "worker2")]
    assert sum(served) == 6 and all(served), served          # round-robin: both took some
    server = lab.peer("server")
    lab.wait_for(lambda: server.get("frames_in") >= 18 and server.get("frames_out") >= 18, timeout=5,
                 what="the proxy's STATISTICS (3 frames a request: identity, delimiter, body)")
    assert server.get("malformed") == 0


@pytest.mark.timeout(30)
def test_a_worker_answers_a_malformed_request_and_goes_on(lab):
    front, _ = start_server(lab, workers=1)
    dealer = lab.socket(zmq.DEALER)
    dealer.connect(front)
    dealer.send_multipart([b"", b"two", b"frames"])           # a REQ would send one body frame
    assert dealer.poll(5000)
    assert dealer.recv_multipart() == [b"", b""]
    assert lab.peer("worker1").get("malformed") == 1
    assert ask(lab, front, b"after") == [b"after"]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("seed", [3, 22])
def test_no_lost_replies_through_the_multithreaded_server_under_kills(lab, seed):
    """Lazy Pirate clients through the server while worker threads are killed, restarted and added:
    every request is answered exactly once, none abandoned, and every request that needed a second
    try was in flight at a kill."""
    front, back = start_server(lab, workers=3, work=0.01)
    chaos = Scenario("worker kills", seed=seed) \
        .chaos(["worker1", "worker2", "worker3"], kills=4, start=0.3, end=2.0, downtime=(0.1, 0.4)) \
        .at(1.0, "start", "worker4", mt.worker, endpoint=back, work=0.01)
    for name in CLIENTS:
        chaos.at(0, "start", name, lp.client, endpoint=front, requests=80, pause=0.01, timeout=TIMEOUT, retries=6)
    report = lab.run(chaos, seconds=60, until=lambda: all(n in lab.peers and not lab.peer(n).alive for n in CLIENTS))
    assert not report.errors and all(step.error is None for step in report.steps)
    tally = lp.tally(lab, CLIENTS)
    assert tally.ok and tally.requests == 320 and tally.abandoned == 0, tally
    cost = views.kill_cost(report, CLIENTS, ["worker1", "worker2", "worker3", "worker4"], timeout=TIMEOUT)
    assert cost.requests == 320
    assert cost.unexplained == [], f"requests sent again though no kill caught them: {cost.unexplained}"
    assert len(cost.explained) <= 4 * len(CLIENTS)            # a kill costs at most what was in flight


@pytest.mark.timeout(30)
def test_requests_queued_at_a_killed_worker_are_lost_for_plain_req_clients(lab):
    """A slow worker behind the round-robin backend collects every client's request; killing it loses
    all of them, the one it worked on and those queued for it: six plain REQ clients stuck."""
    from zguide_py.patterns import reqrep
    front, back = lab.endpoint("frontend", "tcp"), lab.endpoint("workers")
    lab.start("server", mt.server, frontend=front, backend=back)
    for i in (1, 2, 3):
        lab.start(f"worker{i}", mt.worker, endpoint=back, throttle=0.5 if i == 1 else 0.0)
    clients = [f"client{i}" for i in range(1, 7)]
    for name in clients:
        lab.start(name, reqrep.client, endpoint=front, requests=10**6, timeout=1.0)
    lab.wait_for(lambda: lab.peer("worker1").get("requests") >= 2, timeout=5, what="worker1's second request")
    # no client gets a reply for 0.1 s: every request waits at the slow worker (a fast one answers at once)
    lab.wait_quiet(lambda: sum(lab.peer(n).get("replies") for n in clients), quiet=0.1, timeout=5)
    lab.kill("worker1")                                       # while it works on its second one
    lab.wait_for(lambda: all("stuck_on" in lab.peer(n).data for n in clients), timeout=5,
                 what="every client to give up on a request that worker1 held")
    assert lab.peer("worker1").get("replies") == 1


@pytest.mark.timeout(60)
def test_killing_the_server_ends_its_proxy_thread_within_the_kill_bound(lab):
    front, _ = start_server(lab, workers=2)
    lab.start("client", lp.client, endpoint=front, requests=10**6, timeout=0.2, retries=1000)
    client, server = lab.peer("client"), lab.peer("server")
    for _ in range(5):
        before = client.get("replies")
        lab.wait_for(lambda b=before: client.get("replies") >= b + 10, timeout=5, what="replies")
        proxy = server.data["proxy"]
        started = time.monotonic()
        lab.kill("server")
        assert time.monotonic() - started < lab.KILL_TIMEOUT
        assert not proxy.is_alive() and server.state == "killed"
        assert not [t for t in lab.threads() if t.name.endswith(":proxy")]
        lab.restart("server")
        lab.restart("worker1")                                # inproc does not reconnect: restart the workers
        lab.restart("worker2")
    before = client.get("replies")
    lab.wait_for(lambda: client.get("replies") >= before + 10, timeout=5, what="replies after the last restart")


@pytest.mark.timeout(30)
def test_workers_of_a_killed_server_stay_orphaned_until_restarted(lab):
    front, _ = start_server(lab, workers=2)
    lab.start("client", lp.client, endpoint=front, requests=10**6, timeout=0.2, retries=1000)
    client = lab.peer("client")
    lab.wait_for(lambda: client.get("replies") >= 5, timeout=5, what="replies")
    lab.restart("server")
    before = client.get("replies")
    lab.run(seconds=0.6)                                      # a window in which nothing may arrive
    assert client.get("replies") == before, "a worker reached the new server without a restart"
    lab.restart("worker1")
    lab.wait_for(lambda: client.get("replies") >= before + 5, timeout=5, what="replies after worker1's restart")


# ---- one socket, one thread --------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_a_shared_socket_goes_wrong_and_owned_sockets_do_not():
    owned, shared = mt.trials(["owned", "shared"], messages=2000)
    assert owned.outcome == "intact" and owned.intact == owned.sent == 4000 and owned.mixed == 0, owned
    assert shared.went_wrong, shared
    assert shared.outcome in ("mixed", "crashed", "hung"), shared
    if shared.outcome == "crashed":
        assert shared.how.startswith(("SIG", "exit status")), shared
