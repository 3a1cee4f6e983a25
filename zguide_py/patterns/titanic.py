"""Titanic (9/TSP): disconnected reliability, on disk, on top of Majordomo.

Majordomo loses a request when the broker dies with it. Titanic is a *service* on a Majordomo
broker that takes responsibility for a request by **writing it to disk before answering**:

* ``titanic.request`` - body ``[service, request...]``. Titanic stores the request in a file and
  only then replies ``[b"200", ticket]``; the ticket is a UUID written as 32 hex digits.
* ``titanic.reply`` - body ``[ticket]``. ``[b"200", reply...]`` once the real service has
  answered; ``[b"300"]`` while it is still pending; ``[b"400"]`` for a ticket Titanic does not know.
* ``titanic.close`` - body ``[ticket]``. Titanic deletes the request and its reply; ``[b"200"]``
  (also for an unknown ticket: closing is idempotent).

A status frame is three digits, optionally followed by a space and a text that says why
(``b"400 service 'nosuch' did not appear within 60 s"``); a client reads only the digits. 400 means
"do not ask again" (a malformed or refused message, an unknown ticket, a ticket closed with an
error); 500 means "Titanic could not do it now, ask again later".

Behind the three services a **dispatcher** sends every stored request that has no reply yet,
through the same broker, to its real service (after asking ``mmi.service`` whether anybody offers
it), and writes the reply next to the request. It looks at the folder once, when it starts; after
that ``titanic.request`` hands it each new ticket through its inbox (a PUSH-PULL pipe over ipc).
A service nobody offers is asked about every ``retry`` seconds (once per service, not per ticket);
when it has been missing for ``patience`` seconds its tickets are closed with a 400 reply that
says so. Requests for ``titanic.*`` are refused: one request must not chain into many.

Everything Titanic knows is in the folder, so each of these four roles can be killed and restarted
without losing an accepted request: once a client holds a ticket, it will get a reply. Files:
``<ticket>.req`` (``[service, request...]``) and ``<ticket>.rep`` (``[status, reply...]``), each one
**record**: ``TSP``, a version byte, the frame count, each frame as a 4-byte length and its bytes,
and a CRC-32 of all that. A record is written to a temporary name, flushed to disk (``fsync``),
renamed, and the folder is fsynced, so a reader never sees half a file and a rename survives a
power cut. Every record is checked when read: a damaged file is moved aside to ``quarantine/``,
logged (``quarantined``, with ``ticket`` and ``why``), and its ticket is answered with an error
where that can be done; no role dies of it.
"""
from __future__ import annotations

import hashlib
import heapq
import os
import re
import struct
import sys
import time
import uuid
import zlib
from collections import deque

import zmq

from .majordomo import MDPC, WORK, worker

SERVICES = ("titanic.request", "titanic.reply", "titanic.close")
OK, PENDING, UNKNOWN, ERROR = b"200", b"300", b"400", b"500"
MAGIC, VERSION = b"TSP", 1
MAX_FRAMES = 1024                    # a request or reply with more frames is refused
MAX_REQUEST = 16 * 2**20             # ... and one of more bytes than this
QUARANTINE = "quarantine"            # the sub-folder where damaged files are moved aside
INBOX_HWM = 100_000                  # new tickets the dispatcher's inbox holds before Titanic says 500
_TICKET = re.compile(rb"[0-9A-Za-z]{32}\Z")       # 9/TSP: 32 hexadecimal characters
_SERVICE = re.compile(rb"[\x20-\x7e]{1,255}\Z")   # a printable service name
_STATUS = re.compile(rb"([2-5]00)( [\x20-\x7e]*)?\Z")


# ---- checking messages ---------------------------------------------------------------------------
def malformed(peer, frames: list[bytes], why: str, kind: str = "malformed") -> None:
    """Count and log one message that is dropped or refused (the lab clips what it logs)."""
    if peer is not None:
        peer.count(kind)
        peer.log(kind, frames=frames, why=why)


def parse_ticket(frames: list[bytes]) -> str | None:
    """``[ticket]`` -> the ticket as text, or None when it is not exactly one 9/TSP UUID frame."""
    return frames[0].decode() if len(frames) == 1 and _TICKET.match(frames[0]) else None


def parse_status(frame: bytes) -> bytes | None:
    """A status frame (``b"200"``, ``b"400 why"``) -> its three digits, or None if it is not one."""
    found = _STATUS.match(frame)
    return found.group(1) if found else None


def check_request(body: list[bytes]) -> str | None:
    """Why a titanic.request body ``[service, request...]`` cannot be stored, or None if it can."""
    if len(body) < 2:
        return "needs [service, request...]"
    if not _SERVICE.match(body[0]):
        return "the service name is not printable text of 1 to 255 characters"
    if body[0].startswith(b"titanic."):
        return "Titanic does not queue requests for its own services"
    if len(body) > MAX_FRAMES or sum(map(len, body)) > MAX_REQUEST:
        return f"over {MAX_FRAMES} frames or {MAX_REQUEST // 2**20} MB"
    return None


def with_why(status: bytes, why: str) -> bytes:
    """A status frame with its reason: ``b"400 why"`` (printable ASCII only, at most 200 chars)."""
    return status + b" " + bytes(c if 0x20 <= c < 0x7f else 0x3f for c in why.encode(errors="replace")[:200])


# ---- records and the folder ----------------------------------------------------------------------
class Damaged(ValueError):
    """A stored file that is not one whole, valid record; the message says what is wrong."""


def encode(frames: list[bytes]) -> bytes:
    """One record: ``TSP``, version, frame count, (length, bytes) per frame, CRC-32 of all that."""
    data = b"".join([MAGIC, bytes([VERSION]), struct.pack("!I", len(frames)),
                     *(struct.pack("!I", len(f)) + f for f in frames)])
    return data + struct.pack("!I", zlib.crc32(data))


def decode(data: bytes) -> list[bytes]:
    """The frames of one record; raises :class:`Damaged` for anything but a whole, valid one."""
    if len(data) < 12:
        raise Damaged(f"{len(data)} bytes: shorter than any record")
    if data[:3] != MAGIC:
        raise Damaged("not a Titanic record (no TSP header)")
    if data[3] != VERSION:
        raise Damaged(f"record version {data[3]}; this Titanic reads version {VERSION}")
    (count,) = struct.unpack_from("!I", data, 4)
    if count > MAX_FRAMES + 1:
        raise Damaged(f"claims {count} frames")
    frames, at, end = [], 8, len(data) - 4
    for i in range(count):
        if end - at < 4:
            raise Damaged(f"frame {i} of {count} is missing")
        (size,) = struct.unpack_from("!I", data, at)
        if size > len(data) - at - 4:
            raise Damaged(f"frame {i} claims {size} bytes but holds {len(data) - at - 4}")
        if size > end - at - 4:
            raise Damaged(f"frame {i} leaves no room for the checksum")
        frames.append(data[at + 4: at + 4 + size])
        at += 4 + size
    if at != end:
        raise Damaged(f"{end - at} bytes after the last frame")
    if zlib.crc32(data[:end]) != struct.unpack_from("!I", data, end)[0]:
        raise Damaged("checksum does not match")
    return frames


def _fsync_folder(folder: str) -> None:
    """Make renames in ``folder`` durable: fsync the folder itself."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_record(folder: str, name: str, frames: list[bytes]) -> None:
    """Write ``frames`` to ``folder/name`` atomically and durably: temporary file, fsync, rename,
    fsync of the folder (without it the rename may be lost in a power cut)."""
    path = os.path.join(folder, name)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(encode(frames))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_folder(folder)


def read_record(folder: str, name: str) -> list[bytes]:
    """The frames stored in ``folder/name``: FileNotFoundError, or :class:`Damaged` if not valid."""
    with open(os.path.join(folder, name), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_REQUEST + 8 * (MAX_FRAMES + 2):
            raise Damaged(f"{size} bytes: bigger than any record Titanic writes")
        return decode(f.read())


def read_request(folder: str, ticket: str) -> list[bytes]:
    """``[service, request...]`` of a stored request (FileNotFoundError, Damaged)."""
    frames = read_record(folder, ticket + ".req")
    why = check_request(frames)
    if why:
        raise Damaged(f"not a request: {why}")
    return frames


def read_reply(folder: str, ticket: str) -> list[bytes]:
    """``[status, reply...]`` of a stored reply (FileNotFoundError, Damaged)."""
    frames = read_record(folder, ticket + ".rep")
    if not frames or parse_status(frames[0]) is None:
        raise Damaged("not a reply: no status frame")
    return frames


def quarantine(folder: str, name: str, why: str, peer=None) -> bool:
    """Move the damaged file ``folder/name`` aside to ``folder/quarantine/`` (a person may want to
    look at it), fsync both folders, count and log it. False if it was gone already."""
    aside = os.path.join(folder, QUARANTINE)
    os.makedirs(aside, mode=0o700, exist_ok=True)
    try:
        os.replace(os.path.join(folder, name), os.path.join(aside, f"{name}.{time.time_ns()}"))
    except FileNotFoundError:
        return False
    _fsync_folder(folder)
    _fsync_folder(aside)
    if peer is not None:
        peer.count("quarantined")
        peer.log("quarantined", ticket=name.rsplit(".", 1)[0], why=why)
    return True


def take_request(peer, folder: str, ticket: str) -> list[bytes] | None:
    """A stored request, checked; None when it is gone (closed) or damaged. A damaged one is
    quarantined and its ticket answered ``400`` (so its client stops asking)."""
    name = ticket + ".req"
    try:
        return read_request(folder, ticket)
    except FileNotFoundError:
        return None
    except (Damaged, OSError) as damage:
        why = f"{type(damage).__name__}: {damage}" if not isinstance(damage, Damaged) else str(damage)
    try:                                    # answered first: its ticket is never "unknown" meanwhile
        if _TICKET.match(ticket.encode()):
            answer(folder, ticket, [with_why(UNKNOWN, f"request damaged on disk ({why})")])
        quarantine(folder, name, why, peer)
    except OSError as error:                # cannot even move it: leave it, say so, carry on
        malformed(peer, [name.encode()], f"cannot quarantine: {error}", "disk error")
    return None


def answer(folder: str, ticket: str, frames: list[bytes]) -> bool:
    """Store the reply ``[status, reply...]`` of a ticket, unless it was closed meanwhile. A reply
    too big to store is answered 400 instead."""
    if len(frames) > MAX_FRAMES + 1 or sum(map(len, frames)) > MAX_REQUEST:
        frames = [with_why(UNKNOWN, f"the reply was over {MAX_FRAMES} frames or {MAX_REQUEST // 2**20} MB")]
    if not os.path.exists(os.path.join(folder, ticket + ".req")):
        return False
    write_record(folder, ticket + ".rep", frames)
    return True


def scan(folder: str, peer=None) -> list[tuple[str, bytes]]:
    """The dispatcher's one look at the folder, when it starts: ``(ticket, service)`` of every
    stored request without a reply, oldest first. Damaged requests are quarantined and answered."""
    names = set(os.listdir(folder))
    found = []
    for name in names:
        if not name.endswith(".req") or name[:-4] + ".rep" in names:
            continue
        request = take_request(peer, folder, name[:-4])
        if request is not None:
            try:
                found.append((os.stat(os.path.join(folder, name)).st_mtime_ns, name[:-4], request[0]))
            except FileNotFoundError:       # closed meanwhile
                pass
    return [(ticket, service) for _, ticket, service in sorted(found)]


def pending(folder: str) -> list[str]:
    """Tickets with a stored request and no reply yet (a look from outside: the dispatcher does not list)."""
    names = set(os.listdir(folder))
    return sorted(n[:-4] for n in names if n.endswith(".req") and n[:-4] + ".rep" not in names)


def stored(folder: str) -> dict[str, int]:
    """How many requests and replies are on disk: {"requests": n, "replies": m}."""
    names = os.listdir(folder)
    return {"requests": sum(n.endswith(".req") for n in names),
            "replies": sum(n.endswith(".rep") for n in names)}


def inbox_endpoint(folder: str) -> str:
    """Where the dispatcher of ``folder`` takes new tickets: an ipc socket named after the folder
    (Linux: in the abstract namespace, so no file is left behind; elsewhere a file in the folder)."""
    if sys.platform.startswith("linux"):
        digest = hashlib.sha1(os.path.realpath(folder).encode()).hexdigest()[:20]
        return f"ipc://@zguide-titanic-{digest}"
    return "ipc://" + os.path.join(os.path.realpath(folder), ".dispatcher")


# ---- the three services: what a titanic worker does with one request ---------------------------
def store_request(folder: str, body: list[bytes], peer=None, tell=None) -> list[bytes]:
    """titanic.request: [service, request...] -> [b"200", ticket], once the request is on disk
    and the dispatcher has been told (``tell(ticket)``). A malformed or refused body gets 400."""
    why = check_request(body)
    if why:
        malformed(peer, body, why, "refused" if body[:1] and body[0].startswith(b"titanic.") else "malformed")
        return [with_why(UNKNOWN, why)]
    ticket = uuid.uuid4().hex                       # 32 hex digits, as 9/TSP asks
    write_record(folder, ticket + ".req", body)
    if tell is not None and not tell(ticket):       # the dispatcher is far behind: no ticket
        os.remove(os.path.join(folder, ticket + ".req"))
        return [with_why(ERROR, "the dispatcher is busy, try again later")]
    return [OK, ticket.encode()]


def fetch_reply(folder: str, body: list[bytes], peer=None, tell=None) -> list[bytes]:
    """titanic.reply: [ticket] -> [b"200", reply...] | [b"300"] | [b"400"]. A damaged reply file
    is quarantined, the request runs again (``tell``), and this time the answer is 500: ask later."""
    ticket = parse_ticket(body)
    if ticket is None:
        malformed(peer, body, "needs [ticket]")
        return [with_why(UNKNOWN, "needs [ticket]")]
    try:
        return read_reply(folder, ticket)
    except FileNotFoundError:
        return [PENDING] if os.path.exists(os.path.join(folder, ticket + ".req")) else [UNKNOWN]
    except Damaged as damage:
        quarantine(folder, ticket + ".rep", str(damage), peer)
        if tell is not None:
            tell(ticket)
        return [with_why(ERROR, "the stored reply was damaged; the request runs again")]


def close_ticket(folder: str, body: list[bytes], peer=None, tell=None) -> list[bytes]:
    """titanic.close: [ticket] -> [b"200"]; forgets the request and its reply.

    The request goes first: between the two deletions the dispatcher must not see a request
    without a reply (it would run it again and leave a reply nobody will collect)."""
    ticket = parse_ticket(body)
    if ticket is None:
        malformed(peer, body, "needs [ticket]")
        return [with_why(UNKNOWN, "needs [ticket]")]
    for suffix in (".req", ".rep"):
        try:
            os.remove(os.path.join(folder, ticket + suffix))
        except FileNotFoundError:
            pass
    return [OK]


HANDLERS = {"titanic.request": store_request, "titanic.reply": fetch_reply,
            "titanic.close": close_ticket}


# ---- the roles ----------------------------------------------------------------------------------
def titanic_service(peer, broker: str, folder: str, service: str = "titanic.request",
                    heartbeat: float = 0.1, liveness: int = 3):
    """One of the three Titanic services: a plain Majordomo worker whose work is a file operation.
    New tickets go to the dispatcher's inbox; a disk error is answered 500 (ask again later)."""
    if service not in HANDLERS:
        raise ValueError(f"service must be one of {', '.join(SERVICES)}, not {service!r}")
    handler = HANDLERS[service]
    inbox = peer.socket(zmq.PUSH, sndhwm=INBOX_HWM)
    inbox.connect(inbox_endpoint(folder))

    def tell(ticket: str) -> bool:
        try:
            inbox.send(ticket.encode(), zmq.NOBLOCK)
            return True
        except zmq.Again:
            peer.count("inbox full")
            return False

    def work(body: list[bytes]) -> list[bytes]:
        try:
            return handler(folder, body, peer, tell)
        except OSError as error:                    # the disk is full, read-only, gone...
            peer.log("disk error", why=f"{type(error).__name__}: {error}")
            return [with_why(ERROR, "disk error")]

    worker(peer, broker, service=service, heartbeat=heartbeat, liveness=liveness, work=work)


def tsp_call(peer, req, broker: str, service: bytes, body: list[bytes], timeout: float):
    """One try of one Majordomo request on a REQ socket: ``(req, reply body)``. The body is None
    when no valid reply came within ``timeout`` s; after a timeout the socket is closed and the
    next call makes a new one (Lazy Pirate). A reply that is not MDP for ``service`` is dropped."""
    if req is None:
        req = peer.socket(zmq.REQ)
        req.connect(broker)
    req.send_multipart([MDPC, service, *body])
    if not peer.poll(req, timeout):
        peer.count("timeouts")
        peer.close_socket(req)
        return None, None
    reply = req.recv_multipart()
    if len(reply) < 2 or reply[0] != MDPC or reply[1] != service:
        malformed(peer, reply, f"not an MDP reply from {service.decode(errors='replace')}")
        return req, None
    return req, reply[2:]


class Backlog:
    """The dispatcher's work: per service its tickets, oldest first; when to ask about each service
    next (a heap, one entry per service); since when each has been missing."""

    def __init__(self, retry: float, patience: float):
        self.retry, self.patience = retry, patience
        self.tickets: dict[bytes, deque[str]] = {}
        self.queued: set[str] = set()
        self.when: list[tuple[float, bytes]] = []
        self.missing_since: dict[bytes, float] = {}

    def add(self, service: bytes, ticket: str) -> None:
        if ticket not in self.queued:
            self.queued.add(ticket)
            if service not in self.tickets:
                self.tickets[service] = deque()
                heapq.heappush(self.when, (time.monotonic(), service))
            self.tickets[service].append(ticket)

    def wait(self) -> float | None:
        """Seconds until a service is due (None: no work at all)."""
        return max(0.0, self.when[0][0] - time.monotonic()) if self.when else None

    def due(self) -> bytes | None:
        """The service to work on now, if any; the caller then calls later, missing or take."""
        if self.when and self.when[0][0] <= time.monotonic():
            return heapq.heappop(self.when)[1]
        return None

    def later(self, service: bytes) -> None:
        heapq.heappush(self.when, (time.monotonic() + self.retry, service))

    def missing(self, service: bytes) -> list[str]:
        """Nobody offers ``service``: [] (ask later), or all its tickets (forgotten here) after ``patience`` s."""
        now = time.monotonic()
        if now - self.missing_since.setdefault(service, now) < self.patience:
            self.later(service)
            return []
        del self.missing_since[service]
        tickets = self.tickets.pop(service)
        self.queued.difference_update(tickets)
        return list(tickets)

    def take(self, service: bytes) -> str:
        """The oldest ticket of ``service``, which is offered now."""
        self.missing_since.pop(service, None)
        tickets = self.tickets[service]
        ticket = tickets.popleft()
        self.queued.discard(ticket)
        if tickets:
            heapq.heappush(self.when, (time.monotonic(), service))
        else:
            del self.tickets[service]
        return ticket


def learn(peer, folder: str, inbox, backlog: Backlog, most: int = 1000) -> None:
    """Take the tickets waiting in the dispatcher's inbox into the backlog, each checked against
    its stored request (which says the service)."""
    for _ in range(most):
        try:
            frames = inbox.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return
        ticket = parse_ticket(frames)
        if ticket is None:
            malformed(peer, frames, "not [ticket]")
        elif ticket not in backlog.queued and not os.path.exists(os.path.join(folder, ticket + ".rep")):
            request = take_request(peer, folder, ticket)
            if request is not None:
                backlog.add(request[0], ticket)


def bind_inbox(peer, folder: str):
    """The dispatcher's inbox (PULL). A restart may find the name still held by the socket it
    replaces for a moment: try again for up to a second."""
    inbox = peer.socket(zmq.PULL, rcvhwm=INBOX_HWM)
    for attempt in range(20):
        try:
            inbox.bind(inbox_endpoint(folder))
            return inbox
        except zmq.ZMQError as error:
            if error.errno != zmq.EADDRINUSE or attempt == 19 or not peer.sleep(0.05):
                raise


def dispatcher(peer, broker: str, folder: str, timeout: float = 0.5, retry: float = 0.5,
               patience: float = 60.0):
    """Send every stored request without a reply to its service; store the reply.

    The backlog comes from one scan of the folder at start, then from the inbox, where
    titanic.request puts each new ticket. A service is asked about (``mmi.service``) before each
    request; one nobody offers is asked about again ``retry`` s later, and once it has been missing
    for ``patience`` s its tickets are answered 400. When the broker does not answer within
    ``timeout`` the request stays in the backlog for a later try.
    """
    inbox = bind_inbox(peer, folder)              # bound before the scan: no new ticket is missed
    backlog = Backlog(retry, patience)
    for ticket, service in scan(folder, peer):
        backlog.add(service, ticket)
    req = None
    while peer.running:
        if peer.poll(inbox, backlog.wait()):      # new tickets (None: wait for them)
            learn(peer, folder, inbox, backlog)
        service = backlog.due()
        if service is None:
            continue
        req, found = tsp_call(peer, req, broker, b"mmi.service", [service], timeout)
        if found is None:                         # no broker: try again later
            backlog.later(service)
            continue
        if found[:1] != [OK]:                     # nobody offers it (yet)
            peer.count("no worker yet")
            for ticket in backlog.missing(service):
                why = f"service {service.decode()!r} did not appear within {patience:g} s"
                answer(folder, ticket, [with_why(UNKNOWN, why)])
                peer.log("expired", ticket=ticket, why=why)
            continue
        ticket = backlog.take(service)
        request = take_request(peer, folder, ticket)
        if request is None:                       # closed meanwhile, or damaged (quarantined)
            continue
        req, reply = tsp_call(peer, req, broker, service, request[1:], timeout)
        if reply is None:                         # no reply in time: it stays in the backlog
            backlog.add(service, ticket)
            continue
        answer(folder, ticket, [OK, *reply])
        peer.count("dispatched")


def client(peer, broker: str, service: str = "echo", requests: int = 20, interval: float = 0.05,
           timeout: float = 0.5, poll: float = 0.05):
    """Submit ``requests`` requests through titanic.request, then collect each reply by ticket.

    Submitting and collecting are interleaved: one request every ``interval`` seconds, and in
    between the oldest open ticket is asked for (every ``poll`` s while it is pending, 300, or
    while Titanic says 500, ask again later). A request counts as **accepted** once Titanic has
    answered 200 with a ticket. A reply is checked against its request, then the ticket is closed.
    Results: ``peer.data["tickets"]`` {ticket: request}, ``["replies"]`` {ticket: reply},
    ``["unknown"]`` (tickets Titanic answered 400), ``["wrong"]`` {ticket: a reply that does not
    match}, ``["refused"]`` (requests answered 400). Events: ``accepted`` and ``replied``, each
    with the field ``ticket``.
    """
    expected = WORK.get(service, lambda body: body)
    tickets, unknown, refused = (peer.data.setdefault(k, v) for k, v in (("tickets", {}), ("unknown", []),
                                                                         ("refused", [])))
    peer.data.setdefault("replies", {})
    peer.data.setdefault("wrong", {})
    open_tickets: deque[str] = deque()      # accepted, reply not collected yet
    unclosed: deque[str] = deque()          # replied, but titanic.close not yet acknowledged
    req = None

    def call(titanic_service: bytes, *body: bytes) -> tuple[bytes | None, list[bytes]]:
        """One try of one Titanic request: (status digits, the frames after the status); the
        status is None when nobody answered or the answer was not 9/TSP."""
        nonlocal req
        req, answer = tsp_call(peer, req, broker, titanic_service, list(body), timeout)
        status = parse_status(answer[0]) if answer else None
        if answer is not None and status is None:
            malformed(peer, answer, "no 9/TSP status frame")
        return status, (answer or [])[1:]

    n = 0
    next_submit = next_poll = time.monotonic()
    while peer.running and (n < requests or open_tickets or unclosed):
        now = time.monotonic()
        if unclosed:                        # closing is idempotent: ask again until Titanic says 200
            if call(b"titanic.close", unclosed[0].encode())[0] == OK:
                unclosed.popleft()
            else:
                peer.count("close retries")
                peer.sleep(poll)
        elif n < requests and now >= next_submit:
            body = f"{service} {n}".encode()
            status, rest = call(b"titanic.request", service.encode(), body)
            next_submit = now + interval
            if status == OK and parse_ticket(rest):     # on disk: Titanic is responsible for it
                tickets[rest[0].decode()] = body.decode()
                open_tickets.append(rest[0].decode())
                peer.count("accepted")
                peer.log("accepted", ticket=rest[0].decode())
                n += 1
            elif status == UNKNOWN:         # 400: refused, asking again would not help
                refused.append(body.decode())
                n += 1
            else:
                peer.count("not accepted")  # no answer (broker down?), 500, or not 9/TSP: retry
        elif open_tickets and now >= next_poll:
            ticket = open_tickets[0]
            status, reply = call(b"titanic.reply", ticket.encode())
            if status in (OK, UNKNOWN):     # the reply, or 400: Titanic will never answer it
                collected(peer, ticket, status, reply, expected([tickets[ticket].encode()]))
                (unclosed if status == OK else unknown).append(open_tickets.popleft())
            else:                           # 300 pending, 500 (9/TSP: retry later), no answer
                next_poll = now + poll
        else:                               # nothing due: wait for the next submit or poll
            due = ([next_submit] if n < requests else []) + ([next_poll] if open_tickets else [])
            peer.sleep(max(0.001, min(due) - now))
    peer.data["done"] = n >= requests and not open_tickets and not unclosed


def collected(peer, ticket: str, status: bytes, reply: list[bytes], expected: list[bytes]) -> None:
    """Record what titanic.reply gave the client for ``ticket``: the right reply, a wrong one, or 400."""
    if status == UNKNOWN:
        peer.count("unknown tickets")
        peer.log("unknown ticket", ticket=ticket)
    elif reply == expected:
        peer.data["replies"][ticket] = reply[0].decode(errors="replace")
        peer.count("replies")
        peer.log("replied", ticket=ticket)
    else:
        peer.data["wrong"][ticket] = reply
        malformed(peer, reply, f"ticket {ticket}: not the reply to its request", "wrong reply")


ROLES = {"titanic_service": titanic_service, "dispatcher": dispatcher, "client": client}
