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


def publisher(peer, endpoint: str, rate: float | None = 1000.0, count: int | None = None,
              size: int = 64, sndhwm: int = 1000, subscribers: int = 1, wait: float | None = None,
              sndbuf: int | None = None):
    """Publish numbered, time-stamped messages at ``rate`` per second (``None``: as fast as
    possible), ``count`` of them (``None``: until killed), to whoever subscribed.

    It first waits for ``subscribers`` subscriptions (at most ``wait`` seconds, if given).
    ``sndhwm`` bounds the queue for each subscriber (0 = no limit). ``sndbuf`` sets the TCP send
    buffer in bytes (a small one keeps the queue in ZeroMQ, where the HWM governs it).
    """
    pub = peer.socket(zmq.XPUB, sndhwm=sndhwm)
    pub.setsockopt(zmq.XPUB_VERBOSE, 1)    # tell us about every subscriber, not just the first
    if sndbuf:
        pub.setsockopt(zmq.SNDBUF, sndbuf)
    pub.bind(endpoint)
    sent = peer.counter("sent")             # 0 while we wait: the panel shows it from the start
    seen, deadline = 0, None if wait is None else time.monotonic() + wait
    while peer.running and seen < subscribers:     # wait for the subscriptions to arrive
        if pub.poll(50) and pub.recv()[:1] == b"\x01":
            seen += 1
        if deadline is not None and time.monotonic() > deadline:
            break
    peer.log("subscribed", f"{seen} subscriber(s)")
    epoch = os.urandom(4)
    padding = b"." * max(0, size - DATA.size)
    seq, credit, last = 0, 0.0, time.monotonic()
    burst = 100 if rate is None else max(1.0, rate / 100)   # at most 10 ms worth at once
    while peer.running and (count is None or seq < count):
        if rate is None:
            due = 100                                 # as fast as possible, 100 at a time
        else:                                         # a steady rate: no catch-up bursts after
            now = time.monotonic()                    # a stall, which would overflow small HWMs
            credit, last = min(credit + (now - last) * rate, burst), now
            due = int(credit)
            if due <= 0:
                peer.sleep(0.001)
                continue
            credit -= due
        if count is not None:
            due = min(due, count - seq)
        for _ in range(due):
            pub.send(DATA.pack(b"D", epoch, seq, time.time()) + padding)   # never blocks: drops at HWM
            seq += 1
        sent.value = seq
        while pub.poll(0):                            # late (re)subscriptions: just read them
            pub.recv()
        peer.throttle()
    if count is not None and seq >= count:
        peer.data["published"] = seq
        peer.log("published", f"all {seq} messages")
        while peer.running:                           # repeat the end marker: it may be dropped
            pub.send(END.pack(b"E", epoch, seq))
            peer.sleep(0.05)


def subscriber(peer, endpoint: str, rcvhwm: int = 1000, rcvbuf: int | None = None,
               max_gap: int | None = None, max_age: float | None = None):
    """Receive, check the sequence numbers (every gap counted exactly), and measure the age of
    each message. Throttle this peer to make it a slow subscriber.

    With ``max_gap`` or ``max_age`` set it is a suicidal snail: at the first message that shows
    it has fallen behind - more than ``max_gap`` messages missing just before it, or older than
    ``max_age`` seconds - it records why in ``peer.data["death"]`` and in the event log
    ("suicide"), and its role returns: state "done", not "failed", because dying is the designed
    behaviour here, not a bug. (Raising would also work; it would show a red traceback in the
    panel, but every ``lab.wait_for`` would then stop with PeerFailed.)
    """
    sub = peer.socket(zmq.SUB, rcvhwm=rcvhwm)
    if rcvbuf:
        sub.setsockopt(zmq.RCVBUF, rcvbuf)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    # The first start counts from message 0 (the publisher waits for us); a restart joins
    # mid-stream. A new publisher epoch (it restarted) numbers from 0 again.
    checker = SeqChecker(first=0 if peer.starts == 1 else None)
    gaps_at: list[tuple[int, int]] = []
    peer.data.update(checker=checker, gaps_at=gaps_at, complete=False, max_age_seen=0.0)
    received, lost = peer.counter("received"), peer.counter("lost")
    age_ms, last_seq = peer.counter("age_ms"), peer.counter("last_seq")
    lost_before = lost.value            # counters carry on across restarts
    oldest, epoch = 0.0, None
    while peer.running:
        if not sub.poll(50):
            continue
        frame = sub.recv()
        if frame[:1] == b"E":                         # the publisher is done: count the tail
            _, end_epoch, total = END.unpack_from(frame)
            if end_epoch == epoch and checker.expected is not None and total > checker.expected:
                gaps_at.append((checker.expected, total))
                checker.lost += total - checker.expected
                checker.gaps += 1
                checker.expected = total
                lost.value = lost_before + checker.lost
            peer.data["complete"] = end_epoch == epoch
            continue
        _, msg_epoch, seq, stamp = DATA.unpack_from(frame)
        if msg_epoch != epoch:
            if epoch is not None:                     # the publisher restarted
                peer.log("new epoch", "the publisher restarted: numbering from 0 again")
                lost_before = lost.value
                checker = SeqChecker(first=0)
                peer.data.update(checker=checker, complete=False)
            epoch = msg_epoch
        age = time.time() - stamp
        expected = checker.expected
        gap = checker.check(seq)
        received.value += 1
        last_seq.value = seq
        age_ms.value = int(age * 1000)
        if gap:
            gaps_at.append((expected, seq))
            lost.value = lost_before + checker.lost
        too_old = max_age is not None and age > max_age
        if (max_gap is not None and gap > max_gap) or too_old:
            why = (f"message {seq} is {age:.4f} s old, {(age - max_age) * 1000:.2f} ms over the "
                   f"limit of {max_age} s" if too_old else
                   f"{gap} messages missing before message {seq} (limit {max_gap})")
            peer.data["death"] = {"reason": "too old" if too_old else "gap", "why": why,
                                  "seq": seq, "age": age, "gap": gap, "at": time.time(),
                                  "received": checker.received, "oldest_before": oldest}
            peer.count("suicide")
            peer.log("suicide", why)
            return                                    # the snail dies: its socket closes
        oldest = max(oldest, age)
        peer.data["max_age_seen"] = oldest
        peer.throttle()


def snail(peer, endpoint: str, rcvhwm: int = 1000, rcvbuf: int | None = None,
          max_gap: int | None = 0, max_age: float | None = 0.3):
    """The suicidal snail: a subscriber that dies at the first gap, or at the first message older
    than ``max_age`` seconds. It dies at the first message it reads after falling behind, so
    within one throttle delay (plus one 50 ms poll) of that moment."""
    return subscriber(peer, endpoint, rcvhwm=rcvhwm, rcvbuf=rcvbuf, max_gap=max_gap, max_age=max_age)


ROLES = {"publisher": publisher, "subscriber": subscriber, "snail": snail}


# ---- for the notebook ---------------------------------------------------------------------------

def rss_mb() -> float:
    """This process's resident memory (VmRSS) in MB, from /proc/self/status (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def behind_series(lab, publisher_name: str, subscriber_name: str, since: float = 0.0):
    """How many messages a subscriber is behind its publisher over time (sampled): the messages
    published after the one it is reading now, whether queued or already dropped."""
    times, values = [], []
    for t, snap in list(lab.sampler.samples):
        pub, sub = snap.get(publisher_name, {}), snap.get(subscriber_name, {})
        if t >= since and "sent" in pub and "last_seq" in sub:
            times.append(t - since)
            values.append(max(0, pub["sent"] - 1 - sub["last_seq"]))
    return times, values


def _death_time(report, name: str) -> float | None:
    deaths = report.events_of("suicide", name)
    return deaths[0][0] if deaths else None


def _values(lab, report, name: str, fn) -> tuple[list[float], list[float]]:
    """fn(snapshot of all counters) -> value or None, at each sample of the run (cut at a death)."""
    end = _death_time(report, name)
    times, values = [], []
    for t, snap in list(lab.sampler.samples):
        t -= report.start
        if t < 0 or t > report.duration or (end is not None and t > end):
            continue
        value = fn(snap)
        if value is not None:
            times.append(t)
            values.append(value)
    return times, values


def lost_below(gaps_at: list[tuple[int, int]], n: int) -> int:
    """How many of the messages numbered below ``n`` were lost, from a list of (expected, got) gaps."""
    return sum(max(0, min(got, n) - expected) for expected, got in gaps_at if expected < n)


def queue_series(lab, report, publisher_name: str, name: str):
    """For one subscriber, sampled over the run and worked out from the gaps it found:
    ``(times, waiting, dropped)``, where dropped so far = the lost messages numbered below the
    publisher's count (a PUB drops a message when it sends it), and waiting in the queues =
    published - received - dropped so far."""
    gaps = list(lab.peer(name).data.get("gaps_at", []))
    times, waiting, dropped = [], [], []

    def both(snap):
        pub, sub = snap.get(publisher_name, {}), snap.get(name, {})
        if "sent" not in pub or "received" not in sub:
            return None
        gone = lost_below(gaps, pub["sent"])
        return max(0, pub["sent"] - sub["received"] - gone), gone

    for t, (w, d) in zip(*_values(lab, report, name, both)):
        times.append(t)
        waiting.append(w)
        dropped.append(d)
    return times, waiting, dropped


def throttle_spans(report, names: list[str]) -> list[tuple[str, float, float, float]]:
    """``(peer, from, to, seconds per message)`` for every stretch of the run in which a peer was
    throttled (a throttle to 0 ends it; a death or the end of the run too)."""
    spans: list[tuple[str, float, float, float]] = []
    open_: dict[str, tuple[float, float]] = {}
    for t, kind, peer, detail in sorted(report.events, key=lambda e: e[0]):
        if peer not in names or kind not in ("throttle", "suicide", "kill"):
            continue
        if peer in open_:
            start, value = open_.pop(peer)
            spans.append((peer, start, t, value))
        if kind == "throttle" and float(detail or 0) > 0:
            open_[peer] = (t, float(detail))
    for peer, (start, value) in open_.items():
        spans.append((peer, start, report.duration, value))
    return spans


def _shade_throttles(axes, report, names: list[str]) -> list:
    """Shade the throttled stretches on every axes; returns legend handles (one per stretch).
    The legend says what and when, so no label is written over the data."""
    from matplotlib.patches import Patch
    handles = []
    for peer, start, end, value in throttle_spans(report, names):
        for ax in axes:
            ax.axvspan(start, end, color="tab:orange", alpha=0.12, linewidth=0)
        handles.append(Patch(color="tab:orange", alpha=0.25,
                             label=f"{peer} throttled to {value * 1000:g} ms/msg\n({start:.1f}-{end:.1f} s)"))
    return handles


def _flat_label(name: str, values: list[float], top: float) -> str:
    """A line that stays at the bottom of the plot is easy to miss: its label says so."""
    return f"{name} (stays at ~0)" if values and max(values) <= 0.01 * top else name


def queue_figure(lab, report, publisher_name: str, subscribers: list[str], title: str):
    """Two panels over the run, per subscriber (see :func:`queue_series`): how many of its messages
    wait in the queues, and how many were lost: dropped by the publisher (when it happened) and
    lost as the subscriber saw it (when it read the first message after each hole). Throttled
    stretches are shaded."""
    from matplotlib.lines import Line2D

    from ..plots import new_figure
    fig = new_figure(8, 5)
    ax_queue, ax_lost = fig.subplots(2, 1, sharex=True)
    series = {name: queue_series(lab, report, publisher_name, name) for name in subscribers}
    seen = {name: _values(lab, report, name, lambda snap, name=name: snap.get(name, {}).get("lost"))
            for name in subscribers}
    top_queue = max([max(w, default=0) for _, w, _ in series.values()] + [1])
    top_lost = max([max(d, default=0) for _, _, d in series.values()]
                   + [max(v, default=0) for _, v in seen.values()] + [1])
    lost_handles = []
    for i, name in enumerate(subscribers):
        times, waiting, dropped = series[name]
        # zorder and clip_on=False: a line at 0 is drawn over the axis, not hidden under it
        ax_queue.plot(times, waiting, color=f"C{i}", linewidth=1.8, zorder=3, clip_on=False,
                      label=_flat_label(name, waiting, top_queue))
        ax_lost.plot(times, dropped, color=f"C{i}", linestyle="-", linewidth=1.8, zorder=3, clip_on=False)
        ax_lost.plot(*seen[name], color=f"C{i}", linestyle=":", linewidth=2.4, zorder=4, clip_on=False)
        flat = _flat_label(name, dropped + list(seen[name][1]), top_lost) != name
        lost_handles.append(Line2D([], [], color=f"C{i}", linewidth=1.8,
                                   label=f"{name}: dropped by the publisher" + (" (~0)" if flat else "")))
        lost_handles.append(Line2D([], [], color=f"C{i}", linestyle=":", linewidth=2.4,
                                   label=f"{name}: lost, as it found out" + (" (~0)" if flat else "")))
    throttled = _shade_throttles((ax_queue, ax_lost), report, subscribers)
    for ax, top in ((ax_queue, top_queue), (ax_lost, top_lost)):
        ax.grid(True, alpha=0.3)
        ax.set_ylim(-0.03 * top, top * 1.08)   # a little room below 0, so a line at 0 shows
        ax.set_xlim(0, report.duration)
    fig.suptitle(title)                        # over the whole figure: a long title is not cut
    ax_queue.set_ylabel("waiting in the queues\n(messages)")
    ax_lost.set_ylabel("lost so far\n(messages)")
    ax_lost.set_xlabel("time since start of run (s)")
    handles, _ = ax_queue.get_legend_handles_labels()
    ax_queue.legend(handles=handles + throttled, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax_lost.legend(handles=lost_handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def age_figure(lab, report, subscribers: list[str], limit: float | None, title: str):
    """The age of the message each subscriber is reading, over the run; the snail's limit dotted,
    its death a cross, throttled stretches shaded."""
    from ..plots import new_figure
    fig = new_figure(8, 3.4)
    ax = fig.add_subplot()
    ages = {name: _values(lab, report, name, lambda snap, name=name: snap.get(name, {}).get("age_ms"))
            for name in subscribers}
    top = max([max(v, default=0) for _, v in ages.values()] + [(limit or 0) * 1000, 1])
    for i, name in enumerate(subscribers):
        ax.plot(*ages[name], color=f"C{i}", linewidth=1.8, zorder=3, clip_on=False,
                label=_flat_label(name, ages[name][1], top))
    for i, name in enumerate(subscribers):
        death, t = lab.peer(name).data.get("death"), _death_time(report, name)
        if death and t is not None:
            ax.axvline(t, color=f"C{i}", linestyle="--", linewidth=1, alpha=0.6)
            ax.scatter([t], [death["age"] * 1000], marker="X", s=70, color=f"C{i}", zorder=5,
                       label=f"{name} dies ({death['reason']})")
    if limit is not None:
        ax.axhline(limit * 1000, color="black", linestyle=":", linewidth=1.2,
                   label=f"the snail's limit ({limit * 1000:g} ms)")
    throttled = _shade_throttles([ax], report, subscribers)
    ax.set_title(title)
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("age of the message being read (ms)")
    ax.set_ylim(-0.03 * top, top * 1.1)
    ax.set_xlim(0, report.duration)
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + throttled, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig
