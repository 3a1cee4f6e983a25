"""What a broker costs per request, against the floor of its bare message hops (issue 20).

A broker request is two receives and two sends on the broker's sockets: in from a client, out to a
worker, back from the worker, out to the client. The **floor** is a loop that does exactly those
hops with the broker's sockets and frames, and nothing else: no checks, no books, no heartbeats.
:func:`cost` runs a broker and its floor under the same load (2 echo workers, 2 asynchronous
clients with many requests in flight, all threads of one lab) and reads the CPU time of the
broker's own thread (``time.pthread_getcpuclockid``) over a fixed number of requests. The ratio
broker/floor is what a broker's logic costs on top of its messages.

:func:`profile` runs the same load with :mod:`cProfile` on the broker thread and sorts the
broker's time into a few kinds (message I/O, polling, checking, its books, clock reads, events).
"""
from __future__ import annotations

import cProfile
import pstats
import statistics
import subprocess
import threading
import time
from collections import deque
from typing import Any, Callable

import zmq

from ..lab import Lab
from ..sockets import drain
from ..patterns import loadbalance as lb
from ..patterns import majordomo as mdp
from ..patterns import paranoidpirate as pp

__all__ = ["KINDS", "KINDS_OF_WORK", "cost", "compare", "profile", "table", "time_figure", "top", "FLOORS", "BROKERS"]

KINDS = ("majordomo", "paranoidpirate", "lru")
BODY = b"0123456789abcdef"       # one 16-byte body frame per request
WINDOW = 200                     # requests each client keeps in flight
HEARTBEAT = 2.5                  # the specs' heartbeat: no worker reconnects during a run


# ---- the load: asynchronous clients ---------------------------------------------------------------
def async_client(peer, endpoint: str, request: list[bytes], requests: int, window: int = WINDOW):
    """A DEALER that keeps ``window`` requests in flight until ``requests`` replies are in."""
    sock = peer.socket(zmq.DEALER)
    sock.connect(endpoint)
    sent = received = 0
    while sent < min(window, requests):
        if not peer.send(sock, request):
            return
        sent += 1
    while received < requests and peer.poll(sock):
        while received < requests:
            try:
                sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            received += 1
            if sent < requests:
                sock.send_multipart(request)
                sent += 1
    peer.data["received"] = received
    peer.data["done"] = received == requests


# ---- the floors: the same hops and frames as each broker, and nothing else -----------------------
# Like the brokers, a floor gives a worker one request at a time (a worker is idle again when it
# replies), so it wakes up as often as its broker does: what it leaves out is the checks, the books,
# the heartbeats and the events.
def majordomo_floor(peer, endpoint: str):
    """One ROUTER, as the Majordomo broker: requests wait in a queue for an idle worker."""
    router = peer.socket(zmq.ROUTER)
    router.bind(endpoint)
    idle: deque[bytes] = deque()
    requests: deque[tuple[bytes, list[bytes]]] = deque()
    while peer.poll(router):
        for sender, _empty, header, what, *rest in drain(router):
            if header == mdp.MDPC:
                requests.append((sender, rest))
            elif what == mdp.REPLY:
                router.send_multipart([rest[0], b"", mdp.MDPC, b"echo", *rest[2:]])
                idle.append(sender)
            elif what == mdp.READY:
                idle.append(sender)
                peer.count("ready")
            while idle and requests:
                client, body = requests.popleft()
                router.send_multipart([idle.popleft(), b"", mdp.MDPW, mdp.REQUEST, client, b"", *body])


def _two_router_floor(peer, frontend: str, backend: str, to_worker: Callable, to_client: Callable):
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    back = peer.socket(zmq.ROUTER)
    back.bind(backend)
    workers_only = zmq.Poller()
    workers_only.register(back, zmq.POLLIN)
    both = zmq.Poller()
    both.register(front, zmq.POLLIN)
    both.register(back, zmq.POLLIN)
    idle: deque[bytes] = deque()
    known: set[bytes] = set()
    while events := peer.poll(both if idle else workers_only):
        if back in events:
            for worker, *message in drain(back):
                if len(message) > 2:
                    front.send_multipart(to_client(message))
                    idle.append(worker)
                elif worker not in known:
                    known.add(worker)
                    idle.append(worker)
                    peer.count("ready")
        if front in events and idle:
            for request in drain(front, len(idle)):
                back.send_multipart(to_worker(idle.popleft(), request))


def paranoidpirate_floor(peer, frontend: str, backend: str):
    """Two ROUTERs, as the Paranoid Pirate queue: 6/PPP frames, nothing checked."""
    _two_router_floor(peer, frontend, backend, lambda w, request: [w, *request], lambda reply: reply)


def lru_floor(peer, frontend: str, backend: str):
    """Two ROUTERs, as the LRU broker: its frames, nothing checked."""
    _two_router_floor(peer, frontend, backend, lambda w, request: [w, b"", *request], lambda reply: reply[1:])


FLOORS = {"majordomo": majordomo_floor, "paranoidpirate": paranoidpirate_floor, "lru": lru_floor}
BROKERS = {"majordomo": mdp.broker, "paranoidpirate": pp.queue, "lru": lb.lru_broker}


# ---- one run: the broker in a process of its own ------------------------------------------------
def _timed(peer, run, params):
    """Run ``run`` with the CPU clock of this thread where the process's main thread can read it."""
    peer.data["cpu_clock"] = time.pthread_getcpuclockid(threading.get_ident())
    run(peer, **params)


def _profiled(peer, run, params):
    """Run ``run`` under cProfile (this thread only); the profile is left in ``peer.data``."""
    peer.data["cpu_clock"] = time.pthread_getcpuclockid(threading.get_ident())
    profiler = peer.data["profiler"] = cProfile.Profile(time.thread_time)   # CPU, not waiting
    profiler.enable()
    try:
        run(peer, **params)
    finally:
        profiler.disable()


def _registered(peer) -> int:
    """How many workers the broker (or floor) in ``peer`` has taken on."""
    if isinstance(peer.data.get("workers"), dict) and "ready" not in peer.data:
        return len(peer.data["workers"])               # Majordomo
    if isinstance(peer.data.get("ready"), list):
        return len(peer.data["ready"]) + peer.get("replies")   # Paranoid Pirate
    return peer.get("ready")                           # LRU, the floors


def _bridge(ctx: zmq.Context, outer: str, inner: str, name: str) -> None:
    """A load peer's way in to an inproc broker: a DEALER on ``outer`` (tcp) and one connected to
    ``inner``, joined by ``zmq.proxy`` (C, no GIL): the broker sees the same frames as over tcp."""
    front = ctx.socket(zmq.DEALER)
    front.bind(outer)
    back = ctx.socket(zmq.DEALER)
    back.routing_id = name.encode()
    back.connect(inner)
    threading.Thread(target=zmq.proxy, args=(front, back), daemon=True).start()


def serve(spec: dict | None = None) -> None:
    """The broker's process (started by :func:`run`): the role of ``spec["role"]``
    (``module:function``) as a lab peer, the bridges, then answers on stdin: ``workers``, ``cpu``
    (the broker thread's CPU seconds), ``stop [file]`` (the profile saved there)."""
    import importlib
    import json
    import os
    import sys
    spec = json.loads(sys.argv[1]) if spec is None else spec
    module, function = spec["role"].split(":")
    role = getattr(importlib.import_module(module), function)
    lab = Lab("broker-process")
    wrapper = _profiled if spec.get("profile") else _timed
    peer = lab.start("broker", wrapper, run=role, params=spec["params"])
    for outer, inner, name in spec.get("bridges", []):
        _bridge(lab.ctx, outer, inner, name)
    lab.wait_for(lambda: "cpu_clock" in peer.data, 10, "the broker thread")
    for line in sys.stdin:
        command = line.split()
        if command[0] == "workers":
            answer = _registered(peer)
        elif command[0] == "cpu":
            answer = time.clock_gettime(peer.data["cpu_clock"])
        else:
            lab.kill("broker")
            if len(command) > 1:
                peer.data["profiler"].dump_stats(command[1])
            answer = peer.get("malformed")
        print(json.dumps(answer), flush=True)
        if command[0] == "stop":
            break
    os._exit(0)                      # the proxies' threads end with the process


def _role_name(role) -> str:
    return f"{role.__module__}:{role.__name__}"


def run(kind: str, transport: str = "inproc", requests: int = 10_000, role=None, profile: str | None = None,
        timeout: float = 60.0) -> dict[str, Any]:
    """One run: ``requests`` echo requests through ``role`` (default: the broker of ``kind``), in a
    process of its own, from 2 asynchronous clients to 2 echo workers (threads of a lab here). Over
    ``inproc`` each load peer reaches the broker through a bridge (:func:`_bridge`) in the broker's
    process. ``{"rps", "cpu_us"}``: the broker thread's CPU µs per request. ``profile``: a file
    for the broker thread's cProfile stats."""
    import json
    import sys
    from .. import procs
    role = BROKERS[kind] if role is None else role
    loads = ("client1", "client2", "worker1", "worker2")
    with Lab(f"cost-{kind}-{transport}") as lab:
        if kind == "majordomo":
            sockets = {"endpoint": "broker"}
            reach = dict.fromkeys(loads, "endpoint")
        else:
            sockets = {"frontend": "frontend", "backend": "backend"}
            reach = {"client1": "frontend", "client2": "frontend", "worker1": "backend", "worker2": "backend"}
        params = {key: lab.endpoint(name, transport) for key, name in sockets.items()}
        if transport == "inproc":
            params = {key: f"inproc://{name}" for key, name in sockets.items()}
            outer = {name: lab.endpoint(name, "tcp") for name in loads}
            bridges = [(outer[name], params[reach[name]], name) for name in loads]
        else:
            outer = {name: params[reach[name]] for name in loads}
            bridges = []
        if role is not FLOORS[kind] and kind in ("majordomo", "paranoidpirate"):
            params["heartbeat" if kind == "majordomo" else "interval"] = HEARTBEAT
        spec = {"role": _role_name(role), "params": params, "bridges": bridges, "profile": bool(profile)}
        child = procs.spawn([sys.executable, "-c", "from zguide_py.views.brokercost import serve; serve()",
                             json.dumps(spec)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            def ask(command: str):
                child.stdin.write(command + "\n")
                child.stdin.flush()
                line = child.stdout.readline()
                if not line:
                    raise RuntimeError(f"the broker process ended ({_role_name(role)}, {transport})")
                return json.loads(line)

            for name in ("worker1", "worker2"):
                if kind == "majordomo":
                    lab.start(name, mdp.worker, broker=outer[name], service="echo", heartbeat=HEARTBEAT)
                elif kind == "paranoidpirate":
                    lab.start(name, pp.worker, endpoint=outer[name], interval=HEARTBEAT)
                else:
                    lab.start(name, lb.worker, endpoint=outer[name], work=0)
            lab.wait_for(lambda: ask("workers") >= 2, 10, "2 workers ready")
            request = [b"", mdp.MDPC, b"echo", BODY] if kind == "majordomo" else [b"", BODY]
            cpu0, t0 = ask("cpu"), time.perf_counter()
            for name in ("client1", "client2"):
                lab.start(name, async_client, endpoint=outer[name], request=request, requests=requests // 2)
            lab.wait_for(lambda: all(lab.peer(n).data.get("done") for n in ("client1", "client2")), timeout,
                         f"{requests} replies through {kind}")
            wall, cpu = time.perf_counter() - t0, ask("cpu") - cpu0
            lab.check()
            malformed = ask(f"stop {profile}" if profile else "stop")
        finally:
            procs.reap(child)
        return {"rps": requests / wall, "cpu_us": cpu / requests * 1e6, "malformed": malformed}


def cost(kind: str, transport: str = "inproc", requests: int = 10_000, repeats: int = 3,
         role=None) -> dict[str, Any]:
    """The broker of ``kind`` (or ``role``) against its floor, in turns, ``repeats`` times each:
    medians and spreads (min..max) of requests/s, CPU µs per request, the floor's, and the ratio
    of each pair of runs."""
    pairs = []
    for _ in range(repeats):
        floor = run(kind, transport, requests, FLOORS[kind])
        broker = run(kind, transport, requests, role)
        pairs.append((floor, broker))
    ratios = [b["cpu_us"] / f["cpu_us"] for f, b in pairs]

    def spread(values):
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return {"kind": kind, "transport": transport, "requests": requests, "repeats": repeats,
            "rps": spread([b["rps"] for _, b in pairs]), "cpu_us": spread([b["cpu_us"] for _, b in pairs]),
            "floor_us": spread([f["cpu_us"] for f, _ in pairs]), "ratio": spread(ratios)}


def compare(kinds=KINDS, transports=("tcp", "inproc"), requests: int = 10_000, repeats: int = 3,
            roles: dict | None = None) -> list[dict[str, Any]]:
    """:func:`cost` for every broker on every transport."""
    return [cost(k, t, requests, repeats, (roles or {}).get(k)) for k in kinds for t in transports]


def table(rows: list[dict[str, Any]], target: float | None = None) -> str:
    """The rows of :func:`compare` as text: medians, with min..max of the ratio."""
    head = (f"{'broker':<16}{'transport':<10}{'requests/s':>11}{'CPU us/req':>11}{'floor us/req':>13}"
            f"{'ratio':>7}  {'(min..max)':<13}")
    lines = [head + (" target" if target else "")]
    for r in rows:
        line = (f"{r['kind']:<16}{r['transport']:<10}{r['rps']['median']:>11,.0f}{r['cpu_us']['median']:>11.1f}"
                f"{r['floor_us']['median']:>13.1f}{r['ratio']['median']:>7.2f}  "
                f"{r['ratio']['min']:.2f}..{r['ratio']['max']:.2f}".ljust(len(head)))
        if target:
            line += f" {'MET' if r['ratio']['median'] <= target else 'NOT MET'} (<= {target:g}x)"
        lines.append(line)
    return "\n".join(lines)


# ---- where the time goes -------------------------------------------------------------------------
KINDS_OF_WORK = ("message I/O", "polling", "clock reads", "events and counters", "broker logic")


def _kind_of_work(filename: str, name: str) -> str:
    """What a function called by the broker's own code is for (see :func:`profile`)."""
    if "zmq" in filename and name in ("recv_multipart", "send_multipart", "recv", "send"):
        return "message I/O"
    if "poll" in name:
        return "polling"
    if "monotonic" in name or "perf_counter" in name:
        return "clock reads"
    if filename.endswith(("peer.py", "events.py", "lab.py", "flow.py")) and name != "throttle":
        return "events and counters"
    return "broker logic"


def profile(kind: str = "majordomo", transport: str = "inproc", requests: int = 5_000, role=None
            ) -> dict[str, float]:
    """Where the broker thread's CPU time goes, from cProfile with a CPU clock: µs per request for
    each of :data:`KINDS_OF_WORK`. The broker's own code (its module, and ``drain``) is "broker
    logic"; each call it makes elsewhere counts, with all it calls in turn, for what it is for:
    pyzmq's send/recv, a poll, a clock read, an event or counter, or more logic. cProfile adds a
    cost to every call, so compare the shares and the before/after, not the absolute µs."""
    import inspect
    role = BROKERS[kind] if role is None else role
    home = inspect.getsourcefile(role)

    def inside(filename: str, name: str) -> bool:
        return filename == home or (filename.endswith("sockets.py") and name == "drain")

    shares = dict.fromkeys(KINDS_OF_WORK, 0.0)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, callers) in _stats(kind, transport, requests, role).items():
        if inside(filename, name):
            shares["broker logic"] += tottime
            continue
        for (caller_file, _caller_line, caller), (*_counts, _tt, cumtime) in callers.items():
            if inside(caller_file, caller):
                shares[_kind_of_work(filename, name)] += cumtime
    return {work: seconds / requests * 1e6 for work, seconds in shares.items()}


def _stats(kind, transport, requests, role) -> dict:
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "broker.prof")
        run(kind, transport, requests, role, profile=path)
        return pstats.Stats(path).stats


def top(kind: str = "majordomo", transport: str = "inproc", requests: int = 5_000, role=None,
        n: int = 25) -> str:
    """The ``n`` functions with the most own time in the broker thread (a text table)."""
    import io
    out = io.StringIO()
    stats = pstats.Stats(stream=out)
    stats.stats = _stats(kind, transport, requests, role)
    stats.total_calls = sum(v[1] for v in stats.stats.values())
    stats.sort_stats("tottime").print_stats(n)
    return out.getvalue()


def time_figure(profiles: dict[str, dict[str, float]], title: str = "Where the broker's CPU goes"):
    """Grouped horizontal bars: µs per request for each kind of work, one bar per profile
    (``{"before": profile(...), "after": profile(...)}``)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(8, 3.4))
    ax = fig.add_subplot()
    height = 0.8 / len(profiles)
    works = list(KINDS_OF_WORK)[::-1]
    for i, (label, shares) in enumerate(profiles.items()):
        ys = [n + ((len(profiles) - 1) / 2 - i) * height for n in range(len(works))]   # first on top
        bars = ax.barh(ys, [shares[w] for w in works], height, label=f"{label} ({sum(shares.values()):.0f} µs in all)")
        ax.bar_label(bars, fmt="%.0f", padding=2, fontsize=8)
    ax.set_yticks(range(len(works)), works)
    ax.set_xlabel("CPU µs per request in the broker thread (under cProfile, which adds its own cost)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
