#!/usr/bin/env python3
"""Weather update server: a PUB socket that publishes readings to whoever subscribes (pub-sub).

Taught in notebooks/02_publish_subscribe.ipynb. Each update has the workbook's three frames,
``[topic, sequence, source]``; the topic frame is the guide's one-line weather report,
``b"<zipcode> <temperature> <humidity>"``, so a subscriber filters on a zip code by prefix. PUB
never waits: updates sent before a subscriber's subscription arrives are lost (the slow joiner).

    python examples/wuserver.py
    python examples/wuclient.py --zipcode 10001
    python -m zguide_py run pubsub.subscriber --connect tcp://127.0.0.1:5556 "topics=['10001 ']"
"""
from __future__ import annotations

import argparse
import random
import time

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="PUB weather updates")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5556")
    parser.add_argument("--rate", type=float, default=1000.0, help="updates per second")
    parser.add_argument("--zipcodes", type=int, default=100, help="zip codes 10000.. to report on")
    parser.add_argument("--count", type=int, default=None, help="stop after this many updates")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    sent = 0
    with zmq.Context() as ctx, ctx.socket(zmq.PUB) as pub:
        pub.linger = 0                           # on the way out, drop what is still queued
        pub.bind(args.bind)
        print(f"wuserver: ready on {args.bind}")
        next_at = time.monotonic()
        while (args.count is None or sent < args.count) and time.monotonic() < deadline:
            zipcode = 10000 + random.randrange(args.zipcodes)
            report = f"{zipcode} {random.randrange(-30, 45)} {random.randrange(10, 100)}"
            pub.send_multipart([report.encode(), b"%d" % sent, b"wuserver"])   # never blocks
            sent += 1
            next_at += 1 / args.rate             # pace the updates (this is not synchronisation)
            time.sleep(max(0.0, min(next_at, deadline) - time.monotonic()))
    print(f"wuserver: sent={sent}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
