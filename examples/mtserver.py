#!/usr/bin/env python3
"""Multithreaded server: REP worker threads behind a ROUTER-DEALER proxy over inproc (threads).

Taught in notebooks/22_threads.ipynb. Clients (REQ) connect to the ROUTER frontend on tcp;
``zmq.proxy_steerable`` passes each request to a DEALER bound on ``inproc://workers``, which deals
it to one of the worker threads. Each worker thread has a REP socket of its own and echoes every
request back. The threads share no data and no socket: only messages.

Stopping is also done with messages: after ``--seconds`` a small thread sends ``TERMINATE`` to the
proxy's control socket (Ctrl-C interrupts the proxy directly). The main thread then closes its
sockets and ends the context; every worker blocked in ``recv`` gets ``ContextTerminated``, closes
its own socket and returns, and only then does ``ctx.term()`` return.

    python examples/mtserver.py --workers 4
    python examples/hwclient.py --count 20
    python -m zguide_py run lazypirate.client --connect tcp://127.0.0.1:5555 requests=20
"""
from __future__ import annotations

import argparse
import threading
import time

import zmq


def worker(ctx: zmq.Context, work: float) -> None:
    """A worker thread: its own REP socket on the backend, an echo for every request."""
    with ctx.socket(zmq.REP) as rep:             # made, used and closed in this thread only
        rep.connect("inproc://workers")
        try:
            while not rep.closed:
                request = rep.recv_multipart()   # blocks until a request comes or the context ends
                time.sleep(work)                 # the work
                rep.send_multipart(request)
        except zmq.ContextTerminated:            # the main thread ended the context: time to go
            pass


def stop_after(ctx: zmq.Context, seconds: float) -> None:
    """Send TERMINATE to the proxy after ``seconds``, from a PAIR socket of this thread's own."""
    with ctx.socket(zmq.PAIR) as pipe:
        pipe.connect("inproc://control")
        try:
            if not pipe.poll(int(seconds * 1000)):   # a wait that the end of the context cuts short
                pipe.send(b"TERMINATE")
            # Keep this end open until the context ends: a proxy whose control pipe closed right
            # after the TERMINATE sometimes never saw it (about one time in three, measured here).
            pipe.poll()
        except zmq.ContextTerminated:
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description="REP worker threads behind a ROUTER-DEALER proxy")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5555")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--work", type=float, default=0.0, help="seconds of work per request")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()

    # Not `with zmq.Context()`: leaving that block calls destroy(), which closes every socket of the
    # context from this thread, the workers' too. term() waits for each thread to close its own.
    ctx = zmq.Context()
    ctx.linger = 0                               # every socket from here: close() never waits
    threads = []
    try:
        with ctx.socket(zmq.ROUTER) as frontend, ctx.socket(zmq.DEALER) as backend, \
                ctx.socket(zmq.PAIR) as control:
            frontend.bind(args.bind)
            backend.bind("inproc://workers")     # bind before starting the threads that connect
            control.bind("inproc://control")
            threads = [threading.Thread(target=worker, args=(ctx, args.work)) for _ in range(args.workers)]
            if args.seconds is not None:
                threads.append(threading.Thread(target=stop_after, args=(ctx, args.seconds)))
            for thread in threads:
                thread.start()
            print(f"mtserver: ready on {args.bind} with {args.workers} worker threads")
            try:
                zmq.proxy_steerable(frontend, backend, None, control)   # until TERMINATE or Ctrl-C
            except KeyboardInterrupt:
                pass
    finally:
        ctx.term()                               # each thread closes its own socket, then this returns
        for thread in threads:
            thread.join()
    print("mtserver: stopped")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # a second Ctrl-C while stopping
        raise SystemExit(0) from None
