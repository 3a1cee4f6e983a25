#!/usr/bin/env python3
"""Load-balancing broker: ROUTER to clients, ROUTER to workers, a queue of ready workers (LRU).

Taught in notebooks/05_load_balancing.ipynb. A worker says ``READY`` when it starts and sends each
reply when it is done, which also says "ready again"; the broker gives each request to the worker
that has been waiting longest. While no worker is ready it does not read the clients' socket at
all, so requests wait there. Frames (``b""`` is the empty delimiter that REQ adds and strips):

    client -> frontend   [client, b"", request]
    broker -> worker     [worker, b"", client, b"", request]      (the ROUTER takes `worker` off)
    worker -> broker     [worker, b"", client, b"", reply]   or   [worker, b"", b"READY"]

    python examples/lbbroker.py
    python examples/lbworker.py &  python examples/lbclient.py --count 10
    python -m zguide_py run loadbalance.worker --connect tcp://127.0.0.1:5673   # the workbook's worker
"""
from __future__ import annotations

import argparse
import time
from collections import deque

import zmq

READY = b"READY"


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def main() -> int:
    parser = argparse.ArgumentParser(description="least-recently-used load-balancing broker")
    parser.add_argument("--frontend", default="tcp://127.0.0.1:5672", help="where clients connect")
    parser.add_argument("--backend", default="tcp://127.0.0.1:5673", help="where workers connect")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    ready: deque[bytes] = deque()                # idle workers, least recently used first
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as frontend, ctx.socket(zmq.ROUTER) as backend:
        frontend.linger = backend.linger = 0
        frontend.bind(args.frontend)
        backend.bind(args.backend)
        workers_only = zmq.Poller()
        workers_only.register(backend, zmq.POLLIN)
        both = zmq.Poller()
        both.register(backend, zmq.POLLIN)
        both.register(frontend, zmq.POLLIN)
        print(f"lbbroker: ready on {args.frontend} (clients) and {args.backend} (workers)")
        while time.monotonic() < deadline:
            events = dict((both if ready else workers_only).poll(ms_left(deadline)))
            if backend in events:
                worker, _empty, *message = backend.recv_multipart()
                ready.append(worker)             # READY or a reply: either way it is free now
                if message != [READY]:
                    frontend.send_multipart(message)          # [client, b"", reply]
            if frontend in events and ready:
                request = frontend.recv_multipart()           # [client, b"", request]
                backend.send_multipart([ready.popleft(), b"", *request])
    print("lbbroker: stopped")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
