#!/usr/bin/env python3
"""Binary Star server: a primary and a backup, exactly one of them active (high-availability pair).

Taught in notebooks/14_binary_star.ipynb. Each server has a ROUTER ``--frontend`` for clients
(it echoes requests while active), a PUB that tells its peer its state every ``--heartbeat`` s
(``b"1"`` primary, ``b"2"`` backup, ``b"3"`` active, ``b"4"`` passive) and a SUB to the peer's.
The primary goes active when it hears the backup; the backup goes passive when it hears an active
peer. The passive one takes over only when a client request reaches it *and* the peer has been
silent for two heartbeats (silence alone could be a broken link: two actives, split brain). Until a
server has heard its peer it serves nobody, unless ``--alone-after`` s pass (primary only).

    python examples/bstarsrv.py --primary &  python examples/bstarsrv.py --backup &
    python examples/bstarcli.py --count 100 --interval 0.1      # kill the primary meanwhile
"""
from __future__ import annotations

import argparse
import time

import zmq

PRIMARY, BACKUP, ACTIVE, PASSIVE, CLIENT_REQUEST = 1, 2, 3, 4, 5   # states; peer events use the same numbers
NAMES = {PRIMARY: "primary", BACKUP: "backup", ACTIVE: "active", PASSIVE: "passive"}


def next_state(state: int, event: int, peer_silent: bool) -> tuple[int, bool]:
    """The state machine: (new state, serve this client request?). Two actives or passives: fatal."""
    if (state, event) in ((ACTIVE, ACTIVE), (PASSIVE, PASSIVE)):
        raise SystemExit(f"bstarsrv: fatal, dual {NAMES[state]}s")
    if state == PRIMARY and event in (BACKUP, ACTIVE):
        return (ACTIVE if event == BACKUP else PASSIVE), False
    if state == BACKUP and event == ACTIVE:
        return PASSIVE, False
    if state == PASSIVE and event in (PRIMARY, BACKUP):     # the peer restarted: we take over
        return ACTIVE, False
    if event == CLIENT_REQUEST:
        if state == ACTIVE or (state in (PASSIVE, PRIMARY) and peer_silent):   # failover
            return ACTIVE, True
    return state, False


def main() -> int:
    parser = argparse.ArgumentParser(description="Binary Star server")
    side = parser.add_mutually_exclusive_group(required=True)
    side.add_argument("--primary", action="store_true")
    side.add_argument("--backup", action="store_true")
    parser.add_argument("--frontend", help="where clients connect (default tcp://127.0.0.1:5001, backup 5002)")
    parser.add_argument("--statepub", help="our state for the peer (default tcp://127.0.0.1:5003, backup 5004)")
    parser.add_argument("--peer", help="the peer's statepub (default tcp://127.0.0.1:5004, backup 5003)")
    parser.add_argument("--heartbeat", type=float, default=1.0, help="seconds between state messages")
    parser.add_argument("--alone-after", type=float, default=None, help="a lone primary serves after this long")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    ports = (5001, 5003, 5004) if args.primary else (5002, 5004, 5003)
    frontend, statepub, peer = (given or f"tcp://127.0.0.1:{port}"
                                for given, port in zip((args.frontend, args.statepub, args.peer), ports))
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    state = PRIMARY if args.primary else BACKUP
    # until we hear the peer it may be alive (and active): only a primary told so may serve alone
    peer_expiry = time.monotonic() + args.alone_after if args.primary and args.alone_after else float("inf")
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as front, ctx.socket(zmq.PUB) as pub, \
            ctx.socket(zmq.SUB) as sub:
        for sock in (front, pub, sub):
            sock.linger = 0
        front.bind(frontend)
        pub.bind(statepub)
        sub.subscribe(b"")
        sub.connect(peer)
        poller = zmq.Poller()
        poller.register(front, zmq.POLLIN)
        poller.register(sub, zmq.POLLIN)
        print(f"bstarsrv: {NAMES[state]} ready on {frontend}")
        send_at = time.monotonic()
        while time.monotonic() < deadline:
            events = dict(poller.poll(max(0, round((send_at - time.monotonic()) * 1000))))
            if sub in events:                    # the peer's state: news before any client request
                message = sub.recv()
                if message in (b"1", b"2", b"3", b"4"):
                    peer_expiry = time.monotonic() + 2 * args.heartbeat
                    state, _ = next_state(state, int(message), False)
            if front in events:
                request = front.recv_multipart()              # [client, b"", body]
                new, serve = next_state(state, CLIENT_REQUEST, time.monotonic() >= peer_expiry)
                if new != state:
                    print(f"bstarsrv: failover, {NAMES[state]} -> {NAMES[new]}")
                state = new
                if serve:
                    front.send_multipart(request)             # dropped otherwise: the client switches
            if time.monotonic() >= send_at:
                pub.send(str(state).encode())
                send_at = time.monotonic() + args.heartbeat
    print(f"bstarsrv: stopped, {NAMES[state]}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
