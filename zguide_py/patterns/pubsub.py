"""Publish-subscribe: a PUB socket sends to every SUB socket whose subscription matches.

A subscription is a **prefix of the first frame**: a subscriber to ``b"weather."`` gets
``weather.london`` and ``weather.paris``; ``b""`` matches everything; a SUB socket with no
subscription at all receives nothing. Over tcp, ipc and inproc the *publisher* does the filtering,
so unwanted messages never cross the wire.

PUB never blocks and never queues for the future. A message goes only to the subscribers that are
connected *and* whose subscription has already reached the publisher; everyone else misses it, for
good. A subscriber that connects a few milliseconds late misses the first messages: the *slow
joiner*. The fix here is a handshake. The publisher sends ``!hello`` on its PUB socket until each
subscriber that expects a handshake has answered over a REQ/REP sync socket. A subscriber answers
only after a hello *arrived*, which proves that its subscription is in place at the publisher. Only
then does the publisher send its data.

A subscriber connected to several publishers fair-queues them: when several have messages waiting,
it takes one from each in turn.

Data messages have three frames: ``[topic, sequence number within that topic, source]``. Topics
that start with ``!`` are control messages (the hellos); subscribers skip them.
"""
from __future__ import annotations

from typing import Iterable

import zmq

HELLO = b"!hello"


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        return [value]
    return list(value)


def _b(text) -> bytes:
    return text if isinstance(text, bytes) else str(text).encode()


def publisher(peer, endpoint: str, topics: Iterable[str] = ("",), count: int | None = None,
              interval: float = 0.0, sync: str | None = None, subscribers: int = 1,
              preamble: int = 0, source: str | None = None, sndhwm: int = 1000):
    """PUB: send ``count`` messages (``None``: forever), cycling through ``topics``, then stay up
    until killed (``peer.data["done"]`` says the sending is over).

    ``interval`` paces the sends (seconds between messages). With ``sync`` (an endpoint), first send
    ``preamble`` messages at once, then say hello until ``subscribers`` subscribers have reported
    ready on the sync REP socket, and only then send the ``count`` messages.
    """
    source_b = _b(source or peer.name)
    topics_b = [_b(t) for t in _as_list(topics)] or [b""]
    pub = peer.socket(zmq.PUB, sndhwm=sndhwm)
    pub.bind(endpoint)
    seq = {t: 0 for t in topics_b}
    sent_per_topic = peer.data.setdefault("sent", {})
    n = 0

    def publish_one() -> None:
        nonlocal n
        topic = topics_b[n % len(topics_b)]
        pub.send_multipart([topic, b"%d" % seq[topic], source_b])   # never blocks: PUB drops instead
        seq[topic] += 1
        n += 1
        key = topic.decode()
        sent_per_topic[key] = sent_per_topic.get(key, 0) + 1
        peer.count("sent")

    for _ in range(preamble):               # sent before anyone can be listening
        publish_one()
    peer.data["preamble_done"] = True

    if sync is not None:
        rep = peer.socket(zmq.REP)
        rep.bind(sync)
        ready = 0
        while peer.running and ready < subscribers:
            pub.send_multipart([HELLO, source_b])
            if rep.poll(10):                     # a hello every 10 ms until everyone is ready
                rep.recv()
                rep.send(b"go")
                ready += 1
        if not peer.running:
            return
        peer.log("synced", f"{ready} subscriber(s) ready")

    while peer.running and (count is None or n - preamble < count):
        publish_one()
        peer.throttle()
        if interval:
            peer.sleep(interval)
    if peer.running:
        peer.data["done"] = True
        peer.log("done", f"sent {n}")
    while peer.running:      # stay up: closing now (linger 0) would drop what is still queued
        peer.sleep(0.05)


def subscriber(peer, endpoint, topics: Iterable[str] | None = ("",), sync=None, log: int = 200_000):
    """SUB: connect to one endpoint or a list of them, subscribe to ``topics`` (prefixes; ``None``
    or ``[]`` means no subscription at all), and receive until killed.

    With ``sync`` (an endpoint, or one per publisher) it first waits for a hello from every
    publisher, then tells each one it is ready. Every data message is counted and kept in
    ``peer.data["log"]`` as ``(lab time, source, topic, seq)`` (up to ``log`` entries).
    """
    sub = peer.socket(zmq.SUB)
    for ep in _as_list(endpoint):
        sub.connect(ep)
    for topic in _as_list(topics):
        sub.subscribe(_b(topic))
    peer.data["topics"] = [_b(t).decode() for t in _as_list(topics)]

    syncs = _as_list(sync)
    if syncs:
        sub.subscribe(HELLO)
        heard: set[bytes] = set()
        while peer.running and len(heard) < len(syncs):   # a hello proves our subscription landed
            if sub.poll(50):
                frames = sub.recv_multipart()
                if frames[0] == HELLO:
                    heard.add(frames[1])
        sub.unsubscribe(HELLO)                 # hellos still in flight are filtered out from now on
        for ep in syncs:
            req = peer.socket(zmq.REQ)
            req.connect(ep)
            req.send(b"ready")
            while peer.running and not req.poll(50):
                pass
            if not peer.running:
                return
            req.recv()
            peer.close_socket(req)
    peer.data["ready"] = True

    entries = peer.data.setdefault("log", [])
    per_topic = peer.data.setdefault("per_topic", {})
    now = peer.lab.now
    while peer.running:
        if not sub.poll(50):
            continue
        topic, *rest = sub.recv_multipart()
        if topic.startswith(b"!"):             # control message (a late hello): not data
            continue
        seq, source = rest
        key = topic.decode()
        per_topic[key] = per_topic.get(key, 0) + 1
        if len(entries) < log:
            entries.append((now(), source.decode(), key, int(seq)))
        peer.count("received")                 # last, so a reader that waits on it sees the rest
        peer.throttle()


# ---- helpers for the notebook -------------------------------------------------------------------

def lost(sub_peer, source: str, topic: str, sent: int) -> list[int]:
    """The sequence numbers of ``topic`` from ``source`` that the publisher sent (0 .. sent-1) and
    this subscriber never logged."""
    got = {seq for _, src, top, seq in sub_peer.data.get("log", []) if src == source and top == topic}
    return [n for n in range(sent) if n not in got]


def retopic(lab, name: str, topics) -> None:
    """Change what subscriber ``name`` listens to: restart it with new ``topics``.
    Its counters carry on, so its rate line in the plots continues."""
    peer = lab.peer(name)
    peer.params["topics"] = topics
    lab.restart(name)


ROLES = {"publisher": publisher, "subscriber": subscriber}
