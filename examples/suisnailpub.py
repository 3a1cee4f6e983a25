#!/usr/bin/env python3
"""Slow-subscriber publisher: numbered, time-stamped messages at a steady rate (the suicidal snail's feed).

Taught in notebooks/08_slow_subscriber.ipynb. An XPUB socket (a PUB that also hears
subscriptions) waits for ``--subscribers`` subscriptions, so nothing is lost to a slow joiner, then
publishes ``--count`` messages at ``--rate`` per second. Each is one frame: ``b"D"``, an epoch (4
random bytes, new at each start), the sequence number (8 bytes), the publish time (8-byte float),
padding. At the end it repeats ``b"E" + epoch + count`` for a second, so a subscriber can count
the losses after its last message too. Frames as the workbook's slowsub roles.

    python examples/suisnailpub.py --rate 2000 --count 20000
    python examples/suisnail.py --delay 0.01
    python -m zguide_py run slowsub.snail --connect tcp://127.0.0.1:5561   # the workbook's snail
"""
from __future__ import annotations

import argparse
import os
import struct
import time

import zmq

DATA = struct.Struct("!c4sQd")                   # kind, epoch, sequence, publish time
END = struct.Struct("!c4sQ")                     # kind, epoch, messages published


def main() -> int:
    parser = argparse.ArgumentParser(description="publish numbered messages to slow subscribers")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5561")
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per second")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=64, help="bytes per message")
    parser.add_argument("--sndhwm", type=int, default=1000, help="queue per subscriber (0: no limit)")
    parser.add_argument("--subscribers", type=int, default=1, help="subscriptions to wait for first")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    epoch, padding = os.urandom(4), b"." * max(0, args.size - DATA.size)
    seq = 0
    with zmq.Context() as ctx, ctx.socket(zmq.XPUB) as pub:
        pub.linger = 0
        pub.sndhwm = args.sndhwm
        pub.bind(args.bind)
        print(f"suisnailpub: ready on {args.bind}")
        subscribed = 0
        while subscribed < args.subscribers and time.monotonic() < deadline:
            if pub.poll(100):                    # b"\x01" + topic is a subscription
                subscribed += pub.recv()[:1] == b"\x01"
        started = time.monotonic()
        while seq < args.count and time.monotonic() < deadline:
            due = min(args.count, int((time.monotonic() - started) * args.rate) + 1)
            while seq < due:                     # send what is due now: PUB drops at the HWM
                pub.send(DATA.pack(b"D", epoch, seq, time.time()) + padding)
                seq += 1
            time.sleep(max(0.0, started + seq / args.rate - time.monotonic()))   # pace
        end_until = min(deadline, time.monotonic() + 1.0)
        while time.monotonic() < end_until:      # the end marker, again and again: it may be dropped
            pub.send(END.pack(b"E", epoch, seq))
            time.sleep(0.05)
    print(f"suisnailpub: published={seq}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
