#!/usr/bin/env python3
"""Task ventilator: PUSH tasks round-robin to the workers (pipeline, divide and conquer).

Taught in notebooks/03_pipeline.ipynb. It first tells the sink ``[b"start", batch, tasks]``, then
PUSHes ``--tasks`` tasks ``[batch, task id, seconds of work (8-byte float)]``. A PUSH with no
worker connected waits, so start the workers first: the first worker to connect would otherwise get
the first tasks in a burst. Frames as the workbook's ventilator, worker and sink.

    python examples/tasksink.py &  python examples/taskwork.py &  python examples/taskwork.py &
    python examples/taskvent.py --tasks 100
"""
from __future__ import annotations

import argparse
import random
import struct
import time

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="PUSH a batch of tasks to the workers")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5557", help="where the workers connect")
    parser.add_argument("--sink", default="tcp://127.0.0.1:5558", help="the sink's endpoint")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--work", type=float, default=0.01, help="mean seconds of work per task")
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=30.0, help="give up sending after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds

    sent = 0
    with zmq.Context() as ctx, ctx.socket(zmq.PUSH) as workers, ctx.socket(zmq.PUSH) as sink:
        for sock in (workers, sink):
            sock.linger = 5000                   # after close(), go on delivering queued tasks for 5 s
        workers.bind(args.bind)
        sink.connect(args.sink)
        print(f"taskvent: ready on {args.bind}")
        sink.send_multipart([b"start", b"%d" % args.batch, b"%d" % args.tasks])
        while sent < args.tasks and time.monotonic() < deadline:
            # PUSH waits while no worker is connected: wait for room in short slices
            if workers.poll(100, zmq.POLLOUT):
                work = random.uniform(0.5, 1.5) * args.work
                workers.send_multipart([b"%d" % args.batch, b"%d" % sent, struct.pack("!d", work)])
                sent += 1
    print(f"taskvent: sent={sent}")
    return 0 if sent == args.tasks else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
