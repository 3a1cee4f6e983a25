#!/usr/bin/env python3
"""Brokers' CPU per request against the floor of their bare message hops (issue 20).

usage: python tools/bench_brokers.py [--requests N] [--repeats R] [--transports tcp,inproc]
                                     [--brokers majordomo,paranoidpirate,lru]   (tools/bench.py calls main([]))

For each broker (Majordomo, the Paranoid Pirate queue, the LRU broker) and transport: the broker runs
in a process of its own, 2 echo workers and 2 asynchronous clients (``WINDOW`` requests in flight
each) are threads of this one, and the CPU time of the broker's thread is read over a fixed number of
requests. The floor (:mod:`zguide_py.views.brokercost`) does the same hops with the same sockets and
frames (2 x recv_multipart, 2 x send_multipart per request, one request per worker at a time) and
nothing else. Floor and broker run in turns, ``--repeats`` times; the table gives medians, and the
ratio's min..max. Target: the broker's CPU per request is at most 1.5x the floor's (the median).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zguide_py.views import brokercost  # noqa: E402

TARGET = 1.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests per run")
    parser.add_argument("--repeats", type=int, default=3, help="floor/broker pairs per cell (medians)")
    parser.add_argument("--transports", default="tcp,inproc")
    parser.add_argument("--brokers", default=",".join(brokercost.KINDS))
    args = parser.parse_args(argv)
    print(f"Brokers' CPU per request against their floor: {args.requests:,} requests a run, 2 echo workers, "
          f"2 async clients x {brokercost.WINDOW} in flight, {args.repeats} runs each (medians)", flush=True)
    rows = []
    for kind in args.brokers.split(","):
        for transport in args.transports.split(","):
            rows.append(brokercost.cost(kind, transport, args.requests, args.repeats))
            print(brokercost.table(rows[-1:], TARGET).splitlines()[-1], flush=True)
    print("\n" + brokercost.table(rows, TARGET))
    missed = [r for r in rows if r["ratio"]["median"] > TARGET]
    print(f"target: broker CPU per request <= {TARGET:g}x its floor -> "
          + ("MET for all" if not missed else "NOT MET: " + ", ".join(f"{r['kind']}/{r['transport']}" for r in missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
