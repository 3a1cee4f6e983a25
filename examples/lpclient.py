#!/usr/bin/env python3
"""Lazy Pirate client: reliable request-reply done in the client alone.

Taught in notebooks/09_lazy_pirate.ipynb. Send a request, poll for the reply with a timeout; on
timeout close the REQ socket (linger 0: the stale request is dropped), open a new one, and send
the same request again; after ``--retries`` tries in all, abandon that request and go on. Each
request is ``b"<name>:<n>"`` and a reply must echo it, so a stray reply is never taken for an
answer. It works in front of any echo server, or a queue of echo workers (notebooks 10 and 11).

    python examples/lpclient.py --count 100 --interval 0.1
    python -m zguide_py run lazypirate.server --bind tcp://127.0.0.1:5555   # the workbook's server
"""
from __future__ import annotations

import argparse
import os
import time

import zmq


def connect(ctx: zmq.Context, endpoint: str) -> zmq.Socket:
    req = ctx.socket(zmq.REQ)
    req.linger = 0                               # closing drops the unanswered request at once
    req.connect(endpoint)
    return req


def main() -> int:
    parser = argparse.ArgumentParser(description="Lazy Pirate REQ client")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555")
    parser.add_argument("--name", default=f"client-{os.getpid()}")
    parser.add_argument("--count", type=int, default=10, help="requests to send")
    parser.add_argument("--timeout", type=float, default=2.5, help="seconds to wait for a reply")
    parser.add_argument("--retries", type=int, default=3, help="tries per request before giving up")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between requests (s)")
    args = parser.parse_args()

    answered = abandoned = 0
    with zmq.Context() as ctx:
        req = connect(ctx, args.connect)
        try:
            for n in range(args.count):
                request = f"{args.name}:{n}".encode()
                for attempt in range(1, args.retries + 1):
                    req.send(request)
                    if req.poll(round(args.timeout * 1000)) and req.recv() == request:
                        answered += 1
                        print(f"lpclient: reply {n} OK")
                        break
                    # no (right) reply in time: this REQ is stuck, so throw it away and reconnect
                    req.close()
                    req = connect(ctx, args.connect)
                    if attempt < args.retries:
                        print(f"lpclient: no reply to {n}, retrying ({attempt}/{args.retries})")
                    else:
                        abandoned += 1
                        print(f"lpclient: server seems offline, abandoning request {n}")
                time.sleep(args.interval)        # pacing, so that you can kill the server meanwhile
        finally:
            req.close()
    print(f"lpclient: replies={answered} abandoned={abandoned}")
    return 0 if abandoned == 0 else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
