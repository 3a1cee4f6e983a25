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

import itertools
from typing import Iterable

import zmq
from zmq.utils.monitor import recv_monitor_message

HELLO = b"!hello"


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        return [value]
    return list(value)


def _b(text) -> bytes:
    return text if isinstance(text, bytes) else str(text).encode()


def malformed(peer, frames: list[bytes], why: str) -> None:
    """Count a message that breaks the protocol, and log it (the lab clips the frames it keeps)."""
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=why)


def number(frame: bytes) -> int | None:
    """A decimal number frame (``b"17"``), strictly: ASCII digits, at most 18 of them; else None."""
    return int(frame) if 0 < len(frame) <= 18 and frame.isdigit() else None


def parse_data(frames: list[bytes]) -> tuple[str, int, str] | None:
    """A data message ``[topic, seq, source]`` -> ``(topic, seq, source)``, or None if it is not one."""
    if len(frames) != 3 or (seq := number(frames[1])) is None:
        return None
    try:
        return frames[0].decode(), seq, frames[2].decode()
    except UnicodeDecodeError:
        return None


def messages(topics: list[bytes], source: bytes):
    """The publisher's data messages, forever: ``[topic, seq within that topic, source]``, cycling
    through ``topics``."""
    seq = dict.fromkeys(topics, 0)
    for topic in itertools.cycle(topics):
        yield [topic, b"%d" % seq[topic], source]
        seq[topic] += 1


def publisher(peer, endpoint: str, topics: Iterable[str] = ("",), count: int | None = None,
              interval: float = 0.0, sync: str | None = None, subscribers: int = 1,
              preamble: int = 0, source: str | None = None, sndhwm: int = 1000):
    """PUB: send ``count`` messages (``None``: forever), cycling through ``topics``, then stay up
    until killed (``peer.data["done"]`` says the sending is over).

    ``interval`` paces the sends (seconds between messages). With ``sync`` (an endpoint), first send
    ``preamble`` messages at once, then say hello until ``subscribers`` subscribers have reported
    ready on the sync REP socket, and only then send the ``count`` messages.
    """
    pub = peer.socket(zmq.PUB, sndhwm=sndhwm)
    pub.bind(endpoint)
    source_b = _b(source or peer.name)
    stream = messages([_b(t) for t in _as_list(topics)] or [b""], source_b)
    sent = peer.data.setdefault("sent", {})           # messages sent per topic

    def publish():
        frames = next(stream)
        pub.send_multipart(frames)                     # never blocks: PUB drops instead
        topic = frames[0].decode()
        sent[topic] = sent.get(topic, 0) + 1
        peer.count("sent")

    for _ in range(preamble):                          # sent before anyone can be listening
        publish()
    peer.data["preamble_done"] = True
    if sync is not None and not say_hello(peer, pub, sync, subscribers, source_b):
        return
    n = 0
    while peer.running and (count is None or n < count):
        publish()
        n += 1
        peer.throttle()
        if interval:
            peer.sleep(interval)
    if peer.running:
        peer.data["done"] = True
        peer.log("done", sent=preamble + n)
    while peer.sleep(1):     # stay up: closing now (linger 0) would drop what is still queued
        pass


def say_hello(peer, pub, sync: str, subscribers: int, source: bytes) -> bool:
    """The publisher's half of the handshake: send a hello every 10 ms until ``subscribers``
    subscribers have said ready on the ``sync`` REP socket. False if the peer was killed first."""
    rep = peer.socket(zmq.REP)
    rep.bind(sync)
    ready = 0
    while ready < subscribers:
        pub.send_multipart([HELLO, source])
        if peer.poll(rep, 0.01):
            rep.recv()
            rep.send(b"go")
            ready += 1
        elif not peer.running:
            return False
    peer.log("synced", subscribers=ready)
    return True


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
    if sync and not say_ready(peer, sub, _as_list(sync)):
        return
    peer.data["ready"] = True
    entries = peer.data.setdefault("log", [])
    per_topic = peer.data.setdefault("per_topic", {})
    while peer.poll(sub):
        frames = sub.recv_multipart()
        if frames[0].startswith(b"!"):                 # control message (a late hello): not data
            continue
        if (data := parse_data(frames)) is None:       # checked before it is counted or kept
            malformed(peer, frames, "data is [topic, seq, source]")
            continue
        key, seq, source = data
        per_topic[key] = per_topic.get(key, 0) + 1
        if len(entries) < log:
            entries.append((peer.now(), source, key, seq))
        peer.count("received")                         # last, so a reader that waits on it sees the rest
        peer.throttle()


def say_ready(peer, sub, syncs: list[str]) -> bool:
    """The subscriber's half of the handshake: wait for a hello from every publisher (a hello that
    arrived proves our subscription is in place there), then tell each one "ready" over a REQ
    socket. False if the peer was killed first."""
    sub.subscribe(HELLO)
    heard: set[bytes] = set()
    while len(heard) < len(syncs):
        if not peer.poll(sub):
            return False
        frames = sub.recv_multipart()
        if frames[0] == HELLO and len(frames) == 2:    # [!hello, publisher]
            heard.add(frames[1])
    sub.unsubscribe(HELLO)                             # hellos still in flight are filtered out
    for ep in syncs:
        req = peer.socket(zmq.REQ)
        req.connect(ep)
        if not (peer.send(req, b"ready") and peer.poll(req)):
            return False
        req.recv()
        peer.close_socket(req)
    return True


def watched_subscriber(peer, endpoint: str, topics: Iterable[str] = ("",)):
    """SUB with a monitor beside it: besides counting the data it receives, it logs every event
    of its socket's connection (``connect retried``, ``connected``, ``handshake succeeded``,
    ``disconnected``...) as a "monitor" event, on the lab's clock, so both can be drawn together."""
    sub = peer.socket(zmq.SUB)
    monitor = sub.get_monitor_socket()                 # a PAIR socket that receives sub's events
    try:
        for topic in _as_list(topics):
            sub.subscribe(_b(topic))
        sub.connect(endpoint)
        poller = zmq.Poller()
        poller.register(sub, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        while ready := peer.poll(poller):              # {} once the lab kills this peer
            if monitor in ready:
                event = recv_monitor_message(monitor)  # {"event": zmq.Event, "value", "endpoint"}
                peer.log("monitor", event=event["event"].name, endpoint=event["endpoint"].decode())
            if sub in ready:
                frames = sub.recv_multipart()
                if frames[0].startswith(b"!"):         # control message (a hello): not data
                    continue
                if parse_data(frames) is None:
                    malformed(peer, frames, "data is [topic, seq, source]")
                    continue
                peer.count("received")
                peer.throttle()
    finally:                                           # the monitor socket is ours to close
        sub.disable_monitor()
        monitor.close()


def lost(sub_peer, source: str, topic: str, sent: int) -> list[int]:
    """The sequence numbers of ``topic`` from ``source`` that the publisher sent (0 .. sent-1) and
    this subscriber never logged."""
    got = {seq for _, src, top, seq in sub_peer.data.get("log", []) if src == source and top == topic}
    return [n for n in range(sent) if n not in got]


ROLES = {"publisher": publisher, "subscriber": subscriber, "watched_subscriber": watched_subscriber}
