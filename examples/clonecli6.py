#!/usr/bin/env python3
"""Clone client, models 4 to 6: a copy of one subtree of the map, writes, and failover between two servers.

Taught in notebooks/25_clone_reliable.ipynb. It keeps the keys under ``--subtree`` (a prefix; "" is the
whole map): it subscribes to that prefix and to ``HUGZ`` on one server's PUB, then asks that server's
ROUTER for a snapshot (``ICANHAZ?`` + subtree -> keys ... ``KTHXBAI``) and applies newer updates; an
empty body deletes a key. It writes ``--count`` updates (sequence 0, a fresh uuid, ``ttl=`` if
``--ttl`` is given) to keys under its subtree, through an XPUB connected to every server's collector,
once every collector has subscribed (the XPUB hears each subscription). A server that says nothing
for ``--server-ttl`` seconds is left for the next one, which is asked for a new snapshot; one that
gives no snapshot within ``--timeout`` (dead, or passive) too. It stops once its own updates have come
back and a ``HUGZ`` followed (``--follow``: it stays); those written before a snapshot are not waited
for (the snapshot holds them, or a newer value, or they come after it: it cannot tell which, and
prints how many as ``unconfirmed``). A client of the whole map takes a new snapshot
at a gap in the numbers; a subtree's client sees only some numbers, so it checks only the first message
after a snapshot. The uuid frame may be empty.

    python examples/clonesrv6.py --primary &  python examples/clonesrv6.py --backup &
    python examples/clonecli6.py --subtree /red/ --count 20 --ttl 5
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import struct
import time

import zmq


def digest(kvmap: dict[bytes, list[bytes]]) -> str:
    """A short fingerprint of a whole state (key, sequence, body of every key), to compare copies."""
    h = hashlib.sha256()
    for key in sorted(kvmap):
        h.update(b"%d:%s%s%s" % (len(key), key, kvmap[key][1], kvmap[key][4]))
    return h.hexdigest()[:16]


def is_kvmsg(frames: list[bytes]) -> bool:
    return len(frames) == 5 and len(frames[1]) == 8 and len(frames[2]) in (0, 16)


def get_snapshot(ctx: zmq.Context, endpoint: str, subtree: bytes,
                 timeout: float) -> tuple[dict[bytes, list[bytes]], int] | None:
    """ICANHAZ? + subtree -> ({key: frames}, sequence), or None if no KTHXBAI came within ``timeout``."""
    with ctx.socket(zmq.DEALER) as dealer:
        dealer.linger = 0
        dealer.connect(endpoint)
        dealer.send_multipart([b"ICANHAZ?", subtree])
        kvmap: dict[bytes, list[bytes]] = {}
        while dealer.poll(round(timeout * 1000)):
            frames = dealer.recv_multipart()
            if not is_kvmsg(frames):
                continue
            if frames[0] == b"KTHXBAI":
                return kvmap, struct.unpack("!q", frames[1])[0]
            if frames[0].startswith(subtree) and frames[4]:
                kvmap[frames[0]] = frames
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description="Clone client, models 4-6")
    parser.add_argument("--snapshot", nargs="+", default=["tcp://127.0.0.1:5556", "tcp://127.0.0.1:5566"])
    parser.add_argument("--publisher", nargs="+", default=["tcp://127.0.0.1:5557", "tcp://127.0.0.1:5567"])
    parser.add_argument("--collector", nargs="+", default=["tcp://127.0.0.1:5558", "tcp://127.0.0.1:5568"])
    parser.add_argument("--subtree", default="", help="the key prefix to follow and write under")
    parser.add_argument("--name", default=f"client-{os.getpid()}")
    parser.add_argument("--count", type=int, default=10, help="updates to write (0: only read)")
    parser.add_argument("--rate", type=float, default=20.0, help="updates written per second")
    parser.add_argument("--keys", type=int, default=10, help="write to SUBTREEkey-000 .. key-<keys-1>")
    parser.add_argument("--ttl", type=float, default=None, help="seconds each written value lives")
    parser.add_argument("--server-ttl", type=float, default=5.0, help="seconds of silence before failover")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for a snapshot")
    parser.add_argument("--follow", action="store_true", help="keep following when done")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    if not len(args.snapshot) == len(args.publisher) == len(args.collector):
        parser.error("give as many --snapshot, --publisher and --collector endpoints as there are servers")
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))
    subtree = args.subtree.encode()
    props = f"from={args.name}\n" + (f"ttl={args.ttl:g}\n" if args.ttl else "")

    mine: set[bytes] = set()                     # uuids of our updates not seen back yet
    written = failovers = listening = unconfirmed = 0
    index, sub, kvmap, sequence = 0, None, None, 0
    with zmq.Context() as ctx, ctx.socket(zmq.XPUB) as updates:
        updates.linger, updates.xpub_verbose, updates.immediate = 1000, 1, 1
        for endpoint in args.collector:
            updates.connect(endpoint)
        began = write_at = time.monotonic()
        try:
            while time.monotonic() < deadline:
                if sub is None:                  # subscribe first, to the subtree and HUGZ...
                    sub = ctx.socket(zmq.SUB)
                    sub.linger = 0
                    for topic in ((subtree, b"HUGZ") if subtree else (b"",)):
                        sub.subscribe(topic)
                    sub.connect(args.publisher[index])
                    proven, level = False, False
                if kvmap is None:                # ...then ask for the state
                    got = get_snapshot(ctx, args.snapshot[index], subtree, args.timeout)
                    if got is None:              # dead, or passive: try the next server
                        sub.close()
                        sub, index = None, (index + 1) % len(args.snapshot)
                        continue
                    kvmap, sequence = got        # what we wrote so far is in it, or replaced, or will
                    unconfirmed += len(mine)     # come after it: we cannot tell which, so we stop waiting
                    mine.clear()
                    print(f"clonecli6: snapshot from server {index + 1}, sequence={sequence}", flush=True)
                    heard = time.monotonic()
                ready = listening >= len(args.collector) or time.monotonic() - began > 2 * args.timeout
                if ready and written < args.count and time.monotonic() >= write_at:
                    uuid = os.urandom(16)
                    key = subtree + b"key-%03d" % random.randrange(args.keys)
                    updates.send_multipart([key, struct.pack("!q", 0), uuid, props.encode(),
                                            str(random.randrange(10**6)).encode()])
                    mine.add(uuid)
                    written, write_at = written + 1, write_at + 1 / args.rate
                    if written % 10 == 0:
                        print(f"clonecli6: written {written}", flush=True)
                if updates.poll(0):              # a collector subscribed
                    listening += updates.recv()[:1] == b"\x01"
                if not args.follow and written >= args.count and not mine and level:
                    break
                if not sub.poll(10):
                    if time.monotonic() - heard > args.server_ttl:    # silence: fail over
                        failovers += 1
                        print(f"clonecli6: server {index + 1} silent at sequence={sequence}, failing over",
                              flush=True)
                        sub.close()
                        sub, kvmap, index = None, None, (index + 1) % len(args.snapshot)
                    continue
                frames = sub.recv_multipart()
                heard = time.monotonic()
                if not is_kvmsg(frames):
                    continue
                seq, strict = struct.unpack("!q", frames[1])[0], not subtree or not proven
                proven = True
                if frames[0] == b"HUGZ":
                    level = seq == sequence if not subtree else not mine
                    if strict and seq > sequence:
                        kvmap = None             # we missed something: a new snapshot
                    continue
                if seq <= sequence or not frames[0].startswith(subtree):
                    continue
                if strict and seq > sequence + 1:
                    kvmap = None
                    continue
                sequence, level = seq, False
                mine.discard(frames[2])
                if frames[4]:
                    kvmap[frames[0]] = frames
                else:
                    kvmap.pop(frames[0], None)   # an empty body deletes
        finally:
            if sub is not None:
                sub.close()
    print(f"clonecli6: {args.name} written={written} missing={len(mine)} unconfirmed={unconfirmed} failovers={failovers} "
          f"sequence={sequence} keys={len(kvmap or {})} digest={digest(kvmap or {})}", flush=True)
    return 0 if not mine else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-block closed everything
        raise SystemExit(0) from None
