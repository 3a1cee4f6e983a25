#!/usr/bin/env python3
"""Asynchronous client: a DEALER with several requests in flight (router-dealer).

Taught in notebooks/04_router_dealer.ipynb. DEALER has no lockstep: it keeps up to ``--window``
requests ``b"<name>:<n>"`` out and matches each reply ``[request, worker]`` as it comes. Its
identity is its name, so the server's ROUTER can route replies back to it. A request with no
reply after ``--timeout`` seconds counts as lost.

    python examples/asynccli.py --count 20
    python -m zguide_py run routerdealer.server_task --bind frontend=tcp://127.0.0.1:5570 --bind backend=tcp://127.0.0.1:5571
"""
from __future__ import annotations

import argparse
import os
import time
from collections import Counter

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="DEALER client with a window of requests")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5570")
    parser.add_argument("--name", default=f"client-{os.getpid()}")
    parser.add_argument("--count", type=int, default=10, help="requests to send")
    parser.add_argument("--window", type=int, default=4, help="requests in flight at most")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before a request is lost")
    args = parser.parse_args()

    pending: dict[bytes, float] = {}             # request -> when it was sent
    served_by: Counter[str] = Counter()
    sent = lost = 0
    with zmq.Context() as ctx, ctx.socket(zmq.DEALER) as dealer:
        dealer.linger = 0
        dealer.routing_id = args.name.encode()   # the server routes replies by this
        dealer.connect(args.connect)
        while sent < args.count or pending:
            while sent < args.count and len(pending) < args.window:
                request = f"{args.name}:{sent}".encode()
                dealer.send(request)             # queued even before the connection is up
                pending[request] = time.monotonic()
                sent += 1
            oldest = min(pending.values())
            if dealer.poll(max(0, round((oldest + args.timeout - time.monotonic()) * 1000))):
                request, *worker = dealer.recv_multipart()   # [request, worker]
                if pending.pop(request, None) is not None:
                    served_by[b"".join(worker).decode(errors="replace")] += 1
            for request in [r for r, t in pending.items() if time.monotonic() - t >= args.timeout]:
                del pending[request]
                lost += 1
    print(f"asynccli: replies={sum(served_by.values())} lost={lost} served by {dict(served_by)}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
