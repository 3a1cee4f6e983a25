#!/usr/bin/env python3
"""Espresso: an XSUB/XPUB proxy whose capture socket shows everything that passes through it.

Taught in notebooks/23_proxies.ipynb. Publishers connect to ``--frontend`` (XSUB), subscribers to
``--backend`` (XPUB). ``zmq.proxy_steerable`` forwards data down and subscription frames up
(``b"\\x01" + prefix`` to subscribe, ``b"\\x00" + prefix`` to unsubscribe), so each publisher only
sends what somebody downstream wants. It also copies every message, whichever way it goes, to its
capture socket: a PUB here, which never blocks the proxy, read by a SUB in this main thread that
prints what it sees. After ``--seconds`` or on Ctrl-C the main thread sends ``TERMINATE`` on the
proxy's control socket and the proxy returns.

    python examples/espresso.py
    python -m zguide_py run proxies.publisher --connect tcp://127.0.0.1:5559
    python -m zguide_py run proxies.subscriber --connect tcp://127.0.0.1:5560 "topics=['weather.']"
"""
from __future__ import annotations

import argparse
import threading
import time

import zmq


def kind(frames: list[bytes]) -> str:
    """What a captured message is: a subscription frame, data [topic, value], or something else."""
    if len(frames) == 1 and frames[0][:1] in (b"\x00", b"\x01"):
        return "subscribe" if frames[0][0] == 1 else "unsubscribe"
    return "data" if len(frames) == 2 else "other"


def main() -> int:
    parser = argparse.ArgumentParser(description="XSUB/XPUB proxy with a capture socket")
    parser.add_argument("--frontend", default="tcp://127.0.0.1:5559", help="bind: publishers connect here")
    parser.add_argument("--backend", default="tcp://127.0.0.1:5560", help="bind: subscribers connect here")
    parser.add_argument("--show", type=int, default=20, help="print the first N data messages (all others)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    counts = dict.fromkeys(("subscribe", "unsubscribe", "data", "other"), 0)
    with zmq.Context() as ctx:
        ctx.linger = 0                           # every socket from here: close() never waits
        with ctx.socket(zmq.XSUB) as frontend, ctx.socket(zmq.XPUB) as backend, \
                ctx.socket(zmq.PUB) as capture, ctx.socket(zmq.SUB) as listener, \
                ctx.socket(zmq.PAIR) as control, ctx.socket(zmq.PAIR) as pipe:
            frontend.bind(args.frontend)
            backend.bind(args.backend)
            listener.connect("inproc://capture")     # before the bind: inproc then misses nothing
            listener.subscribe(b"")
            capture.bind("inproc://capture")
            control.bind("inproc://control")
            pipe.connect("inproc://control")
            # the proxy in a thread of its own, which owns these four sockets until it returns
            proxy = threading.Thread(target=zmq.proxy_steerable, args=(frontend, backend, capture, control))
            proxy.start()
            print(f"espresso: ready, publishers to {args.frontend}, subscribers to {args.backend}")
            try:
                while time.monotonic() < deadline:
                    if not listener.poll(100):   # in slices, so that --seconds is seen
                        continue
                    frames = listener.recv_multipart()
                    what = kind(frames)
                    counts[what] += 1
                    if what != "data" or counts["data"] <= args.show:
                        print(f"espresso: {what:<11} " + " | ".join(repr(f)[1:] for f in frames))
            except KeyboardInterrupt:            # Ctrl-C: stop the proxy, then say what was seen
                pass
            finally:
                pipe.send(b"TERMINATE")          # the proxy returns, and gives its sockets back
                proxy.join()
    print("espresso: captured " + " ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
