#!/usr/bin/env python3
"""Hello World server: a REP socket that echoes each request (request-reply).

Taught in notebooks/01_request_reply.ipynb. REP works in lockstep: recv, send, recv, send...
It sends back the very frames it got, as the workbook's echo server does, so any client can check
its reply.

    python examples/hwserver.py
    python examples/hwclient.py --count 10
    python -m zguide_py run reqrep.client --connect tcp://127.0.0.1:5555 requests=10   # the workbook's client
"""
from __future__ import annotations

import argparse
import time

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="REP echo server")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5555")
    parser.add_argument("--count", type=int, default=None, help="stop after this many replies")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    replies = 0
    with zmq.Context() as ctx, ctx.socket(zmq.REP) as rep:
        rep.linger = 0                           # on the way out, drop a reply nobody waits for
        rep.bind(args.bind)
        print(f"hwserver: ready on {args.bind}")
        while (args.count is None or replies < args.count) and time.monotonic() < deadline:
            if rep.poll(ms_left(deadline)):      # wait for a request, but not past the deadline
                request = rep.recv_multipart()
                rep.send_multipart(request)      # REP must answer before it can receive again
                replies += 1
    print(f"hwserver: replies={replies}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
