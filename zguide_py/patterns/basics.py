"""Basics: fire-and-forget with PUSH/PULL, the same code on inproc, ipc and tcp.

The pusher sends ``count`` numbered messages and is done: it never hears back (fire-and-forget).
The puller receives whatever arrives. Either side may bind; ZeroMQ queues messages while the
connection is being made, so a pusher may even connect before the puller has bound.
"""
from __future__ import annotations

import zmq


def pusher(peer, endpoint: str, count: int = 10, size: int = 0, bind: bool = False):
    """Send ``count`` messages "msg <n>" (padded to ``size`` bytes) down a PUSH socket, then close
    it, waiting up to 2 s (the linger) for queued messages to be delivered."""
    push = peer.socket(zmq.PUSH)
    push.bind(endpoint) if bind else push.connect(endpoint)
    for n in range(count):
        if not peer.running:
            return
        body = f"msg {n}".encode().ljust(size, b".")
        # NOBLOCK, and poll while there is no room: a PUSH with no connected peer would block in a
        # plain send() forever, and this role must stay killable.
        while True:
            try:
                push.send(body, zmq.NOBLOCK)
                break
            except zmq.Again:
                push.poll(50, zmq.POLLOUT)
                if not peer.running:
                    return
        peer.count("sent")
        peer.throttle()
    # send() only queued the messages. Closing with linger 0 (what a crash does) would drop any that
    # have not left yet; a linger of 2 s lets close() wait up to that long for them to be delivered.
    push.close(linger=2000)
    peer.data["done"] = True


def puller(peer, endpoint: str, bind: bool = True):
    """Receive messages from a PULL socket; keep the first few and count them all."""
    pull = peer.socket(zmq.PULL)
    pull.bind(endpoint) if bind else pull.connect(endpoint)
    received = peer.data.setdefault("received", [])
    while peer.running:
        if pull.poll(50):
            message = pull.recv()
            peer.count("received")
            if len(received) < 1000:
                received.append(message[:32].decode(errors="replace"))
            peer.throttle()


ROLES = {"pusher": pusher, "puller": puller}
