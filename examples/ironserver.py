#!/usr/bin/env python3
"""Ironhouse server: a REP echo server over CURVE, letting in only known clients (security).

Taught in notebooks/18_security.ipynb. CURVE encrypts every frame; the server proves it holds the
secret key that matches the public key its clients were given. ZAP decides who may connect:
pyzmq's ThreadAuthenticator, on this context, lets in the clients whose public certificates are in
``--allow`` (default ``CERTS/allowed``), and with ``--allow-ip`` only those addresses. A refused
client never reaches the application: its handshake fails.

    python examples/ironkeys.py certs
    python examples/ironserver.py --certs certs
    python -m zguide_py run security.client --connect 5590 server_key=certs/server.key cert=certs/client.key_secret
"""
from __future__ import annotations

import argparse
import os
import time

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="CURVE REP echo server with ZAP authentication")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5590")
    parser.add_argument("--certs", default="certs", help="folder with server.key_secret (ironkeys.py)")
    parser.add_argument("--allow", default=None, help="folder of the clients' public certificates")
    parser.add_argument("--allow-ip", nargs="*", default=[], help="only these client addresses")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))
    public, secret = zmq.auth.load_certificate(os.path.join(args.certs, "server.key_secret"))

    replies = 0
    with zmq.Context() as ctx:
        auth = ThreadAuthenticator(ctx)          # the ZAP handler: a thread on this context
        auth.start()
        try:
            if args.allow_ip:
                auth.allow(*args.allow_ip)
            auth.configure_curve(domain="*", location=args.allow or os.path.join(args.certs, "allowed"))
            with ctx.socket(zmq.REP) as rep:
                rep.linger = 0
                rep.curve_secretkey, rep.curve_publickey = secret, public
                rep.curve_server = True          # we hold the long-term key; clients must know it
                rep.bind(args.bind)
                print(f"ironserver: ready on {args.bind}")
                while time.monotonic() < deadline:
                    if rep.poll(ms_left(deadline)):
                        rep.send_multipart(rep.recv_multipart())
                        replies += 1
        finally:
            auth.stop()                          # before the context ends: it has sockets of its own
    print(f"ironserver: replies={replies}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
