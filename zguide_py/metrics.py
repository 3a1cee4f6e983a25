"""Metrics: a sampler that turns counters into rates, a sequence-gap checker, latency summaries.

The message path only increments integers (``peer.count``). Time is read here, by one sampler
thread per lab, a few times a second; rates are divided by the real interval between two samples,
not by the nominal one, because on a busy 2-core machine the sampler wakes up late.
"""
from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab


class Counter:
    """One integer that a peer increments on its message path and the sampler reads."""

    __slots__ = ("value",)

    def __init__(self, value: int = 0):
        self.value = value

    def __repr__(self) -> str:
        return f"Counter({self.value})"


class Sampler:
    """Samples every peer's counters every ``interval`` seconds into a bounded history."""

    def __init__(self, lab: "Lab", interval: float = 0.1, keep: int = 6000):
        if not 0.01 <= interval <= 10:
            raise ValueError(f"sampler interval must be between 0.01 and 10 s, not {interval!r}")
        self.lab = lab
        self.interval = interval
        # each sample: (t since lab start, {peer: {counter: value}})
        self.samples: deque[tuple[float, dict[str, dict[str, int]]]] = deque(maxlen=keep)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=f"zguide:{lab.name}:sampler",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        """Take one sample now (the scenario runner also calls this at its start and end)."""
        snap = {name: peer.snapshot() for name, peer in list(self.lab.peers.items())}
        with self._lock:
            self.samples.append((self.lab.now(), snap))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def history(self, since: float = 0.0) -> list[tuple[float, dict[str, dict[str, int]]]]:
        """A copy of the samples taken at or after ``since``: (lab time, {peer: {counter: value}}).
        The one way to read the raw samples from outside; ``series`` and ``values`` are built on it."""
        with self._lock:
            return [(t, s) for t, s in self.samples if t >= since]

    def series(self, peer: str, counter: str, since: float = 0.0) -> tuple[list[float], list[float]]:
        """Rate of ``peer``'s ``counter`` per second, as (times, rates) at each sample after ``since``.

        The rate at a sample is (value - previous value) / (real time between the two samples).
        An extra sample taken less than half an interval after the one before (``lab.run`` takes
        one at its start and its end) does not get a point of its own: a few messages over a few
        milliseconds would show as a spike. It stretches the interval before it instead, so the
        rates still add up to the counts.
        """
        samples = self.history(since)
        times: list[float] = []
        rates: list[float] = []
        prev_t, prev_v = None, None       # the sample the next rate is measured from
        base_t, base_v = None, None       # the one before it, to stretch the last interval
        for t, snap in samples:
            if peer not in snap:          # the peer did not exist yet (or was removed)
                prev_t, prev_v = base_t, base_v = None, None
                continue
            value = snap[peer].get(counter, 0)    # a counter not yet counted is at 0
            if prev_t is None or t <= prev_t:
                prev_t, prev_v = t, value
                continue
            if t - prev_t < self.interval / 2:
                if not times:             # too soon after the first sample: measure from that one
                    continue
                if base_t is not None:    # too soon after the last point: fold it into that one
                    times.pop()
                    rates.pop()
                    prev_t, prev_v = base_t, base_v
            times.append(t)
            rates.append(max(0.0, (value - prev_v) / (t - prev_t)))
            base_t, base_v = prev_t, prev_v
            prev_t, prev_v = t, value
        return times, rates

    def values(self, peer: str, counter: str, since: float = 0.0) -> tuple[list[float], list[int]]:
        """The raw sampled values of ``peer``'s ``counter``, as (times, values)."""
        rows = [(t, s[peer].get(counter, 0)) for t, s in self.history(since) if peer in s]
        return [t for t, _ in rows], [v for _, v in rows]

    def counters(self) -> set[tuple[str, str]]:
        """Every (peer, counter) pair seen so far."""
        with self._lock:
            return {(p, c) for _, snap in self.samples for p, cs in snap.items() for c in cs}


class SeqChecker:
    """Checks a stream of sequence numbers: counts gaps (lost messages) exactly.

    ``check(seq)`` returns how many numbers were skipped just before ``seq`` (0 when in order).
    Numbers at or below the last one seen count as ``duplicates`` (e.g. after a reconnect).
    """

    def __init__(self, first: int | None = None):
        self.expected = first
        self.received = 0
        self.lost = 0          # numbers that never arrived
        self.gaps = 0          # places where at least one number was skipped
        self.duplicates = 0
        self.largest_gap = 0

    def check(self, seq: int) -> int:
        self.received += 1
        if self.expected is None:
            self.expected = seq + 1
            return 0
        if seq < self.expected:
            self.duplicates += 1
            return 0
        gap = seq - self.expected
        if gap:
            self.lost += gap
            self.gaps += 1
            self.largest_gap = max(self.largest_gap, gap)
        self.expected = seq + 1
        return gap

    def __repr__(self) -> str:
        return (f"SeqChecker(received={self.received}, lost={self.lost}, gaps={self.gaps}, "
                f"duplicates={self.duplicates})")


@dataclass
class LatencySummary:
    count: int
    mean: float
    p50: float
    p90: float
    p99: float
    max: float
    unit: str = field(default="s")

    def __str__(self) -> str:
        if not self.count:
            return "no samples"
        scale, unit = (1e6, "µs") if self.p99 < 1e-3 else (1e3, "ms")
        return (f"n={self.count}  p50={self.p50 * scale:.1f} {unit}  p90={self.p90 * scale:.1f} {unit}"
                f"  p99={self.p99 * scale:.1f} {unit}  max={self.max * scale:.1f} {unit}")


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, by linear interpolation."""
    if not sorted_values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be between 0 and 100, not {q!r}")
    pos = (len(sorted_values) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(samples: Iterable[float]) -> LatencySummary:
    """Count, mean, p50/p90/p99 and max of latency samples in seconds."""
    values = sorted(samples)
    if not values:
        return LatencySummary(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    return LatencySummary(len(values), sum(values) / len(values), percentile(values, 50),
                          percentile(values, 90), percentile(values, 99), values[-1])
