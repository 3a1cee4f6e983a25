#!/usr/bin/env python3
"""Fire-and-forget pusher: PUSH numbered messages and never hear back (PUSH/PULL basics).

Taught in notebooks/00_basics.ipynb. Sends ``--count`` messages ``b"msg <n>"`` (padded to
``--size`` bytes) and exits. ``send()`` only queues a message, so the socket keeps a linger of
``--linger`` seconds: after close() the context goes on delivering what is queued for that long.

    python examples/puller.py
    python examples/pusher.py --count 1000
    python -m zguide_py run basics.puller --bind tcp://127.0.0.1:5560   # the workbook's puller
"""
from __future__ import annotations

import argparse
import time

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="PUSH --count messages, fire-and-forget")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5560", help="the puller's endpoint")
    parser.add_argument("--count", type=int, default=10, help="messages to send")
    parser.add_argument("--size", type=int, default=0, help="pad each message to this many bytes")
    parser.add_argument("--linger", type=float, default=2.0, help="seconds to go on delivering after close")
    parser.add_argument("--seconds", type=float, default=None, help="give up sending after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    sent = 0
    with zmq.Context() as ctx, ctx.socket(zmq.PUSH) as push:
        push.linger = int(args.linger * 1000)    # close() returns at once; delivery goes on this long
        push.connect(args.connect)               # connecting first is fine: messages queue meanwhile
        while sent < args.count and time.monotonic() < deadline:
            # send() blocks when the queue is full (no puller, high-water mark): wait in short slices
            if push.poll(100, zmq.POLLOUT):
                push.send(f"msg {sent}".encode().ljust(args.size, b"."))
                sent += 1
    print(f"pusher: sent={sent}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
