#!/usr/bin/env python3
"""Binary Star client: a Lazy Pirate over two servers (high-availability pair).

Taught in notebooks/14_binary_star.ipynb. Each request ``b"<n>"`` goes to the server in use;
with no reply after ``--timeout`` s the client closes its REQ socket and sends the same request to
the *other* server, and so on until one answers (or ``--seconds`` pass). That client turning to
the backup is what makes a passive backup take over.

    python examples/bstarcli.py --count 100 --interval 0.1
    python -m zguide_py run binarystar.server side=primary --bind frontend=tcp://127.0.0.1:5001 ...
"""
from __future__ import annotations

import argparse
import time

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="Binary Star client")
    parser.add_argument("--servers", nargs=2, default=["tcp://127.0.0.1:5001", "tcp://127.0.0.1:5002"])
    parser.add_argument("--count", type=int, default=10, help="requests to send")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds before switching servers")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between requests (s)")
    parser.add_argument("--seconds", type=float, default=60.0, help="give up after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds

    server, replies, switches = 0, 0, 0
    with zmq.Context() as ctx:
        req = ctx.socket(zmq.REQ)
        try:
            req.linger = 0
            req.connect(args.servers[server])
            while replies < args.count and time.monotonic() < deadline:
                request = str(replies).encode()
                req.send(request)
                while not req.poll(round(args.timeout * 1000)) and time.monotonic() < deadline:
                    req.close()                  # no reply: a fresh socket, to the other server
                    server, switches = 1 - server, switches + 1
                    print(f"bstarcli: no reply, trying {args.servers[server]}")
                    req = ctx.socket(zmq.REQ)
                    req.linger = 0
                    req.connect(args.servers[server])
                    req.send(request)
                if time.monotonic() >= deadline:
                    break
                reply = req.recv()
                if reply != request:
                    raise RuntimeError(f"request {request!r} got {reply!r}")
                replies += 1
                print(f"bstarcli: reply {replies - 1} OK")
                time.sleep(args.interval)        # pacing, so that you can kill a server meanwhile
        finally:
            req.close()
    print(f"bstarcli: replies={replies} of {args.count}, switches={switches}")
    return 0 if replies == args.count else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
