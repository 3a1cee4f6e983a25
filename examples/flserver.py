#!/usr/bin/env python3
"""Freelance server, model 3: a ROUTER whose identity is its own endpoint (10/FLP).

Taught in notebooks/15_freelance.ipynb. Clients connect a ROUTER to every server and address each
one by its endpoint, so the server sets that string as its routing id (pass the very endpoint the
clients use). ``PING`` gets ``PONG``; a request ``[control, body...]`` gets the same frames back
(an echo; the client matches the control frame, its sequence number).

    python examples/flserver.py --bind tcp://127.0.0.1:5555 &  python examples/flserver.py --bind tcp://127.0.0.1:5556 &
    python examples/flclient.py --servers tcp://127.0.0.1:5555 tcp://127.0.0.1:5556 --count 10
"""
from __future__ import annotations

import argparse
import time

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="Freelance server (10/FLP)")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5555", help="also the server's identity")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    requests = pings = 0
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as router:
        router.linger = 0
        router.routing_id = args.bind.encode()   # clients address us by our endpoint
        router.bind(args.bind)
        print(f"flserver: ready on {args.bind}")
        while time.monotonic() < deadline:
            if not router.poll(ms_left(deadline)):
                continue
            client, *frames = router.recv_multipart()
            if frames == [b"PING"]:
                router.send_multipart([client, b"PONG"])
                pings += 1
            elif len(frames) >= 2:               # [control, body...]: echoed
                router.send_multipart([client, *frames])
                requests += 1
    print(f"flserver: requests={requests} pings={pings}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
