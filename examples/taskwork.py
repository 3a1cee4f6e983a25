#!/usr/bin/env python3
"""Task worker: PULL a task, do it, PUSH the result to the sink (pipeline).

Taught in notebooks/03_pipeline.ipynb. A task is ``[batch, task id, seconds of work (8-byte
float)]``; the "work" is a sleep of that long. The result is ``[batch, task id, worker name]``.
Run as many workers as you like: the ventilator deals tasks to them round-robin.

    python examples/taskwork.py --name w1
    python -m zguide_py run pipeline.ventilator --bind tcp://127.0.0.1:5557 --connect sink=tcp://127.0.0.1:5558
"""
from __future__ import annotations

import argparse
import os
import struct
import time

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="PULL tasks, PUSH results")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5557", help="the ventilator's endpoint")
    parser.add_argument("--sink", default="tcp://127.0.0.1:5558", help="the sink's endpoint")
    parser.add_argument("--name", default=f"worker-{os.getpid()}")
    parser.add_argument("--count", type=int, default=None, help="stop after this many tasks")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    done = 0
    with zmq.Context() as ctx, ctx.socket(zmq.PULL) as tasks, ctx.socket(zmq.PUSH) as results:
        tasks.linger = 0                         # tasks still queued here die with us (as in a crash)
        results.linger = 1000                    # results already done: try to deliver them
        tasks.connect(args.connect)
        results.connect(args.sink)
        print(f"taskwork: {args.name} ready")
        while (args.count is None or done < args.count) and time.monotonic() < deadline:
            if not tasks.poll(ms_left(deadline)):
                continue
            batch, task_id, work = tasks.recv_multipart()
            time.sleep(struct.unpack("!d", work)[0])          # the work itself
            results.send_multipart([batch, task_id, args.name.encode()])
            done += 1
    print(f"taskwork: {args.name} done={done}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
