"""Performance: throughput and latency from 1 B to 8 MB, measured the way libzmq's perf tools do.

The rooms of this package:

* :mod:`~zguide_py.perf.loops` - the four measuring loops (``recv_stream``, ``send_stream``, ``echo``,
  ``ping``): what notebook 16 teaches;
* :mod:`~zguide_py.perf.bench` - one bench that measures a point (a size, copying or zero-copy) on one
  transport, sizing its message count to the time asked for; :class:`Bench` does it in Python;
* :mod:`~zguide_py.perf.farside` - the other side of a Python measurement: a thread (inproc) or a child
  process (ipc, tcp: ``python -m zguide_py.perf peer``), because threads share one GIL;
* :mod:`~zguide_py.perf.cbaseline` - the native C baseline (``tools/perf_c/zperf.c``, built with the
  system ``cc``) and :class:`CBench`, the same bench in C;
* :mod:`~zguide_py.perf.sweeps` - sweeps: plan the points, measure one, build its row, retry a stuck one;
* :mod:`~zguide_py.perf.report` and :mod:`~zguide_py.perf.figures` - the table, the JSON file, the figures;
* :mod:`~zguide_py.perf.batching` and :mod:`~zguide_py.perf.overhead` - packing records into frames,
  threads against processes, and what the lab's roles cost on the message path;
* :mod:`~zguide_py.perf.remote` - the talk's "Remote" tables: both sides on two hosts of a Net (network
  namespaces), over a link shaped to 100 Mbit/s (notebook 20);
* :mod:`~zguide_py.perf.cli` - ``python -m zguide_py perf ...``.

Every size is measured with copying sends (``copy=True``) and zero-copy sends (``copy=False`` on both
sides). Message counts are chosen per size: short trial runs size the real one to last about ``seconds``.

    python -m zguide_py perf --transport tcp --sizes 1,64,4k,512k,8M --json perf.json

The project's own targets (``make bench``) live outside the library, in ``tools/bench.py``.
"""
from __future__ import annotations

from .batching import batched_records, threads_vs_processes
from .bench import MAX_LAT, MAX_THR, MIN_LAT, MIN_THR, Bench, PointBench, latency, throughput
from .cbaseline import C_BUILD_DIR, C_SOURCE, CBaselineUnavailable, CBench, build_c_baseline, c_baseline_status
from .common import (MAX_SIZE, MODES, SEED_LOCALHOST_LATENCY_US, SEED_LOCALHOST_MBIT, SEED_LOCALHOST_MSGS,
                     SEED_REMOTE_LATENCY_US, SEED_REMOTE_MBIT, SEED_REMOTE_MSGS, SIZES, TIMEOUT_MS, TRANSPORTS,
                     hwm_for, human_size, parse_size)
from .farside import RemotePeer, ThreadPeer
from .loops import echo, ping, recv_stream, send_stream
from .overhead import bare_pushpull, bench_receiver, bench_sender, lab_pushpull, measure_overhead, overhead_table
from .progress import Progress
from .remote import HostBench, link_shares, rate_bps, remote_sweep, remote_table, two_hosts
from .report import load_json, ratio, save_json, sweep_table
from .sweeps import (COMPARE_SIZES, QUICK, REPEAT_FROM, Point, Retrying, build_row, compare_with_c, measure, plan,
                     quick_sweep, sweep)

_FIGURES = ("talk_figure", "transports_figure", "ratio_figure", "batching_figure", "remote_figure")

__all__ = ["recv_stream", "send_stream", "echo", "ping", "PointBench", "Bench", "CBench", "throughput", "latency",
           "MIN_THR", "MAX_THR", "MIN_LAT", "MAX_LAT", "ThreadPeer", "RemotePeer", "C_SOURCE", "C_BUILD_DIR",
           "CBaselineUnavailable", "build_c_baseline", "c_baseline_status", "SIZES", "TRANSPORTS", "MODES",
           "MAX_SIZE", "TIMEOUT_MS", "SEED_LOCALHOST_MSGS", "SEED_LOCALHOST_MBIT", "SEED_LOCALHOST_LATENCY_US",
           "SEED_REMOTE_MSGS", "SEED_REMOTE_MBIT", "SEED_REMOTE_LATENCY_US", "human_size", "parse_size", "hwm_for",
           "Point", "plan", "measure", "build_row", "Retrying", "sweep", "quick_sweep", "QUICK", "REPEAT_FROM",
           "compare_with_c", "COMPARE_SIZES",
           "Progress", "sweep_table", "ratio", "save_json", "load_json", "batched_records", "threads_vs_processes",
           "bare_pushpull", "bench_sender", "bench_receiver", "lab_pushpull", "measure_overhead", "overhead_table",
           "HostBench", "two_hosts", "remote_sweep", "remote_table", "link_shares", "rate_bps", *_FIGURES]


def __getattr__(name: str):
    """The figures load matplotlib: they are imported on first use, never on the command line's path."""
    if name in _FIGURES:
        from . import figures
        return getattr(figures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
