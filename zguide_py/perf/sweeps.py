"""Sweeps: every transport, size and mode, Python beside C, in three steps.

* :func:`plan` - the points to measure, checked, in order (transport, then size, then mode);
* :func:`measure` - one point: Python's throughput (best of ``repeats`` from :data:`REPEAT_FROM` up),
  C's beside it, then both latencies, on benches that are opened again once if a run times out
  (:class:`Retrying`);
* :func:`build_row` - the row of the result table from what was measured.

:func:`sweep` runs them with a progress bar and returns a JSON-ready result (see
:mod:`zguide_py.perf.report` for its table).
"""
from __future__ import annotations

import datetime
import os
import platform
import time
from dataclasses import dataclass
from functools import partial
from typing import Callable

import zmq

from .bench import Bench, PointBench
from .cbaseline import CBench, c_baseline_status, c_version
from .common import MODES, SIZES, TRANSPORTS, check, human_size
from .progress import Progress

#: From this size up, a sweep can repeat each throughput point (``repeats``) and keep the best.
REPEAT_FROM = 512 << 10
#: The notebook's quick sweep: every size and mode on all three transports, ~0.03 s per measurement,
#: the C baseline beside tcp only.
QUICK = {"transports": ["inproc", "ipc", "tcp"], "sizes": SIZES, "modes": list(MODES), "seconds": 0.03,
         "c_transports": ["tcp"]}
FORMAT = "zguide_py.perf/1"


@dataclass(frozen=True)
class Point:
    """One point of a sweep: a transport, a message size, a mode ("copy" or "zero-copy")."""

    transport: str
    size: int
    mode: str

    @property
    def zero_copy(self) -> bool:
        return self.mode == "zero-copy"

    @property
    def label(self) -> str:
        return f"{self.transport} {human_size(self.size)} {self.mode}"


def plan(transports=TRANSPORTS, sizes=SIZES, modes=MODES) -> list[Point]:
    """Every point of a sweep, checked: ValueError for an unknown transport or mode or a bad size."""
    for transport in transports:
        check(transport, 1)
    for size in sizes:
        check("tcp", size)
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: use 'copy' or 'zero-copy'")
    return [Point(t, s, m) for t in transports for s in sizes for m in modes]


class Retrying:
    """A bench that is opened afresh, once, when a measurement times out: the far side got stuck
    (seen once in many sweeps: an 8 MB inproc round trip with no reply for 10 s). The second
    failure is raised. What happened is kept in ``notes``, and the sweep's result reports it."""

    def __init__(self, open_bench: Callable[[], PointBench], notes: list[str], name: str = ""):
        self.open_bench, self.notes, self.name = open_bench, notes, name
        self.bench = open_bench()

    def __enter__(self) -> "Retrying":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.bench.close()

    def throughput(self, point: Point, **kwargs) -> dict:
        """The bench's ``throughput`` of ``point`` (``seconds``, ``guess``, ``count``)."""
        return self._retrying("throughput", point, kwargs)

    def latency(self, point: Point, **kwargs) -> dict:
        """The bench's ``latency`` of ``point`` (``seconds``, ``guess``, ``count``)."""
        return self._retrying("latency", point, kwargs)

    def _retrying(self, method: str, point: Point, kwargs: dict) -> dict:
        try:
            return getattr(self.bench, method)(point.size, point.zero_copy, **kwargs)
        except TimeoutError as exc:
            self.notes.append(f"{self.name}{method} {point.label}: {exc}; measured again with a new pair "
                              "of sockets")
            self.bench.close()
            self.bench = self.open_bench()
            return getattr(self.bench, method)(point.size, point.zero_copy, **kwargs)


def measure(point: Point, py: Retrying, c: Retrying | None, seconds: float, latency: bool = True,
            repeats: int = 1, guess: dict | None = None) -> dict:
    """One point: ``{"py": [throughputs], "c": [throughputs], "lat": ..., "c_lat": ...}`` (None where
    not measured). The throughput runs of Python and C are interleaved, so a noisy neighbour hits both
    alike. ``guess``: the previous size's figures (see :func:`next_guess`)."""
    guess = guess or {}
    runs = {"py": [], "c": [], "lat": None, "c_lat": None}
    for _ in range(repeats if point.size >= REPEAT_FROM else 1):
        runs["py"].append(py.throughput(point, seconds=seconds, guess=guess.get("py")))
        if c:
            runs["c"].append(c.throughput(point, seconds=seconds, guess=guess.get("c")))
    if latency:
        runs["lat"] = py.latency(point, seconds=seconds, guess=guess.get("py lat"))
        if c:
            runs["c_lat"] = c.latency(point, seconds=seconds, guess=guess.get("c lat"))
    return runs


def best(results: list[dict], key: str = "msgs_per_s") -> dict:
    """The best of repeated runs: the most msg/s, or for a latency (``key`` ending in "latency_us")
    the lowest. A busy neighbour can only slow a run down, never speed it up."""
    pick = min if key.endswith("latency_us") else max
    return pick(results, key=lambda r: r[key])


def build_row(runs: dict) -> dict:
    """The result row of one point: Python's best throughput and its latency, C's beside them."""
    row = dict(best(runs["py"]))
    row.update(roundtrips=None, latency_us=None, c_count=None, c_msgs_per_s=None, c_mbit_per_s=None,
               c_roundtrips=None, c_latency_us=None)
    if runs["c"]:
        ct = best(runs["c"])
        row.update(c_count=ct["count"], c_msgs_per_s=ct["msgs_per_s"], c_mbit_per_s=ct["mbit_per_s"])
    if runs["lat"]:
        row.update(roundtrips=runs["lat"]["roundtrips"], latency_us=runs["lat"]["latency_us"])
    if runs["c_lat"]:
        row.update(c_roundtrips=runs["c_lat"]["roundtrips"], c_latency_us=runs["c_lat"]["latency_us"])
    return row


def next_guess(row: dict, grow: float) -> dict:
    """The next size's first guesses from this row, the next size being ``grow`` times this one:
    msg/s fall between "same per message" and "same per byte" (the geometric mean of the two), latency
    is taken as it is."""
    step = grow ** 0.5
    return {"py": row["msgs_per_s"] / step, "c": row["c_msgs_per_s"] and row["c_msgs_per_s"] / step,
            "py lat": row["latency_us"], "c lat": row["c_latency_us"]}


def meta(c_exe=None, c_reason: str = "") -> dict:
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "pyzmq": zmq.__version__, "libzmq": zmq.zmq_version(), "machine": platform.machine(),
            "system": platform.system(), "cpus": os.cpu_count(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "c_baseline": str(c_exe) if c_exe else None, "c_libzmq": c_version(c_exe) if c_exe else None,
            "c_skipped": "" if c_exe else c_reason}


def sweep(transports=TRANSPORTS, sizes=SIZES, modes=MODES, seconds: float = 0.25, latency: bool = True,
          c_baseline: bool = True, processes: bool | None = None, repeats: int = 1,
          progress: bool | None = None, c_transports=None) -> dict:
    """Throughput and latency for every transport, size and mode, with the C baseline's figures in the
    same row when it builds (on ``c_transports`` only, if given). ``repeats``: best of that many
    throughput runs from :data:`REPEAT_FROM` up. ``progress``: None = a bar where one can be shown.
    Returns ``{"format", "meta", "settings", "rows", "elapsed_s", "notes"}`` (JSON-ready)."""
    transports, sizes, modes = list(transports), list(sizes), list(modes)
    points = plan(transports, sizes, modes)
    if not seconds > 0:
        raise ValueError("seconds must be positive")
    c_exe, c_reason = c_baseline_status() if c_baseline else (None, "not requested")
    with_c = set(transports if c_transports is None else c_transports) if c_exe else set()
    bar = Progress(len(points), "perf sweep", enabled=progress is not False)
    rows, elapsed, notes = [], {}, []
    try:
        for transport in transports:
            started = time.perf_counter()
            guesses: dict[str, dict] = {}       # by mode: the previous size's figures
            with Retrying(partial(Bench, transport, processes), notes) as py:
                c = Retrying(partial(CBench, transport, c_exe), notes, "C ") if transport in with_c else None
                try:
                    for point in (p for p in points if p.transport == transport):
                        bar.show(point.label)
                        row = build_row(measure(point, py, c, seconds, latency, repeats, guesses.get(point.mode)))
                        following = sizes[min(sizes.index(point.size) + 1, len(sizes) - 1)]
                        guesses[point.mode] = next_guess(row, following / point.size)
                        rows.append(row)
                        bar.advance()
                finally:
                    if c:
                        c.close()
            elapsed[transport] = time.perf_counter() - started
    finally:
        bar.close()
    return {"format": FORMAT, "meta": meta(c_exe, c_reason),
            "settings": {"transports": transports, "sizes": sizes, "modes": modes, "seconds": seconds,
                         "latency": latency, "repeats": repeats, "repeat_from": REPEAT_FROM,
                         "c_transports": list(transports if c_transports is None else c_transports)},
            "rows": rows, "elapsed_s": elapsed, "notes": notes}


def quick_sweep(progress: bool | None = None, c_baseline: bool = True) -> dict:
    """The notebook's sweep (:data:`QUICK`), in about 10 s."""
    return sweep(progress=progress, c_baseline=c_baseline, **QUICK)


#: The sizes of the notebook's Python-beside-C comparison: one per order of the per-message and per-byte costs.
COMPARE_SIZES = (1, 64, 4 << 10, 128 << 10, 2 << 20)


def compare_with_c(transport: str = "tcp", sizes=COMPARE_SIZES, zero_copy: bool = False, repeats: int = 3,
                   seconds: float = 0.05, c_exe=None) -> list[dict]:
    """Python's throughput beside C's at a few sizes: for each size, ``repeats`` runs of each,
    interleaved (a noisy neighbour hits both alike), and the best of each (a busy machine can only slow
    a run down). Rows: ``{"size", "py", "c", "py_runs", "c_runs", "ratio"}`` with ``ratio`` = Python's
    msg/s as a share of C's (1.0: as fast as C). Raises CBaselineUnavailable without a C compiler."""
    rows = []
    with Bench(transport) as py, CBench(transport, c_exe) as c:
        for bench in (py, c):                           # warm up: the first connection, caches, the allocator
            bench.throughput(sizes[0], zero_copy, count=2000)
        for size in sizes:
            runs: dict[str, list[float]] = {"py": [], "c": []}
            for _ in range(repeats):
                for name, bench in (("py", py), ("c", c)):
                    guess = max(runs[name]) if runs[name] else None
                    runs[name].append(bench.throughput(size, zero_copy, seconds=seconds, guess=guess)["msgs_per_s"])
            rows.append({"size": size, "py": max(runs["py"]), "c": max(runs["c"]), "py_runs": runs["py"],
                         "c_runs": runs["c"], "ratio": max(runs["py"]) / max(runs["c"])})
    return rows
