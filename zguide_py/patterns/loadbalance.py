"""Load balancing: a "simple" round-robin balancer against the "better" least-recently-used broker.

Both brokers sit between REQ clients and a pool of workers, with a ROUTER frontend for the clients.

* The **simple balancer** has a DEALER backend. DEALER deals each request to the next worker in
  turn, whether that worker is idle or still busy with earlier requests. A slow worker gets its full
  share, and the requests dealt to it wait in its queue.
* The **better balancer** (the guide's "load balancing broker", lbbroker) has a ROUTER backend.
  Every worker says ``READY`` when it starts and sends each reply when it is done, which also says
  "ready again". The broker keeps a queue of ready workers and gives each request to the one that
  has been waiting longest (least recently used). A busy worker is never in the queue, so it is
  never sent a task; while no worker is ready the broker does not even read new requests, and they
  wait in the frontend's queue.

The messages, frame by frame (``''`` is the empty delimiter that REQ adds and strips):

* client (REQ) -> frontend ROUTER: ``[client, '', request]``
* LRU broker -> worker: ``[worker, '', client, '', request]`` on the backend ROUTER, which takes
  ``worker`` off; the worker (a DEALER) receives ``['', client, '', request]``
* worker -> LRU broker: ``['', client, '', reply]``, received as ``[worker, '', client, '', reply]``;
  the broker sends ``[client, '', reply]`` to the frontend. ``['', READY]`` says "ready".
* simple balancer: the frontend's ``[client, '', request]`` goes to a worker unchanged, and back.

The worker is a DEALER (the guide's lbbroker uses REQ workers; a DEALER that sends the empty
delimiter itself behaves the same). A DEALER can see a task arrive at any time, which lets each
worker *check* the broker: a task that arrives while the worker is busy, or before it said READY,
is counted as ``arrived_while_busy``. The LRU broker's guarantee is that this count stays 0.
"""
from __future__ import annotations

import time
from collections import deque

import zmq

from ..sockets import drain

READY = b"READY"


def client(peer, endpoint: str, requests: int | None = None, timeout: float | None = 2.0):
    """REQ client: one request at a time, ``b"<name>:<n>"``; the reply is ``b"<request> by <worker>"``.

    ``requests=None`` sends forever. A reply that has not come after ``timeout`` seconds counts as
    ``lost``; the client then closes its REQ socket and opens a new one (a REQ that has sent cannot
    send again until it receives) and goes on with the next request.
    """
    req = peer.socket(zmq.REQ)
    req.connect(endpoint)
    n = 0
    while requests is None or n < requests:
        body = f"{peer.name}:{n}".encode()
        if not peer.send(req, body):                  # waits for a connection, not past a kill
            return
        peer.count("requests")
        sent = time.perf_counter()
        if peer.poll(req, timeout):
            reply = req.recv()
            if not reply.startswith(body + b" by "):
                raise RuntimeError(f"reply {reply!r} does not answer request {body!r}")
            peer.latency("rtt", time.perf_counter() - sent)
            peer.count("replies")
        elif not peer.running:
            return
        else:
            peer.count("lost")
            peer.log("lost", request=n, after=timeout)
            peer.close_socket(req)                    # Lazy Pirate's way out of the REQ lockstep
            req = peer.socket(zmq.REQ)
            req.connect(endpoint)
        n += 1
        peer.throttle()                               # the panel's slider paces this client
    peer.data["done"] = True


def worker(peer, endpoint: str, work: float = 0.002, ready: bool = True, ready_delay: float = 0.0):
    """DEALER worker: say READY (to the LRU broker), then take a task, work ``work`` seconds, reply,
    and repeat. A task is ``['', client, '', request]`` from the LRU broker, ``[client, '', request]``
    from the simple one; the reply keeps everything but the last frame (the envelope).

    It checks its broker: a task that is already waiting when the worker is free again was sent
    while it was busy (or in the ``ready_delay`` seconds before it said READY). Such tasks are
    counted as ``arrived_while_busy`` and served afterwards, in order."""
    sock = peer.socket(zmq.DEALER, routing_id=peer.name.encode())   # the broker's queue names us
    sock.connect(endpoint)
    peer.sleep(ready_delay)                           # a late worker: connected, but silent a while
    peer.data["ready"] = True                         # (the notebook waits for this)
    backlog: deque[list[bytes]] = deque()             # tasks that came while we were busy
    message = [b"", READY] if ready else None         # the first thing we tell the broker
    while peer.running:
        arrived_while_busy(peer, sock, backlog)       # whatever waits now came while we were busy
        if message and not peer.send(sock, message):  # READY, or the reply to the last task
            return
        if not (backlog or peer.poll(sock)):          # False once the lab kills this worker
            return
        task = backlog.popleft() if backlog else sock.recv_multipart()
        peer.count("tasks")
        peer.sleep(work)                              # the work: busy until the reply is sent
        peer.throttle()                               # the panel's slider makes this worker slower
        message = [*task[:-1], task[-1] + b" by " + peer.name.encode()]      # the same envelope


def arrived_while_busy(peer, sock, backlog: deque) -> None:
    """The worker's check of its broker: whatever waits now was sent while this worker was busy
    (or had not said READY). Keep it for later, in order, and count it."""
    while sock.poll(0):
        backlog.append(sock.recv_multipart())
        peer.count("arrived_while_busy")


def simple_broker(peer, frontend: str, backend: str):
    """The simple balancer: ROUTER frontend, DEALER backend, frames passed on unchanged.
    The DEALER deals requests round-robin to every connected worker, busy or not."""
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    back = peer.socket(zmq.DEALER)
    back.bind(backend)
    poller = zmq.Poller()
    poller.register(front, zmq.POLLIN)
    poller.register(back, zmq.POLLIN)
    while peer.running:
        events = peer.poll(poller)                    # {} once the lab kills this peer
        if front in events:
            request = front.recv_multipart()          # [client, '', request]
            if not peer.send(back, request):          # no worker connected yet: wait for one
                return
            peer.count("requests")
        if back in events:
            front.send_multipart(back.recv_multipart())   # [client, '', reply]
            peer.count("replies")


def lru_broker(peer, frontend: str, backend: str):
    """The load balancing broker: ROUTER frontend, ROUTER backend, and a queue of ready workers.
    Each request goes to the worker that has waited longest. While no worker is free the frontend
    is not read, and requests wait in its queue. Malformed messages are counted and dropped."""
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    # MANDATORY: a send to a worker that has gone raises; HANDOVER: a restarted worker keeps its name
    back = peer.socket(zmq.ROUTER, router_mandatory=1, router_handover=1)
    back.bind(backend)
    ready: deque[bytes] = deque()                     # idle workers, least recently used first
    waiting: deque[list[bytes]] = deque()             # requests read, not yet given to a worker
    peer.data["status"] = lambda: f"workers ready: {len(ready)}"             # the panel shows it
    poller = zmq.Poller()
    poller.register(back, zmq.POLLIN)
    while peer.running:
        # poll the frontend only while a worker is free (flags 0 takes it out of the poller)
        poller.register(front, zmq.POLLIN if ready and not waiting else 0)
        events = peer.poll(poller)                    # {} once the lab kills the broker
        if back in events:
            for worker_id, *message in drain(back):   # every message that waits, then poll again
                kind = worker_says(message)           # "ready", "reply", or None: not our protocol
                if kind is None:                      # a peer that breaks the protocol gets no work
                    malformed(peer, message, "not ['', READY] nor ['', client, '', reply]")
                    continue
                if worker_id not in ready:            # (a restarted worker may say READY twice)
                    ready.append(worker_id)
                if kind == "reply":
                    front.send_multipart(message[1:])     # [client, '', reply]
                peer.count("replies" if kind == "reply" else "ready")
        if front in events:
            for request in drain(front, len(ready)):  # no more requests than ready workers
                if has_envelope(request):             # [client, '', request]
                    waiting.append(request)
                else:
                    malformed(peer, request, "not [client, '', request]")
        while waiting and ready:                      # the head of the queue has waited longest
            if send_to_worker(peer, back, ready.popleft(), waiting[0]):
                waiting.popleft()                     # (if that worker has gone, try the next)


def send_to_worker(peer, back, worker_id: bytes, request: list[bytes]) -> bool:
    """Send ``[worker, '', client, '', request]`` out of the backend ROUTER. A worker that has gone
    (killed while it sat in the ready queue) would silently swallow it; with ROUTER_MANDATORY the
    send raises EHOSTUNREACH instead. Count that as ``vanished`` and return False: the request
    stays first in line for the next ready worker."""
    try:
        back.send_multipart([worker_id, b"", *request])
    except zmq.ZMQError as exc:
        if exc.errno != zmq.EHOSTUNREACH:
            raise
        peer.count("vanished")
        return False
    peer.count("requests")
    return True


def has_envelope(frames: list[bytes]) -> bool:
    """``[address..., b"", body...]``: at least one address (routing ids are never empty, so the
    first empty frame is the delimiter), then a body of one frame or more: a message that can be
    routed and answered."""
    if b"" not in frames:
        return False
    i = frames.index(b"")
    return 0 < i < len(frames) - 1


def worker_says(message: list[bytes]) -> str | None:
    """What a worker sent the LRU broker (after its routing id): ``"ready"`` for ``['', READY]``,
    ``"reply"`` for ``['', client..., '', reply...]``, None for anything else."""
    if message[:1] != [b""]:
        return None
    if message[1:] == [READY]:
        return "ready"
    return "reply" if has_envelope(message[1:]) else None


def malformed(peer, frames: list[bytes], why: str) -> None:
    """Count a message that breaks the protocol and log it as a bounded event (the lab clips
    every value: 64 bytes a frame, 8 frames): no crash, no pinned memory."""
    peer.count("malformed")
    peer.log("malformed", frames=frames, why=why)


ROLES = {"client": client, "worker": worker, "simple_broker": simple_broker, "lru_broker": lru_broker}

BROKERS = {"simple": simple_broker, "lru": lru_broker}
