"""The Majordomo broker as it was before issue 20, kept verbatim (only renamed) so that notebook 12
can profile it beside today's :func:`zguide_py.patterns.majordomo.broker`: the same checks and
behaviour, but a poll and a clock read for every message, a deque made on every ``setdefault`` and
a formatted counter name for every request. Not for use: a lesson's "before".
"""
from __future__ import annotations

import time
from collections import deque

import zmq

from ..events import clip
from ..patterns.majordomo import (DISCONNECT, HEARTBEAT, MDPC, MDPW, READY, REPLY, REQUEST, Malformed, _Worker,
                                  malformed, parse_at_broker)


def broker_before(peer, endpoint: str, heartbeat: float = 0.1, liveness: int = 3,
           request_expiry: float = 10.0, max_services: int = 1000, max_queue: int = 1000, flow=None):
    """The Majordomo broker: one ROUTER socket for clients (MDPC01) and workers (MDPW01).

    ``request_expiry``: a request for a service that no worker offers waits this long, then it
    is dropped (the client's own retries decide what happens next). Its state is bounded: a
    service with no worker and no request is forgotten at the next heartbeat, at most
    ``max_services`` services have queued requests, at most ``max_queue`` requests wait for each
    (more are refused: counted, logged and dropped). Every message is checked first
    (:func:`parse_at_broker`); a malformed one is counted and logged, and a worker that sends
    one is disconnected. ``flow`` (a :class:`zguide_py.flow.Flow`, optional) records every
    message the broker receives and sends, clipped, without the routing identity.
    """
    router = peer.socket(zmq.ROUTER)
    router.bind(endpoint)
    workers: dict[bytes, _Worker] = {}           # identity -> worker
    waiting: dict[bytes, deque] = {}             # service -> idle workers, longest idle first
    queues: dict[bytes, deque] = {}              # service -> [(deadline, client, body)]
    peer.data.update(workers={}, removed=deque(maxlen=1000))   # what the notebook can look at

    def publish():
        peer.data["workers"] = {w.identity.decode(errors="replace"): w.service.decode(errors="replace")
                                for w in workers.values()}

    def send(frames: list[bytes]):
        router.send_multipart(frames)
        if flow is not None and frames[3:4] != [HEARTBEAT]:
            flow.record(peer.name, frames[0], clip(frames[1:]))

    def send_to_worker(identity: bytes, command: bytes, *frames: bytes):
        send([identity, b"", MDPW, command, *frames])

    def dispatch(service: bytes):
        queue, idle = queues.get(service), waiting.get(service)
        while queue and idle:
            _deadline, client, body = queue.popleft()
            worker = workers[idle.popleft()]
            worker.request = (client, body)
            send_to_worker(worker.identity, REQUEST, client, b"", *body)
            peer.count(f"to {service.decode()}")

    def remove(worker: _Worker, why: str, tell: bool = False):
        if tell:
            send_to_worker(worker.identity, DISCONNECT)
        workers.pop(worker.identity, None)
        idle = waiting.get(worker.service)
        if idle and worker.identity in idle:
            idle.remove(worker.identity)
        if worker.request is not None:           # give the request to another worker
            client, body = worker.request
            queues.setdefault(worker.service, deque()).appendleft((time.monotonic() + request_expiry,
                                                                    client, body))
            peer.count("requeued")
            dispatch(worker.service)
        peer.data["removed"].append((worker.identity.decode(errors="replace"), why))
        peer.log("worker removed", worker=worker.identity.decode(errors="replace"), why=why)
        peer.count("removed")
        publish()

    def on_client(client: bytes, service: bytes, body: list[bytes]):
        peer.count("requests")
        if service.startswith(b"mmi."):          # 8/MMI: the broker answers these itself
            if service == b"mmi.service":
                name = body[0]
                found = any(w.service == name for w in workers.values())
                answer = b"200" if found else b"404"
            else:
                answer = b"501"
            send([client, b"", MDPC, service, answer])
            peer.count("mmi")
            return
        queue = queues.get(service)
        if (queue is None and len(queues) >= max_services) or (queue is not None and len(queue) >= max_queue):
            peer.count("refused")                # bounded state: drop it, the client retries
            peer.log("refused", client=client, service=service, services=len(queues))
            return
        queues.setdefault(service, deque()).append((time.monotonic() + request_expiry, client, body))
        dispatch(service)

    def on_worker(identity: bytes, command: bytes, frames: list[bytes]):
        worker = workers.get(identity)
        if worker is not None and command != DISCONNECT:
            worker.expiry = time.monotonic() + heartbeat * liveness   # any command is a heartbeat
        if command == READY:
            service = frames[0]
            if worker is not None or service.startswith(b"mmi."):
                # a second READY, or a reserved name: the spec says disconnect it
                if worker is not None:
                    remove(worker, "protocol error", tell=True)
                else:
                    send_to_worker(identity, DISCONNECT)
                return
            workers[identity] = _Worker(identity, service, time.monotonic() + heartbeat * liveness)
            waiting.setdefault(service, deque()).append(identity)
            peer.log("worker ready", worker=identity.decode(errors="replace"), service=service.decode())
            publish()
            dispatch(service)
        elif worker is None:
            # REPLY/HEARTBEAT from a worker we do not know (we forgot it, or we restarted)
            if command != DISCONNECT:
                send_to_worker(identity, DISCONNECT)
                peer.count("unknown worker")
        elif command == REPLY:
            if worker.request is None:           # a reply nobody asked for: valid but unexpected
                remove(worker, "protocol error", tell=True)
                return
            client, _empty, *body = frames
            worker.request = None
            send([client, b"", MDPC, worker.service, *body])
            peer.count("replies")
            waiting.setdefault(worker.service, deque()).append(identity)
            dispatch(worker.service)
        elif command == HEARTBEAT:
            pass
        elif command == DISCONNECT:
            remove(worker, "said DISCONNECT")
        else:                                    # a REQUEST: valid, but not from a worker
            remove(worker, "protocol error", tell=True)

    def on_malformed(frames: list[bytes], why: Malformed):
        malformed(peer, frames, why)
        worker = workers.get(frames[0])
        if worker is not None:                   # the spec: treat that peer as invalid
            remove(worker, "malformed", tell=True)

    def expire(now: float):
        for service, queue in list(queues.items()):
            while queue and queue[0][0] < now:
                queue.popleft()
                peer.count("expired")
            if not queue:                        # bounded state: no request, no entry
                del queues[service]
        for service, idle in list(waiting.items()):
            if not idle:
                del waiting[service]

    heartbeat_at = time.monotonic() + heartbeat
    while peer.running:
        if peer.poll(router, heartbeat):
            frames = router.recv_multipart()
            peer.throttle()
            if flow is not None and frames[3:4] != [HEARTBEAT]:
                flow.record(frames[0], peer.name, clip(frames[1:]))
            try:
                sender, header, what, rest = parse_at_broker(frames)
            except Malformed as why:
                on_malformed(frames, why)
            else:
                (on_client if header == MDPC else on_worker)(sender, what, rest)
        now = time.monotonic()
        if now >= heartbeat_at:
            for worker in list(workers.values()):
                if now > worker.expiry:
                    remove(worker, "silent")
            for identity in list(workers):       # heartbeat every worker we still believe in
                send_to_worker(identity, HEARTBEAT)
            expire(now)
            heartbeat_at = now + heartbeat
