#!/usr/bin/env python3
"""Paranoid Pirate worker: a DEALER that heartbeats its queue and reconnects when it goes silent (6/PPP).

Taught in notebooks/11_paranoid_pirate.ipynb. It says READY (0x01), echoes each request
``[client, b"", request]``, and sends HEARTBEAT (0x02) every ``--heartbeat`` seconds. Hearing
nothing at all from the queue for ``--liveness`` heartbeats, it closes its socket, waits a back-off
(``--reconnect`` doubling up to ``--reconnect-max``), opens a new one and says READY again: a
restarted queue heals by itself. Spec defaults: 1 s x 3, back-off 1 s to 32 s.

    python examples/ppworker.py
    python -m zguide_py run paranoidpirate.queue --bind frontend=5555 --bind backend=5556 interval=1.0
"""
from __future__ import annotations

import argparse
import os
import time

import zmq

READY, HEARTBEAT = b"\x01", b"\x02"


def connect(ctx: zmq.Context, endpoint: str, name: str) -> zmq.Socket:
    """A new DEALER with a new identity (the queue must not mix it up with the old one), READY sent."""
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.routing_id = f"{name}/{os.urandom(4).hex()}".encode()
    sock.connect(endpoint)
    sock.send(READY)
    return sock


def main() -> int:
    parser = argparse.ArgumentParser(description="Paranoid Pirate worker (6/PPP)")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5556", help="the queue's backend")
    parser.add_argument("--name", default=f"worker-{os.getpid()}")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="seconds between heartbeats")
    parser.add_argument("--liveness", type=int, default=3, help="silent heartbeats before the queue is dead")
    parser.add_argument("--reconnect", type=float, default=1.0, help="first back-off before reconnecting (s)")
    parser.add_argument("--reconnect-max", type=float, default=32.0, help="the back-off doubles up to this (s)")
    parser.add_argument("--work", type=float, default=0.0, help="seconds of work per request")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    served = 0
    with zmq.Context() as ctx:
        sock = connect(ctx, args.connect, args.name)
        print(f"ppworker: {args.name} ready")
        try:
            liveness, backoff = args.liveness, args.reconnect
            heartbeat_at = time.monotonic() + args.heartbeat
            while time.monotonic() < deadline:
                if sock.poll(round(args.heartbeat * 1000)):
                    frames = sock.recv_multipart()
                    liveness, backoff = args.liveness, args.reconnect   # the queue is alive
                    if len(frames) == 3:         # [client, b"", request]
                        time.sleep(args.work)
                        sock.send_multipart(frames)
                        served += 1
                    elif frames != [HEARTBEAT]:
                        print(f"ppworker: invalid message {frames!r}")
                else:
                    liveness -= 1                # one more heartbeat of silence
                    if liveness == 0:
                        print(f"ppworker: queue silent, reconnecting in {backoff:g} s")
                        sock.close()
                        time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
                        backoff = min(2 * backoff, args.reconnect_max)
                        sock = connect(ctx, args.connect, args.name)
                        liveness = args.liveness
                if time.monotonic() >= heartbeat_at:
                    sock.send(HEARTBEAT)
                    heartbeat_at = time.monotonic() + args.heartbeat
        finally:
            sock.close()
    print(f"ppworker: {args.name} served={served}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
