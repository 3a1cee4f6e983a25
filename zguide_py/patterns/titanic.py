"""Titanic (9/TSP): disconnected reliability, on disk, on top of Majordomo.

Majordomo loses a request when the broker dies with it. Titanic is a *service* on a Majordomo
broker that takes responsibility for a request by **writing it to disk before answering**:

* ``titanic.request`` - body ``[service, request...]``. Titanic stores the request in a file and
  only then replies ``[b"200", ticket]``; the ticket is a UUID written as 32 hex digits.
* ``titanic.reply`` - body ``[ticket]``. ``[b"200", reply...]`` once the real service has
  answered; ``[b"300"]`` while it is still pending; ``[b"400"]`` for a ticket Titanic does not know.
* ``titanic.close`` - body ``[ticket]``. Titanic deletes the request and its reply; ``[b"200"]``
  (also for an unknown ticket: closing is idempotent).

Behind the three services a **dispatcher** reads the folder: every request that has no reply yet
is sent, through the same broker, to its real service (after asking ``mmi.service`` whether
anybody offers it), and the reply is written next to the request. Everything Titanic knows is in
the folder, so each of these four roles can be killed and restarted, like the broker and the
workers, without losing an accepted request: once a client holds a ticket, it will get a reply.

Files in the folder: ``<ticket>.req`` (the request) and ``<ticket>.rep`` (the reply), each a list
of frames (4-byte length + bytes per frame), written to a temporary name, flushed to disk with
``fsync`` and renamed, so that a reader never sees half a file.
"""
from __future__ import annotations

import os
import re
import struct
import time
import uuid
from collections import deque

from .majordomo import WORK, mdp_request, worker

SERVICES = ("titanic.request", "titanic.reply", "titanic.close")
OK, PENDING, UNKNOWN, ERROR = b"200", b"300", b"400", b"500"
_TICKET = re.compile(r"^[0-9A-Za-z]{32}$")


# ---- the folder ---------------------------------------------------------------------------------
def _write(path: str, frames: list[bytes]) -> None:
    """Write frames to ``path`` atomically and durably (temporary file, fsync, rename)."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        for frame in frames:
            f.write(struct.pack("!I", len(frame)))
            f.write(frame)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _read(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        data = f.read()
    frames, at = [], 0
    while at < len(data):
        (size,) = struct.unpack_from("!I", data, at)
        frames.append(data[at + 4: at + 4 + size])
        at += 4 + size
    return frames


def pending(folder: str) -> list[str]:
    """Tickets with a stored request and no reply yet, oldest first."""
    names = set(os.listdir(folder))
    tickets = [n[:-4] for n in names if n.endswith(".req") and n[:-4] + ".rep" not in names]
    stamped = []
    for ticket in tickets:
        try:
            stamped.append((os.stat(os.path.join(folder, ticket + ".req")).st_mtime_ns, ticket))
        except FileNotFoundError:       # closed meanwhile
            pass
    return [t for _, t in sorted(stamped)]


def stored(folder: str) -> dict[str, int]:
    """How many requests and replies are on disk: {"requests": n, "replies": m}."""
    names = os.listdir(folder)
    return {"requests": sum(n.endswith(".req") for n in names),
            "replies": sum(n.endswith(".rep") for n in names)}


# ---- the three services: what a titanic worker does with one request ---------------------------
def store_request(folder: str, body: list[bytes]) -> list[bytes]:
    """titanic.request: [service, request...] -> [b"200", ticket], after the request is on disk."""
    if len(body) < 2 or not body[0]:
        return [ERROR]
    ticket = uuid.uuid4().hex                       # 32 hex digits, as 9/TSP asks
    _write(os.path.join(folder, ticket + ".req"), body)
    return [OK, ticket.encode()]


def fetch_reply(folder: str, body: list[bytes]) -> list[bytes]:
    """titanic.reply: [ticket] -> [b"200", reply...] | [b"300"] | [b"400"]."""
    ticket = body[0].decode(errors="replace") if body else ""
    if not _TICKET.match(ticket):
        return [UNKNOWN]
    base = os.path.join(folder, ticket)
    try:
        return [OK, *_read(base + ".rep")]
    except FileNotFoundError:
        return [PENDING] if os.path.exists(base + ".req") else [UNKNOWN]


def close_ticket(folder: str, body: list[bytes]) -> list[bytes]:
    """titanic.close: [ticket] -> [b"200"]; forgets the request and its reply.

    The request goes first: between the two deletions the dispatcher must not see a request
    without a reply (it would run it again and leave a reply nobody will collect)."""
    ticket = body[0].decode(errors="replace") if body else ""
    if _TICKET.match(ticket):
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
    """One of the three Titanic services: a plain Majordomo worker whose work is a file operation."""
    handler = HANDLERS[service]
    worker(peer, broker, service=service, heartbeat=heartbeat, liveness=liveness,
           work=lambda body: handler(folder, body))


def dispatcher(peer, broker: str, folder: str, timeout: float = 0.5, scan: float = 0.05):
    """Send every stored request without a reply to its real service; store the reply.

    One request at a time, oldest first: ask ``mmi.service`` whether the service is offered (if
    not, leave the request for a later pass), send the request, write the reply file. When the
    broker does not answer within ``timeout`` the pass ends and is tried again ``scan`` s later.
    """
    req = None
    while peer.running:
        for ticket in pending(folder):
            try:
                service, *body = _read(os.path.join(folder, ticket + ".req"))
            except FileNotFoundError:
                continue                              # closed meanwhile
            req, found = mdp_request(peer, req, broker, b"mmi.service", [service], timeout, retries=1)
            if found is None:
                break                                 # no broker: try again later
            if found[0] != b"200":
                peer.count("no worker yet")
                continue
            req, reply = mdp_request(peer, req, broker, service, body, timeout, retries=1)
            if reply is None:
                break
            if os.path.exists(os.path.join(folder, ticket + ".req")):   # not closed meanwhile
                _write(os.path.join(folder, ticket + ".rep"), reply)
            peer.count("dispatched")
            if not peer.running:
                break
        peer.sleep(scan)


def client(peer, broker: str, service: str = "echo", requests: int = 20, interval: float = 0.05,
           timeout: float = 0.5, poll: float = 0.05):
    """Submit ``requests`` requests through titanic.request, then collect each reply by ticket.

    Submitting and collecting are interleaved: one request every ``interval`` seconds, and in
    between the oldest open ticket is asked for (every ``poll`` s while it is pending). A request
    counts as **accepted** once Titanic has answered 200 with a ticket. A reply is checked against
    its request, then the ticket is closed. Results: ``peer.data["tickets"]`` {ticket: request},
    ``peer.data["replies"]`` {ticket: reply}, ``peer.data["unknown"]`` (tickets Titanic denied).
    Events: ``accepted`` and ``replied``, each with the field ``ticket``.
    """
    expected = WORK.get(service, lambda body: body)
    tickets = peer.data.setdefault("tickets", {})
    replies = peer.data.setdefault("replies", {})
    unknown = peer.data.setdefault("unknown", [])
    open_tickets: deque[str] = deque()      # accepted, reply not collected yet
    unclosed: deque[str] = deque()          # replied, but titanic.close not yet acknowledged
    req = None

    def call(titanic_service: bytes, *body: bytes) -> list[bytes]:
        """One try of one Titanic request: the reply body, or [b""] when nobody answered."""
        nonlocal req
        req, answer = mdp_request(peer, req, broker, titanic_service, list(body), timeout, retries=1)
        return answer or [b""]

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
            status, *ticket = call(b"titanic.request", service.encode(), body)
            next_submit = now + interval
            if status == OK:                # on disk: Titanic has taken responsibility for it
                tickets[ticket[0].decode()] = body.decode()
                open_tickets.append(ticket[0].decode())
                peer.count("accepted")
                peer.log("accepted", ticket=ticket[0].decode())
                n += 1
            else:
                peer.count("not accepted")  # no answer (broker down?) or an error: retry
        elif open_tickets and now >= next_poll:
            ticket = open_tickets[0]
            status, *reply = call(b"titanic.reply", ticket.encode())
            if status == OK:
                if reply != expected([tickets[ticket].encode()]):
                    raise RuntimeError(f"ticket {ticket}: {tickets[ticket]!r} got {reply!r}")
                replies[ticket] = reply[0].decode()
                unclosed.append(open_tickets.popleft())
                peer.count("replies")
                peer.log("replied", ticket=ticket)
            elif status == UNKNOWN:         # 400: Titanic lost an accepted request
                unknown.append(open_tickets.popleft())
                peer.count("unknown tickets")
            else:                           # 300 pending, or no answer: ask again later
                next_poll = now + poll
        else:                               # nothing due: wait for the next submit or poll
            due = ([next_submit] if n < requests else []) + ([next_poll] if open_tickets else [])
            peer.sleep(max(0.001, min(due) - now))
    peer.data["done"] = n >= requests and not open_tickets and not unclosed


ROLES = {"titanic_service": titanic_service, "dispatcher": dispatcher, "client": client}
