#!/usr/bin/env python3
"""Freelance client, model 3: a ROUTER that pings every server and sends to one alive (10/FLP).

Taught in notebooks/15_freelance.ipynb. No broker: the client connects a ROUTER to every server
and addresses each by its endpoint. It pings each server every ``--ping-interval`` s and believes
one alive while it heard from it within ``--server-ttl`` s. A request ``[control, body]`` (control
= its sequence number) goes to the first server alive; with no reply after ``--retry`` s, to the
next one alive; after ``--timeout`` s it fails. Replies to older copies are dropped. Defaults as the
guide's: ping 2 s, TTL 6 s, timeout 3 s.

    python examples/flclient.py --servers tcp://127.0.0.1:5555 tcp://127.0.0.1:5556 --count 10
    python -m zguide_py run freelance.server_router --bind tcp://127.0.0.1:5555   # the workbook's server
"""
from __future__ import annotations

import argparse
import time

import zmq


def main() -> int:
    parser = argparse.ArgumentParser(description="Freelance client, model 3 (10/FLP)")
    parser.add_argument("--servers", nargs="+", default=["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"])
    parser.add_argument("--count", type=int, default=10, help="requests to send")
    parser.add_argument("--ping-interval", type=float, default=2.0)
    parser.add_argument("--server-ttl", type=float, default=6.0)
    parser.add_argument("--retry", type=float, default=1.0, help="seconds before trying the next server")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds before a request fails")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between requests (s)")
    args = parser.parse_args()

    servers = [s.encode() for s in args.servers]
    alive_until = dict.fromkeys(servers, 0.0)    # server -> believed alive until
    ping_at = dict.fromkeys(servers, 0.0)        # server -> next ping due
    replies = failed = 0
    with zmq.Context() as ctx, ctx.socket(zmq.ROUTER) as router:
        router.linger = 0
        router.router_mandatory = 1              # to a server not connected (yet): raise, not drop
        router.router_handover = 1               # a restarted server takes its identity back
        for endpoint in args.servers:
            router.connect(endpoint)

        def send(server: bytes, frames: list[bytes]) -> bool:
            try:
                router.send_multipart([server, *frames], zmq.NOBLOCK)
                return True
            except zmq.ZMQError as exc:          # EHOSTUNREACH: not connected; EAGAIN: queue full
                if exc.errno not in (zmq.EHOSTUNREACH, zmq.EAGAIN):
                    raise
                return False

        for n in range(args.count):
            control, body = str(n).encode(), f"request {n}".encode()
            tried: list[bytes] = []
            now = resend_at = time.monotonic()
            give_up_at, answered = now + args.timeout, False
            while not answered and now < give_up_at:
                if now >= resend_at:             # the next server alive that has not had it
                    alive = [s for s in servers if alive_until[s] > now]
                    for server in [s for s in alive if s not in tried] or alive:
                        if send(server, [control, body]):
                            tried.append(server)
                            break
                    resend_at = now + args.retry
                for server in [s for s in servers if ping_at[s] <= now]:
                    send(server, [b"PING"])
                    ping_at[server] = now + args.ping_interval
                wake = min(give_up_at, resend_at, *ping_at.values())
                if router.poll(max(0, round((wake - time.monotonic()) * 1000))):
                    server, *frames = router.recv_multipart()
                    alive_until[server] = time.monotonic() + args.server_ttl   # any message: alive
                    answered = frames[:1] == [control]          # (a PONG, or an older copy: not ours)
                    if not tried:                # a first sign of life: send the request now
                        resend_at = time.monotonic()
                now = time.monotonic()
            replies, failed = replies + answered, failed + (not answered)
            print(f"flclient: request {n} {'OK' if answered else 'failed'}")
            time.sleep(args.interval)            # pacing, so that you can kill a server meanwhile
    print(f"flclient: replies={replies} failed={failed}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-blocks closed everything
        raise SystemExit(0) from None
