#!/usr/bin/env python3
"""Inter-broker routing: one cluster (a broker, its clients and workers as threads) peered with others.

Taught in notebooks/26_peering.ipynb. Run one process per cluster; the first name is this broker,
the others are its peers. Each broker binds two ipc endpoints named after it in ``--dir``:
``NAME-cloud.ipc`` (ROUTER, requests from peers) and ``NAME-state.ipc`` (PUB, its free workers),
and connects to its peers' (a ROUTER with its name as routing id, and a SUB).

    python examples/peering.py dc1 dc2 dc3 --workers 1 --clients 3 &
    python examples/peering.py dc2 dc1 dc3 --workers 3 --clients 1 &
    python examples/peering.py dc3 dc1 dc2 --workers 3 --clients 1

A client's request goes to a free local worker; only when there is none, to the peer that said it
has the most free workers. A peer's request is served here or waits here: never lent on. Frames:

    state (PUB)          [broker, free workers in decimal]
    to a peer (cloudbe)  [peer, client, b"", request]  -> its cloudfe gives [broker, client, b"", request]
    to a worker          [worker, b"", envelope..., b"", request]   (REQ workers say b"READY" first)

Clients are Lazy Pirates (a timeout, close, reopen, resend), so a peer that dies with a request
costs a retry, not an answer. The workbook's broker (``python -m zguide_py run peering.broker``)
speaks the same frames: give it ``--bind cloud=ipc://DIR/NAME-cloud.ipc`` and the like.
"""
from __future__ import annotations

import argparse
import os
import re
import tempfile
import threading
import time
from collections import Counter, deque

import zmq

READY = b"READY"


def worker_task(ctx: zmq.Context, name: str, work: float, stop: threading.Event) -> None:
    """A REQ worker: READY, then a task, ``work`` seconds, the reply ``<request> by <name>``."""
    with ctx.socket(zmq.REQ) as req:
        req.routing_id = name.encode()
        req.connect("inproc://localbe")
        req.send(READY)
        while not stop.is_set():
            if req.poll(100):
                *envelope, request = req.recv_multipart()      # [peer?, client, b"", request]
                time.sleep(work)
                req.send_multipart([*envelope, request + b" by " + name.encode()])


def client_task(ctx: zmq.Context, name: str, requests: int, timeout: float, retries: int,
                stop: threading.Event) -> None:
    """A Lazy Pirate REQ client; tells the broker's monitor how it went, every 10 answers and at the end."""
    served: Counter = Counter()                  # cluster that answered -> requests
    abandoned = 0
    with ctx.socket(zmq.PUSH) as monitor:
        monitor.connect("inproc://monitor")
        req = ctx.socket(zmq.REQ)
        req.connect("inproc://localfe")
        for seq in range(requests):
            request = f"{name}:{seq}".encode()
            for _ in range(retries):
                if stop.is_set():
                    break
                req.send(request)
                if req.poll(int(timeout * 1000)):
                    reply = req.recv()
                    served[reply.partition(b" by ")[2].decode(errors="replace").split("-")[0]] += 1
                    if sum(served.values()) % 10 == 0:
                        monitor.send_string(f"{name}: {sum(served.values())} answered")
                    break
                req.close(linger=0)                      # no reply in time: a fresh socket, then resend
                req = ctx.socket(zmq.REQ)
                req.connect("inproc://localfe")
            else:
                abandoned += 1
        req.close(linger=0)
        where = ", ".join(f"{cluster} {n}" for cluster, n in sorted(served.items()))
        monitor.send_string(f"{name}: done: replies={sum(served.values())} abandoned={abandoned} "
                            f"(answered by {where or 'nobody'})")


def has_envelope(frames: list[bytes]) -> bool:
    """[address..., b"", body]: something to route and something to answer."""
    return b"" in frames and 0 < frames.index(b"") < len(frames) - 1


def main() -> int:
    parser = argparse.ArgumentParser(description="one peered cluster: a broker with its clients and workers")
    parser.add_argument("me", help="this broker's name")
    parser.add_argument("peers", nargs="*", help="the names of its peers")
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "zguide-peering"),
                        help="folder of the brokers' ipc endpoints (the same for every broker)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--work", type=float, default=0.01, help="seconds a worker takes per task")
    parser.add_argument("--timeout", type=float, default=1.0, help="a client's wait before it resends")
    parser.add_argument("--retries", type=int, default=10, help="tries before a client abandons a request")
    parser.add_argument("--state-interval", type=float, default=1.0, help="seconds between state heartbeats")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    ep = lambda name, what: f"ipc://{os.path.join(args.dir, f'{name}-{what}.ipc')}"
    me = args.me.encode()
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else float("inf"))
    stop = threading.Event()
    with zmq.Context() as ctx:
        ctx.linger = 0
        localfe, localbe = ctx.socket(zmq.ROUTER), ctx.socket(zmq.ROUTER)
        localfe.bind("inproc://localfe")
        localbe.bind("inproc://localbe")
        cloudfe, cloudbe = ctx.socket(zmq.ROUTER), ctx.socket(zmq.ROUTER)
        cloudfe.routing_id = cloudbe.routing_id = me          # peers know us by name on both
        cloudbe.router_mandatory = 1                           # a peer not connected: an error, not a loss
        cloudfe.bind(ep(args.me, "cloud"))
        statebe, statefe = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
        statebe.bind(ep(args.me, "state"))
        statefe.subscribe(b"")
        for peer in args.peers:
            cloudbe.connect(ep(peer, "cloud"))
            statefe.connect(ep(peer, "state"))
        monitor = ctx.socket(zmq.PULL)
        monitor.bind("inproc://monitor")
        threads = [threading.Thread(target=worker_task, args=(ctx, f"{args.me}-worker{i + 1}", args.work, stop))
                   for i in range(args.workers)]
        threads += [threading.Thread(target=client_task, args=(ctx, f"{args.me}-client{i + 1}", args.requests,
                                                               args.timeout, args.retries, stop))
                    for i in range(args.clients)]
        for t in threads:
            t.start()
        print(f"{args.me}: ready, {args.workers} workers, {args.clients} clients, peers: "
              f"{', '.join(args.peers) or 'none'}", flush=True)
        peers = {p.encode() for p in args.peers}
        workers: deque[bytes] = deque()          # idle local workers, least recently used first
        cloud: dict[bytes, list] = {}            # peer -> [free workers, when heard]
        counts: Counter = Counter()              # what this broker did
        totals: Counter = Counter()              # what its clients said when done
        published, next_beat = -1, 0.0
        poller = zmq.Poller()
        for sock in (localbe, cloudbe, statefe, monitor, localfe, cloudfe):
            poller.register(sock, zmq.POLLIN)
        try:
            while time.monotonic() < deadline:
                now = time.monotonic()
                free_there = {p: f for p, (f, heard) in cloud.items() if f > 0 and now - heard < 3 * args.state_interval}
                # a peer's request only for a free worker of ours; a client's request when anyone has one
                poller.register(cloudfe, zmq.POLLIN if workers else 0)
                poller.register(localfe, zmq.POLLIN if workers or free_there else 0)
                events = dict(poller.poll(100 if deadline - now > 0.1 else max(0, round((deadline - now) * 1000))))
                if localbe in events:                                     # READY or a reply
                    worker, _, *reply = localbe.recv_multipart()
                    workers.append(worker)
                    if reply != [READY]:
                        (cloudfe if reply[0] in peers else localfe).send_multipart(reply)
                if cloudbe in events:                                     # a reply to a request we lent
                    _peer, *reply = cloudbe.recv_multipart()
                    localfe.send_multipart(reply)
                    counts["replies from peers"] += 1
                if statefe in events:
                    peer, free = statefe.recv_multipart()
                    if free.isdigit():
                        cloud[peer] = [int(free), time.monotonic()]
                if monitor in events:                                      # what our clients say
                    note = monitor.recv_string()
                    print(f"{args.me}: {note}", flush=True)
                    done = re.search(r": done: replies=(\d+) abandoned=(\d+)", note)
                    if done:
                        totals.update(clients=1, replies=int(done[1]), abandoned=int(done[2]))
                        if totals["clients"] == args.clients:
                            print(f"{args.me}: clients done: replies={totals['replies']} of "
                                  f"{args.clients * args.requests} abandoned={totals['abandoned']}; "
                                  + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)
                # route one request: a peer's first (it has waited once already), then a client's
                if cloudfe in events and workers:
                    sender, *request = cloudfe.recv_multipart()
                    if has_envelope(request):
                        localbe.send_multipart([workers.popleft(), b"", sender, *request])
                        counts["served for peers"] += 1
                elif localfe in events:
                    request = localfe.recv_multipart()
                    if workers and has_envelope(request):
                        localbe.send_multipart([workers.popleft(), b"", *request])
                        counts["served here"] += 1
                    elif has_envelope(request):
                        for peer in sorted(free_there, key=lambda p: (-free_there[p], p)):
                            try:
                                cloudbe.send_multipart([peer, *request])
                            except zmq.ZMQError:                       # not connected: try the next
                                cloud[peer][0] = 0
                                continue
                            cloud[peer][0] -= 1
                            counts[f"lent to {peer.decode()}"] += 1
                            break                                      # (none took it: its client resends)
                if len(workers) != published or time.monotonic() >= next_beat:
                    statebe.send_multipart([me, str(len(workers)).encode()])
                    published, next_beat = len(workers), time.monotonic() + args.state_interval
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()                           # the threads end within one poll or one client timeout
            for t in threads:
                t.join()
            for sock in (localfe, localbe, cloudfe, cloudbe, statebe, statefe, monitor):
                sock.close(linger=0)
    print(f"{args.me}: stopped; " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing routed"),
          flush=True)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:                    # Ctrl-C: the with-block closed everything
        raise SystemExit(0) from None
