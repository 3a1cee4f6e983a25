#!/usr/bin/env python3
"""Majordomo broker: routes requests by service name to heartbeating workers (7/MDP v0.1).

Taught in notebooks/12_majordomo.ipynb. One ROUTER for clients and workers. Each request waits
in its service's queue for an idle worker of that service (longest idle first). Workers and broker
heartbeat each other every ``--heartbeat`` s; a worker silent for ``--liveness`` heartbeats is
forgotten (a request it held is lost: the client retries). ``mmi.service`` (8/MMI) answers 200 or
404: is that service offered? Spec defaults: 2.5 s x 3. Frames, as the ROUTER sees them:

    client  [client, b"", b"MDPC01", service, body...]           (reply: the same shape)
    worker  [worker, b"", b"MDPW01", b"\\x01" READY, service]
    broker  [worker, b"", b"MDPW01", b"\\x02" REQUEST, client, b"", body...]
    worker  [worker, b"", b"MDPW01", b"\\x03" REPLY, client, b"", body...]
    both    [worker, b"", b"MDPW01", b"\\x04" HEARTBEAT]  or  [.., b"\\x05" DISCONNECT]

    python examples/mdbroker.py
    python examples/mdworker.py --service echo &  python examples/mdclient.py --service echo --count 10
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict, deque

import zmq

MDPC, MDPW = b"MDPC01", b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"


def main() -> int:
    parser = argparse.ArgumentParser(description="Majordomo broker (7/MDP)")
    parser.add_argument("--bind", default="tcp://127.0.0.1:5555")
    parser.add_argument("--heartbeat", type=float, default=2.5, help="seconds between heartbeats")
    parser.add_argument("--liveness", type=int, default=3, help="silent heartbeats before a worker is dead")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))

    service_of: dict[bytes, bytes] = {}          # worker -> its service
    expiry: dict[bytes, float] = {}              # worker -> dead if silent until then
    idle: defaultdict[bytes, deque[bytes]] = defaultdict(deque)          # service -> idle workers
    queued: defaultdict[bytes, deque[list[bytes]]] = defaultdict(deque)  # service -> [client, b"", body..]
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as router:
        router.linger = 0
        router.bind(args.bind)
        print(f"mdbroker: ready on {args.bind}")

        def dispatch(service: bytes) -> None:
            while queued[service] and idle[service]:
                router.send_multipart([idle[service].popleft(), b"", MDPW, REQUEST, *queued[service].popleft()])

        def forget(worker: bytes) -> None:
            service = service_of.pop(worker)
            del expiry[worker]
            if worker in idle[service]:
                idle[service].remove(worker)

        heartbeat_at = time.monotonic() + args.heartbeat
        while time.monotonic() < deadline:
            if router.poll(max(0, round((heartbeat_at - time.monotonic()) * 1000))):
                frames = router.recv_multipart()
                if len(frames) < 4 or frames[1] != b"":           # not MDP: drop it
                    continue
                sender, _empty, header, *rest = frames
                if header == MDPC:               # a client: [service, body...]
                    service, *body = rest
                    if service.startswith(b"mmi."):                # 8/MMI: answered here
                        found = service == b"mmi.service" and bool(body) and body[0] in service_of.values()
                        answer = b"200" if found else b"404" if service == b"mmi.service" else b"501"
                        router.send_multipart([sender, b"", MDPC, service, answer])
                    else:
                        queued[service].append([sender, b"", *body])
                        dispatch(service)
                elif header == MDPW:             # a worker: [command, ...]
                    command, *rest = rest
                    known = sender in service_of
                    if command == READY and not known and rest and not rest[0].startswith(b"mmi."):
                        service_of[sender] = rest[0]               # a new worker
                    elif not known or command not in (REPLY, HEARTBEAT):
                        # a stranger (we forgot it, or restarted), a second READY, DISCONNECT, junk
                        if command != DISCONNECT:
                            router.send_multipart([sender, b"", MDPW, DISCONNECT])
                        if known:
                            forget(sender)
                        continue
                    elif command == REPLY and len(rest) >= 2:      # [client, b"", body...]
                        client, _empty, *body = rest
                        router.send_multipart([client, b"", MDPC, service_of[sender], *body])
                    expiry[sender] = time.monotonic() + args.liveness * args.heartbeat   # any command
                    if command in (READY, REPLY) and sender not in idle[service_of[sender]]:
                        idle[service_of[sender]].append(sender)    # free for the next request
                        dispatch(service_of[sender])
            now = time.monotonic()
            if now >= heartbeat_at:
                for worker in [w for w, t in expiry.items() if t < now]:
                    print(f"mdbroker: worker {worker!r} is silent, forgotten")
                    forget(worker)
                for worker in service_of:
                    router.send_multipart([worker, b"", MDPW, HEARTBEAT])
                heartbeat_at = now + args.heartbeat
    print("mdbroker: stopped")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
