"""Basics: fire-and-forget with PUSH/PULL, the same code on inproc, ipc and tcp.

The pusher sends ``count`` numbered messages and is done: it never hears back (fire-and-forget).
The puller receives whatever arrives. Either side may bind; ZeroMQ queues messages while the
connection is being made, so a pusher may even connect before the puller has bound.
"""
from __future__ import annotations

import zmq


def pusher(peer, endpoint: str, count: int = 10, size: int = 0, bind: bool = False):
    """Send ``count`` messages "msg <n>" (padded to ``size`` bytes) down a PUSH socket, then close
    it with a linger of 2 s: close() returns at once, and the context's I/O thread goes on delivering
    what is still queued for up to 2 s."""
    push = peer.socket(zmq.PUSH)
    push.bind(endpoint) if bind else push.connect(endpoint)
    for n in range(count):
        body = f"msg {n}".encode().ljust(size, b".")
        # a plain send() blocks while there is nowhere to queue the message (a bound PUSH with no
        # peer yet, a queue full at its high-water mark); peer.send waits too, but not past a kill
        if not peer.send(push, body):
            return
        peer.count("sent")
        peer.throttle()
    # send() only queued the messages. Closing with linger 0 (what a crash does) would drop any that
    # have not left yet; with a linger of 2 s the I/O thread keeps delivering them after close()
    # returns, for up to 2 s (ending the context waits for that).
    push.close(linger=2000)
    peer.data["done"] = True


def puller(peer, endpoint: str, bind: bool = True):
    """Receive messages from a PULL socket; keep the first few and count them all."""
    pull = peer.socket(zmq.PULL)
    pull.bind(endpoint) if bind else pull.connect(endpoint)
    received = peer.data.setdefault("received", [])
    while peer.poll(pull):                    # False once the lab kills this peer
        message = pull.recv()
        peer.count("received")
        if len(received) < 1000:
            received.append(message[:32].decode(errors="replace"))
        peer.throttle()


ROLES = {"pusher": pusher, "puller": puller}
