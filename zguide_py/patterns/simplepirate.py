"""Simple Pirate: Lazy Pirate clients in front of a queue with a pool of workers.

One server is one point of failure. Simple Pirate puts a **queue** between the clients and many
**workers**, so that a dead worker costs one retry instead of a dead service:

* the queue has two ROUTER sockets: ``frontend`` (clients connect their REQ sockets) and
  ``backend`` (workers connect their REQ sockets);
* a worker starts by sending ``READY`` (the single byte ``0x01``); the queue keeps a list of
  ready workers, least recently used first;
* while there is a ready worker, the queue takes a request from the frontend and sends it to the
  first worker in the list; the worker's reply goes back to the client and puts the worker at the
  end of the list;
* the clients are unchanged Lazy Pirate clients (:func:`zguide_py.patterns.lazypirate.client`):
  the queue does nothing to recover lost requests; the clients' retries do.

What Simple Pirate cannot do, by design: the queue never learns that a worker died, so the dead
worker stays in its list and the next request sent to it is lost (the client retries). And when
the *queue* restarts, the idle workers do not know: their REQ sockets said READY to the old queue
and now wait for a request that the new queue, which never heard of them, will not send. The
Paranoid Pirate pattern fixes both with heartbeats.

Frames (REQ adds and strips the empty delimiter frame)::

    worker -> queue  READY:   [worker id, b"", b"\\x01"]
    queue  -> worker request: [worker id, b"", client id, b"", request]
    worker -> queue  reply:   [worker id, b"", client id, b"", reply]

Each role runs as a process of its own too (``python -m zguide_py run --help``)::

    python -m zguide_py run simplepirate.queue --bind frontend=tcp://127.0.0.1:5555 --bind backend=5556
    python -m zguide_py run simplepirate.worker --connect tcp://127.0.0.1:5556
    python -m zguide_py run lazypirate.client --connect 5555 requests=20
"""
from __future__ import annotations

import os

import zmq

from .lazypirate import client, malformed

READY = b"\x01"          # a worker's first message: "send me work"


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]] | None:
    """``[address..., b"", body...]`` -> ``(addresses, body)``: at least one address (routing ids
    are never empty, so the first empty frame is the delimiter) and a body of one frame or more.
    None when the message has no such envelope: it cannot be routed back, so it is malformed."""
    try:
        i = frames.index(b"")
    except ValueError:
        return None
    if i == 0 or i == len(frames) - 1:
        return None
    return frames[:i], frames[i + 1:]


def worker_identity(peer, attempt: int = 0) -> bytes:
    """A routing id that names the worker and is new for every socket it opens (so a restarted or
    reconnected worker never clashes with its former self inside the queue's ROUTER)."""
    return f"{peer.name}/{os.getpid()}.{peer.starts}.{attempt}".encode()


def worker_name(identity: bytes | str) -> str:
    """The peer name inside a routing id made by :func:`worker_identity`."""
    text = identity.decode(errors="replace") if isinstance(identity, bytes) else identity
    return text.split("/", 1)[0]


def queue(peer, frontend: str, backend: str):
    """Two ROUTERs and a list of ready workers. Reads the frontend only while a worker is ready.
    Every message is checked first (:func:`split_envelope`); a malformed one is counted and dropped."""
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    back = peer.socket(zmq.ROUTER)
    back.bind(backend)
    workers: list[bytes] = []                 # ready workers, least recently used first
    peer.data.update(ready=workers, status=lambda: f"workers ready: {len(workers)}")   # the panel's line
    for name in ("ready", "requests", "replies"):
        peer.counter(name)

    workers_only = zmq.Poller()
    workers_only.register(back, zmq.POLLIN)
    both = zmq.Poller()
    both.register(back, zmq.POLLIN)
    both.register(front, zmq.POLLIN)

    while peer.running:
        events = peer.poll(both if workers else workers_only)   # {} once the lab kills the queue
        if back in events:
            address, *message = back.recv_multipart()
            peer.throttle()
            if message[:1] != [b""] or not (message[1:] == [READY] or split_envelope(message[1:])):
                malformed(peer, message, "not ['', READY] nor ['', client, '', reply]")
                continue                      # a peer that breaks the protocol gets no work
            if address not in workers:
                workers.append(address)       # any message from a worker means it is free again
            if message[1:] == [READY]:
                peer.count("ready")
                peer.log("ready", worker=address.decode(errors="replace"))
            else:
                front.send_multipart(message[1:])   # [client id, b"", reply]
                peer.count("replies")
        if front in events and workers:
            request = front.recv_multipart()  # [client id, b"", request]
            if not split_envelope(request):
                malformed(peer, request, "not [client, '', request]")
                continue
            address = workers.pop(0)
            back.send_multipart([address, b""] + request)
            peer.count("requests")


def worker(peer, endpoint: str):
    """REQ: say READY once, then answer each request with its echo (throttle to make it slow)."""
    sock = peer.socket(zmq.REQ)
    sock.routing_id = worker_identity(peer)
    sock.connect(endpoint)
    peer.data["waits_for"] = "a request"          # its REQ's "reply" is the next request (the panel)
    sock.send(READY)
    peer.counter("served")
    while peer.poll(sock):                    # False once the lab kills the worker
        envelope_and_request = sock.recv_multipart()   # [client id, b"", request]
        peer.throttle()                       # killed while busy: the request dies with us
        sock.send_multipart(envelope_and_request)
        served(peer, envelope_and_request[-1])


def served(peer, request: bytes) -> None:
    """A worker answered ``request``: count it (``served``) and log a ``served`` event with the
    request as text. Shared by the Paranoid Pirate worker."""
    peer.count("served")
    peer.log("served", request=request.decode(errors="replace"))


ROLES = {"queue": queue, "worker": worker, "client": client}
