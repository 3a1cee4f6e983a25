#!/usr/bin/env python3
"""Load-balancing worker: a REQ that says READY, then answers one request at a time.

Taught in notebooks/05_load_balancing.ipynb. REQ adds the empty delimiter, so the broker sees
``[worker, b"", b"READY"]``; each task arrives as ``[client, b"", request]`` and goes back as
``[client, b"", request + b" by <name>"]``, which also tells the broker this worker is free again.

    python examples/lbworker.py --name w1 --work 0.01
    python -m zguide_py run loadbalance.lru_broker --bind frontend=tcp://127.0.0.1:5672 --bind backend=tcp://127.0.0.1:5673
"""
from __future__ import annotations

import argparse
import os
import time

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="REQ worker behind a load-balancing broker")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5673", help="the broker's backend")
    parser.add_argument("--name", default=f"worker-{os.getpid()}")
    parser.add_argument("--work", type=float, default=0.0, help="seconds of work per task")
    parser.add_argument("--count", type=int, default=None, help="stop after this many tasks")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    done = 0
    with zmq.Context() as ctx, ctx.socket(zmq.REQ) as req:
        req.linger = 0
        req.routing_id = args.name.encode()      # the broker's queue names workers by this
        req.connect(args.connect)
        req.send(b"READY")
        print(f"lbworker: {args.name} ready")
        while (args.count is None or done < args.count) and time.monotonic() < deadline:
            if not req.poll(ms_left(deadline)):
                continue
            *envelope, request = req.recv_multipart()      # [client, b"", request]
            time.sleep(args.work)                          # the work
            req.send_multipart([*envelope, request + b" by " + args.name.encode()])
            done += 1
    print(f"lbworker: {args.name} done={done}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
