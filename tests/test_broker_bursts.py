"""The brokers made cheap (issue 20) keep their guarantees: a burst drained after one poll is served
exactly once, heartbeats go out and dead workers are purged while the broker is busy, malformed
messages in the middle of a burst are counted and dropped. Every wait is bounded; no sleeps."""
from __future__ import annotations

import time

import pytest
import zmq

from zguide_py.patterns import loadbalance as lb
from zguide_py.patterns import majordomo as md
from zguide_py.patterns import paranoidpirate as pp
from zguide_py.sockets import DRAIN, drain

BURST = 5 * DRAIN          # several drains' worth, sent without waiting


def collect(sock, want: int, timeout: float = 10.0) -> list[list[bytes]]:
    """Receive until ``want`` messages came (bounded), then make sure no extra one follows."""
    got: list[list[bytes]] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        if sock.poll(50):
            got.append(sock.recv_multipart())
    assert len(got) == want, f"{len(got)} of {want} replies"
    assert not sock.poll(200), "an extra reply came"
    return got


def test_drain_takes_what_waits_and_no_more(lab):
    a, b = lab.socket(zmq.PAIR), lab.socket(zmq.PAIR)
    a.bind("inproc://drain")
    b.connect("inproc://drain")
    assert list(drain(b)) == []                      # nothing waits: returns at once, no error
    for n in range(7):
        a.send_multipart([b"m", str(n).encode()])
    assert b.poll(1000)
    lab.wait_for(lambda: b.poll(0), 2)
    first = list(drain(b, 3))
    rest = []
    lab.wait_for(lambda: rest.extend(drain(b)) or len(rest) == 4, 2, "the other 4")
    assert [f[1] for f in first + rest] == [str(n).encode() for n in range(7)]


# ---- Majordomo ------------------------------------------------------------------------------------
def mdp_burst(lab, bad=()) -> tuple[list[bytes], list[list[bytes]]]:
    """BURST requests (and the ``bad`` messages among them) from one DEALER, sent at once, through a
    broker with two echo workers. Returns the bodies sent and the replies."""
    endpoint = lab.endpoint("broker", "tcp")
    lab.start("broker", md.broker, endpoint=endpoint, heartbeat=0.1, max_queue=BURST)
    for name in ("w1", "w2"):
        lab.start(name, md.worker, broker=endpoint, service="echo", heartbeat=0.1)
    lab.wait_for(lambda: len(lab.peer("broker").data.get("workers", {})) == 2, 5, "2 workers")
    client = lab.socket(zmq.DEALER)
    client.connect(endpoint)
    bodies = [f"request {n}".encode() for n in range(BURST)]
    for n, body in enumerate(bodies):
        client.send_multipart([b"", md.MDPC, b"echo", body])
        if bad and n % (BURST // len(bad)) == 0:
            client.send_multipart(bad[n // (BURST // len(bad))])
    return bodies, collect(client, BURST)


@pytest.mark.timeout(60)
def test_majordomo_serves_a_burst_exactly_once(lab):
    bodies, replies = mdp_burst(lab)
    assert all(r[:3] == [b"", md.MDPC, b"echo"] for r in replies)
    assert sorted(r[3] for r in replies) == sorted(bodies)          # each one, once
    broker = lab.peer("broker")
    assert broker.get("requests") == broker.get("replies") == BURST
    assert broker.get("to echo") == BURST and broker.get("malformed") == 0


@pytest.mark.timeout(60)
def test_majordomo_counts_and_drops_malformed_messages_amid_a_burst(lab):
    bad = [[b"", md.MDPC], [b"", b"MDPX01", b"echo", b"x"], [b"", md.MDPC, b"\xff", b"x"],
           [b"", md.MDPC, b"echo"], [b"junk"]]
    bodies, replies = mdp_burst(lab, bad)
    assert sorted(r[3] for r in replies) == sorted(bodies)
    assert lab.peer("broker").get("malformed") == len(bad)
    assert lab.peer("broker").get("requests") == BURST


@pytest.mark.timeout(60)
def test_majordomo_heartbeats_and_purges_while_busy(lab):
    """Under a load that never lets the broker idle, it still heartbeats its live worker every
    interval and removes a silent one within liveness x heartbeat."""
    hb, liveness = 0.1, 3
    endpoint = lab.endpoint("broker", "tcp")
    lab.start("broker", md.broker, endpoint=endpoint, heartbeat=hb, liveness=liveness)
    worker = lab.socket(zmq.DEALER, routing_id=b"raw.1.1")
    worker.connect(endpoint)
    worker.send_multipart([b"", md.MDPW, md.READY, b"echo"])
    silent = lab.socket(zmq.DEALER, routing_id=b"silent.1.1")
    silent.connect(endpoint)
    silent.send_multipart([b"", md.MDPW, md.READY, b"other"])
    lab.wait_for(lambda: len(lab.peer("broker").data.get("workers", {})) == 2, 5, "2 workers")
    client = lab.socket(zmq.DEALER)
    client.connect(endpoint)
    for n in range(50):                              # always 50 requests in flight
        client.send_multipart([b"", md.MDPC, b"echo", b"%d" % n])
    heartbeats = served = 0
    started = time.monotonic()
    while time.monotonic() - started < 12 * hb:      # the raw worker serves as fast as it can
        if worker.poll(100):
            frames = worker.recv_multipart()
            if frames[2] == md.HEARTBEAT:
                heartbeats += 1
            elif frames[2] == md.REQUEST:
                worker.send_multipart([b"", md.MDPW, md.REPLY, *frames[3:]])
                served += 1
        while client.poll(0):                        # each reply makes room for one more request
            client.recv_multipart()
            client.send_multipart([b"", md.MDPC, b"echo", b"more"])
    assert served > 100, served                      # it was busy all along
    assert heartbeats >= 6, heartbeats               # ~one per interval, busy or not
    removed = dict(lab.peer("broker").data["removed"])
    assert removed.get("silent.1.1") == "silent" and "raw.1.1" not in removed, removed


# ---- Paranoid Pirate ------------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_paranoid_queue_serves_a_burst_exactly_once_and_drops_malformed(lab):
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", pp.queue, frontend=frontend, backend=backend, interval=0.1)
    for name in ("w1", "w2"):
        lab.start(name, pp.worker, endpoint=backend, interval=0.1)
    lab.wait_for(lambda: len(lab.peer("queue").data["ready"]) == 2, 5, "2 workers")
    client = lab.socket(zmq.DEALER)
    client.connect(frontend)
    bodies = [f"request {n}".encode() for n in range(BURST)]
    for n, body in enumerate(bodies):
        client.send_multipart([b"", body])
        if n % 100 == 0:
            client.send(b"no envelope")              # the queue cannot route a reply: dropped
    replies = collect(client, BURST)
    assert sorted(r[1] for r in replies) == sorted(bodies)
    queue = lab.peer("queue")
    assert queue.get("malformed") == BURST // 100 and queue.get("requests") == BURST


@pytest.mark.timeout(60)
def test_paranoid_queue_heartbeats_and_purges_while_busy(lab):
    interval, liveness = 0.1, 3
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", pp.queue, frontend=frontend, backend=backend, interval=interval, liveness=liveness)
    worker = lab.socket(zmq.DEALER, routing_id=b"raw/1.1.0")
    worker.connect(backend)
    worker.send(pp.PPP_READY)
    silent = lab.socket(zmq.DEALER, routing_id=b"silent/1.1.0")
    silent.connect(backend)
    silent.send(pp.PPP_READY)
    lab.wait_for(lambda: len(lab.peer("queue").data["ready"]) == 2, 5, "2 workers")
    client = lab.socket(zmq.DEALER)
    client.connect(frontend)
    for n in range(50):
        client.send_multipart([b"", b"%d" % n])
    heartbeats = served = 0
    started = time.monotonic()
    while time.monotonic() - started < 12 * interval:
        if worker.poll(100):
            frames = worker.recv_multipart()
            if frames == [pp.PPP_HEARTBEAT]:
                heartbeats += 1
            else:
                worker.send_multipart(frames)        # echo: [client, '', request]
                served += 1
        while client.poll(0):
            client.recv_multipart()
            client.send_multipart([b"", b"more"])
    assert served > 100, served
    assert heartbeats >= 6, heartbeats
    purged = [e.get("worker") for e in lab.events_of("purge", "queue")]
    assert purged == ["silent/1.1.0"], purged        # the silent one (which got one request) is gone
    assert b"raw/1.1.0" in lab.peer("queue").data["workers"]


# ---- the LRU broker -------------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_lru_broker_serves_a_burst_exactly_once_and_drops_malformed(lab):
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("broker", lb.lru_broker, frontend=frontend, backend=backend)
    for name in ("w1", "w2"):
        lab.start(name, lb.worker, endpoint=backend, work=0)
    lab.wait_for(lambda: lab.peer("broker").get("ready") == 2, 5, "2 workers")
    client = lab.socket(zmq.DEALER)
    client.connect(frontend)
    bodies = [f"request {n}".encode() for n in range(BURST)]
    for n, body in enumerate(bodies):
        client.send_multipart([b"", body])
        if n % 100 == 0:
            client.send(b"no envelope")
    replies = collect(client, BURST)
    assert sorted(r[1].split(b" by ")[0] for r in replies) == sorted(bodies)
    assert lab.peer("broker").get("malformed") == BURST // 100
    assert sum(lab.peer(w).get("arrived_while_busy") for w in ("w1", "w2")) == 0   # LRU still holds
