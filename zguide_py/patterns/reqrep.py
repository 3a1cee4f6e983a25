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
    """REQ: send ``requests`` requests one at a time, each answered before the next is sent.

    ``timeout`` (seconds) bounds the wait for each reply. With ``None`` the client waits as long
    as it lives - what a plain REQ client does when its server has died. On a timeout it records
    ``peer.data["stuck_on"]`` and stops: a REQ socket that has sent cannot send again until it
    receives (EFSM), so without closing the socket there is nothing else it can do.
    """
    req = peer.socket(zmq.REQ)
    req.connect(endpoint)
    answered = peer.data.setdefault("answered", [])
    for n in range(requests):
        request = f"request {n}".encode()
        if not peer.send(req, request):       # waits for a connection, but not past a kill
            return
        peer.count("requests")
        sent = time.perf_counter()
        if not peer.poll(req, timeout):       # no reply in time, or the lab killed us
            if peer.running:
                peer.data["stuck_on"] = n
                peer.log("timeout", request=n, after=timeout)
            return
        reply = req.recv_multipart()
        peer.latency("rtt", time.perf_counter() - sent)
        if reply != [request]:                # not the echo: counted, logged, not an answer
            peer.count("malformed")
            peer.log("malformed", frames=reply, why=f"the reply echoes {request!r}")
            continue
        answered.append(n)
        peer.count("replies")
        peer.throttle()
    peer.data["done"] = True


ROLES = {"echo_server": echo_server, "client": client}
