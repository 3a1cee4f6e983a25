#!/usr/bin/env python3
"""Suicidal snail: a subscriber that stops itself as soon as it falls behind (slow subscriber).

Taught in notebooks/08_slow_subscriber.ipynb. It reads the publisher's numbered, time-stamped
messages (see suisnailpub.py) and dies at the first sign that it cannot keep up: a gap in the
sequence numbers (messages dropped at a high-water mark) or a message older than ``--max-age``
seconds. Dying loudly (exit status 3) beats serving stale or incomplete data quietly. ``--delay``
makes it slow on purpose. It exits 0 when the publisher's end marker shows it missed nothing.

    python examples/suisnail.py --delay 0.01 --max-age 1.0
    python -m zguide_py run slowsub.publisher --bind tcp://127.0.0.1:5561 rate=2000 count=20000
"""
from __future__ import annotations

import argparse
import struct
import time

import zmq

DATA = struct.Struct("!c4sQd")                   # kind, epoch, sequence, publish time
END = struct.Struct("!c4sQ")                     # kind, epoch, messages published


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="a subscriber that dies when it falls behind")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5561")
    parser.add_argument("--max-age", type=float, default=1.0, help="die at a message older than this (s)")
    parser.add_argument("--max-gap", type=int, default=0, help="die when more messages than this are missing")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds of (fake) work per message")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    epoch, expected, received, why = None, None, 0, ""
    with zmq.Context() as ctx, ctx.socket(zmq.SUB) as sub:
        sub.linger = 0
        sub.subscribe(b"")
        sub.connect(args.connect)
        while not why and time.monotonic() < deadline:
            if not sub.poll(ms_left(deadline)):
                continue
            frame = sub.recv()
            if frame[:1] == b"E":                # the end: did we miss any after the last one?
                _, end_epoch, total = END.unpack_from(frame)
                if end_epoch == epoch and expected is not None and total - expected > args.max_gap:
                    why = f"gap: {total - expected} missing at the end"
                break
            _, msg_epoch, seq, stamp = DATA.unpack_from(frame)
            if msg_epoch != epoch:               # first message, or the publisher restarted
                epoch, expected = msg_epoch, seq
            age, gap = time.time() - stamp, seq - expected
            if gap > args.max_gap:
                why = f"gap: {gap} missing before {seq}"
            elif age > args.max_age:
                why = f"too old: message {seq} is {age:.3f} s old"
            received, expected = received + 1, seq + 1
            time.sleep(args.delay)               # a slow consumer
    if why:
        print(f"suisnail: received={received}, falling behind, dying ({why})")
        return 3
    print(f"suisnail: received={received}, kept up")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
