#!/usr/bin/env python3
"""Last value cache: keep the newest message of each topic, and give it at once to a new subscriber.

Taught in notebooks/23_proxies.ipynb. Publishers connect to ``--frontend``, a SUB socket that takes
every topic; subscribers connect to ``--backend``, an XPUB socket. An update ``[topic, value]`` is
cached by topic and passed on. A subscription arrives on the XPUB as one frame, ``b"\\x01" + prefix``;
the cache answers it with the cached message of every topic that starts with that prefix, so a
subscriber that joins late need not wait for the next update. ``XPUB_VERBOSE`` makes the XPUB hand
over every subscription: without it (``--no-verbose``) a second subscriber to the same prefix is
hidden, and gets nothing from the cache. A cached message goes to every subscriber of its topic, so
the others see it again: values must be safe to receive twice.

    python examples/lvcache.py
    python -m zguide_py run proxies.publisher --connect tcp://127.0.0.1:5557 rounds=3 interval=0.1 subscribers=1
    python -m zguide_py run proxies.subscriber --connect tcp://127.0.0.1:5558 "topics=['weather.']"
"""
from __future__ import annotations

import argparse
import time

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="last value cache between publishers and subscribers")
    parser.add_argument("--frontend", default="tcp://127.0.0.1:5557", help="bind: publishers connect here")
    parser.add_argument("--backend", default="tcp://127.0.0.1:5558", help="bind: subscribers connect here")
    parser.add_argument("--no-verbose", action="store_true", help="leave XPUB_VERBOSE off (and see why not)")
    parser.add_argument("--show", type=int, default=20, help="print the first N updates")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    cache: dict[bytes, list[bytes]] = {}        # topic -> its newest message, every frame of it
    counts = dict.fromkeys(("updates", "subscriptions", "replayed", "malformed"), 0)
    with zmq.Context() as ctx, ctx.socket(zmq.SUB) as frontend, ctx.socket(zmq.XPUB) as backend:
        frontend.linger = backend.linger = 0
        frontend.subscribe(b"")                 # every topic: the cache must see them all
        frontend.bind(args.frontend)
        backend.xpub_verbose = 0 if args.no_verbose else 1
        backend.bind(args.backend)
        poller = zmq.Poller()
        poller.register(frontend, zmq.POLLIN)
        poller.register(backend, zmq.POLLIN)
        print(f"lvcache: ready, publishers to {args.frontend}, subscribers to {args.backend}")
        try:
            while time.monotonic() < deadline:
                ready = dict(poller.poll(100))      # in slices, so that --seconds is seen
                if frontend in ready:
                    frames = frontend.recv_multipart()
                    if len(frames) == 2:            # [topic, value]
                        cache[frames[0]] = frames
                        backend.send_multipart(frames)
                        counts["updates"] += 1
                        if counts["updates"] <= args.show:
                            print("lvcache: update " + " | ".join(repr(f)[1:] for f in frames))
                    else:
                        counts["malformed"] += 1
                if backend in ready:
                    frames = backend.recv_multipart()
                    if len(frames) != 1 or not frames[0] or frames[0][0] not in (0, 1):
                        counts["malformed"] += 1    # an XSUB may send anything: check, count, go on
                        print(f"lvcache: not a subscription: {frames!r}")
                        continue
                    if frames[0][0] == 1:           # b"\x01" + prefix: someone subscribed
                        prefix = frames[0][1:]
                        matching = [m for topic, m in cache.items() if topic.startswith(prefix)]
                        for message in matching:
                            backend.send_multipart(message)
                        counts["subscriptions"] += 1
                        counts["replayed"] += len(matching)
                        print(f"lvcache: subscription {prefix!r}: sent {len(matching)} cached values")
        except KeyboardInterrupt:               # Ctrl-C: stop, then say what was done
            pass
    print(f"lvcache: topics={len(cache)} " + " ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
