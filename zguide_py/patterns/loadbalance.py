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
from dataclasses import dataclass, field

import zmq

from .routerdealer import patient_send   # send, but wait killably while nobody is connected

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
    while peer.running and (requests is None or n < requests):
        body = f"{peer.name}:{n}".encode()
        if not patient_send(peer, req, [body]):
            return
        peer.count("requests")
        sent = time.perf_counter()
        while peer.running and not req.poll(50):
            if timeout is not None and time.perf_counter() - sent > timeout:
                break
        if not peer.running:
            return
        if req.poll(0):
            reply = req.recv()
            if not reply.startswith(body + b" by "):
                raise RuntimeError(f"reply {reply!r} does not answer request {body!r}")
            peer.latency("rtt", time.perf_counter() - sent)
            peer.count("replies")
        else:
            peer.count("lost")
            peer.log("lost", f"request {n}: no reply after {timeout} s")
            peer.close_socket(req)                    # Lazy Pirate's way out of the REQ lockstep
            req = peer.socket(zmq.REQ)
            req.connect(endpoint)
        n += 1
        peer.throttle()                               # the panel's slider paces this client
    peer.data["done"] = True


def worker(peer, endpoint: str, work: float = 0.002, ready: bool = True, ready_delay: float = 0.0):
    """DEALER worker: announce ``READY`` (if ``ready``), then take a task, work ``work`` seconds,
    reply, and repeat. The reply keeps the task's envelope: everything but the last frame.

    It checks its broker: anything that arrives while it is busy, or in the ``ready_delay`` seconds
    before it says READY, counts as ``arrived_while_busy`` (and is served afterwards, in order).
    """
    sock = peer.socket(zmq.DEALER)
    sock.routing_id = peer.name.encode()              # a stable identity: the broker's queue names us
    sock.connect(endpoint)
    backlog: deque[list[bytes]] = deque()             # tasks that came while we were not ready
    if ready_delay and not peer.sleep(ready_delay):   # connected, but not ready yet
        return
    while sock.poll(0):
        backlog.append(sock.recv_multipart())
        peer.count("arrived_while_busy")
    if ready:
        if not patient_send(peer, sock, [b"", READY]):
            return
    peer.data["ready"] = True
    while peer.running:
        if not backlog:
            if not sock.poll(50):
                continue
            backlog.append(sock.recv_multipart())
        # a task is ['', client, '', request] (LRU broker) or [client, '', request] (simple)
        task = backlog.popleft()
        peer.count("tasks")
        if work:
            peer.sleep(work)                          # busy from here until the reply is sent
        peer.throttle()
        if not peer.running:
            return                                    # killed while busy: this task is lost
        while sock.poll(0):                           # anything here now was sent to a busy worker
            backlog.append(sock.recv_multipart())
            peer.count("arrived_while_busy")
        if not patient_send(peer, sock, [*task[:-1], task[-1] + b" by " + peer.name.encode()]):
            return
        peer.count("replies")


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
        events = dict(poller.poll(50))
        if events.get(front):
            request = front.recv_multipart()          # [client, '', request]
            if not patient_send(peer, back, request): # no worker connected yet: wait for one
                return
            peer.count("requests")
        if events.get(back):
            front.send_multipart(back.recv_multipart())   # [client, '', reply]
            peer.count("replies")


def lru_broker(peer, frontend: str, backend: str):
    """The load balancing broker: ROUTER frontend, ROUTER backend, a queue of ready workers.

    A worker joins the queue when it says READY or sends a reply; a request goes to the worker that
    has waited longest. With no worker ready, the frontend is not read at all.
    """
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    back = peer.socket(zmq.ROUTER)
    back.setsockopt(zmq.ROUTER_MANDATORY, 1)          # a task for a vanished worker raises, not vanishes
    back.setsockopt(zmq.ROUTER_HANDOVER, 1)           # a restarted worker takes its identity back
    back.bind(backend)
    ready: deque[bytes] = deque()                     # idle workers, least recently used first
    waiting: deque[list[bytes]] = deque()             # a request whose worker vanished: next in line
    workers_only = zmq.Poller()
    workers_only.register(back, zmq.POLLIN)
    both = zmq.Poller()
    both.register(back, zmq.POLLIN)
    both.register(front, zmq.POLLIN)
    while peer.running:
        # read requests only when a worker can take one; until then they queue in the frontend
        events = dict((both if ready and not waiting else workers_only).poll(50))
        if events.get(back):
            worker_id, _empty, *body = back.recv_multipart()
            if worker_id not in ready:                # (a restarted worker may say READY twice)
                ready.append(worker_id)
            if body == [READY]:
                peer.count("ready")
            else:
                front.send_multipart(body)            # [client, '', reply]
                peer.count("replies")
        if events.get(front):
            waiting.append(front.recv_multipart())    # [client, '', request]
        while waiting and ready:
            worker_id = ready.popleft()
            try:
                back.send_multipart([worker_id, b"", *waiting[0]])
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EHOSTUNREACH:
                    raise
                peer.count("vanished")                # that worker is gone: try the next one
                continue
            waiting.popleft()
            peer.count("requests")


ROLES = {"client": client, "worker": worker, "simple_broker": simple_broker, "lru_broker": lru_broker}

BROKERS = {"simple": simple_broker, "lru": lru_broker}


# ---- notebook helpers (not roles) -----------------------------------------------------------------

@dataclass
class BalancerRun:
    """What one run of :func:`run_balancer` measured."""

    broker: str
    workers: list[str]
    slow: str | None
    tasks: dict[str, int]                  # tasks each worker served
    arrived_while_busy: dict[str, int]     # tasks that reached a worker while it was busy / not ready
    latencies: list[float] = field(repr=False)   # seconds, every answered request of every client
    requests: int = 0
    answered: int = 0
    lost: int = 0
    seconds: float = 0.0

    @property
    def violations(self) -> int:
        return sum(self.arrived_while_busy.values())

    def share(self, worker: str) -> float:
        """The fraction of all served tasks that ``worker`` served."""
        total = sum(self.tasks.values())
        return self.tasks.get(worker, 0) / total if total else 0.0


def run_balancer(lab, broker: str = "lru", workers: int = 3, clients: int = 6, requests: int = 30,
                 work: float = 0.002, slow: str | None = "worker3", slow_delay: float = 0.02,
                 timeout: float = 30.0) -> BalancerRun:
    """Start a broker (``"simple"`` or ``"lru"``), ``workers`` workers (``slow`` throttled by
    ``slow_delay`` s per task) and ``clients`` REQ clients with ``requests`` requests each; wait
    until every client is done; collect the numbers; remove the peers again (so the next run can use
    the same names)."""
    if broker not in BROKERS:
        raise ValueError(f"broker must be one of {', '.join(BROKERS)}, not {broker!r}")
    frontend, backend = lab.endpoint(f"{broker}-frontend"), lab.endpoint(f"{broker}-backend")
    worker_names = [f"worker{i + 1}" for i in range(workers)]
    client_names = [f"client{i + 1}" for i in range(clients)]
    lab.start("broker", BROKERS[broker], frontend=frontend, backend=backend)
    try:
        for name in worker_names:
            lab.start(name, worker, endpoint=backend, work=work, ready=(broker == "lru"))
        lab.wait_for(lambda: all(lab.peer(w).data.get("ready") for w in worker_names), 5, "workers to connect")
        if broker == "lru":
            lab.wait_for(lambda: lab.peer("broker").get("ready") >= workers, 5, "every worker's READY")
        if slow is not None:
            lab.throttle(slow, slow_delay)
        started = time.perf_counter()
        for name in client_names:
            lab.start(name, client, endpoint=frontend, requests=requests, timeout=5.0)
        lab.wait_for(lambda: all(lab.peer(c).data.get("done") for c in client_names), timeout,
                     f"{clients} clients to finish {requests} requests each")
        seconds = time.perf_counter() - started
        lab.check()
        return BalancerRun(
            broker=broker, workers=worker_names, slow=slow,
            tasks={w: lab.peer(w).get("tasks") for w in worker_names},
            arrived_while_busy={w: lab.peer(w).get("arrived_while_busy") for w in worker_names},
            latencies=[s for c in client_names for s in lab.peer(c).latencies.get("rtt", ())],
            requests=sum(lab.peer(c).get("requests") for c in client_names),
            answered=sum(lab.peer(c).get("replies") for c in client_names),
            lost=sum(lab.peer(c).get("lost") for c in client_names),
            seconds=seconds)
    finally:
        for name in [*client_names, *worker_names, "broker"]:
            if name in lab.peers:
                lab.remove(name)


def latency_line(latencies: list[float]) -> str:
    """Round-trip percentiles in ms, each measured number after a ``~`` (see the notebooks' rules)."""
    from ..metrics import summarize

    s = summarize(latencies)
    return (f"round trips: n={s.count}, p50 ~{s.p50 * 1e3:.1f} ms, p90 ~{s.p90 * 1e3:.1f} ms, "
            f"p99 ~{s.p99 * 1e3:.1f} ms, max ~{s.max * 1e3:.1f} ms")


def compare_figure(runs: list[BalancerRun], title: str = "one slow worker: simple vs LRU balancer"):
    """Side by side: tasks per worker (grouped bars per broker) and latency percentiles (ms)."""
    from ..metrics import summarize
    from ..plots import new_figure

    fig = new_figure(10, 3.8)
    load_ax, lat_ax = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    colours = {"simple": "tab:red", "lru": "tab:green"}
    labels = {"simple": "simple (DEALER round-robin)", "lru": "LRU broker (workers say READY)"}
    width = 0.8 / max(1, len(runs))
    workers = runs[0].workers
    for i, run in enumerate(runs):
        xs = [k + (i - (len(runs) - 1) / 2) * width for k in range(len(workers))]
        bars = load_ax.bar(xs, [run.tasks[w] for w in workers], width, label=labels.get(run.broker, run.broker),
                           color=colours.get(run.broker))
        load_ax.bar_label(bars, fontsize=8)
    load_ax.set_xticks(range(len(workers)),
                       [f"{w}\n(slow)" if w == runs[0].slow else w for w in workers])
    load_ax.set_xlabel("worker")
    load_ax.set_ylabel("tasks served")
    load_ax.set_title("load per worker")
    load_ax.grid(True, axis="y", alpha=0.3)
    load_ax.set_ylim(0, max(max(r.tasks.values()) for r in runs) * 1.15)     # room for the bar labels

    names = ["p50", "p90", "p99", "max"]
    for i, run in enumerate(runs):
        s = summarize(run.latencies)
        values = [s.p50 * 1e3, s.p90 * 1e3, s.p99 * 1e3, s.max * 1e3]
        xs = [k + (i - (len(runs) - 1) / 2) * width for k in range(len(names))]
        bars = lat_ax.bar(xs, values, width, label=labels.get(run.broker, run.broker),
                          color=colours.get(run.broker))
        lat_ax.bar_label(bars, fmt="%.0f", fontsize=8)
    lat_ax.set_xticks(range(len(names)), names)
    lat_ax.set_yscale("log")
    lat_ax.set_ylim(top=lat_ax.get_ylim()[1] * 2)          # room for the bar labels
    lat_ax.set_xlabel("percentile of request round trips")
    lat_ax.set_ylabel("round trip (ms, log scale)")
    lat_ax.set_title("request latency")
    lat_ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title)
    # one legend for both panels, below them: inside a panel it would cover a bar's label
    fig.legend(*load_ax.get_legend_handles_labels(), loc="outside lower center", ncols=len(runs),
               fontsize=8)
    return fig
