"""Slow subscriber: what a publisher does when one subscriber cannot keep up.

A PUB socket never waits for its subscribers. Each subscriber has a queue on the publisher's side
(bounded by the publisher's send high-water mark, ``sndhwm``), then the network buffers, then a
queue on the subscriber's side (its receive high-water mark, ``rcvhwm``). A subscriber that reads
more slowly than the publisher writes fills these queues. There are three answers, and the
guide discusses all three:

1. **Queue on the publisher.** Set ``sndhwm=0`` (no limit): nothing is lost, but the queue -
   memory in the publisher's process - grows for as long as the subscriber is slow. One slow
   subscriber can take a publisher down.
2. **Drop at the high-water mark.** With a limit, ZeroMQ's PUB drops the messages for that one
   subscriber once its queue is full. The publisher and the other subscribers go on unharmed; the
   slow subscriber sees holes. Numbered messages make the holes visible and countable.
3. **The suicidal snail.** The subscriber checks whether it has fallen behind - a gap in the
   sequence numbers, or a message older than it may be - and if so says why and stops, so that
   someone fixes it instead of it quietly serving stale or incomplete data.

Every data message is one frame: ``b"D"``, the publisher's epoch (4 random bytes, new at each
start), sequence (8 bytes), publish time (8-byte float, ``time.time()``), then padding up to
``size`` bytes. When a publisher with a ``count`` has sent them all it repeats an end marker
(``b"E"``, epoch, count) every 50 ms, so that a subscriber can also count the messages lost after
the last one it received: drops are counted exactly. A new epoch tells a subscriber that the
publisher restarted and numbers from 0 again.

The publisher is an XPUB socket (a PUB that also receives subscriptions), so it can wait until its
``subscribers`` have subscribed before it sends message 0: no message is lost to a slow joiner, and
every loss the subscriber counts happened at a high-water mark.
"""
from __future__ import annotations

import os
import struct
import time

import zmq

from ..metrics import SeqChecker

DATA = struct.Struct("!c4sQd")    # kind, epoch, sequence, publish time
END = struct.Struct("!c4sQ")      # kind, epoch, how many messages were published
END_EVERY = 0.05                  # seconds between two end markers


def publisher(peer, endpoint: str, rate: float | None = 1000.0, count: int | None = None,
              size: int = 64, sndhwm: int = 1000, subscribers: int = 1, wait: float | None = None,
              sndbuf: int | None = None):
    """Publish numbered, time-stamped messages at ``rate`` per second (``None``: as fast as
    possible), ``count`` of them (``None``: until killed), to whoever subscribed.

    It first waits for ``subscribers`` subscriptions (at most ``wait`` seconds for each, if given).
    ``sndhwm`` bounds the queue for each subscriber (0 = no limit). ``sndbuf`` sets the TCP send
    buffer in bytes (a small one keeps the queue in ZeroMQ, where the HWM governs it).
    """
    # XPUB: a PUB that also receives subscriptions; XPUB_VERBOSE: every one of them, not just the first
    pub = peer.socket(zmq.XPUB, sndhwm=sndhwm, xpub_verbose=1, sndbuf=sndbuf or -1)
    pub.bind(endpoint)
    sent = peer.counter("sent")             # 0 while we wait: the panel shows it from the start
    seen = 0
    while seen < subscribers and peer.poll(pub, wait):     # wait for the subscriptions to arrive
        seen += pub.recv()[:1] == b"\x01"                  # b"\x01" + topic: a subscription
    peer.log("subscribed", subscribers=seen)
    epoch = os.urandom(4)
    padding = b"." * max(0, size - DATA.size)
    pace = Pace(rate)
    seq = 0
    while peer.running and (count is None or seq < count):
        due = pace.due() if count is None else min(pace.due(), count - seq)
        if not due:
            peer.sleep(0.001)
            continue
        for _ in range(due):
            pub.send(DATA.pack(b"D", epoch, seq, time.time()) + padding)   # never blocks: drops at HWM
            seq += 1
        sent.value = seq
        while pub.poll(0):                  # late (re)subscriptions: just read them
            pub.recv()
        peer.throttle()
    if count is not None and seq >= count:
        peer.data["published"] = seq
        peer.log("published", messages=seq)
        while peer.running:                 # repeat the end marker: it may be dropped
            pub.send(END.pack(b"E", epoch, seq))
            peer.sleep(END_EVERY)


class Pace:
    """How many messages are due now, to publish at ``rate`` per second (``None``: 100 at a time,
    as fast as possible). A steady rate: no catch-up burst after a stall, which would overflow
    small HWMs; at most 10 ms worth at once."""

    def __init__(self, rate: float | None):
        self.rate, self.credit, self.last = rate, 0.0, time.monotonic()
        self.burst = 100 if rate is None else max(1.0, rate / 100)

    def due(self) -> int:
        if self.rate is None:
            return 100
        now = time.monotonic()
        self.credit, self.last = min(self.credit + (now - self.last) * self.rate, self.burst), now
        due = int(self.credit)
        self.credit -= due
        return due


def subscriber(peer, endpoint: str, rcvhwm: int = 1000, rcvbuf: int | None = None,
               max_gap: int | None = None, max_age: float | None = None, conflate: bool = False):
    """Receive, check the sequence numbers (every gap counted exactly), and measure the age of
    each message. Throttle this peer to make it a slow subscriber.

    With ``conflate`` its socket keeps only the newest message (``ZMQ_CONFLATE``, which ignores
    ``rcvhwm``): a slow reader reads the latest value, and what it skipped counts as lost.

    With ``max_gap`` or ``max_age`` set it is a suicidal snail: at the first message that shows
    it has fallen behind - more than ``max_gap`` messages missing just before it, or older than
    ``max_age`` seconds - it records why in ``peer.data["death"]`` and in the event log
    ("suicide"), and its role returns: state "done", not "failed", because dying is the designed
    behaviour here, not a bug. (Raising would also work; it would show a red traceback in the
    panel, but every ``lab.wait_for`` would then stop with PeerFailed.)
    """
    sub = peer.socket(zmq.SUB, rcvhwm=rcvhwm, rcvbuf=rcvbuf or -1, conflate=int(conflate))
    sub.subscribe(b"")
    sub.connect(endpoint)
    # the first start counts from message 0 (the publisher waits for us); a restart joins mid-stream
    tally = Tally(peer, first=0 if peer.starts == 1 else None)
    oldest = 0.0
    while peer.poll(sub):
        frame = sub.recv()
        if not well_formed(frame):                    # not ours: counted and logged, never fatal
            peer.count("malformed")
            peer.log("malformed", frames=[frame], why="not a data message nor an end marker")
            continue
        if frame[:1] == b"E":                         # the publisher is done: count the tail
            _, epoch, total = END.unpack_from(frame)
            tally.end(epoch, total)
            continue
        _, epoch, seq, stamp = DATA.unpack_from(frame)
        age = time.time() - stamp
        gap = tally.message(epoch, seq, age)
        too_old = max_age is not None and age > max_age
        if too_old or (max_gap is not None and gap > max_gap):
            reason = "too old" if too_old else "gap"
            peer.data["death"] = {"reason": reason, "seq": seq, "age": age, "gap": gap, "at": time.time(),
                                  "received": tally.checker.received, "oldest_before": oldest}
            peer.count("suicide")
            peer.log("suicide", reason=reason, seq=seq, age=age, gap=gap, max_age=max_age, max_gap=max_gap)
            return                                    # the snail dies: its socket closes
        oldest = max(oldest, age)
        peer.data["max_age_seen"] = oldest
        peer.throttle()


def well_formed(frame: bytes) -> bool:
    """A data message (``b"D"`` and at least :data:`DATA`'s size) or an end marker (``b"E"``,
    exactly :data:`END`'s size)."""
    kind = frame[:1]
    return (kind == b"D" and len(frame) >= DATA.size) or (kind == b"E" and len(frame) == END.size)


class Tally:
    """What a subscriber learns from the sequence numbers: every gap, counted exactly and kept as
    ``(expected, got)`` in ``peer.data["gaps_at"]``; a publisher restart (a new epoch numbers from
    0 again); and, from the end marker, the messages lost after the last one received. Keeps the
    counters ``received``, ``lost``, ``last_seq`` and ``age_ms`` (ms) up to date."""

    def __init__(self, peer, first: int | None):
        self.peer = peer
        self.checker = SeqChecker(first=first)
        self.gaps_at: list[tuple[int, int]] = []
        self.epoch: bytes | None = None
        self.received, self.lost = peer.counter("received"), peer.counter("lost")
        self.age_ms, self.last_seq = peer.counter("age_ms"), peer.counter("last_seq")
        self.lost_before = self.lost.value            # counters carry on across restarts
        peer.data.update(checker=self.checker, gaps_at=self.gaps_at, complete=False, max_age_seen=0.0)

    def message(self, epoch: bytes, seq: int, age: float) -> int:
        """Check one data message; returns how many messages are missing just before it."""
        if epoch != self.epoch:
            if self.epoch is not None:                # the publisher restarted: numbering from 0 again
                self.peer.log("new epoch", after=self.checker.received)
                self.lost_before = self.lost.value
                self.checker = SeqChecker(first=0)
                self.peer.data.update(checker=self.checker, complete=False)
            self.epoch = epoch
        expected = self.checker.expected
        gap = self.checker.check(seq)
        self.received.value += 1
        self.last_seq.value = seq
        self.age_ms.value = int(age * 1000)
        if gap:
            self.gaps_at.append((expected, seq))
            self.lost.value = self.lost_before + self.checker.lost
        return gap

    def end(self, epoch: bytes, total: int) -> None:
        """The end marker: ``total`` messages were published; count those lost after the last one."""
        checker = self.checker
        if epoch == self.epoch and checker.expected is not None and total > checker.expected:
            self.gaps_at.append((checker.expected, total))
            checker.lost += total - checker.expected
            checker.gaps += 1
            checker.expected = total
            self.lost.value = self.lost_before + checker.lost
        self.peer.data["complete"] = epoch == self.epoch


def snail(peer, endpoint: str, rcvhwm: int = 1000, rcvbuf: int | None = None,
          max_gap: int | None = 0, max_age: float | None = 0.3):
    """The suicidal snail: a subscriber that dies at the first gap, or at the first message older
    than ``max_age`` seconds. It dies at the first message it reads after falling behind, so
    within one throttle delay (plus one 50 ms poll slice) of that moment."""
    return subscriber(peer, endpoint, rcvhwm=rcvhwm, rcvbuf=rcvbuf, max_gap=max_gap, max_age=max_age)


ROLES = {"publisher": publisher, "subscriber": subscriber, "snail": snail}
