#!/usr/bin/env python3
"""Fire-and-forget puller: PULL whatever arrives and count it (PUSH/PULL basics).

Taught in notebooks/00_basics.ipynb. Binds, prints the first few messages, and exits after
``--count`` messages or ``--seconds`` (or on Ctrl-C) with the number received.

    python examples/puller.py --count 1000
    python -m zguide_py run basics.pusher --connect tcp://127.0.0.1:5560 count=1000   # the workbook's pusher
"""
from __future__ import annotations

import argparse
import time

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="PULL and count messages")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5560")
    parser.add_argument("--count", type=int, default=None, help="stop after this many messages")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    received = 0
    with zmq.Context() as ctx, ctx.socket(zmq.PULL) as pull:
        pull.bind(args.bind)
        print(f"puller: ready on {args.bind}")
        try:
            while (args.count is None or received < args.count) and time.monotonic() < deadline:
                if pull.poll(ms_left(deadline)):
                    message = pull.recv()
                    received += 1
                    if received <= 3:
                        print(f"puller: got {message[:32]!r}")
        finally:                                 # also after Ctrl-C: say what arrived
            print(f"puller: received={received}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
