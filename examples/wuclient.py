#!/usr/bin/env python3
"""Weather update client: a SUB socket that follows one zip code (pub-sub).

Taught in notebooks/02_publish_subscribe.ipynb. It subscribes to the prefix ``b"<zipcode> "``
(the publisher filters, so other zip codes never cross the wire), collects ``--count`` updates
``[b"<zipcode> <temperature> <humidity>", sequence, source]`` and prints the mean temperature.

    python examples/wuclient.py --zipcode 10001 --count 20
    python -m zguide_py run pubsub.publisher --bind tcp://127.0.0.1:5556 "topics=['10001 21 60']" interval=0.01
"""
from __future__ import annotations

import argparse
import time

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="SUB to one zip code's weather")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5556")
    parser.add_argument("--zipcode", default="10001")
    parser.add_argument("--count", type=int, default=10, help="updates to collect")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    temperatures: list[int] = []
    with zmq.Context() as ctx, ctx.socket(zmq.SUB) as sub:
        sub.linger = 0
        sub.subscribe(f"{args.zipcode} ".encode())   # a prefix of the first frame
        sub.connect(args.connect)
        while len(temperatures) < args.count and time.monotonic() < deadline:
            if not sub.poll(ms_left(deadline)):
                continue
            report, *_sequence_and_source = sub.recv_multipart()
            words = report.split()
            if len(words) == 3 and words[1].lstrip(b"-").isdigit():
                temperatures.append(int(words[1]))
            else:
                print(f"wuclient: not a weather report: {report!r}")
    mean = sum(temperatures) / len(temperatures) if temperatures else float("nan")
    print(f"wuclient: updates={len(temperatures)} mean temperature for {args.zipcode}: {mean:.1f}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
