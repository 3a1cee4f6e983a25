#!/usr/bin/env python3
"""Task sink: PULL the results of one batch and time it (pipeline).

Taught in notebooks/03_pipeline.ipynb. It waits for the ventilator's ``[b"start", batch, tasks]``,
then for that many results ``[batch, task id, worker]``, and prints the time taken and how the
tasks spread over the workers. PULL fair-queues the results of every worker.

    python examples/tasksink.py
    python -m zguide_py run pipeline.worker --connect endpoint=tcp://127.0.0.1:5557 --connect sink=tcp://127.0.0.1:5558
"""
from __future__ import annotations

import argparse
import time
from collections import Counter

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="PULL the results of one batch")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5558")
    parser.add_argument("--seconds", type=float, default=None, help="give up after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    expected: int | None = None
    results: set[bytes] = set()
    by_worker: Counter[str] = Counter()
    with zmq.Context() as ctx, ctx.socket(zmq.PULL) as pull:
        pull.linger = 0
        pull.bind(args.bind)
        print(f"tasksink: ready on {args.bind}")
        started = time.monotonic()
        while (expected is None or len(results) < expected) and time.monotonic() < deadline:
            if not pull.poll(ms_left(deadline)):
                continue
            first, *rest = pull.recv_multipart()
            if first == b"start":                # [b"start", batch, tasks]: the clock starts
                expected, started = int(rest[1]), time.monotonic()
            elif len(rest) == 2:                 # [batch, task id, worker]
                results.add(rest[0])
                by_worker[rest[1].decode(errors="replace")] += 1
    elapsed = time.monotonic() - started
    print(f"tasksink: results={len(results)} of {expected} in {elapsed:.3f} s; per worker {dict(by_worker)}")
    return 0 if expected is not None and len(results) == expected else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
