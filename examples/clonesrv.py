#!/usr/bin/env python3
"""Clone server, model 3: one server numbers every update and republishes it (reliable pub-sub with state).

Taught in notebooks/07_clone_updates.ipynb (model 3) after notebooks/06_clone_snapshot.ipynb
(model 2: snapshot, then updates). Three sockets, one poll loop:

* PULL ``--collector``: clients push updates with sequence 0; the server gives each the next number,
  stores it (the latest update per key) and publishes it,
* PUB ``--publisher``: every numbered update, and ``HUGZ`` with the current sequence every
  ``--heartbeat`` s, so a client sees it has missed something even when all is quiet,
* ROUTER ``--snapshot``: ``ICANHAZ?`` [subtree] -> every stored update (under that key prefix),
  then ``KTHXBAI`` carrying the sequence of that state.

An update is the guide's kvmsg, five frames: key, sequence (8 bytes, network order), uuid (16 bytes,
or empty), properties (``name=value`` lines), body. As 12/CHP says, KTHXBAI and HUGZ carry an empty
uuid frame; HUGZ carries the current sequence (as the workbook's server does), not zero.

    python examples/clonesrv.py
    python examples/clonecli.py --count 10 &  python examples/clonecli.py --count 10
"""
from __future__ import annotations

import argparse
import hashlib
import struct
import time

import zmq


def digest(kvmap: dict[bytes, list[bytes]]) -> str:
    """A short fingerprint of a whole state (key, sequence, body of every key), to compare copies."""
    h = hashlib.sha256()
    for key in sorted(kvmap):
        h.update(b"%d:%s%s%s" % (len(key), key, kvmap[key][1], kvmap[key][4]))
    return h.hexdigest()[:16]


def main() -> int:
    parser = argparse.ArgumentParser(description="Clone server, model 3")
    parser.add_argument("--snapshot", default="tcp://127.0.0.1:5556", help="ROUTER for snapshots")
    parser.add_argument("--publisher", default="tcp://127.0.0.1:5557", help="PUB for updates")
    parser.add_argument("--collector", default="tcp://127.0.0.1:5558", help="PULL for clients' updates")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="seconds between HUGZ")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    kvmap: dict[bytes, list[bytes]] = {}         # key -> its latest update (five frames)
    sequence = 0
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as snapshot, ctx.socket(zmq.PUB) as publisher, \
            ctx.socket(zmq.PULL) as collector:
        for sock in (snapshot, publisher, collector):
            sock.linger = 0
        snapshot.bind(args.snapshot)
        publisher.bind(args.publisher)
        collector.bind(args.collector)
        poller = zmq.Poller()
        poller.register(snapshot, zmq.POLLIN)
        poller.register(collector, zmq.POLLIN)
        print(f"clonesrv: ready on {args.snapshot}, {args.publisher}, {args.collector}")
        hugz_at = time.monotonic()
        try:
            while time.monotonic() < deadline:
                events = dict(poller.poll(max(0, round((min(hugz_at, deadline) - time.monotonic()) * 1000))))
                if collector in events:
                    update = collector.recv_multipart()
                    if len(update) == 5 and len(update[1]) == 8 and len(update[2]) in (0, 16):
                        sequence += 1                # the server alone decides the order
                        update[1] = struct.pack("!q", sequence)
                        kvmap[update[0]] = update    # store, then publish
                        publisher.send_multipart(update)
                    else:
                        print(f"clonesrv: not a kvmsg, dropped: {update!r}")
                if snapshot in events:               # [client, b"ICANHAZ?", subtree (optional)]
                    client, request, *subtree = snapshot.recv_multipart()
                    if request == b"ICANHAZ?":
                        prefix = subtree[0] if subtree else b""
                        for key, update in list(kvmap.items()):
                            if key.startswith(prefix):
                                snapshot.send_multipart([client, *update])
                        snapshot.send_multipart([client, b"KTHXBAI", struct.pack("!q", sequence), b"", b"", prefix])
                if time.monotonic() >= hugz_at:
                    publisher.send_multipart([b"HUGZ", struct.pack("!q", sequence), b"", b"", b""])
                    hugz_at = time.monotonic() + args.heartbeat
        finally:                             # also on Ctrl-C: what the state came to
            print(f"clonesrv: sequence={sequence} keys={len(kvmap)} digest={digest(kvmap)}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
