"""Lazy Pirate: reliable request-reply done entirely in the client.

A plain REQ client that loses its request (the server crashed, or is stuck) waits forever, and it
cannot even ask again: REQ refuses a second ``send`` before the reply (``EFSM``). The Lazy Pirate
client gets out of that corner by itself:

1. send the request, then ``poll`` for the reply with a timeout;
2. on timeout, **close** the REQ socket (linger 0, so the stale request is dropped), open a new one,
   connect it and send the same request again;
3. after ``retries`` tries in all, give up on that request, report it **abandoned**, and go on.

The server is a plain REP echo server; nothing about it changes. A reply to an earlier try cannot
reach the new socket: it was addressed to the socket we closed. Every request carries the client's
name and a sequence number (``b"client1:17"``), and the client checks that each reply is the echo of
the request it is waiting for, so "a reply that belongs to another request" would be counted, never
mistaken for an answer.

Roles: ``server`` (REP) and ``client`` (REQ, Lazy Pirate). ``tally`` (the verdict over every
request of every client) is shared with the Simple and Paranoid Pirate patterns, which put the same
client in front of a queue; their figures are in :mod:`zguide_py.views.pirates`.

    python -m zguide_py run lazypirate.server --bind tcp://127.0.0.1:5555
    python -m zguide_py run lazypirate.client --connect tcp://127.0.0.1:5555 requests=20
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import zmq

from ..events import clip

REQUEST_TIMEOUT = 0.25   # seconds to wait for a reply before trying again
REQUEST_RETRIES = 3      # tries in all (the first send and two resends), then the request is abandoned


def malformed(peer, frames: list[bytes], why: str) -> None:
    """Count a message that breaks the protocol and log it as a bounded event (the lab clips every
    event value: 64 bytes a frame, 8 frames), so a hostile peer can neither crash a role nor pin
    its memory. Shared by the pirate roles."""
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=why)


def server(peer, endpoint: str):
    """REP: echo every request back. Kill it to crash it; throttle it to make it stall.
    A request is one frame; anything else is counted as malformed and answered with an empty
    frame (a REP must answer before it can read the next request)."""
    rep = peer.socket(zmq.REP)
    rep.bind(endpoint)
    for name in ("requests", "replies"):     # counters exist from the start, even at 0
        peer.counter(name)
    while peer.poll(rep):                   # False once the lab kills the server
        request = rep.recv_multipart()
        if len(request) != 1:
            malformed(peer, request, "a request is one frame")
            rep.send(b"")
            continue
        peer.count("requests")
        peer.throttle()                     # a stalled server: the client's timeout fires
        rep.send_multipart(request)         # (killed while stalled: a crash sends nothing)
        peer.count("replies")


def client(peer, endpoint: str, requests: int = 200, timeout: float = REQUEST_TIMEOUT,
           retries: int = REQUEST_RETRIES, pause: float = 0.0):
    """REQ with the Lazy Pirate loop: poll with ``timeout``; on timeout close, reopen, resend;
    after ``retries`` tries give the request up as abandoned and go on with the next one.

    ``book`` (a :class:`Requests`) keeps the records of each request for the notebook: what it
    leaves in ``peer.data``, its counters and events are listed there.
    """
    book = Requests(peer, retries=retries, timeout=timeout)
    req = peer.socket(zmq.REQ)
    req.connect(endpoint)
    for seq in range(requests):
        request = f"{peer.name}:{seq}".encode()
        book.sent(seq)
        for attempt in range(1, retries + 1):
            req.send(request)
            if peer.poll(req, timeout):
                reply = req.recv_multipart()
                if reply == [request]:                 # the answer to this very request
                    book.answered(seq)
                    break
                book.mismatched(seq, reply)            # someone else's reply: never accept it
            if not peer.running:
                return
            # No (good) reply in time: the REQ socket is stuck waiting, so throw it away.
            peer.close_socket(req)
            req = peer.socket(zmq.REQ)
            req.connect(endpoint)
            if attempt == retries:
                book.abandoned(seq)
            else:
                book.retry(seq)
        peer.throttle()
        if pause and not peer.sleep(pause):
            return
    book.done()


class Requests:
    """The books of a Lazy Pirate client (``client`` and ``asyncpatterns.lazy_pirate_client``):
    each call counts, logs and records one step of one request, so the client's listing stays the
    pattern.

    Leaves in ``peer.data``: ``sent`` (sequence numbers), ``answered`` (Counter: seq -> matching
    replies), ``abandoned`` (seqs), ``mismatched`` ((seq, reply frames) pairs, clipped), ``done``,
    ``retries`` and ``timeout``. Counters (from the start, even at 0): ``requests``, ``replies``,
    ``retries``, ``abandoned``, ``mismatched``; latency ``rtt`` (first try to answer). Events, each
    with the field ``seq``: ``send``, ``answered``, ``retry``, ``abandoned``, ``mismatched``.
    """

    def __init__(self, peer, retries: int, timeout: float):
        self.peer = peer
        self.started = time.perf_counter()
        self._sent: list[int] = []
        self._answered: Counter = Counter()
        self._abandoned: list[int] = []
        self._mismatched: list[tuple[int, bytes]] = []
        peer.data.update(sent=self._sent, answered=self._answered, abandoned=self._abandoned,
                         mismatched=self._mismatched, done=False, retries=retries, timeout=timeout)
        for name in ("requests", "replies", "retries", "abandoned", "mismatched"):
            peer.counter(name)

    def sent(self, seq: int) -> None:
        """Request ``seq`` goes out for the first time (its round trip starts now)."""
        self._sent.append(seq)
        self.peer.count("requests")
        self.peer.log("send", seq=seq)
        self.started = time.perf_counter()

    def answered(self, seq: int) -> None:
        """The echo of request ``seq`` came back."""
        self._answered[seq] += 1
        self.peer.count("replies")
        self.peer.latency("rtt", time.perf_counter() - self.started)
        self.peer.log("answered", seq=seq)

    def mismatched(self, seq: int, reply: list[bytes]) -> None:
        """A reply came while waiting for ``seq`` that is not its echo (kept clipped)."""
        self._mismatched.append((seq, clip(reply)))
        self.peer.count("mismatched")
        self.peer.log("mismatched", seq=seq)

    def retry(self, seq: int) -> None:
        """No (good) reply in time: ``seq`` goes out again on a new socket."""
        self.peer.count("retries")
        self.peer.log("retry", seq=seq)

    def abandoned(self, seq: int) -> None:
        """The last try of ``seq`` timed out: given up, and reported."""
        self._abandoned.append(seq)
        self.peer.count("abandoned")
        self.peer.log("abandoned", seq=seq)

    def done(self) -> None:
        """Every request was answered or abandoned: the role ran to its end."""
        self.peer.data["done"] = True


ROLES = {"server": server, "client": client}


# ---- the verdict over every request ----------------------------------------------------------

@dataclass
class Tally:
    """What happened to every request of some Lazy Pirate clients."""

    requests: int = 0                 # requests the clients started
    answered: int = 0                 # answered exactly once
    abandoned: int = 0                # given up after the last try, and reported
    unresolved: list = field(default_factory=list)   # (client, seq): neither answered nor abandoned
    duplicates: list = field(default_factory=list)   # (client, seq): answered more than once
    mismatched: int = 0               # replies that belonged to another request
    finished: bool = True             # every client's role ran to its end

    @property
    def ok(self) -> bool:
        return (not self.unresolved and not self.duplicates and self.mismatched == 0 and self.finished
                and self.answered + self.abandoned == self.requests)

    def lines(self, retries: int = REQUEST_RETRIES) -> str:
        """The verdict as text: fixed counts plainly, varying ones after a ``~``."""
        rows = [
            ("requests sent", f"{self.requests}"),
            ("answered exactly once", f"~{self.answered}"),
            (f"abandoned after {retries} tries, and reported", f"~{self.abandoned}"),
            ("left unanswered and not reported", f"{len(self.unresolved)}"),
            ("answered more than once", f"{len(self.duplicates)}"),
            ("answered with another request's reply", f"{self.mismatched}"),
        ]
        width = max(len(label) for label, _ in rows) + 2
        lines = [f"{label + ':':<{width}}{value}" for label, value in rows]
        lines.append("Every client finished." if self.finished else "Not every client finished.")
        lines.append("Every request was answered once, or reported abandoned." if self.ok
                     else "Not every request was answered once or reported abandoned.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.lines()


def tally(lab, clients: Iterable[str]) -> Tally:
    """Account for every request of the named client peers."""
    result = Tally()
    for name in clients:
        peer = lab.peer(name)
        data = peer.data
        sent, answered, abandoned = data.get("sent", []), data.get("answered", Counter()), \
            set(data.get("abandoned", []))
        result.requests += len(sent)
        result.mismatched += len(data.get("mismatched", []))
        result.finished = result.finished and bool(data.get("done")) and peer.state == "done"
        for seq in sent:
            n = answered.get(seq, 0)
            if n == 1 and seq not in abandoned:
                result.answered += 1
            elif n == 0 and seq in abandoned:
                result.abandoned += 1
            elif n > 1:
                result.duplicates.append((name, seq))
            else:
                result.unresolved.append((name, seq))
    return result
