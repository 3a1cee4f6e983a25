#!/usr/bin/env python3
"""Simple Pirate queue: ROUTER for clients, ROUTER for workers, a list of ready workers.

Taught in notebooks/10_simple_pirate.ipynb. The load-balancing broker with the workers' READY as
the single byte ``0x01``. Its clients are Lazy Pirate clients (lpclient.py): the queue does nothing
to recover a request lost with a worker; the client's retry does. It never learns that a worker
died (notebook 11's heartbeats fix that).

    worker -> queue  [worker, b"", b"\\x01"]   then replies   [worker, b"", client, b"", reply]
    queue -> worker  [worker, b"", client, b"", request]

    python examples/spqueue.py
    python examples/spworker.py &  python examples/lpclient.py --count 20
"""
from __future__ import annotations

import argparse
import time

import zmq

READY = b"\x01"


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="Simple Pirate queue")
    parser.add_argument("--frontend", default="tcp://127.0.0.1:5555", help="where clients connect")
    parser.add_argument("--backend", default="tcp://127.0.0.1:5556", help="where workers connect")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    workers: list[bytes] = []                    # ready workers, least recently used first
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as frontend, ctx.socket(zmq.ROUTER) as backend:
        frontend.linger = backend.linger = 0
        frontend.bind(args.frontend)
        backend.bind(args.backend)
        print(f"spqueue: ready on {args.frontend} (clients) and {args.backend} (workers)")
        while time.monotonic() < deadline:
            poller = zmq.Poller()
            poller.register(backend, zmq.POLLIN)
            if workers:                          # take requests only when a worker can do them
                poller.register(frontend, zmq.POLLIN)
            events = dict(poller.poll(ms_left(deadline)))
            if backend in events:
                worker, _empty, *message = backend.recv_multipart()
                if worker not in workers:
                    workers.append(worker)       # READY or a reply: it is free now
                if message != [READY]:
                    frontend.send_multipart(message)          # [client, b"", reply]
            if frontend in events:
                request = frontend.recv_multipart()           # [client, b"", request]
                backend.send_multipart([workers.pop(0), b"", *request])
    print("spqueue: stopped")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
