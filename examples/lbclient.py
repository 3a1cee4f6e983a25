#!/usr/bin/env python3
"""Load-balancing client: a REQ that sends requests through the broker, one at a time.

Taught in notebooks/05_load_balancing.ipynb. Each request is ``b"<name>:<n>"``; the reply is
``b"<request> by <worker>"``, so the client sees which worker served it.

    python examples/lbclient.py --count 10
"""
from __future__ import annotations

import argparse
import os
from collections import Counter

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="REQ client of a load-balancing broker")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5672", help="the broker's frontend")
    parser.add_argument("--name", default=f"client-{os.getpid()}")
    parser.add_argument("--count", type=int, default=10, help="requests to send")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each reply")
    args = parser.parse_args()

    served_by: Counter[str] = Counter()
    with zmq.Context() as ctx, ctx.socket(zmq.REQ) as req:
        req.linger = 0
        req.connect(args.connect)
        for n in range(args.count):
            request = f"{args.name}:{n}".encode()
            req.send(request)
            if not req.poll(round(args.timeout * 1000)):
                print(f"lbclient: no reply to {request!r} after {args.timeout} s, giving up")
                break                            # this REQ cannot send again: leave
            reply = req.recv()
            if not reply.startswith(request + b" by "):
                raise RuntimeError(f"reply {reply!r} does not answer {request!r}")
            served_by[reply[len(request) + 4:].decode(errors="replace")] += 1
    replies = sum(served_by.values())
    print(f"lbclient: replies={replies} of {args.count}, served by {dict(served_by)}")
    return 0 if replies == args.count else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
