#!/usr/bin/env python3
"""Majordomo client: asks a service by name through the broker, Lazy-Pirate style (7/MDP v0.1).

Taught in notebooks/12_majordomo.ipynb. Each request is ``[b"MDPC01", service, body]`` on a REQ
socket (REQ adds the empty delimiter); the reply is ``[b"MDPC01", service, body...]``. A request
unanswered after ``--timeout`` s is sent again on a new socket, ``--retries`` tries in all. With
``--expect echo`` (the default) every reply must echo its request, ``upper`` upper-case it.

    python examples/mdclient.py --service echo --count 10
    python -m zguide_py run majordomo.worker --connect tcp://127.0.0.1:5555 service=echo heartbeat=2.5
"""
from __future__ import annotations

import argparse
import time

import zmq

MDPC = b"MDPC01"


def request(ctx: zmq.Context, broker: str, service: bytes, body: bytes, timeout: float,
            retries: int) -> list[bytes] | None:
    """One MDP request: the reply body, or None after ``retries`` unanswered tries."""
    for _ in range(retries):
        with ctx.socket(zmq.REQ) as req:         # a new socket for each try: no stale reply
            req.linger = 0
            req.connect(broker)
            req.send_multipart([MDPC, service, body])
            if req.poll(round(timeout * 1000)):
                header, reply_service, *reply = req.recv_multipart()
                if header != MDPC or reply_service != service:
                    raise RuntimeError(f"not an MDP reply for {service!r}: {[header, reply_service]}")
                return reply
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description="Majordomo client (7/MDP)")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555", help="the broker")
    parser.add_argument("--service", default="echo")
    parser.add_argument("--expect", choices=["echo", "upper", "any"], default="echo")
    parser.add_argument("--count", type=int, default=10, help="requests to send")
    parser.add_argument("--timeout", type=float, default=2.5, help="seconds to wait for a reply")
    parser.add_argument("--retries", type=int, default=3, help="tries per request")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between requests (s)")
    args = parser.parse_args()

    replies = failed = 0
    with zmq.Context() as ctx:
        for n in range(args.count):
            body = f"{args.service} {n}".encode()
            reply = request(ctx, args.connect, args.service.encode(), body, args.timeout, args.retries)
            expected = {"echo": [body], "upper": [body.upper()], "any": reply}[args.expect]
            if reply is None:
                failed += 1
                print(f"mdclient: no reply to {body!r} after {args.retries} tries")
            elif reply != expected:
                raise RuntimeError(f"{body!r} got {reply!r}")
            else:
                replies += 1
                print(f"mdclient: reply {n} OK")
            time.sleep(args.interval)            # pacing, so that you can kill a worker meanwhile
    print(f"mdclient: replies={replies} failed={failed}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
