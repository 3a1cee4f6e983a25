#!/usr/bin/env python3
"""Clone client, model 3: a copy of the server's state, kept exact; writes go through the server.

Taught in notebooks/07_clone_updates.ipynb (model 3) and notebooks/06_clone_snapshot.ipynb
(model 2: with ``--count 0`` this client only reads). It subscribes first, then asks for a
snapshot (``ICANHAZ?`` on a DEALER, answered by every key and ``KTHXBAI`` with the state's
sequence), then applies only newer updates, in order. A gap in the sequence numbers, or a ``HUGZ``
heartbeat carrying a sequence above its own, means it missed something: it takes a new snapshot.
It pushes ``--count`` updates of its own (sequence 0) at ``--rate`` per second and applies them
only when the server republishes them, numbered, like everyone else's. It stops once its own
updates have come back and a ``HUGZ`` shows it is level with the server (``--follow``: it stays).
Before its first snapshot it waits for a ``HUGZ``: one that arrived proves the subscription is in
place at the server, so no update can fall between the snapshot and the stream. The uuid frame
may be empty (the guide's server sends empty ones).

    python examples/clonecli.py --count 10
    python -m zguide_py run clone.clonesrv3 --bind snapshot=tcp://127.0.0.1:5556 --bind publisher=tcp://127.0.0.1:5557 --bind collector=tcp://127.0.0.1:5558
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import struct
import time

import zmq


def ms_left(deadline: float) -> int | None:
    """Milliseconds left until ``deadline`` (a time.monotonic() value), for poll(); None: no deadline."""
    return None if deadline == float("inf") else max(0, round((deadline - time.monotonic()) * 1000))


def digest(kvmap: dict[bytes, list[bytes]]) -> str:
    """A short fingerprint of a whole state (key, sequence, body of every key), to compare copies."""
    h = hashlib.sha256()
    for key in sorted(kvmap):
        h.update(b"%d:%s%s%s" % (len(key), key, kvmap[key][1], kvmap[key][4]))
    return h.hexdigest()[:16]


def get_snapshot(ctx: zmq.Context, endpoint: str, timeout: float,
                 deadline: float) -> tuple[dict[bytes, list[bytes]], int]:
    """ICANHAZ? -> every key ... KTHXBAI. A stalled answer: ask again on a new socket."""
    while time.monotonic() < deadline:
        with ctx.socket(zmq.DEALER) as dealer:
            dealer.linger = 0
            dealer.connect(endpoint)
            dealer.send_multipart([b"ICANHAZ?", b""])  # b"": the whole tree
            kvmap: dict[bytes, list[bytes]] = {}
            while dealer.poll(round(timeout * 1000)):
                update = dealer.recv_multipart()
                if len(update) != 5 or len(update[1]) != 8:
                    continue                     # not a kvmsg
                if update[0] == b"KTHXBAI":
                    return kvmap, struct.unpack("!q", update[1])[0]
                kvmap[update[0]] = update
        print("clonecli: no snapshot, asking again")
    raise TimeoutError("no snapshot")


def main() -> int:
    parser = argparse.ArgumentParser(description="Clone client, model 3")
    parser.add_argument("--snapshot", default="tcp://127.0.0.1:5556")
    parser.add_argument("--publisher", default="tcp://127.0.0.1:5557")
    parser.add_argument("--collector", default="tcp://127.0.0.1:5558")
    parser.add_argument("--name", default=f"client-{os.getpid()}")
    parser.add_argument("--count", type=int, default=10, help="updates to write (0: only read)")
    parser.add_argument("--rate", type=float, default=20.0, help="updates written per second")
    parser.add_argument("--keys", type=int, default=20, help="write to keys key-000 .. key-<keys-1>")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for a snapshot")
    parser.add_argument("--follow", action="store_true", help="keep following when done")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    mine: set[bytes] = set()                     # uuids of our updates not seen back yet
    written = resyncs = 0
    with zmq.Context() as ctx, ctx.socket(zmq.SUB) as sub, ctx.socket(zmq.PUSH) as push:
        sub.linger, push.linger = 0, 1000
        sub.subscribe(b"")                       # 1. subscribe first, so no update slips past...
        sub.connect(args.publisher)
        push.connect(args.collector)
        while sub.poll(ms_left(deadline)) and sub.recv_multipart()[0] != b"HUGZ":
            pass                                 # a HUGZ proves our subscription reached the server
        kvmap, sequence = get_snapshot(ctx, args.snapshot, args.timeout, deadline)   # 2. ...then the state
        write_at, level = time.monotonic(), False
        while time.monotonic() < deadline and (args.follow or written < args.count or mine or not level):
            if written < args.count and time.monotonic() >= write_at:   # 3. write through the server
                uuid = os.urandom(16)
                key, body = f"key-{random.randrange(args.keys):03d}", f"{random.randrange(10**6)}"
                push.send_multipart([key.encode(), struct.pack("!q", 0), uuid, f"from={args.name}\n".encode(),
                                     body.encode()])
                mine.add(uuid)
                written, write_at = written + 1, write_at + 1 / args.rate
            if not sub.poll(ms_left(write_at if written < args.count else deadline)):
                continue
            update = sub.recv_multipart()        # 4. apply the next update, in order
            if len(update) != 5 or len(update[1]) != 8:
                continue                         # not a kvmsg
            key, seq = update[0], struct.unpack("!q", update[1])[0]
            if key == b"HUGZ":                   # the server's heartbeat: are we level with it?
                level, behind = seq == sequence, seq > sequence
            else:
                level, behind = False, seq > sequence + 1
                if seq == sequence + 1:          # the next update: apply it (older ones: skip)
                    kvmap[key], sequence = update, seq
                    mine.discard(update[2])
            if behind:                           # we missed something: start over from a snapshot
                resyncs += 1
                kvmap, sequence = get_snapshot(ctx, args.snapshot, args.timeout, deadline)
                mine -= {update[2] for update in kvmap.values()}
    print(f"clonecli: {args.name} written={written} missing={len(mine)} resyncs={resyncs} "
          f"sequence={sequence} keys={len(kvmap)} digest={digest(kvmap)}")
    return 0 if not mine else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
    except TimeoutError:                         # --seconds ran out before any snapshot came
        raise SystemExit("clonecli: no snapshot from the server") from None
