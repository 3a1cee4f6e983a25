#!/usr/bin/env python3
"""Freelance client, model 1: sequential failover over several REP servers (reliability without a broker).

Taught in notebooks/15_freelance.ipynb. One REQ socket to one server at a time. With no reply
after ``--timeout`` s the client closes it and sends the same request to the next server; a
request fails after ``--rounds`` times round all of them. It stays with a server while it answers.

    python examples/flclient1.py --servers tcp://127.0.0.1:5555 tcp://127.0.0.1:5556 --count 10
    python -m zguide_py run freelance.server_rep --bind tcp://127.0.0.1:5555   # the workbook's server
"""
from __future__ import annotations

import argparse
import time

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="Freelance client, model 1 (sequential failover)")
    parser.add_argument("--servers", nargs="+", default=["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"])
    parser.add_argument("--count", type=int, default=10, help="requests to send")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds before the next server")
    parser.add_argument("--rounds", type=int, default=2, help="times round all servers before failing")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between requests (s)")
    args = parser.parse_args()

    server, replies, failed = 0, 0, 0
    with zmq.Context() as ctx:
        req: zmq.Socket | None = None
        try:
            for n in range(args.count):
                request, answered = f"request {n}".encode(), False
                for _ in range(args.rounds * len(args.servers)):
                    if req is None:
                        req = ctx.socket(zmq.REQ)
                        req.linger = 0
                        req.connect(args.servers[server])
                    req.send(request)
                    if req.poll(round(args.timeout * 1000)):
                        answered = req.recv() == request
                        break
                    req.close()                  # a REQ with no reply cannot send again
                    req, server = None, (server + 1) % len(args.servers)
                    print(f"flclient1: no reply, trying {args.servers[server]}")
                replies, failed = replies + answered, failed + (not answered)
                time.sleep(args.interval)        # pacing, so that you can kill a server meanwhile
        finally:
            if req is not None:
                req.close()
    print(f"flclient1: replies={replies} failed={failed}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
