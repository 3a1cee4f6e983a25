#!/usr/bin/env python3
"""Majordomo worker: offers one service to a Majordomo broker, with heartbeats (7/MDP v0.1).

Taught in notebooks/12_majordomo.ipynb. A DEALER says READY for ``--service``, then answers each
REQUEST ``[b"", b"MDPW01", b"\\x02", client, b"", body...]`` with a REPLY of the same body (an
echo; ``--upper`` upper-cases it, for a service named "upper"). It sends HEARTBEAT every
``--heartbeat`` s, and when the broker has been silent for ``--liveness`` heartbeats, or says
DISCONNECT, it waits ``--reconnect`` s and starts over on a new socket. Spec defaults: 2.5 s x 3.

    python examples/mdworker.py --service echo
    python -m zguide_py run majordomo.broker --bind tcp://127.0.0.1:5555 heartbeat=2.5   # the workbook's broker
"""
from __future__ import annotations

import argparse
import time

import zmq

MDPW = b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"


def connect(ctx: zmq.Context, broker: str, service: str) -> zmq.Socket:
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    dealer.connect(broker)
    dealer.send_multipart([b"", MDPW, READY, service.encode()])
    return dealer


def main() -> int:
    parser = argparse.ArgumentParser(description="Majordomo worker (7/MDP)")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555", help="the broker")
    parser.add_argument("--service", default="echo")
    parser.add_argument("--upper", action="store_true", help="reply in upper case instead of an echo")
    parser.add_argument("--heartbeat", type=float, default=2.5, help="seconds between heartbeats")
    parser.add_argument("--liveness", type=int, default=3, help="silent heartbeats before the broker is dead")
    parser.add_argument("--reconnect", type=float, default=2.5, help="seconds to wait before reconnecting")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    served = 0
    with zmq.Context() as ctx:
        dealer = connect(ctx, args.connect, args.service)
        print(f"mdworker: ready for {args.service!r}")
        try:
            broker_expiry = time.monotonic() + args.heartbeat * args.liveness
            heartbeat_at = time.monotonic() + args.heartbeat
            while time.monotonic() < deadline:
                command = None
                if dealer.poll(round(args.heartbeat * 1000)):
                    frames = dealer.recv_multipart()
                    broker_expiry = time.monotonic() + args.heartbeat * args.liveness
                    if len(frames) >= 3 and frames[:2] == [b"", MDPW]:
                        command = frames[2]
                    if command == REQUEST and len(frames) >= 5:   # [.., client, b"", body...]
                        client, body = frames[3], frames[5:]
                        reply = [frame.upper() for frame in body] if args.upper else body
                        dealer.send_multipart([b"", MDPW, REPLY, client, b"", *reply])
                        served += 1
                if command == DISCONNECT or time.monotonic() > broker_expiry:
                    print(f"mdworker: broker {'said DISCONNECT' if command else 'silent'}, reconnecting")
                    dealer.close()
                    time.sleep(min(args.reconnect, max(0.0, deadline - time.monotonic())))
                    dealer = connect(ctx, args.connect, args.service)
                    broker_expiry = time.monotonic() + args.heartbeat * args.liveness
                if time.monotonic() >= heartbeat_at:
                    dealer.send_multipart([b"", MDPW, HEARTBEAT])
                    heartbeat_at = time.monotonic() + args.heartbeat
        finally:
            dealer.close()
    print(f"mdworker: served={served}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
