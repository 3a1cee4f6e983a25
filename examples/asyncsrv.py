#!/usr/bin/env python3
"""Asynchronous server: ROUTER frontend, DEALER backend, worker threads, zmq.proxy between (router-dealer).

Taught in notebooks/04_router_dealer.ipynb. A request arrives as ``[client identity, request]``;
the proxy passes it to the backend DEALER, which deals it to a worker thread; the worker sends back
``[identity, request, worker name]`` and the frontend ROUTER routes the reply on the identity.
``zmq.proxy_steerable`` runs in a thread and returns when its control socket hears ``TERMINATE``,
which the main thread sends after ``--seconds`` or on Ctrl-C.

    python examples/asyncsrv.py --workers 4
    python examples/asynccli.py --count 20
    python -m zguide_py run routerdealer.client_task --connect tcp://127.0.0.1:5570 requests=20
"""
from __future__ import annotations

import argparse
import threading
import time

import zmq


def worker(ctx: zmq.Context, name: str, work: float, stop: threading.Event) -> None:
    """A DEALER on the backend: ``[identity, request]`` in, ``[identity, request, name]`` out."""
    with ctx.socket(zmq.DEALER) as sock:
        sock.connect("inproc://backend")
        while not stop.is_set():
            if sock.poll(100):                   # in slices, so that the thread sees `stop`
                frames = sock.recv_multipart()
                time.sleep(work)                 # the work
                sock.send_multipart([*frames, name.encode()])


def main() -> int:
    parser = argparse.ArgumentParser(description="ROUTER-DEALER proxy with worker threads")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5570")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--work", type=float, default=0.0, help="seconds of work per request")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()

    stop = threading.Event()
    with zmq.Context() as ctx:
        ctx.linger = 0                           # every socket from here: close() never waits
        with ctx.socket(zmq.ROUTER) as frontend, ctx.socket(zmq.DEALER) as backend, \
                ctx.socket(zmq.PAIR) as control, ctx.socket(zmq.PAIR) as pipe:
            frontend.bind(args.bind)
            backend.bind("inproc://backend")
            control.bind("inproc://control")     # the proxy listens here for TERMINATE
            pipe.connect("inproc://control")
            threads = [threading.Thread(target=worker, args=(ctx, f"worker{i}", args.work, stop))
                       for i in range(1, args.workers + 1)]
            # the proxy in a thread of its own, which owns these three sockets until it returns
            threads.append(threading.Thread(target=zmq.proxy_steerable, args=(frontend, backend, None, control)))
            for thread in threads:
                thread.start()
            print(f"asyncsrv: ready on {args.bind} with {args.workers} workers")
            try:
                threading.Event().wait(args.seconds)   # until --seconds pass, or Ctrl-C
            finally:
                pipe.send(b"TERMINATE")          # the proxy returns...
                stop.set()                       # ...and the workers see the flag
                for thread in threads:
                    thread.join()
    print("asyncsrv: stopped")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
