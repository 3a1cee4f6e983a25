#!/usr/bin/env python3
"""Hello World client: a REQ socket that sends requests one at a time (request-reply).

Taught in notebooks/01_request_reply.ipynb. REQ works in lockstep: send, recv, send, recv...
Each request is ``b"Hello <n>"`` and the reply must echo it. A plain REQ client whose server has
died would wait forever; ``--timeout`` bounds each wait and exits with status 1 (notebook 09's Lazy
Pirate retries instead).

    python examples/hwclient.py --count 10
    python -m zguide_py run reqrep.echo_server --bind tcp://127.0.0.1:5555   # the workbook's server
"""
from __future__ import annotations

import argparse

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="REQ client, one request at a time")
    parser.add_argument("--connect", default="tcp://127.0.0.1:5555")
    parser.add_argument("--count", type=int, default=10, help="requests to send")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each reply")
    args = parser.parse_args()

    replies = 0
    with zmq.Context() as ctx, ctx.socket(zmq.REQ) as req:
        req.linger = 0                           # on the way out, drop a request nobody took
        req.connect(args.connect)
        for n in range(args.count):
            request = f"Hello {n}".encode()
            req.send(request)
            if not req.poll(int(args.timeout * 1000)):
                print(f"hwclient: no reply to {request!r} after {args.timeout} s, giving up")
                break                            # this REQ cannot send again: leave
            reply = req.recv()
            if reply != request:
                raise RuntimeError(f"reply {reply!r} does not echo {request!r}")
            replies += 1
    print(f"hwclient: replies={replies} of {args.count}")
    return 0 if replies == args.count else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
