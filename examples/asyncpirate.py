#!/usr/bin/env python3
"""Lazy Pirate client with zmq.asyncio: the same protocol as lpclient.py, with ``await``.

Taught in notebooks/24_asyncio.ipynb. Send a request, ``await req.poll(timeout)`` for the reply; on
a timeout close the REQ socket (linger 0: the stale request is dropped), open a new one and send
the same request again; after ``--retries`` tries in all, abandon that request and go on. Each
request is ``b"<name>:<n>"`` and a reply must echo it, so a stray reply is never taken for an
answer.

``--clients N`` runs N such clients as tasks on one event loop, in one thread, each with its own
REQ socket: while one waits for its reply, the others go on. No poller, no thread per client.
It works in front of any echo server: lpserver.py, or the workbook's.

    python examples/asyncpirate.py --count 100 --clients 3 --interval 0.1
    python -m zguide_py run lazypirate.server --bind tcp://127.0.0.1:5555   # the workbook's server
"""
from __future__ import annotations

import argparse
import asyncio
import os

import zmq
import zmq.asyncio


def connect(ctx: zmq.asyncio.Context, endpoint: str) -> zmq.asyncio.Socket:
    req = ctx.socket(zmq.REQ)
    req.linger = 0                               # closing drops the unanswered request at once
    req.connect(endpoint)
    return req


async def client(ctx: zmq.asyncio.Context, name: str, args: argparse.Namespace) -> tuple[int, int]:
    """One Lazy Pirate client: (requests answered, requests abandoned)."""
    answered = abandoned = 0
    req = connect(ctx, args.connect)
    try:
        for n in range(args.count):
            request = f"{name}:{n}".encode()
            for attempt in range(1, args.retries + 1):
                await req.send(request)
                # await, not block: the loop runs the other clients while this one waits
                if await req.poll(round(args.timeout * 1000)) and await req.recv() == request:
                    answered += 1
                    print(f"asyncpirate: {name} reply {n} OK")
                    break
                # no (right) reply in time: this REQ is stuck, so throw it away and reconnect
                req.close()
                req = connect(ctx, args.connect)
                if attempt < args.retries:
                    print(f"asyncpirate: {name} no reply to {n}, retrying ({attempt}/{args.retries})")
                else:
                    abandoned += 1
                    print(f"asyncpirate: {name} server seems offline, abandoning request {n}")
            await asyncio.sleep(args.interval)   # pacing, so that you can kill the server meanwhile
    finally:
        req.close()
    return answered, abandoned


async def main(args: argparse.Namespace) -> int:
    names = [args.name] if args.clients == 1 else [f"{args.name}-{i}" for i in range(1, args.clients + 1)]
    with zmq.asyncio.Context() as ctx:           # zmq.asyncio's context: its sockets can be awaited
        results = await asyncio.gather(*(client(ctx, name, args) for name in names))
    answered, abandoned = sum(r[0] for r in results), sum(r[1] for r in results)
    print(f"asyncpirate: replies={answered} abandoned={abandoned}")
    return 0 if abandoned == 0 else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Lazy Pirate REQ client(s) on zmq.asyncio")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555")
    parser.add_argument("--name", default=f"client-{os.getpid()}")
    parser.add_argument("--clients", type=int, default=1, help="clients, as tasks on one event loop")
    parser.add_argument("--count", type=int, default=10, help="requests each client sends")
    parser.add_argument("--timeout", type=float, default=2.5, help="seconds to wait for a reply")
    parser.add_argument("--retries", type=int, default=3, help="tries per request before giving up")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between requests (s)")
    args = parser.parse_args()
    if args.clients < 1 or args.count < 0 or args.timeout <= 0 or args.retries < 1:
        parser.error("--clients and --retries must be at least 1, --timeout above 0, --count not negative")
    return args


if __name__ == "__main__":
    try:
        raise SystemExit(asyncio.run(main(parse_args())))
    except KeyboardInterrupt:                    # Ctrl-C: asyncio.run cancelled the clients, which closed
        raise SystemExit(0) from None            # their sockets, and the with-block ended the context
