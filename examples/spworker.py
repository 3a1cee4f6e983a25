#!/usr/bin/env python3
"""Simple Pirate worker: a REQ that says READY (0x01) once, then echoes requests.

Taught in notebooks/10_simple_pirate.ipynb. Each task arrives as ``[client, b"", request]`` and
goes back unchanged. Kill a worker while lpclient.py runs: the request it held is lost and the
client's retry goes to another worker.

    python examples/spworker.py
    python -m zguide_py run simplepirate.queue --bind frontend=tcp://127.0.0.1:5555 --bind backend=tcp://127.0.0.1:5556
"""
from __future__ import annotations

import argparse
import os
import time

import zmq

READY = b"\x01"


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="Simple Pirate worker")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5556", help="the queue's backend")
    parser.add_argument("--name", default=f"worker-{os.getpid()}")
    parser.add_argument("--work", type=float, default=0.0, help="seconds of work per request")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    served = 0
    with zmq.Context() as ctx, ctx.socket(zmq.REQ) as req:
        req.linger = 0
        req.routing_id = f"{args.name}/{os.urandom(4).hex()}".encode()   # new for every start
        req.connect(args.connect)
        req.send(READY)
        print(f"spworker: {args.name} ready")
        while time.monotonic() < deadline:
            if req.poll(ms_left(deadline)):
                task = req.recv_multipart()      # [client, b"", request]
                time.sleep(args.work)
                req.send_multipart(task)
                served += 1
    print(f"spworker: {args.name} served={served}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
