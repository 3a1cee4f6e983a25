"""Router-dealer: identities, envelopes, and an asynchronous server.

REQ and REP work in lockstep, one request then one reply. ROUTER and DEALER drop the lockstep:

* A DEALER sends and receives whenever it likes. Outgoing messages are dealt round-robin to its
  connected peers, incoming ones are fair-queued. It adds nothing to the frames it sends.
* A ROUTER knows each connected peer by an *identity* (routing id). Every message it receives
  comes out with the sender's identity as an extra first frame; every message it sends must start
  with an identity frame, which the ROUTER takes off and uses to pick the connection. A peer can set
  its identity (``sock.routing_id = b"client1"``); otherwise the ROUTER makes one up (5 bytes,
  starting with a zero byte).
* The frames in front of the body are the *envelope*. REQ puts an empty *delimiter* frame in front
  of each request and expects one in front of each reply, which it takes off; so REQ -> ROUTER
  arrives as ``[identity, '', body]``, and the reply must go out as ``[identity, '', reply]``.
* A ROUTER that is asked to send to an identity it does not know drops the message silently, unless
  ``ROUTER_MANDATORY`` is set: then ``send`` raises ``zmq.ZMQError`` with errno ``EHOSTUNREACH``.

The asynchronous server (the guide's "asyncsrv") puts this together: DEALER clients connect to
the server's ROUTER frontend; the server passes every request, envelope and all, to a DEALER
backend that deals them round-robin to DEALER worker threads; a worker sends its reply back with the
same envelope, and the frontend ROUTER uses the identity to return it to the right client. The
guide uses ``zmq.proxy`` for the server loop; here it is a Poller loop (``peer.poll(poller)``), so
that it can be killed.

Roles take an optional ``flow`` (a :class:`zguide_py.flow.Flow`) and record every message as the
receiving socket hands it over, so a notebook can draw the message flow as a sequence diagram.
"""
from __future__ import annotations

import time

import zmq


def request_of(body: bytes) -> tuple[str, int | None]:
    """A client's request body ``b"client1:17"`` -> ``("client1", 17)``; no number -> ``(text, None)``."""
    name, _, number = body.decode(errors="replace").partition(":")
    return name, int(number) if number.isascii() and number.isdigit() and len(number) <= 18 else None


def client_task(peer, endpoint: str, requests: int | None = 10, window: int = 4,
                timeout: float | None = 2.0, server: str = "server", flow=None):
    """DEALER client: keep up to ``window`` requests in flight, match replies as they come.

    Requests are ``b"<name>:<n>"``; the reply is ``[request, worker]``. The identity is the peer's
    name, so the server (and a flow diagram) can tell clients apart. ``requests=None`` sends
    forever. A request with no reply after ``timeout`` seconds counts as ``lost`` (and its reply,
    should it come after all, as ``late``).
    ``peer.data``: ``answered`` (request numbers, in the order replies came), ``misrouted``
    (replies that were not for one of our open requests), ``served_by`` ({worker: replies}).
    """
    client = peer.socket(zmq.DEALER, routing_id=peer.name.encode())
    client.connect(endpoint)
    books = ClientBooks(peer)                        # what the notebook reads: answered, served_by...
    pending: dict[int, float] = {}                  # request number -> time sent
    expired: set[int] = set()                        # requests we gave up on
    n = 0
    while requests is None or n < requests or pending:
        # DEALER does not wait for a reply before it may send again: keep `window` requests out
        while (requests is None or n < requests) and len(pending) < window:
            if not peer.send(client, f"{peer.name}:{n}".encode()):
                return
            pending[n] = time.perf_counter()
            peer.count("requests")
            n += 1
            peer.throttle()
        oldest = min(pending.values(), default=time.perf_counter())
        wait = None if timeout is None else max(0.0, oldest + timeout - time.perf_counter())
        if peer.poll(client, wait):
            frames = client.recv_multipart()          # [request, worker]: no envelope left
            if flow is not None:
                flow.record(server, peer.name, frames)
            name, number = request_of(frames[0])
            if name == peer.name and number in pending:
                books.answered(number, sent=pending.pop(number), worker=frames[-1])
            elif name == peer.name and number in expired:
                peer.count("late")                    # answered after we had given up on it
            else:
                books.misrouted(frames)               # not a reply to one of our open requests
        elif not peer.running:
            return
        now = time.perf_counter()
        for number in [k for k, sent in pending.items() if timeout is not None and now - sent >= timeout]:
            del pending[number]
            expired.add(number)
            books.lost(number, timeout)
    peer.data["done"] = True


class ClientBooks:
    """A client's records for the notebook: ``peer.data`` (``answered``, ``misrouted``, ``served_by``),
    the counters ``replies`` / ``misrouted`` / ``lost``, the ``rtt`` latency, and a ``lost`` event."""

    def __init__(self, peer):
        self.peer = peer
        self.answered_numbers = peer.data.setdefault("answered", [])
        self.misrouted_frames = peer.data.setdefault("misrouted", [])
        self.served_by = peer.data.setdefault("served_by", {})

    def answered(self, number: int, sent: float, worker: bytes) -> None:
        """A reply to an open request (sent at ``sent``, ``time.perf_counter()``), from ``worker``."""
        self.peer.latency("rtt", time.perf_counter() - sent)
        self.answered_numbers.append(number)
        name = worker.decode(errors="replace")
        self.served_by[name] = self.served_by.get(name, 0) + 1
        self.peer.count("replies")

    def misrouted(self, frames: list[bytes]) -> None:
        """A reply that was not for one of our open requests: counted; the first 100 kept."""
        self.peer.count("misrouted")
        if len(self.misrouted_frames) < 100:
            self.misrouted_frames.append(frames)

    def lost(self, number: int, timeout: float | None) -> None:
        """No reply within ``timeout`` seconds: counted and logged (a reply after this is ``late``)."""
        self.peer.count("lost")
        self.peer.log("lost", request=number, after=timeout)


def server_task(peer, frontend: str, backend: str, mandatory: bool = False, flow=None):
    """The server: ROUTER frontend for clients, DEALER backend for workers, a Poller between them.

    A request comes in as ``[identity, request]`` and goes to the workers unchanged; a reply comes
    back as ``[identity, request, worker]`` and the frontend routes it on the identity. With
    ``mandatory=True`` (ROUTER_MANDATORY) a reply for a client that has gone raises EHOSTUNREACH,
    which is counted as ``unroutable``; without it the ROUTER drops the reply without a word and it
    counts as a reply sent.
    """
    front = peer.socket(zmq.ROUTER, router_mandatory=int(mandatory))
    front.bind(frontend)
    back = peer.socket(zmq.DEALER)
    back.bind(backend)
    poller = zmq.Poller()
    poller.register(front, zmq.POLLIN)
    poller.register(back, zmq.POLLIN)
    while peer.running:
        events = peer.poll(poller)                    # {} once the lab kills this peer
        if front in events:
            frames = front.recv_multipart()           # [client identity, request]
            if flow is not None:
                flow.record(frames[0], peer.name, frames)
            peer.count("requests")
            if not peer.send(back, frames):           # no worker connected: wait for one
                return
        if back in events:
            frames = back.recv_multipart()            # [client identity, request, worker]
            try:
                front.send_multipart(frames, zmq.NOBLOCK)
                peer.count("replies")
            except zmq.Again:                         # only with ROUTER_MANDATORY: the pipe is full
                peer.count("dropped")
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EHOSTUNREACH:
                    raise
                # only with ROUTER_MANDATORY: nobody by that id. Logged, then counted, so a
                # reader waiting on the count finds the log entry too
                peer.log("unroutable", client=frames[0].decode(errors="replace"))
                peer.count("unroutable")


def server_worker(peer, endpoint: str, work: float = 0.0, server: str = "server", flow=None):
    """DEALER worker: take ``[identity, request]``, work ``work`` seconds, send back
    ``[identity, request, worker name]``. The envelope goes back exactly as it came."""
    worker = peer.socket(zmq.DEALER)
    worker.connect(endpoint)
    peer.data["connected"] = True                     # for a notebook that waits for its workers
    while peer.poll(worker):
        frames = worker.recv_multipart()              # [client identity, request]
        if flow is not None:
            flow.record(server, peer.name, frames)
        peer.count("requests")
        if work:
            peer.sleep(work)                          # the "work": a kill here loses this request
        peer.throttle()
        reply = [*frames, peer.name.encode()]
        if flow is not None:                          # recorded before it goes, so that in a
            flow.record(peer.name, server, reply)     # diagram it never comes after its arrival
        if not peer.send(worker, reply):              # the server has gone: wait for it
            return
        peer.count("replies")


ROLES = {"client_task": client_task, "server_task": server_task, "server_worker": server_worker}
