"""Reliable request-reply (Lazy, Simple and Paranoid Pirate) under seeded chaos.

Every run accounts for every request: answered exactly once, or reported abandoned after the
client's last try; never left hanging, never answered with another request's reply. The Paranoid
Pirate tests also time the detections (purge of a dead worker, a worker losing a dead queue) and
check the 6/PPP frames on the wire, against our roles and against guide-style stand-ins.
"""
from __future__ import annotations

import random
import time

import pytest
import zmq

from zguide_py import Scenario
from zguide_py.patterns import lazypirate as lp
from zguide_py.patterns import paranoidpirate as pp
from zguide_py.patterns import simplepirate as sp
from zguide_py.views import pirates as views

TIMEOUT, RETRIES = lp.REQUEST_TIMEOUT, lp.REQUEST_RETRIES
GIVE_UP_BOUND = RETRIES * TIMEOUT * 1.10                          # retries x timeout plus 10%
PURGE_BOUND = pp.HEARTBEAT_LIVENESS * pp.HEARTBEAT_INTERVAL + pp.HEARTBEAT_INTERVAL
CLIENTS = ["client1", "client2"]
WORKERS = ["worker1", "worker2", "worker3"]


def clients_done(lab):
    return lambda: all(n in lab.peers and not lab.peer(n).alive for n in CLIENTS)


def start_clients(scenario, endpoint, requests=120, pause=0.015):
    for name in CLIENTS:
        scenario.at(0, "start", name, lp.client, endpoint=endpoint, requests=requests, pause=pause)


def assert_every_request_accounted_for(lab, expected):
    tally = lp.tally(lab, CLIENTS)
    assert tally.requests == expected, tally
    assert tally.unresolved == [], f"requests neither answered nor reported abandoned: {tally.unresolved}"
    assert tally.duplicates == [], f"requests answered twice: {tally.duplicates}"
    assert tally.mismatched == 0, "a client got a reply that belonged to another request"
    assert tally.finished, "a client did not run to its end"
    assert tally.ok
    return tally


def assert_give_up_times(events):
    times = views.give_up_times(events)
    for t in times:
        assert RETRIES * TIMEOUT - 0.01 <= t <= GIVE_UP_BOUND, \
            f"gave up after {t:.3f} s, expected {RETRIES} x {TIMEOUT} s (+10%: {GIVE_UP_BOUND:.3f} s)"
    return times


# ---- Lazy Pirate -----------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_lazy_pirate_chaos_every_request_answered_once_or_abandoned(lab):
    endpoint = lab.endpoint("server", "tcp")
    lab.start("server", lp.server, endpoint=endpoint)
    chaos = Scenario("server crashes and stalls", seed=15) \
        .chaos(["server"], kills=3, start=1.4, end=3.0, downtime=(0.2, 0.5)) \
        .at(0.4, "throttle", "server", 1.0).at(1.2, "throttle", "server", 0)
    start_clients(chaos, endpoint)
    report = lab.run(chaos, seconds=30, until=clients_done(lab))
    assert not report.errors and all(s.error is None for s in report.steps)
    tally = assert_every_request_accounted_for(lab, 240)
    assert tally.abandoned >= 1, "the 1 s/msg stall must make the clients give up at least once"
    assert report.count("client1", "retries") + report.count("client2", "retries") >= 2
    assert len(assert_give_up_times(report.events)) == tally.abandoned


@pytest.mark.timeout(30)
def test_lazy_pirate_gives_up_on_a_dead_server_within_retries_x_timeout(lab):
    lab.start("client1", lp.client, endpoint=lab.endpoint("nobody", "tcp"), requests=4)
    started = time.monotonic()
    lab.wait_done("client1", timeout=10)
    elapsed = time.monotonic() - started
    client = lab.peer("client1")
    assert client.data["abandoned"] == [0, 1, 2, 3] and not client.data["answered"]
    assert client.get("retries") == 4 * (RETRIES - 1)
    times = assert_give_up_times(lab.events_of())
    assert len(times) == 4
    assert elapsed < 4 * GIVE_UP_BOUND + 0.5


# ---- Simple Pirate ---------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_simple_pirate_chaos_every_request_answered_once_or_abandoned(lab):
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", sp.queue, frontend=frontend, backend=backend)
    for name in WORKERS:
        lab.start(name, sp.worker, endpoint=backend)
    lab.wait_for(lambda: lab.peer("queue").get("ready") == 3, 5, "3 workers ready")
    chaos = Scenario("workers and queue crash", seed=3) \
        .chaos(WORKERS, kills=4, start=0.3, end=1.6, downtime=(0.2, 0.5)) \
        .at(2.0, "kill", "queue").at(2.3, "restart", "queue")
    for name in WORKERS:                     # idle workers are orphaned by a queue restart
        chaos.at(3.0, "restart", name)
    start_clients(chaos, frontend, requests=120, pause=0.02)
    report = lab.run(chaos, seconds=30, until=clients_done(lab))
    assert not report.errors and all(s.error is None for s in report.steps)
    assert_every_request_accounted_for(lab, 240)
    assert_give_up_times(report.events)
    served = sum(report.count(w, "served") for w in WORKERS)
    assert served >= 200


# ---- Paranoid Pirate -------------------------------------------------------------------------

def start_paranoid(lab):
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", pp.queue, frontend=frontend, backend=backend)
    for worker in WORKERS:
        lab.start(worker, pp.worker, endpoint=backend)
    lab.wait_for(lambda: len(lab.peer("queue").data.get("ready", [])) == 3, 5, "3 workers ready")
    return frontend, backend


@pytest.mark.timeout(60)
def test_paranoid_pirate_chaos_detects_dead_workers_and_dead_queue(lab):
    frontend, backend = start_paranoid(lab)
    chaos = Scenario("workers crash, queue crashes and stalls", seed=3) \
        .chaos(WORKERS, kills=3, start=0.3, end=1.5, downtime=(0.2, 0.5)) \
        .at(2.0, "kill", "queue").at(2.25, "restart", "queue") \
        .at(2.9, "throttle", "queue", 0.5).at(3.3, "throttle", "queue", 0)
    start_clients(chaos, frontend, requests=120, pause=0.02)
    report = lab.run(chaos, seconds=30, until=clients_done(lab))
    assert not report.errors and all(s.error is None for s in report.steps)
    assert_every_request_accounted_for(lab, 240)
    assert_give_up_times(report.events)

    # every worker kill (the queue being healthy then) is followed by a purge in time
    kills = [t for t, k, p, _ in report.events if k == "kill" and p in WORKERS]
    delays = views.purge_delays(report.events)
    measured = [d for ds in delays.values() for d in ds]
    assert len(measured) == len(kills) == 3
    assert all(d <= PURGE_BOUND for d in measured), f"purge delays {measured} > {PURGE_BOUND} s"

    # the stalled queue (silent for 0.5 s > liveness x interval) is lost by every worker,
    # and each worker comes back: the queue knows 3 live workers again
    stall = [t for t, k, p, d in report.events if k == "throttle" and p == "queue" and d][0]
    for worker in WORKERS:
        lost = [t for t, k, p, _ in report.events if k == "queue lost" and p == worker and t >= stall]
        assert lost and lost[0] - stall <= PURGE_BOUND + pp.HEARTBEAT_INTERVAL, (worker, lost)
    lab.wait_for(lambda: len(lab.peer("queue").data["workers"]) == 3
                 and all(lab.peer(w).get("served") for w in WORKERS), 5, "3 workers back")


@pytest.mark.timeout(30)
def test_paranoid_queue_purges_a_killed_worker_within_liveness_x_interval_plus_one(lab):
    start_paranoid(lab)
    delays = []
    for worker in WORKERS:
        t_kill = lab.now()
        lab.kill(worker)
        purge = lab.wait_for(lambda w=worker, t0=t_kill: [e.t for e in lab.events_of("purge", "queue")
                                                          if sp.worker_name(e.get("worker")) == w and e.t >= t0],
                             2, "purge")
        delays.append(purge[0] - t_kill)
    assert all(d <= PURGE_BOUND for d in delays), delays
    assert lab.peer("queue").data["workers"] == {} and lab.peer("queue").data["ready"] == []


@pytest.mark.timeout(30)
def test_paranoid_queue_purges_a_dead_worker_liveness_x_interval_after_it_last_heard_it(lab):
    """The purge bound, with margin on both sides: the queue purges a worker exactly liveness x
    interval after it last heard it (it wakes for that deadline), so with a 0.2 s interval the
    test can allow half an interval of lateness and still tell 3 intervals from 2 or 4."""
    interval, liveness = 0.2, 3
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", pp.queue, frontend=frontend, backend=backend, interval=interval, liveness=liveness)
    for worker in WORKERS:
        lab.start(worker, pp.worker, endpoint=backend, interval=interval, liveness=liveness)
    lab.wait_for(lambda: len(lab.peer("queue").data.get("ready", [])) == 3, 5, "3 workers ready")
    for worker in WORKERS:
        t_kill = lab.now()
        lab.kill(worker)
        (purge, *_) = lab.wait_for(lambda w=worker, t0=t_kill: [e for e in lab.events_of("purge", "queue", since=t0)
                                                               if sp.worker_name(e.get("worker")) == w], 3, "purge")
        heard = [e.t for e in lab.events_of("heard", "queue") if e.get("worker") == purge.get("worker")
                 and e.t <= purge.t]
        silence = purge.t - heard[-1]
        assert liveness * interval - 0.02 <= silence <= liveness * interval + interval / 2, (worker, silence)
        assert purge.t - t_kill <= liveness * interval + interval / 2, (worker, purge.t - t_kill)


@pytest.mark.timeout(30)
def test_paranoid_worker_backs_off_exponentially_without_a_queue(lab):
    lab.start("worker", pp.worker, endpoint=lab.endpoint("no-queue", "tcp"))
    lost = lab.wait_for(lambda: len(lab.events_of("queue lost", "worker")) >= 5 and
                        lab.events_of("queue lost", "worker"), 10, "5 reconnects")
    backoffs = [e.get("backoff") for e in lost[:5]]
    assert backoffs == pytest.approx([0.1, 0.2, 0.4, 0.8, 0.8])
    # between two losses: the back-off, then liveness x interval of silence (the upper bound is
    # loose: on 2 busy cores a thread can wake up a couple of intervals late)
    gaps = [b[0] - a[0] for a, b in zip(lost, lost[1:5])]
    for gap, backoff in zip(gaps, backoffs):
        assert backoff + 0.3 - 0.02 <= gap <= backoff + 0.3 + 0.4, (gaps, backoffs)
    assert lab.peer("worker").get("malformed") == 0


# ---- 6/PPP on the wire -----------------------------------------------------------------------

def recv_frames(sock, timeout=2.0):
    assert sock.poll(int(timeout * 1000)), "nothing received"
    return sock.recv_multipart()


@pytest.mark.timeout(30)
def test_ppp_worker_frames_on_the_wire(lab):
    """A bare ROUTER plays the queue: READY first, heartbeats each interval, requests echoed."""
    endpoint = lab.endpoint("backend", "tcp")
    router = lab.socket(zmq.ROUTER)
    router.bind(endpoint)
    lab.start("worker", pp.worker, endpoint=endpoint)
    identity, first = recv_frames(router)
    assert first == b"\x01" and identity.startswith(b"worker/")
    beats = []
    while len(beats) < 3:
        who, frame = recv_frames(router)
        assert (who, frame) == (identity, b"\x02")
        beats.append(time.monotonic())
        router.send_multipart([identity, b"\x02"])
    assert 0.05 <= (beats[-1] - beats[0]) / 2 <= 0.2
    router.send_multipart([identity, b"client-x", b"", b"client-x:1"])
    while True:
        frames = recv_frames(router)
        if frames[1:] != [b"\x02"]:
            break
    assert frames == [identity, b"client-x", b"", b"client-x:1"]


@pytest.mark.timeout(30)
def test_ppp_queue_frames_on_the_wire(lab):
    """A bare DEALER plays the worker: the queue heartbeats it and hands it a client's request."""
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", pp.queue, frontend=frontend, backend=backend)
    dealer = lab.socket(zmq.DEALER, routing_id=b"bare-worker")
    dealer.connect(backend)
    dealer.send(b"\x01")
    assert recv_frames(dealer) == [b"\x02"]
    lab.start("client1", lp.client, endpoint=frontend, requests=1, timeout=1.0)
    while True:
        frames = recv_frames(dealer)
        if frames != [b"\x02"]:
            break
    client_id, empty, body = frames
    assert empty == b"" and body == b"client1:0"
    dealer.send_multipart(frames)
    lab.wait_done("client1", timeout=5)
    assert lab.peer("client1").data["answered"] == {0: 1}


# Guide-style stand-ins, written after the guide's ppqueue / ppworker (Chapter 4): the queue treats
# any message from a worker as "ready" and heartbeats only its ready workers; the worker uses a
# random identity and resets its back-off after every message. They speak 6/PPP and nothing more.

def guide_style_queue(peer, frontend, backend, interval=0.1, liveness=3):
    front, back = peer.socket(zmq.ROUTER), peer.socket(zmq.ROUTER)
    front.bind(frontend)
    back.bind(backend)
    workers: dict[bytes, float] = {}        # ready workers (insertion order) -> expiry
    heartbeat_at = time.monotonic() + interval
    while peer.running:
        poller = zmq.Poller()
        poller.register(back, zmq.POLLIN)
        if workers:
            poller.register(front, zmq.POLLIN)
        events = peer.poll(poller, 0.02)
        if back in events:
            address, *msg = back.recv_multipart()
            workers.pop(address, None)
            workers[address] = time.monotonic() + interval * liveness
            if len(msg) > 1:
                front.send_multipart(msg)
        if front in events and workers:
            address = next(iter(workers))
            del workers[address]
            back.send_multipart([address] + front.recv_multipart())
        if time.monotonic() >= heartbeat_at:
            for address in workers:
                back.send_multipart([address, b"\x02"])
            heartbeat_at = time.monotonic() + interval
        now = time.monotonic()
        for address in [a for a, t in workers.items() if t < now]:
            del workers[address]


def guide_style_worker(peer, endpoint, interval=0.1, liveness=3):
    def fresh():
        sock = peer.socket(zmq.DEALER)
        sock.routing_id = b"%04X-%04X" % (random.randint(0, 0xFFFF), random.randint(0, 0xFFFF))
        sock.connect(endpoint)
        sock.send(b"\x01")
        return sock

    sock, left, backoff = fresh(), liveness, interval
    heartbeat_at = time.monotonic() + interval
    silent_since = time.monotonic()
    while peer.running:
        if peer.poll(sock, 0.02):
            frames = sock.recv_multipart()
            if len(frames) == 3:
                sock.send_multipart(frames)
                peer.count("served")
            left, backoff, silent_since = liveness, interval, time.monotonic()
        elif time.monotonic() - silent_since >= interval:
            left, silent_since = left - 1, time.monotonic()
            if left == 0:
                peer.close_socket(sock)
                peer.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                sock, left = fresh(), liveness
        if time.monotonic() >= heartbeat_at:
            sock.send(b"\x02")
            heartbeat_at = time.monotonic() + interval


@pytest.mark.timeout(30)
@pytest.mark.parametrize("queue_role, worker_role", [(pp.queue, guide_style_worker),
                                                     (guide_style_queue, pp.worker)],
                         ids=["our-queue-guide-worker", "guide-queue-our-worker"])
def test_ppp_roles_interoperate_with_guide_style_stand_ins(queue_role, worker_role, lab):
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", queue_role, frontend=frontend, backend=backend)
    for name in ("w1", "w2"):
        lab.start(name, worker_role, endpoint=backend)
    for name in CLIENTS:
        lab.start(name, lp.client, endpoint=frontend, requests=50, timeout=0.5, retries=10)
    for name in CLIENTS:
        lab.wait_done(name, timeout=20)
    tally = assert_every_request_accounted_for(lab, 100)
    assert tally.answered == 100
    # a worker counts "served" after its send, a moment after the client may have the reply
    lab.wait_for(lambda: lab.peer("w1").get("served") + lab.peer("w2").get("served") >= 100, 5,
                 "the workers to count 100 served")
    # and both sides notice a dead peer: kill a worker, the clients still get every answer
    lab.kill("w1")
    lab.start("client3", lp.client, endpoint=frontend, requests=20, timeout=0.5, retries=10)
    lab.wait_done("client3", timeout=20)
    assert lab.peer("client3").data["answered"] == {i: 1 for i in range(20)}


# ---- hostile and unusual messages (issue 14) --------------------------------------------------

@pytest.mark.timeout(30)
def test_paranoid_queue_does_not_stall_on_one_frame_messages(lab):
    """The silent stall: two one-frame messages on the frontend used to cost both workers for good
    (the queue handed them on, the workers dropped them, nobody was ready again)."""
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", pp.queue, frontend=frontend, backend=backend)
    for worker in ("worker1", "worker2"):
        lab.start(worker, pp.worker, endpoint=backend)
    lab.wait_for(lambda: len(lab.peer("queue").data["ready"]) == 2, 5, "2 workers ready")
    hostile = lab.socket(zmq.DEALER)
    hostile.connect(frontend)
    for frames in ([b"one frame"], [b"two"], [b""], [b"no", b"delimiter"]):
        hostile.send_multipart(frames)
    lab.wait_for(lambda: lab.peer("queue").get("malformed") == 4, 3, "4 malformed requests counted")
    assert len(lab.peer("queue").data["ready"]) == 2
    lab.start("client1", lp.client, endpoint=frontend, requests=5, timeout=1.0)
    lab.wait_done("client1", 5)
    assert lab.peer("client1").data["answered"] == {i: 1 for i in range(5)}
    assert lab.peer("worker1").get("malformed") + lab.peer("worker2").get("malformed") == 0


@pytest.mark.timeout(30)
def test_paranoid_roles_carry_multi_part_bodies_and_multi_address_envelopes(lab):
    """6/PPP: a request is an optional address stack, an empty delimiter, and a body of one frame
    or more. A DEALER client (its own empty frame, a body of three frames) is served through our
    queue; our worker echoes a two-address envelope from a bare queue."""
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", pp.queue, frontend=frontend, backend=backend)
    lab.start("worker1", pp.worker, endpoint=backend)
    lab.wait_for(lambda: len(lab.peer("queue").data["ready"]) == 1, 5, "worker ready")
    client = lab.socket(zmq.DEALER)
    client.connect(frontend)
    client.send_multipart([b"", b"part 1", b"", b"part 3"])
    assert client.poll(3000) and client.recv_multipart() == [b"", b"part 1", b"", b"part 3"]
    lab.remove("queue")
    router = lab.socket(zmq.ROUTER)
    endpoint = lab.endpoint("bare", "tcp")
    router.bind(endpoint)
    lab.start("worker2", pp.worker, endpoint=endpoint)
    identity, ready = recv_frames(router)
    assert ready == pp.PPP_READY
    router.send_multipart([identity, b"proxy", b"client", b"", b"a", b"b"])
    while (frames := recv_frames(router))[1:] == [pp.PPP_HEARTBEAT]:
        pass
    assert frames == [identity, b"proxy", b"client", b"", b"a", b"b"]
    # something that is not a request: counted, and answered with READY (still free)
    router.send_multipart([identity, b"client", b""])
    while (frames := recv_frames(router))[1:] == [pp.PPP_HEARTBEAT]:
        pass
    assert frames == [identity, pp.PPP_READY]
    assert lab.peer("worker2").get("malformed") == 1
