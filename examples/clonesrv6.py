#!/usr/bin/env python3
"""Clone server, models 4 to 6: subtrees, ephemeral values, and a primary/backup pair (Binary Star).

Taught in notebooks/25_clone_reliable.ipynb, after notebooks/07_clone_updates.ipynb (model 3). Each
server binds a ROUTER ``--snapshot`` (``ICANHAZ?`` + subtree -> the keys under that prefix, then
``KTHXBAI`` with the sequence and the subtree), a PUB ``--publisher`` (numbered updates, ``HUGZ``) and a
SUB ``--collector`` (clients publish their updates to it, with sequence 0). An update with a property
``ttl=SECONDS`` expires: the server deletes the key and publishes the deletion (an empty body); an
empty body from a client deletes too.

``--primary`` / ``--backup``: one of a pair. They tell each other their state every ``--heartbeat``
seconds (PUB ``--statepub`` to the peer's SUB ``--peer-statepub``: b"1" primary, b"2" backup,
b"3" active, b"4" passive). The active one serves. The passive one takes a snapshot of the active one
(``--peer-snapshot``), follows its updates (``--peer-publisher``) and keeps each client update on a
pending list until the active one publishes it (same uuid). It takes over when a snapshot request
reaches it and its peer has been silent for two heartbeats, and then numbers what is still pending.
An update is numbered once, whoever sends it twice. ``--single``: one server, models 4 and 5.

    python examples/clonesrv6.py --primary &  python examples/clonesrv6.py --backup &
    python examples/clonecli6.py --subtree /red/ --count 20 --ttl 5
"""
from __future__ import annotations

import argparse
import hashlib
import os
import struct
import time

import zmq

PRIMARY, BACKUP, ACTIVE, PASSIVE, CLIENT_REQUEST = 1, 2, 3, 4, 5   # states; peer events use the same numbers
NAMES = {PRIMARY: "primary", BACKUP: "backup", ACTIVE: "active", PASSIVE: "passive"}


def next_state(state: int, event: int, peer_silent: bool) -> tuple[int, bool]:
    """Binary Star: (new state, answer this client?). Two actives or two passives: fatal."""
    if (state, event) in ((ACTIVE, ACTIVE), (PASSIVE, PASSIVE)):
        raise SystemExit(f"clonesrv6: fatal, dual {NAMES[state]}s")
    if state == PRIMARY and event in (BACKUP, ACTIVE):
        return (ACTIVE if event == BACKUP else PASSIVE), False
    if state == BACKUP and event == ACTIVE:
        return PASSIVE, False
    if state == PASSIVE and event in (PRIMARY, BACKUP):     # the peer restarted: we take over
        return ACTIVE, False
    if event == CLIENT_REQUEST and (state == ACTIVE or state == PASSIVE and peer_silent):
        return ACTIVE, True
    return state, False


def kvmsg(frames: list[bytes]) -> tuple[str, int, bytes, dict, bytes] | None:
    """(key, sequence, uuid, properties, body) of a five-frame kvmsg, None if it is not one."""
    if len(frames) != 5 or len(frames[1]) != 8 or len(frames[2]) not in (0, 16) or len(frames[0]) > 255:
        return None
    try:
        props = dict(line.split("=", 1) for line in frames[3].decode().splitlines())
        ttl = float(props.get("ttl", "1"))
        if not 0 < ttl <= 86400:
            return None
        return frames[0].decode(), struct.unpack("!q", frames[1])[0], frames[2], props, frames[4]
    except ValueError:                               # not UTF-8, a line without '=', a ttl not a number
        return None


def digest(kvmap: dict[str, list[bytes]]) -> str:
    """A short fingerprint of a whole state (key, sequence, body of every key), to compare copies."""
    h = hashlib.sha256()
    for key in sorted(kvmap):
        h.update(b"%d:%s%s%s" % (len(key.encode()), key.encode(), kvmap[key][1], kvmap[key][4]))
    return h.hexdigest()[:16]


class State:
    """The map (key -> its latest update's five frames), its sequence, expiry times, uuids stored."""

    def __init__(self, kvmap=None, sequence: int = 0):
        self.kvmap, self.sequence, self.expires, self.seen = kvmap or {}, sequence, {}, set()
        for key, frames in self.kvmap.items():
            self.seen.add(frames[2])
            self.set_expiry(key, frames)

    def set_expiry(self, key: str, frames: list[bytes]) -> None:
        ttl = kvmsg(frames)[3].get("ttl")
        if ttl:
            self.expires[key] = time.monotonic() + float(ttl)

    def store(self, frames: list[bytes]) -> None:
        """Apply one numbered update: set its key, or delete it (empty body)."""
        key = frames[0].decode()
        self.sequence = struct.unpack("!q", frames[1])[0]
        if frames[2]:
            self.seen.add(frames[2])
        self.expires.pop(key, None)
        if frames[4]:
            self.kvmap[key] = frames
            self.set_expiry(key, frames)
        else:
            self.kvmap.pop(key, None)

    def publish(self, pub: zmq.Socket, frames: list[bytes]) -> None:
        """The next number, store, publish: the only way an active server changes the state."""
        frames = [frames[0], struct.pack("!q", self.sequence + 1), *frames[2:]]
        self.store(frames)
        pub.send_multipart(frames)


def get_snapshot(ctx: zmq.Context, endpoint: str, timeout: float) -> State | None:
    """A passive server's copy of the active one's state, None if it gave none within ``timeout``."""
    with ctx.socket(zmq.DEALER) as dealer:
        dealer.linger = 0
        dealer.connect(endpoint)
        dealer.send_multipart([b"ICANHAZ?", b""])
        kvmap: dict[str, list[bytes]] = {}
        while dealer.poll(round(timeout * 1000)):
            frames = dealer.recv_multipart()
            if (msg := kvmsg(frames)) is None:
                continue
            if msg[0] == "KTHXBAI":
                return State(kvmap, msg[1])
            kvmap[msg[0]] = frames
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description="Clone server, models 4-6")
    side = parser.add_mutually_exclusive_group(required=True)
    for flag in ("--primary", "--backup", "--single"):
        side.add_argument(flag, action="store_true")
    for name, help_ in [("snapshot", "ROUTER for ICANHAZ? (default port 5556, backup 5566)"),
                        ("publisher", "PUB for updates (default 5557, backup 5567)"),
                        ("collector", "SUB for clients' updates (default 5558, backup 5568)"),
                        ("statepub", "PUB for our state (default 5003, backup 5004)"),
                        ("peer-statepub", "the peer's state PUB"), ("peer-snapshot", "the peer's ROUTER"),
                        ("peer-publisher", "the peer's PUB")]:
        parser.add_argument(f"--{name}", help=help_)
    parser.add_argument("--heartbeat", type=float, default=1.0, help="seconds between state messages")
    parser.add_argument("--hugz", type=float, default=1.0, help="seconds between HUGZ")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    mine, peer = ((5556, 5003), (5566, 5004)) if not args.backup else ((5566, 5004), (5556, 5003))
    ep = {"snapshot": mine[0], "publisher": mine[0] + 1, "collector": mine[0] + 2, "statepub": mine[1],
          "peer_statepub": peer[1], "peer_snapshot": peer[0], "peer_publisher": peer[0] + 1}
    ep = {k: getattr(args, k) or f"tcp://127.0.0.1:{port}" for k, port in ep.items()}
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    state = ACTIVE if args.single else PRIMARY if args.primary else BACKUP
    data, pending, in_sync = State(), {}, not args.backup       # pending: uuid -> frames
    peer_expiry = float("inf")                   # until we hear the peer, it may be alive (and active)
    with zmq.Context() as ctx:
        router, pub, collector = ctx.socket(zmq.ROUTER), ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
        state_pub, state_sub, follow = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB), ctx.socket(zmq.SUB)
        for sock in (router, pub, collector, state_pub, state_sub, follow):
            sock.linger = 0
        router.bind(ep["snapshot"])
        pub.bind(ep["publisher"])
        collector.subscribe(b"")
        collector.bind(ep["collector"])
        poller = zmq.Poller()
        for sock in (router, collector):
            poller.register(sock, zmq.POLLIN)
        if not args.single:
            state_pub.bind(ep["statepub"])
            for sock, endpoint in ((state_sub, ep["peer_statepub"]), (follow, ep["peer_publisher"])):
                sock.subscribe(b"")
                sock.connect(endpoint)
                poller.register(sock, zmq.POLLIN)
        print(f"clonesrv6: {NAMES[state]} ready on {ep['snapshot']}", flush=True)
        beat_at = hugz_at = time.monotonic()
        try:
            while time.monotonic() < deadline:
                wake = min(beat_at, hugz_at, *data.expires.values()) if state == ACTIVE else beat_at
                events = dict(poller.poll(max(0, round((min(wake, deadline) - time.monotonic()) * 1000))))
                was = state
                if state_sub in events and (message := state_sub.recv()) in (b"1", b"2", b"3", b"4"):
                    peer_expiry = time.monotonic() + 2 * args.heartbeat
                    state = next_state(state, int(message), False)[0]
                request = None
                if router in events:                 # [client, b"ICANHAZ?", subtree]: the voter
                    request = router.recv_multipart()
                    if len(request) in (2, 3) and request[1] == b"ICANHAZ?":
                        state, serve = next_state(state, CLIENT_REQUEST, time.monotonic() >= peer_expiry)
                        request = request if serve else None
                    else:
                        request = None
                if state != was:
                    print(f"clonesrv6: {NAMES[was]} -> {NAMES[state]}"
                          + (f" (takeover, {len(pending)} pending)" if was == PASSIVE else ""), flush=True)
                    in_sync = state == ACTIVE
                    if state == ACTIVE:                  # take over: number what the dead one never did
                        for frames in pending.values():
                            if frames[2] not in data.seen:
                                data.publish(pub, frames)
                        pending.clear()
                if request is not None:
                    client, subtree = request[0], request[2] if len(request) == 3 else b""
                    for frames in list(data.kvmap.values()):
                        if frames[0].startswith(subtree):
                            router.send_multipart([client, *frames])
                    router.send_multipart([client, b"KTHXBAI", struct.pack("!q", data.sequence), b"", b"", subtree])
                if collector in events:              # a client's update, sequence 0
                    frames = collector.recv_multipart()
                    if (msg := kvmsg(frames)) is None or msg[0] in ("", "KTHXBAI", "HUGZ"):
                        print(f"clonesrv6: not an update, dropped: {frames[:5]!r:.200}", flush=True)
                    elif frames[2] and frames[2] in data.seen:
                        pass                             # numbered already: once is enough
                    elif state == ACTIVE:
                        data.publish(pub, frames)
                    elif frames[2]:                      # passive: hold it until the active one has it
                        pending[frames[2]] = frames
                if follow in events:                     # the active server's stream
                    frames = follow.recv_multipart()
                    msg = kvmsg(frames)
                    if state == PASSIVE and in_sync and msg is not None and msg[1] > data.sequence:
                        if msg[0] == "HUGZ" or msg[1] > data.sequence + 1:
                            in_sync = False              # we missed something: a new snapshot
                        else:
                            pending.pop(frames[2], None)
                            data.store(frames)
                if state == PASSIVE and not in_sync:
                    if (got := get_snapshot(ctx, ep["peer_snapshot"], 2 * args.heartbeat)) is not None:
                        data, in_sync = got, True
                        pending.clear()
                        print(f"clonesrv6: snapshot from the active server, sequence={data.sequence}", flush=True)
                if state == ACTIVE:
                    now = time.monotonic()
                    for key in [k for k, t in data.expires.items() if t <= now]:   # ephemeral values
                        data.publish(pub, [key.encode(), b"", os.urandom(16), b"", b""])
                    if now >= hugz_at:
                        pub.send_multipart([b"HUGZ", struct.pack("!q", data.sequence), b"", b"", b""])
                        hugz_at = now + args.hugz
                if not args.single and time.monotonic() >= beat_at:
                    state_pub.send(str(state).encode())
                    beat_at = time.monotonic() + args.heartbeat
        finally:                                     # also on Ctrl-C: what the state came to
            for sock in (router, pub, collector, state_pub, state_sub, follow):
                sock.close()
            print(f"clonesrv6: {NAMES[state]} sequence={data.sequence} keys={len(data.kvmap)} "
                  f"digest={digest(data.kvmap)}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-block closed everything
        raise SystemExit(0) from None
