#!/usr/bin/env python3
"""Lazy Pirate server: a plain REP echo server, to be killed and restarted (reliable request-reply).

Taught in notebooks/09_lazy_pirate.ipynb. Nothing in the server knows about reliability: the Lazy
Pirate client copes with it dying. Kill it (Ctrl-C, or ``kill -9``) while lpclient.py runs and
start it again: the client retries and carries on. ``--delay`` makes it slow enough to time out.

    python examples/lpserver.py
    python examples/lpclient.py --count 100 --interval 0.1
    python -m zguide_py run lazypirate.client --connect tcp://127.0.0.1:5555 requests=20 timeout=2.5
"""
from __future__ import annotations

import argparse
import time

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="REP echo server for Lazy Pirate clients")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5555")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to think about each request")
    parser.add_argument("--count", type=int, default=None, help="stop after this many replies")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    replies = 0
    with zmq.Context() as ctx, ctx.socket(zmq.REP) as rep:
        rep.linger = 0
        rep.bind(args.bind)
        print(f"lpserver: ready on {args.bind}")
        while (args.count is None or replies < args.count) and time.monotonic() < deadline:
            if rep.poll(ms_left(deadline)):
                request = rep.recv_multipart()
                time.sleep(args.delay)           # a slow (or overloaded) server
                rep.send_multipart(request)
                replies += 1
    print(f"lpserver: replies={replies}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
