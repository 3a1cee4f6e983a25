"""Request-reply: a REQ client and a REP server in lockstep.

REQ must alternate send, recv, send, recv... and REP recv, send, recv, send. Breaking the order
raises ``zmq.ZMQError`` with errno ``EFSM`` ("operation cannot be accomplished in current state":
the socket's finite-state machine says no). If the server dies while a request is in flight, a
plain REQ client waits for a reply that never comes; it cannot even send again. That is the
problem the Lazy Pirate pattern solves.
"""
from __future__ import annotations

import time

import zmq


def echo_server(peer, endpoint: str):
    """REP: receive a request, (maybe) take time over it, send it back."""
    rep = peer.socket(zmq.REP)
    rep.bind(endpoint)
    while peer.poll(rep):                     # False once the lab kills this peer
        request = rep.recv_multipart()
        peer.count("requests")
        peer.throttle()                       # the panel's slider makes this server slow
        rep.send_multipart(request)
        peer.count("replies")


def client(peer, endpoint: str, requests: int = 10, timeout: float | None = None):
    """REQ: send numbered requests one at a time; each is answered before the next goes out.

    ``timeout`` (seconds) bounds the wait for each reply; ``None`` waits as long as the client
    lives, as a plain REQ client does. After a timeout the client stops: a REQ socket that has sent
    cannot send again before it receives (EFSM), so there is nothing more it can do.
    """
    req = peer.socket(zmq.REQ)
    req.connect(endpoint)
    for n in range(requests):
        request = f"request {n}".encode()
        req.send(request)
        sent = time.perf_counter()
        if not peer.poll(req, timeout):       # no reply in time, or the lab killed this client
            return record_timeout(peer, n, timeout)
        reply = req.recv_multipart()
        if reply == [request]:                # the echo of *this* request: the answer
            record_answer(peer, n, time.perf_counter() - sent)
        else:                                 # anything else is counted and logged, not trusted
            malformed(peer, reply, f"the reply echoes {request!r}")
        peer.throttle()                       # the panel's slider can slow this client down


# ---- what the client records for the notebook (kept out of its listing) -------------------------

def record_answer(peer, n: int, seconds: float) -> None:
    """Request ``n`` was answered after ``seconds``: count the request and the reply, keep the round
    trip (``peer.latencies["rtt"]``) and the number (``peer.data["answered"]``, in order)."""
    peer.count("requests")
    peer.latency("rtt", seconds)
    peer.data.setdefault("answered", []).append(n)
    peer.count("replies")


def record_timeout(peer, n: int, timeout: float | None) -> None:
    """No reply to request ``n``: unless the lab killed the client, keep ``peer.data["stuck_on"]``
    and log a ``timeout`` event."""
    peer.count("requests")
    peer.data.setdefault("answered", [])
    if peer.running:
        peer.data["stuck_on"] = n
        peer.log("timeout", request=n, after=timeout)


def malformed(peer, frames: list[bytes], why: str) -> None:
    """A reply that is not the echo of the request: counted and logged, never taken as an answer."""
    peer.count("requests")
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=why)


ROLES = {"echo_server": echo_server, "client": client}
