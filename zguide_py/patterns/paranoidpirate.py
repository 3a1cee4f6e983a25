"""Paranoid Pirate: a queue and workers that watch each other with heartbeats.

Simple Pirate's queue cannot tell a dead worker from an idle one, and its workers cannot tell a
dead queue from a quiet one. Paranoid Pirate adds heartbeats in both directions, as specified by
6/PPP (rfc.zeromq.org/spec:6): every ``interval`` the queue sends ``HEARTBEAT`` to each worker and
each worker sends ``HEARTBEAT`` to the queue. Any message counts as a sign of life.

* **The queue** keeps, for each worker, the time after which it counts as dead:
  ``last heard + liveness x interval``. When that time passes it **purges** the worker (it is no
  longer offered requests and no longer gets heartbeats).
* **The worker** keeps a liveness counter: ``liveness`` when it hears anything from the queue, one
  less for every interval of silence. At zero it decides the queue is gone: it closes its socket,
  waits a back-off that doubles after each failed attempt (up to a maximum), opens a new socket and
  says ``READY`` again. The back-off returns to its start value as soon as the queue answers.
* **The clients** are the unchanged Lazy Pirate clients: a request lost with a dead worker or a
  dead queue is retried by its client.

Wire format (6/PPP, so the guide's own ``ppqueue`` / ``ppworker`` can stand in for these roles)::

    worker -> queue  READY:     [worker id, b"\\x01"]
    worker -> queue  HEARTBEAT: [worker id, b"\\x02"]
    queue  -> worker HEARTBEAT: [worker id, b"\\x02"]
    queue  -> worker request:   [worker id, client id, b"", request]
    worker -> queue  reply:     [worker id, client id, b"", reply]

(the queue's ROUTER adds and strips the first frame; the worker is a DEALER and sees the rest).

Each role runs as a process of its own too (``python -m zguide_py run --help``)::

    python -m zguide_py run paranoidpirate.queue --bind frontend=tcp://127.0.0.1:5555 --bind backend=5556
    python -m zguide_py run paranoidpirate.worker --connect tcp://127.0.0.1:5556
    python -m zguide_py run lazypirate.client --connect 5555 requests=20

Events carry fields: the queue logs ``heard``/``ready``/``heartbeat``/``purge`` with ``worker`` (its
routing id), a worker logs ``liveness`` with ``left`` and ``queue lost`` with ``backoff``.
"""
from __future__ import annotations

import time

import zmq

from .lazypirate import client
from .simplepirate import worker_identity

PPP_READY = b"\x01"        # worker -> queue: "I am here, send me work"
PPP_HEARTBEAT = b"\x02"    # both ways: "I am still alive"

HEARTBEAT_INTERVAL = 0.1   # seconds between heartbeats
HEARTBEAT_LIVENESS = 3     # silent intervals before a peer counts as dead (3..5 is reasonable)
INTERVAL_INIT = 0.1        # a worker's first back-off before reconnecting (s)
INTERVAL_MAX = 0.8         # the back-off doubles up to this (s)


def queue(peer, frontend: str, backend: str, interval: float = HEARTBEAT_INTERVAL,
          liveness: int = HEARTBEAT_LIVENESS):
    """ROUTER frontend for clients, ROUTER backend for workers; heartbeats to and from workers."""
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    back = peer.socket(zmq.ROUTER)
    back.bind(backend)
    expiry: dict[bytes, float] = {}      # every live worker -> when it counts as dead
    ready: list[bytes] = []              # idle workers, least recently used first
    peer.data.update(workers=expiry, ready=ready)
    for name in ("ready", "heartbeats_in", "heartbeats_out", "requests", "replies", "purged"):
        peer.counter(name)

    def make_ready(address: bytes) -> None:
        if address not in ready:
            ready.append(address)

    heartbeat_at = time.monotonic() + interval
    while peer.running:
        poller = zmq.Poller()
        poller.register(back, zmq.POLLIN)
        if ready:                        # take requests only when a worker can do them
            poller.register(front, zmq.POLLIN)
        events = peer.poll(poller, interval)

        if back in events:
            address, *message = back.recv_multipart()
            peer.throttle()              # a stalled queue: the workers stop hearing from it
            worker, known = address.decode(errors="replace"), address in expiry
            expiry[address] = time.monotonic() + liveness * interval
            peer.log("heard", worker=worker)
            if message == [PPP_READY]:
                if address in ready:
                    ready.remove(address)
                make_ready(address)
                peer.count("ready")
                peer.log("ready", worker=worker)
            elif message == [PPP_HEARTBEAT]:
                peer.count("heartbeats_in")
                peer.log("heartbeat", worker=worker)
                if not known:            # a worker that knew an earlier queue: alive, so ready
                    make_ready(address)
            elif len(message) >= 3:      # [client id, b"", reply...]
                front.send_multipart(message)
                peer.count("replies")
                make_ready(address)
            else:
                peer.count("bad")
                peer.log("bad message", worker=worker, frames=repr(message))

        if front in events and ready:
            request = front.recv_multipart()         # [client id, b"", request]: to the
            back.send_multipart([ready.pop(0)] + request)   # worker that has waited longest
            peer.count("requests")

        if time.monotonic() >= heartbeat_at:
            for address in expiry:
                back.send_multipart([address, PPP_HEARTBEAT])
            peer.count("heartbeats_out", len(expiry))
            heartbeat_at = time.monotonic() + interval
        purge(peer, expiry, ready)


def purge(peer, expiry: dict[bytes, float], ready: list[bytes]) -> None:
    """Forget every worker that has been silent past its deadline: it is dead."""
    now = time.monotonic()
    for address, deadline in list(expiry.items()):
        if deadline < now:
            del expiry[address]
            if address in ready:
                ready.remove(address)
            peer.count("purged")
            peer.log("purge", worker=address.decode(errors="replace"))


def worker(peer, endpoint: str, interval: float = HEARTBEAT_INTERVAL, liveness: int = HEARTBEAT_LIVENESS,
           interval_init: float = INTERVAL_INIT, interval_max: float = INTERVAL_MAX):
    """DEALER: READY, then echo requests, heartbeat the queue, and reconnect with exponential
    back-off when the queue has been silent for ``liveness`` intervals."""
    attempt = 0

    def connect() -> zmq.Socket:
        sock = peer.socket(zmq.DEALER)
        sock.routing_id = worker_identity(peer, attempt)
        sock.connect(endpoint)
        sock.send(PPP_READY)
        peer.log("liveness", left=liveness)
        return sock

    for name in ("served", "heartbeats_in", "heartbeats_out", "reconnects"):
        peer.counter(name)
    sock = connect()
    alive = liveness                      # intervals of silence we still tolerate
    backoff = interval_init
    heartbeat_at = time.monotonic() + interval
    while peer.running:
        if peer.poll(sock, interval):
            frames = sock.recv_multipart()
            if len(frames) == 3:          # [client id, b"", request]: do the work, send the reply
                peer.throttle()           # a slow worker sends no heartbeats meanwhile
                sock.send_multipart(frames)
                peer.count("served")
                peer.log("served", request=frames[-1].decode(errors="replace"))
            elif frames == [PPP_HEARTBEAT]:
                peer.count("heartbeats_in")
                peer.log("heartbeat")
            else:
                peer.count("bad")
                peer.log("bad message", frames=repr(frames))
            if alive != liveness:
                peer.log("liveness", left=liveness)
            alive, backoff = liveness, interval_init
        elif peer.running:
            alive -= 1                    # one more interval without a word from the queue
            peer.log("liveness", left=alive)
            if alive == 0:
                peer.count("reconnects")
                peer.log("queue lost", backoff=backoff)
                peer.close_socket(sock)
                if not peer.sleep(backoff):
                    break
                backoff = min(backoff * 2, interval_max)
                attempt += 1
                sock = connect()
                alive = liveness
        if time.monotonic() >= heartbeat_at:
            sock.send(PPP_HEARTBEAT)
            peer.count("heartbeats_out")
            heartbeat_at = time.monotonic() + interval


ROLES = {"queue": queue, "worker": worker, "client": client}
