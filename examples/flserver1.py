#!/usr/bin/env python3
"""Freelance server, models 1 and 2: a plain REP echo server, one of several (reliability without a broker).

Taught in notebooks/15_freelance.ipynb. Run two or three, each on its own endpoint; the clients
know them all. It sends back every frame it got, so the shotgun client (flclient2.py) finds its
sequence number in the reply.

    python examples/flserver1.py --bind tcp://127.0.0.1:5555 &  python examples/flserver1.py --bind tcp://127.0.0.1:5556 &
    python examples/flclient1.py --servers tcp://127.0.0.1:5555 tcp://127.0.0.1:5556
"""
from __future__ import annotations

import argparse
import time

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="Freelance REP echo server (models 1 and 2)")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5555")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    requests = 0
    with zmq.Context() as ctx, ctx.socket(zmq.REP) as rep:
        rep.linger = 0
        rep.bind(args.bind)
        print(f"flserver1: ready on {args.bind}")
        while time.monotonic() < deadline:
            if rep.poll(ms_left(deadline)):
                rep.send_multipart(rep.recv_multipart())
                requests += 1
    print(f"flserver1: requests={requests}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
