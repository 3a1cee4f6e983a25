#!/usr/bin/env python3
"""Paranoid Pirate queue: a load-balancing queue that heartbeats its workers (6/PPP).

Taught in notebooks/11_paranoid_pirate.ipynb. Every ``--heartbeat`` seconds it sends HEARTBEAT
(0x02) to each worker it knows; a worker silent for ``--liveness`` heartbeats is purged, so no
request goes to a dead worker. Any message from a worker counts as a sign of life. Spec defaults:
1 s x 3. Clients are Lazy Pirate clients (lpclient.py). Frames on the backend (DEALER workers):

    worker -> queue  [worker, b"\\x01"] READY   [worker, b"\\x02"] HEARTBEAT   [worker, client, b"", reply]
    queue -> worker  [worker, b"\\x02"] HEARTBEAT   [worker, client, b"", request]

    python examples/ppqueue.py
    python examples/ppworker.py &  python examples/lpclient.py --count 20
    python -m zguide_py run paranoidpirate.worker --connect tcp://127.0.0.1:5556 interval=1.0   # the workbook's
"""
from __future__ import annotations

import argparse
import time

import zmq

READY, HEARTBEAT = b"\x01", b"\x02"


def main() -> int:
    parser = argparse.ArgumentParser(description="Paranoid Pirate queue (6/PPP)")
    parser.add_argument("--frontend", default="tcp://127.0.0.1:5555", help="where clients connect")
    parser.add_argument("--backend", default="tcp://127.0.0.1:5556", help="where workers connect")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="seconds between heartbeats")
    parser.add_argument("--liveness", type=int, default=3, help="silent heartbeats before a worker is dead")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    expiry: dict[bytes, float] = {}              # every live worker -> when it counts as dead
    ready: list[bytes] = []                      # idle workers, least recently used first
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as frontend, ctx.socket(zmq.ROUTER) as backend:
        frontend.linger = backend.linger = 0
        frontend.bind(args.frontend)
        backend.bind(args.backend)
        print(f"ppqueue: ready on {args.frontend} (clients) and {args.backend} (workers)")
        heartbeat_at = time.monotonic() + args.heartbeat
        while time.monotonic() < deadline:
            poller = zmq.Poller()
            poller.register(backend, zmq.POLLIN)
            if ready:                            # take requests only when a worker can do them
                poller.register(frontend, zmq.POLLIN)
            events = dict(poller.poll(max(0, round((heartbeat_at - time.monotonic()) * 1000))))
            if backend in events:
                worker, *message = backend.recv_multipart()
                known = worker in expiry
                expiry[worker] = time.monotonic() + args.liveness * args.heartbeat   # any message: alive
                if len(message) >= 3:            # [client, b"", reply]
                    frontend.send_multipart(message)
                elif message not in ([READY], [HEARTBEAT]):
                    print(f"ppqueue: invalid message from {worker!r}: {message!r}")
                    continue
                # a reply or READY: free now; a heartbeat from a stranger: it knew a queue before us
                if (message != [HEARTBEAT] or not known) and worker not in ready:
                    ready.append(worker)
            if frontend in events and ready:
                request = frontend.recv_multipart()           # [client, b"", request]
                backend.send_multipart([ready.pop(0), *request])
            now = time.monotonic()
            if now >= heartbeat_at:
                for worker in expiry:
                    backend.send_multipart([worker, HEARTBEAT])
                heartbeat_at = now + args.heartbeat
            for worker in [w for w, t in expiry.items() if t < now]:   # purge the silent ones
                del expiry[worker]
                if worker in ready:
                    ready.remove(worker)
                print(f"ppqueue: worker {worker!r} is silent, purged")
    print("ppqueue: stopped")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
