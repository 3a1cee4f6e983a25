#!/usr/bin/env python3
"""Titanic client: hand requests to Titanic, collect the replies later by ticket (9/TSP).

Taught in notebooks/13_titanic.ipynb. For each request: ``titanic.request`` [service, body] until
Titanic answers ``[b"200", ticket]`` (it is on disk now), then ``titanic.reply`` [ticket] every
``--poll`` s while it says 300 (pending), then ``titanic.close`` [ticket]. Every call is a
Majordomo request (7/MDP) on a fresh REQ socket, retried after ``--timeout`` s, so the broker,
Titanic and the workers may all restart meanwhile: a request with a ticket will be answered.

    python examples/ticlient.py --service echo --count 5
    python -m zguide_py run titanic.client --connect tcp://127.0.0.1:5555 requests=5   # the workbook's client
"""
from __future__ import annotations

import argparse
import time

import zmq

MDPC = b"MDPC01"


def call(ctx: zmq.Context, broker: str, service: bytes, body: list[bytes], timeout: float,
         deadline: float) -> list[bytes]:
    """One Titanic call through the broker, tried again until it is answered or ``deadline`` passes."""
    while time.monotonic() < deadline:
        with ctx.socket(zmq.REQ) as req:         # a new socket for each try: no stale reply
            req.linger = 0
            req.connect(broker)
            req.send_multipart([MDPC, service, *body])
            if req.poll(round(timeout * 1000)):
                return req.recv_multipart()[2:]  # [MDPC, service, status, ...]
    raise TimeoutError(f"{service.decode()}: no answer")


def main() -> int:
    parser = argparse.ArgumentParser(description="Titanic client (9/TSP)")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555", help="the Majordomo broker")
    parser.add_argument("--service", default="echo")
    parser.add_argument("--count", type=int, default=5, help="requests to send")
    parser.add_argument("--timeout", type=float, default=2.5, help="seconds to wait for each call")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between two titanic.reply calls")
    parser.add_argument("--seconds", type=float, default=60.0, help="give up after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds

    replies = 0
    with zmq.Context() as ctx:
        def titanic(service: str, *body: bytes) -> list[bytes]:
            return call(ctx, args.connect, service.encode(), list(body), args.timeout, deadline)

        try:
            for n in range(args.count):
                body = f"{args.service} {n}".encode()
                status, *ticket = titanic("titanic.request", args.service.encode(), body)
                if status != b"200":
                    raise RuntimeError(f"titanic.request refused {body!r}: {status!r}")
                while (answer := titanic("titanic.reply", ticket[0]))[0] == b"300":   # pending
                    time.sleep(args.poll)
                if answer[0] != b"200":
                    raise RuntimeError(f"ticket {ticket[0]!r}: {answer!r}")
                print(f"ticlient: reply {n}: {answer[1:]!r}")
                replies += 1
                titanic("titanic.close", ticket[0])
        except TimeoutError as exc:          # --seconds ran out
            print(f"ticlient: gave up: {exc}")
    print(f"ticlient: replies={replies} of {args.count}")
    return 0 if replies == args.count else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
