"""Majordomo (7/MDP): a service-oriented broker with heartbeating workers.

Clients ask for a *service by name* ("echo", "upper"); workers announce which one service they
offer; the broker, one ROUTER socket for both, queues each request until a worker of that service
is free and sends it to the one that has waited longest. Every message carries a protocol header so
that either side can check what it got:

    client -> broker   [b"", b"MDPC01", service, body...]            (REQ adds/strips the b"")
    broker -> client   [b"", b"MDPC01", service, body...]
    worker -> broker   [b"", b"MDPW01", READY=b"\\x01", service]
    broker -> worker   [b"", b"MDPW01", REQUEST=b"\\x02", client, b"", body...]
    worker -> broker   [b"", b"MDPW01", REPLY=b"\\x03", client, b"", body...]
    both ways          [b"", b"MDPW01", HEARTBEAT=b"\\x04"]  and  [.., DISCONNECT=b"\\x05"]

(on the broker's ROUTER socket each incoming message also starts with the sender's identity).

Workers and broker heartbeat each other every ``heartbeat`` seconds; a side that hears nothing at
all for ``liveness`` heartbeats considers the other dead. A dead worker is forgotten by the broker
and the request it was working on, if any, goes back to the front of its queue for another worker
(MDP assumes workers are idempotent). A worker that hears nothing from the broker reconnects on a
fresh socket and says READY again, so a broker restart heals by itself.

The broker answers the management interface 8/MMI itself: a request to ``mmi.service`` whose body
is a service name gets ``b"200"`` if at least one worker offers it and ``b"404"`` if none does;
any other ``mmi.*`` service gets ``b"501"``.

Events carry fields: the broker logs ``worker ready`` (``worker``, ``service``) and ``worker
removed`` (``worker``, ``why``), with the worker's routing id (:func:`worker_name` gives its peer).

    python -m zguide_py run majordomo.broker --bind tcp://127.0.0.1:5555
    python -m zguide_py run majordomo.worker --connect 5555 service=echo
    python -m zguide_py run majordomo.client --connect 5555 service=echo requests=20
"""
from __future__ import annotations

import time
from collections import defaultdict, deque

import zmq

from ..events import clip
from ..sockets import drain

MDPC = b"MDPC01"          # MDP/Client v0.1
MDPW = b"MDPW01"          # MDP/Worker v0.1
READY = b"\x01"
REQUEST = b"\x02"
REPLY = b"\x03"
HEARTBEAT = b"\x04"
DISCONNECT = b"\x05"
COMMANDS = {READY: "READY", REQUEST: "REQUEST", REPLY: "REPLY", HEARTBEAT: "HEARTBEAT",
            DISCONNECT: "DISCONNECT"}

#: What the demo workers do with a request body (a list of frames).
WORK = {
    "echo": lambda body: body,
    "upper": lambda body: [frame.upper() for frame in body],
    "reverse": lambda body: [frame[::-1] for frame in body],
}


def worker_name(identity: bytes | str) -> str:
    """The peer name in a routing id of our workers and clients (``echo1.1.2`` -> ``echo1``): each
    connection gets ``name.start.connection``, new for every socket, readable in the broker's log."""
    text = identity.decode(errors="replace") if isinstance(identity, bytes) else identity
    return text.split(".", 1)[0]


# ---- checking messages --------------------------------------------------------------------------
MAX_SERVICE_NAME = 255     # bytes: a service name is a short printable string


class Malformed(ValueError):
    """A message that is not 7/MDP (or 8/MMI); its text says why."""


def malformed(peer, frames: list[bytes], why: object) -> None:
    """Count a malformed message and log it as a bounded event (the lab clips every value: 64
    bytes a frame, 8 frames), so a hostile peer can neither crash a role nor pin its memory."""
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=str(why))


def service_name(frame: bytes) -> bytes:
    """``frame`` if it is a service name as MDP wants it (a printable UTF-8 string of 1 to
    ``MAX_SERVICE_NAME`` bytes), else raise :class:`Malformed`."""
    try:
        text = frame.decode()
    except UnicodeDecodeError:
        raise Malformed("service name is not UTF-8") from None
    if not text or len(frame) > MAX_SERVICE_NAME or not text.isprintable():
        raise Malformed("service name is empty, too long or not printable")
    return frame


def parse_at_broker(frames: list[bytes]) -> tuple[bytes, bytes, bytes, list[bytes]]:
    """What the broker's ROUTER received, checked against 7/MDP: ``(sender, MDPC, service, body)``
    from a client, ``(sender, MDPW, command, rest)`` from a worker, with the frame counts of each
    command. Raises :class:`Malformed` (with the reason) for anything else."""
    if len(frames) < 4 or frames[1] != b"":
        raise Malformed("not [sender, '', header, ...]")
    sender, _empty, header, what, *rest = frames
    if header == MDPC:
        if not rest:
            raise Malformed("a request has no body")
        return sender, header, service_name(what), rest
    if header != MDPW:
        raise Malformed("header is neither MDPC01 nor MDPW01")
    if what == READY and len(rest) == 1:
        service_name(rest[0])
    elif what == REPLY and (len(rest) < 3 or not rest[0] or rest[1] != b""):
        raise Malformed("a REPLY is [client, '', body...]")
    elif what in (HEARTBEAT, DISCONNECT) and rest:
        raise Malformed("HEARTBEAT and DISCONNECT have no frames after the command")
    elif what not in COMMANDS or what == READY and len(rest) != 1:
        raise Malformed("unknown command, or a READY without exactly one service name")
    return sender, header, what, rest


def parse_at_worker(frames: list[bytes]) -> tuple[bytes, list[bytes]]:
    """What a worker's DEALER received from the broker, checked: ``(command, rest)`` for a
    REQUEST (``rest`` = ``[client, b"", body...]``), HEARTBEAT or DISCONNECT. Raises
    :class:`Malformed` for anything else."""
    if len(frames) < 3 or frames[0] != b"" or frames[1] != MDPW:
        raise Malformed("not ['', MDPW01, command, ...]")
    command, rest = frames[2], frames[3:]
    if command == REQUEST:
        if len(rest) < 3 or not rest[0] or rest[1] != b"":
            raise Malformed("a REQUEST is [client, '', body...]")
    elif command not in (HEARTBEAT, DISCONNECT) or rest:
        raise Malformed("not a REQUEST, HEARTBEAT or DISCONNECT")
    return command, rest


def parse_reply(frames: list[bytes], service: bytes) -> list[bytes]:
    """A client's reply (REQ strips the empty frame): ``[MDPC01, service, body...]`` -> body.
    Raises :class:`Malformed` if the header, the service or the body is wrong."""
    if len(frames) < 3 or frames[0] != MDPC or frames[1] != service:
        raise Malformed(f"not [MDPC01, {service!r}, body...]")
    return frames[2:]


# ---- the broker ---------------------------------------------------------------------------------
class ServiceCounters(dict):
    """``counters[service]``: the peer's counter ``prefix + service``, made once per service, so
    the message path does no string formatting (``sent_to[b"echo"].value += 1``)."""

    def __init__(self, peer, prefix: str):
        super().__init__()
        self.peer, self.prefix = peer, prefix

    def __missing__(self, service: bytes):
        counter = self[service] = self.peer.counter(self.prefix + service.decode(errors="replace"))
        return counter


class _Worker:
    """What the broker knows about one connected worker."""

    __slots__ = ("identity", "service", "expiry", "request")

    def __init__(self, identity: bytes, service: bytes, expiry: float):
        self.identity = identity
        self.service = service
        self.expiry = expiry          # dead if nothing heard from it by then
        self.request = None           # the request frames it is working on, if any


def services_line(workers: dict, waiting: dict, queues: dict) -> str:
    """The broker's line in the panel: per service, its workers (how many idle) and its queue."""
    offered: dict[bytes, int] = {}
    for worker in list(workers.values()):
        offered[worker.service] = offered.get(worker.service, 0) + 1
    names = sorted(set(offered) | {service for service, queue in list(queues.items()) if queue})
    return "; ".join(f"{name.decode(errors='replace')}: workers {offered.get(name, 0)} "
                     f"(idle {len(waiting.get(name, ()))}), queued {len(queues.get(name, ()))}"
                     for name in names) or "no services yet"


def broker(peer, endpoint: str, heartbeat: float = 0.1, liveness: int = 3,
           request_expiry: float = 10.0, max_services: int = 1000, max_queue: int = 1000, flow=None):
    """The Majordomo broker: one ROUTER socket for clients (MDPC01) and workers (MDPW01).

    ``request_expiry``: a request for a service that no worker offers waits this long, then it
    is dropped (the client's own retries decide what happens next). Its state is bounded: a
    service with no worker and no request is forgotten at the next heartbeat, at most
    ``max_services`` services have queued requests, at most ``max_queue`` requests wait for each
    (more are refused: counted, logged and dropped). Every message is checked first
    (:func:`parse_at_broker`); a malformed one is counted and logged, and a worker that sends
    one is disconnected. ``flow`` (a :class:`zguide_py.flow.Flow`, optional) records every
    message the broker receives and sends, clipped, without the routing identity.

    Cheap on the message path: one poll and one clock read for a whole burst of messages
    (``drain``), heartbeats and expiry once per ``heartbeat``, counters only per message.
    """
    router = peer.socket(zmq.ROUTER)
    router.bind(endpoint)
    workers: dict[bytes, _Worker] = {}           # identity -> worker
    waiting: defaultdict[bytes, deque] = defaultdict(deque)   # service -> idle workers, longest idle first
    queues: defaultdict[bytes, deque] = defaultdict(deque)    # service -> [(deadline, client, body)]
    sent_to = ServiceCounters(peer, "to ")       # "to echo": requests dispatched, per service
    peer.data.update(workers={}, removed=deque(maxlen=1000),   # what the notebook can look at
                     status=lambda: services_line(workers, waiting, queues))      # and the panel
    now = time.monotonic()                       # read once per wake-up, not once per message

    def publish():
        peer.data["workers"] = {w.identity.decode(errors="replace"): w.service.decode(errors="replace")
                                for w in workers.values()}

    def send(frames: list[bytes]):
        router.send_multipart(frames)
        if flow is not None and frames[3:4] != [HEARTBEAT]:
            flow.record(peer.name, frames[0], clip(frames[1:]))

    def send_to_worker(identity: bytes, command: bytes, *frames: bytes):
        send([identity, b"", MDPW, command, *frames])

    def dispatch(service: bytes):
        queue, idle = queues.get(service), waiting.get(service)
        while queue and idle:
            _deadline, client, body = queue.popleft()
            worker = workers[idle.popleft()]
            worker.request = (client, body)
            send([worker.identity, b"", MDPW, REQUEST, client, b"", *body])
            sent_to[service].value += 1

    def remove(worker: _Worker, why: str, tell: bool = False):
        if tell:
            send_to_worker(worker.identity, DISCONNECT)
        workers.pop(worker.identity, None)
        idle = waiting.get(worker.service)
        if idle and worker.identity in idle:
            idle.remove(worker.identity)
        if worker.request is not None:           # give the request to another worker
            client, body = worker.request
            queues[worker.service].appendleft((time.monotonic() + request_expiry, client, body))
            peer.count("requeued")
            dispatch(worker.service)
        peer.data["removed"].append((worker.identity.decode(errors="replace"), why))
        peer.log("worker removed", worker=worker.identity.decode(errors="replace"), why=why)
        peer.count("removed")
        publish()

    def on_client(client: bytes, service: bytes, body: list[bytes]):
        peer.count("requests")
        if service.startswith(b"mmi."):          # 8/MMI: the broker answers these itself
            if service == b"mmi.service":
                name = body[0]
                found = any(w.service == name for w in workers.values())
                answer = b"200" if found else b"404"
            else:
                answer = b"501"
            send([client, b"", MDPC, service, answer])
            peer.count("mmi")
            return
        queue = queues.get(service)
        if (queue is None and len(queues) >= max_services) or (queue is not None and len(queue) >= max_queue):
            peer.count("refused")                # bounded state: drop it, the client retries
            peer.log("refused", client=client, service=service, services=len(queues))
            return
        queues[service].append((now + request_expiry, client, body))
        dispatch(service)

    def on_worker(identity: bytes, command: bytes, frames: list[bytes]):
        worker = workers.get(identity)
        if worker is not None and command != DISCONNECT:
            worker.expiry = now + heartbeat * liveness   # any command is a heartbeat
        if command == READY:
            service = frames[0]
            if worker is not None or service.startswith(b"mmi."):
                # a second READY, or a reserved name: the spec says disconnect it
                if worker is not None:
                    remove(worker, "protocol error", tell=True)
                else:
                    send_to_worker(identity, DISCONNECT)
                return
            workers[identity] = _Worker(identity, service, now + heartbeat * liveness)
            waiting[service].append(identity)
            peer.log("worker ready", worker=identity.decode(errors="replace"), service=service.decode())
            publish()
            dispatch(service)
        elif worker is None:
            # REPLY/HEARTBEAT from a worker we do not know (we forgot it, or we restarted)
            if command != DISCONNECT:
                send_to_worker(identity, DISCONNECT)
                peer.count("unknown worker")
        elif command == REPLY:
            if worker.request is None:           # a reply nobody asked for: valid but unexpected
                remove(worker, "protocol error", tell=True)
                return
            client, _empty, *body = frames
            worker.request = None
            send([client, b"", MDPC, worker.service, *body])
            peer.count("replies")
            waiting[worker.service].append(identity)
            dispatch(worker.service)
        elif command == HEARTBEAT:
            pass
        elif command == DISCONNECT:
            remove(worker, "said DISCONNECT")
        else:                                    # a REQUEST: valid, but not from a worker
            remove(worker, "protocol error", tell=True)

    def on_malformed(frames: list[bytes], why: Malformed):
        malformed(peer, frames, why)
        worker = workers.get(frames[0])
        if worker is not None:                   # the spec: treat that peer as invalid
            remove(worker, "malformed", tell=True)

    def expire(now: float):
        for service, queue in list(queues.items()):
            while queue and queue[0][0] < now:
                queue.popleft()
                peer.count("expired")
            if not queue:                        # bounded state: no request, no entry
                del queues[service]
        for service, idle in list(waiting.items()):
            if not idle:
                del waiting[service]

    heartbeat_at = now + heartbeat
    while peer.running:
        if peer.poll(router, heartbeat):
            now = time.monotonic()
            for frames in drain(router):         # every message that waits, then poll again
                peer.throttle()
                if flow is not None and frames[3:4] != [HEARTBEAT]:
                    flow.record(frames[0], peer.name, clip(frames[1:]))
                try:
                    sender, header, what, rest = parse_at_broker(frames)
                except Malformed as why:
                    on_malformed(frames, why)
                else:
                    (on_client if header == MDPC else on_worker)(sender, what, rest)
        now = time.monotonic()
        if now >= heartbeat_at:                  # once per interval, however busy
            for worker in list(workers.values()):
                if now > worker.expiry:
                    remove(worker, "silent")
            for identity in list(workers):       # heartbeat every worker we still believe in
                send_to_worker(identity, HEARTBEAT)
            expire(now)
            heartbeat_at = now + heartbeat


# ---- the worker ---------------------------------------------------------------------------------
def worker(peer, broker: str, service: str = "echo", heartbeat: float = 0.1, liveness: int = 3,
           reconnect: float = 0.1, work=None):
    """An MDP worker: a DEALER that says READY for one ``service``, then answers REQUESTs.

    It heartbeats the broker while idle and reconnects (new socket, READY again) when the broker
    has been silent for ``liveness`` heartbeats or tells it DISCONNECT. ``work(body) -> reply``
    turns request frames into reply frames (default: ``WORK[service]``).
    """
    if work is None:
        work = WORK[service]
    connections = 0

    def connect():
        nonlocal connections
        connections += 1
        dealer = peer.socket(zmq.DEALER)
        # a readable identity, new for each connection, so the broker's log says who is who
        dealer.setsockopt(zmq.ROUTING_ID, f"{peer.name}.{peer.starts}.{connections}".encode())
        dealer.connect(broker)
        dealer.send_multipart([b"", MDPW, READY, service.encode()])
        peer.count("connects")
        return dealer

    dealer = connect()
    broker_expiry = time.monotonic() + heartbeat * liveness
    heartbeat_at = time.monotonic() + heartbeat
    while peer.running:
        if peer.poll(dealer, heartbeat):
            frames = dealer.recv_multipart()
            try:
                command, rest = parse_at_worker(frames)
            except Malformed as why:             # dropped: not even a sign of life
                malformed(peer, frames, why)
                command = None
            else:
                broker_expiry = time.monotonic() + heartbeat * liveness
            if command == REQUEST:
                client, _empty, *body = rest
                peer.throttle()                  # the panel can make this worker slow
                dealer.send_multipart([b"", MDPW, REPLY, client, b"", *work(body)])
                peer.count("requests")
                heartbeat_at = time.monotonic() + heartbeat   # the reply was our heartbeat
            elif command == DISCONNECT:
                peer.log("disconnected")
                peer.close_socket(dealer)
                dealer = connect()
                broker_expiry = time.monotonic() + heartbeat * liveness
        elif peer.running and time.monotonic() > broker_expiry:
            peer.log("broker lost", heartbeats=liveness)   # silent that long: reconnect
            peer.close_socket(dealer)
            if not peer.sleep(reconnect):
                break
            dealer = connect()
            broker_expiry = time.monotonic() + heartbeat * liveness
        if time.monotonic() >= heartbeat_at:
            dealer.send_multipart([b"", MDPW, HEARTBEAT])
            heartbeat_at = time.monotonic() + heartbeat


# ---- the client ---------------------------------------------------------------------------------
def mdp_request(peer, req, broker: str, service: bytes, body: list[bytes], timeout: float = 0.5,
                retries: int = 3):
    """One synchronous MDP request on a REQ socket, Lazy-Pirate style.

    Returns ``(req, reply_body)``: ``req`` may be a new socket (after a timeout the old one is
    closed, since a REQ that sent cannot send again) and ``reply_body`` is None when every try
    timed out or was answered with something that is not an MDP reply for ``service`` (or the
    peer was killed).
    """
    for _attempt in range(retries):
        if req is None:
            req = peer.socket(zmq.REQ)
            peer.count("connects")            # a readable identity, new for each socket
            req.setsockopt(zmq.ROUTING_ID, f"{peer.name}.{peer.starts}.{peer.get('connects')}".encode())
            req.connect(broker)
        req.send_multipart([MDPC, service, *body])
        if peer.poll(req, timeout):
            frames = req.recv_multipart()
            try:
                return req, parse_reply(frames, service)
            except Malformed as why:            # counted, then retried like a timeout
                malformed(peer, frames, why)
        if not peer.running:
            return req, None
        peer.count("retries")
        peer.close_socket(req)                  # Lazy Pirate: drop the socket and try again
        req = None
    return req, None


def client(peer, broker: str, service: str = "echo", requests: int = 10, timeout: float = 0.5,
           retries: int = 3, interval: float = 0.0):
    """Send ``requests`` requests to ``service``, one at a time, and check every reply.

    ``book`` (a :class:`Requests`) keeps the results for the notebook: ``peer.data["replies"]``
    (list of (request, reply)), ``peer.data["failed"]`` (requests that got no reply after
    ``retries`` tries, or a reply that does not answer them: counted as ``mismatched``).
    """
    book = Requests(peer)
    req = None
    for n in range(requests):
        if not peer.running:
            return
        body = f"{service} {n}".encode()
        started = time.perf_counter()
        req, reply = mdp_request(peer, req, broker, service.encode(), [body], timeout, retries)
        if reply is None:
            if peer.running:                    # (killed meanwhile: not a failure)
                book.failed(body)
            continue
        rtt = time.perf_counter() - started
        expected = WORK.get(service, lambda b: b)([body])
        if reply != expected:                   # never accept another request's reply
            book.mismatched(body, reply, rtt)
            continue
        book.answered(body, reply, rtt)
        if interval and not peer.sleep(interval):
            return
    book.done()


class Requests:
    """The books of a Majordomo client, one call a request: ``peer.data["replies"]`` ((request,
    reply) pairs) and ``peer.data["failed"]`` (requests), the counters ``replies``, ``failed`` and
    ``mismatched``, the latency ``rtt``, the event ``mismatched`` (with ``request`` and ``reply``),
    and ``peer.data["done"]`` once every request went out."""

    def __init__(self, peer):
        self.peer = peer
        self.replies = peer.data.setdefault("replies", [])
        self.failures = peer.data.setdefault("failed", [])

    def failed(self, body: bytes) -> None:
        """No reply to ``body`` after the last try."""
        self.failures.append(body.decode())
        self.peer.count("failed")

    def mismatched(self, body: bytes, reply: list[bytes], rtt: float) -> None:
        """A reply after ``rtt`` s that does not answer ``body``: a failure, never an answer."""
        self.peer.latency("rtt", rtt)
        self.failures.append(body.decode())
        self.peer.count("mismatched")
        self.peer.log("mismatched", request=body, reply=reply)

    def answered(self, body: bytes, reply: list[bytes], rtt: float) -> None:
        """``reply`` answers ``body``, after ``rtt`` s."""
        self.peer.latency("rtt", rtt)
        self.replies.append((body.decode(), reply[0].decode()))
        self.peer.count("replies")

    def done(self) -> None:
        self.peer.data["done"] = True


def mmi_lookup(peer, broker: str, services: list[str], timeout: float = 0.5):
    """Ask the broker ``mmi.service`` about each name; ``peer.data["mmi"][name]`` = "200"/"404"."""
    answers = peer.data.setdefault("mmi", {})
    req = None
    for name in services:
        req, reply = mdp_request(peer, req, broker, b"mmi.service", [name.encode()], timeout)
        answers[name] = reply[0].decode(errors="replace") if reply else "no answer"
    peer.data["done"] = True


ROLES = {"broker": broker, "worker": worker, "client": client, "mmi_lookup": mmi_lookup}
