#!/usr/bin/env python3
"""Majordomo bench: echo requests per second through the broker (``zguide_py.patterns.majordomo``).

usage: python tools/bench_majordomo.py [--seconds S]      (tools/bench.py calls report())

One echo worker, 1 or 10 synchronous clients, over inproc and tcp; every peer is a thread of this
process, so the GIL is part of the measure. The roles are the notebook's own broker and worker.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zguide_py import Lab  # noqa: E402
from zguide_py.patterns.majordomo import MDPC, broker, worker  # noqa: E402


def bench_client(peer, broker: str):
    """Echo requests, one at a time, as fast as one synchronous client can, until the lab stops it."""
    req = peer.socket(zmq.REQ)
    req.connect(broker)
    done = peer.counter("replies")
    request = [MDPC, b"echo", b"x"]
    req.send_multipart(request)
    while peer.poll(req):
        req.recv_multipart()
        done.value += 1
        req.send_multipart(request)


def echo_rate(clients: int = 1, transport: str = "inproc", seconds: float = 1.0, workers: int = 1) -> float:
    """Echo requests per second through a Majordomo broker, ``clients`` synchronous clients and
    ``workers`` echo workers, all threads of one process."""
    with Lab(f"bench-mdp-{transport}-{clients}") as lab:
        endpoint = lab.endpoint("broker", transport)
        lab.start("broker", broker, endpoint=endpoint, heartbeat=1.0)
        for i in range(workers):
            lab.start(f"worker{i}", worker, broker=endpoint, service="echo", heartbeat=1.0)
        lab.wait_for(lambda: len(lab.peer("broker").data.get("workers", {})) == workers, 5,
                     "workers to register")
        names = [f"client{i}" for i in range(clients)]
        for name in names:
            lab.start(name, bench_client, broker=endpoint)
        time.sleep(0.2)                                   # warm up: connections, first requests
        before = sum(lab.peer(n).get("replies") for n in names)
        t0 = time.perf_counter()
        time.sleep(seconds)
        after = sum(lab.peer(n).get("replies") for n in names)
        rate = (after - before) / (time.perf_counter() - t0)
        lab.check()
        return rate


def report(seconds: float = 1.0) -> str:
    """The Majordomo echo bench as a text table: 1 and 10 clients over inproc and tcp."""
    lines = [f"Majordomo echo through the broker, 1 worker, {seconds:g} s per cell",
             f"{'transport':<10}{'clients':>8}{'requests/s':>14}"]
    for transport in ("inproc", "tcp"):
        for clients in (1, 10):
            rate = echo_rate(clients, transport, seconds)
            lines.append(f"{transport:<10}{clients:>8}{rate:>14,.0f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per cell")
    args = parser.parse_args(argv)
    print(report(seconds=args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
