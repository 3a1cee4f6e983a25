#!/usr/bin/env python3
"""Freelance client, model 2: the shotgun, every request to every server at once (reliability without a broker).

Taught in notebooks/15_freelance.ipynb. One DEALER connected to all the REP servers. A DEALER
deals outgoing messages round-robin, so sending ``[b"", control, body]`` once per server gives
each server one copy (``b""`` is the delimiter a REP expects). The first reply with the right
control frame (the request's sequence number) wins; older ones are late duplicates, dropped.

    python examples/flclient2.py --servers tcp://127.0.0.1:5555 tcp://127.0.0.1:5556 --count 10
    python -m zguide_py run freelance.server_rep --bind tcp://127.0.0.1:5555   # the workbook's server
"""
from __future__ import annotations

import argparse
import time

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="Freelance client, model 2 (shotgun)")
    parser.add_argument("--servers", nargs="+", default=["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"])
    parser.add_argument("--count", type=int, default=10, help="requests to send")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for a first reply")
    parser.add_argument("--retries", type=int, default=3, help="shots per request")
    args = parser.parse_args()

    sequence, replies, failed = 0, 0, 0
    with zmq.Context() as ctx, ctx.socket(zmq.DEALER) as dealer:
        dealer.linger = 0
        for endpoint in args.servers:
            dealer.connect(endpoint)
        for n in range(args.count):
            body, answered = f"request {n}".encode(), False
            for _ in range(args.retries):
                sequence += 1
                control = b"%d" % sequence
                for _server in args.servers:     # one copy for each server
                    dealer.send_multipart([b"", control, body])
                give_up_at = time.monotonic() + args.timeout
                while not answered and dealer.poll(max(0, round((give_up_at - time.monotonic()) * 1000))):
                    frames = dealer.recv_multipart()   # [b"", control, body]
                    answered = frames[1:] == [control, body]   # else: a late duplicate
                if answered:
                    break
            replies, failed = replies + answered, failed + (not answered)
    print(f"flclient2: replies={replies} failed={failed}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
