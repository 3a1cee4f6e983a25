#!/usr/bin/env python3
"""Relay: threads that signal each other through PAIR sockets over inproc (threads).

Taught in notebooks/22_threads.ipynb. Step 3 (the main thread) binds a PAIR, then starts step 2;
step 2 binds a PAIR of its own, then starts step 1; step 1 connects to step 2 and signals READY;
step 2 passes the signal on to step 3. Each step binds before it starts the thread that connects,
so the endpoint is there before anyone looks for it. PAIR takes exactly one peer: a second thread
that connected by mistake could not take the signal away.

    python examples/mtrelay.py --steps 5
"""
from __future__ import annotations

import argparse
import threading

import zmq


def step(ctx: zmq.Context, n: int, timeout: float) -> None:
    """Step ``n`` (> 1 binds and waits for step n-1; 1 only signals), then signal step n+1."""
    with ctx.socket(zmq.PAIR) as outbox:
        if n > 1:
            with ctx.socket(zmq.PAIR) as inbox:
                inbox.bind(f"inproc://step{n}")                  # 1. bind first...
                child = threading.Thread(target=step, args=(ctx, n - 1, timeout))
                child.start()                                    # 2. ...then start the thread that connects
                ready = inbox.poll(int(timeout * 1000)) and inbox.recv() == b"READY"
                child.join()
                if not ready:
                    print(f"mtrelay: step {n} heard nothing from step {n - 1}")
                    return
            print(f"mtrelay: step {n} heard step {n - 1}")
        outbox.connect(f"inproc://step{n + 1}")
        outbox.send(b"READY")                                    # 3. pass the signal on


def main() -> int:
    parser = argparse.ArgumentParser(description="threads that signal each other over PAIR sockets")
    parser.add_argument("--steps", type=int, default=3, help="how many steps, the main thread's included")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds each step waits for its signal")
    args = parser.parse_args()
    if args.steps < 2:
        parser.error("a relay needs at least 2 steps")

    ctx = zmq.Context()
    ctx.linger = 0
    try:
        with ctx.socket(zmq.PAIR) as inbox:
            inbox.bind(f"inproc://step{args.steps}")
            first = threading.Thread(target=step, args=(ctx, args.steps - 1, args.timeout))
            first.start()
            ok = inbox.poll(int(args.timeout * args.steps * 1000)) and inbox.recv() == b"READY"
            first.join()
    finally:
        ctx.term()
    print(f"mtrelay: step {args.steps} heard step {args.steps - 1}: the relay is complete" if ok
          else "mtrelay: the signal never arrived")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        raise SystemExit(0) from None
