#!/usr/bin/env python3
"""Ironhouse client: a REQ over CURVE that knows the server's public key (security).

Taught in notebooks/18_security.ipynb. It needs the server's public certificate (``server.key``)
and its own key pair (``NAME.key_secret``). If the server does not know its public key, the
handshake fails and no reply ever comes: after ``--timeout`` s it says so and exits with status 1.

    python examples/ironclient.py --certs certs --name client --count 5
    python -m zguide_py run security.server --bind tcp://127.0.0.1:5590 cert=certs/server.key_secret allow=certs/allowed
"""
from __future__ import annotations

import argparse
import os

import zmq
import zmq.auth


def main() -> int:
    parser = argparse.ArgumentParser(description="CURVE REQ client")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5590")
    parser.add_argument("--certs", default="certs", help="folder with server.key and NAME.key_secret")
    parser.add_argument("--name", default="client", help="whose secret certificate to use")
    parser.add_argument("--count", type=int, default=5, help="requests to send")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each reply")
    args = parser.parse_args()
    server_public, _ = zmq.auth.load_certificate(os.path.join(args.certs, "server.key"))
    public, secret = zmq.auth.load_certificate(os.path.join(args.certs, f"{args.name}.key_secret"))

    replies = 0
    with zmq.Context() as ctx, ctx.socket(zmq.REQ) as req:
        req.linger = 0
        req.curve_serverkey = server_public      # whom we trust to be the server
        req.curve_publickey, req.curve_secretkey = public, secret   # who we are
        req.connect(args.connect)
        for n in range(args.count):
            request = f"{args.name} {n}".encode()
            req.send(request)
            if not req.poll(round(args.timeout * 1000)):
                print(f"ironclient: no reply after {args.timeout} s (refused, or no server)")
                break
            if req.recv() != request:
                raise RuntimeError(f"wrong reply to {request!r}")
            replies += 1
    print(f"ironclient: replies={replies} of {args.count}")
    return 0 if replies == args.count else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
