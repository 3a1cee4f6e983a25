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

from ..sockets import drain
from .lazypirate import client, malformed
from .simplepirate import served, split_envelope, worker_identity, worker_name

PPP_READY = b"\x01"        # worker -> queue: "I am here, send me work"
PPP_HEARTBEAT = b"\x02"    # both ways: "I am still alive"

HEARTBEAT_INTERVAL = 0.1   # seconds between heartbeats
HEARTBEAT_LIVENESS = 3     # silent intervals before a peer counts as dead (3..5 is reasonable)
INTERVAL_INIT = 0.1        # a worker's first back-off before reconnecting (s)
INTERVAL_MAX = 0.8         # the back-off doubles up to this (s)


def queue(peer, frontend: str, backend: str, interval: float = HEARTBEAT_INTERVAL,
          liveness: int = HEARTBEAT_LIVENESS):
    """ROUTER frontend for clients, ROUTER backend for workers; heartbeats to and from workers.
    Every message is checked first: a request the queue cannot route back is dropped before it
    costs a worker, and a worker that sends what 6/PPP does not allow is forgotten (its next
    heartbeat brings it back, ready), so no worker is ever left waiting for nothing."""
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    back = peer.socket(zmq.ROUTER)
    back.bind(backend)
    expiry: dict[bytes, float] = {}      # every live worker -> when it counts as dead
    ready: list[bytes] = []              # idle workers, least recently used first
    peer.data.update(workers=expiry, ready=ready, status=lambda: workers_line(expiry, ready, liveness * interval))
    for name in ("ready", "heartbeats_in", "heartbeats_out", "requests", "replies", "purged"):
        peer.counter(name)

    workers_only = zmq.Poller()
    workers_only.register(back, zmq.POLLIN)
    both = zmq.Poller()
    both.register(back, zmq.POLLIN)
    both.register(front, zmq.POLLIN)
    heartbeat_at = time.monotonic() + interval
    heard_at: dict[bytes, float] = {}    # when we last logged "heard" for each worker
    while peer.running:
        # take requests only when a worker can do them; wake for the next heartbeat or deadline
        events = peer.poll(both if ready else workers_only, until_due(heartbeat_at, expiry))
        now = time.monotonic()           # one clock read for a whole burst of messages

        if back in events:
            for address, *message in drain(back):   # every message that waits, then poll again
                peer.throttle()          # a stalled queue: the workers stop hearing from it
                known, kind = address in expiry, what(message)
                if kind is None:         # not 6/PPP: forget the sender until it heartbeats again
                    malformed(peer, message, "not READY, HEARTBEAT nor [client, '', reply...]")
                    forget(expiry, ready, address)
                    continue
                expiry[address] = now + liveness * interval
                if kind != "reply" or now - heard_at.get(address, 0.0) >= interval / 10:
                    heard_at[address] = now      # busy: "heard" at most 10 times an interval
                    peer.log("heard", worker=address.decode(errors="replace"))
                if kind == "reply":      # [client id, b"", reply...]: back to the client
                    front.send_multipart(message)
                    peer.count("replies")
                    make_ready(ready, address)
                    continue
                peer.count("ready" if kind == "ready" else "heartbeats_in")
                peer.log(kind, worker=address.decode(errors="replace"))      # "ready", "heartbeat"
                if kind == "ready" or not known:   # (a heartbeat from a worker that knew an
                    make_ready(ready, address, again=kind == "ready")   # earlier queue: ready)

        if front in events and ready:    # as many requests as there are ready workers
            for request in drain(front, len(ready)):    # [client id, b"", request...]: to the
                if split_envelope(request):             # worker that has waited longest
                    back.send_multipart([ready.pop(0)] + request)
                    peer.count("requests")
                else:
                    malformed(peer, request, "not [client, '', request...]")

        if now >= heartbeat_at:          # once per interval, however busy
            for address in expiry:
                back.send_multipart([address, PPP_HEARTBEAT])
            peer.count("heartbeats_out", len(expiry))
            heartbeat_at = now + interval
            heard_at = {address: t for address, t in heard_at.items() if address in expiry}
        purge(peer, expiry, ready)


def workers_line(expiry: dict[bytes, float], ready: list[bytes], allowed: float) -> str:
    """The queue's line in the panel: each worker, when it was last heard, and whether it is ready."""
    now = time.monotonic()
    return "; ".join(f"{worker_name(address)} heard {max(0.0, now - deadline + allowed):.1f} s ago"
                     + (", ready" if address in ready else "")
                     for address, deadline in sorted(list(expiry.items()))) or "no workers"


def until_due(heartbeat_at: float, expiry: dict[bytes, float]) -> float:
    """Seconds until the queue must act: its next heartbeat, or the first worker deadline (so a
    dead worker is purged right at ``liveness x interval`` after it was last heard, not up to one
    interval later)."""
    return max(0.001, min([heartbeat_at, *expiry.values()]) - time.monotonic())


def what(message: list[bytes]) -> str | None:
    """What a worker sent the queue: ``"ready"``, ``"heartbeat"``, ``"reply"`` (an envelope the
    queue can route back, then a body of one frame or more), or None: not 6/PPP."""
    if message == [PPP_READY]:
        return "ready"
    if message == [PPP_HEARTBEAT]:
        return "heartbeat"
    return "reply" if split_envelope(message) else None


def make_ready(ready: list[bytes], address: bytes, again: bool = False) -> None:
    """Put a worker at the end of the ready list (once; ``again``: move it there)."""
    if again and address in ready:
        ready.remove(address)
    if address not in ready:
        ready.append(address)


def forget(expiry: dict[bytes, float], ready: list[bytes], address: bytes) -> None:
    """Drop a worker from the queue's books: not live, not ready."""
    expiry.pop(address, None)
    if address in ready:
        ready.remove(address)


def purge(peer, expiry: dict[bytes, float], ready: list[bytes]) -> None:
    """Forget every worker that has been silent past its deadline: it is dead."""
    now = time.monotonic()
    for address, deadline in list(expiry.items()):
        if deadline < now:
            forget(expiry, ready, address)
            purged(peer, address)


def purged(peer, address: bytes) -> None:
    """Count (``purged``) and log (``purge``, with ``worker``) a worker the queue gave up."""
    peer.count("purged")
    peer.log("purge", worker=address.decode(errors="replace"))


def parse_request(frames: list[bytes]) -> tuple[list[bytes], list[bytes]] | None:
    """A 6/PPP REQUEST as a worker gets it: ``(envelope, body)``. The envelope (an address stack
    ending in the empty delimiter) is optional; the body is one frame or more. None when it is
    not a request: a lone delimiter, an envelope with no body, or a READY (only workers send it)."""
    if not frames or frames == [PPP_READY]:
        return None
    split = split_envelope(frames)
    if split is not None:
        addresses, body = split
        return addresses + [b""], body
    if b"" in frames:
        return None                       # an empty delimiter with no address or no body
    return [], frames


def worker(peer, endpoint: str, interval: float = HEARTBEAT_INTERVAL, liveness: int = HEARTBEAT_LIVENESS,
           interval_init: float = INTERVAL_INIT, interval_max: float = INTERVAL_MAX):
    """DEALER: READY, then echo requests, heartbeat the queue, and reconnect with exponential
    back-off when the queue has been silent for ``liveness`` intervals. A request may carry an
    envelope of any depth and a body of any number of frames (6/PPP); a message that is neither a
    request nor a heartbeat is counted, logged, and answered with READY, so that a queue that
    took it for a request does not wait for a reply that never comes. ``books`` (a
    :class:`WorkerBooks`) keeps its counts and events for the notebook."""
    attempt = 0
    books = WorkerBooks(peer)

    def connect() -> zmq.Socket:
        sock = peer.socket(zmq.DEALER)
        sock.routing_id = worker_identity(peer, attempt)
        sock.connect(endpoint)
        sock.send(PPP_READY)
        books.liveness(liveness)
        return sock

    sock = connect()
    alive = liveness                      # intervals of silence we still tolerate
    backoff = interval_init
    heartbeat_at = time.monotonic() + interval
    while peer.running:
        if peer.poll(sock, interval):
            frames = sock.recv_multipart()
            request = parse_request(frames)
            if frames == [PPP_HEARTBEAT]:
                books.heartbeat_in()
            elif request is not None:     # [client id, b"", request...]: do the work, reply
                peer.throttle()           # a slow worker sends no heartbeats meanwhile
                envelope, body = request
                sock.send_multipart(envelope + body)
                books.served(body)
            else:
                malformed(peer, frames, "not a HEARTBEAT nor a request")
                sock.send(PPP_READY)      # "I did nothing with that: I am still free"
            alive, backoff = liveness, interval_init
            books.liveness(alive)
        elif peer.running:
            alive -= 1                    # one more interval without a word from the queue
            books.liveness(alive)
            if alive == 0:
                books.queue_lost(backoff)
                peer.close_socket(sock)
                if not peer.sleep(backoff):
                    break
                backoff = min(backoff * 2, interval_max)
                attempt += 1
                sock = connect()
                alive = liveness
        if time.monotonic() >= heartbeat_at:
            sock.send(PPP_HEARTBEAT)
            books.heartbeat_out()
            heartbeat_at = time.monotonic() + interval


class WorkerBooks:
    """What a Paranoid Pirate worker records for the notebook, one call a step: the counters
    ``served``, ``heartbeats_in``, ``heartbeats_out``, ``reconnects`` (from the start, even at 0),
    and the events ``heartbeat``, ``served`` (with ``request``), ``liveness`` (with ``left``, each
    time the worker's liveness changes) and ``queue lost`` (with ``backoff``)."""

    def __init__(self, peer):
        self.peer = peer
        self.left: int | None = None          # the liveness last logged
        for name in ("served", "heartbeats_in", "heartbeats_out", "reconnects"):
            peer.counter(name)

    def liveness(self, left: int) -> None:
        """The worker's liveness is ``left``: logged when it differs from the last one logged."""
        if left != self.left:
            self.peer.log("liveness", left=left)
            self.left = left

    def heartbeat_in(self) -> None:
        self.peer.count("heartbeats_in")
        self.peer.log("heartbeat")

    def heartbeat_out(self) -> None:
        self.peer.count("heartbeats_out")

    def served(self, body: list[bytes]) -> None:
        served(self.peer, body[-1][:64])

    def queue_lost(self, backoff: float) -> None:
        self.peer.count("reconnects")
        self.peer.log("queue lost", backoff=backoff)


ROLES = {"queue": queue, "worker": worker, "client": client}
