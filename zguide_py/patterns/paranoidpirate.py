"""Paranoid Pirate: a queue and workers that watch each other with heartbeats.

Simple Pirate's queue cannot tell a dead worker from an idle one, and its workers cannot tell a
dead queue from a quiet one. Paranoid Pirate adds heartbeats in both directions, as specified by
6/PPP (rfc.zeromq.org/spec:6): every ``interval`` the queue sends ``HEARTBEAT`` to each worker and
each worker sends ``HEARTBEAT`` to the queue. Any message counts as a sign of life.

* **The queue** keeps, for each worker, the time after which it counts as dead:
  ``last heard + liveness x interval``. When that time passes it **purges** the worker (it is no
  longer offered requests and no longer gets heartbeats).
* **The worker** keeps a liveness counter: ``liveness`` when it hears anything from the queue, one
  less for every interval of silence. At zero it decides the queue is gone: it closes its socket,
  waits a back-off that doubles after each failed attempt (up to a maximum), opens a new socket and
  says ``READY`` again. The back-off returns to its start value as soon as the queue answers.
* **The clients** are the unchanged Lazy Pirate clients: a request lost with a dead worker or a
  dead queue is retried by its client.

Wire format (6/PPP, so the guide's own ``ppqueue`` / ``ppworker`` can stand in for these roles)::

    worker -> queue  READY:     [worker id, b"\\x01"]
    worker -> queue  HEARTBEAT: [worker id, b"\\x02"]
    queue  -> worker HEARTBEAT: [worker id, b"\\x02"]
    queue  -> worker request:   [worker id, client id, b"", request]
    worker -> queue  reply:     [worker id, client id, b"", reply]

(the queue's ROUTER adds and strips the first frame; the worker is a DEALER and sees the rest).

    python -m zguide_py run paranoidpirate queue frontend=tcp://127.0.0.1:5555 backend=tcp://127.0.0.1:5556
    python -m zguide_py run paranoidpirate worker endpoint=tcp://127.0.0.1:5556
    python -m zguide_py run lazypirate client endpoint=tcp://127.0.0.1:5555 requests=20
"""
from __future__ import annotations

import math
import time
from typing import Any

import zmq

from .lazypirate import STRIP_HEIGHT, client, fault_lines, fault_strip
from .simplepirate import worker_identity, worker_name

PPP_READY = b"\x01"        # worker -> queue: "I am here, send me work"
PPP_HEARTBEAT = b"\x02"    # both ways: "I am still alive"

HEARTBEAT_INTERVAL = 0.1   # seconds between heartbeats
HEARTBEAT_LIVENESS = 3     # silent intervals before a peer counts as dead (3..5 is reasonable)
INTERVAL_INIT = 0.1        # a worker's first back-off before reconnecting (s)
INTERVAL_MAX = 0.8         # the back-off doubles up to this (s)


def _poll_ms(until: float) -> int:
    """Milliseconds to poll until ``until`` (monotonic), at most 50 so that a kill acts fast."""
    return max(0, min(50, math.ceil((until - time.monotonic()) * 1000)))


def queue(peer, frontend: str, backend: str, interval: float = HEARTBEAT_INTERVAL,
          liveness: int = HEARTBEAT_LIVENESS):
    """ROUTER frontend for clients, ROUTER backend for workers; heartbeats to and from workers."""
    front = peer.socket(zmq.ROUTER)
    front.bind(frontend)
    back = peer.socket(zmq.ROUTER)
    back.bind(backend)
    expiry: dict[bytes, float] = {}      # every live worker -> when it counts as dead
    ready: list[bytes] = []              # idle workers, least recently used first
    peer.data.update(workers=expiry, ready=ready)
    for name in ("ready", "heartbeats_in", "heartbeats_out", "requests", "replies", "purged"):
        peer.counter(name)

    def make_ready(address: bytes) -> None:
        if address not in ready:
            ready.append(address)

    heartbeat_at = time.monotonic() + interval
    while peer.running:
        poller = zmq.Poller()
        poller.register(back, zmq.POLLIN)
        if ready:                        # take requests only when a worker can do them
            poller.register(front, zmq.POLLIN)
        events = dict(poller.poll(_poll_ms(heartbeat_at)))

        if back in events:
            address, *message = back.recv_multipart()
            peer.throttle()              # a stalled queue: the workers stop hearing from it
            name = address.decode(errors="replace")
            known = address in expiry
            expiry[address] = time.monotonic() + liveness * interval
            peer.log("heard", name)
            if message == [PPP_READY]:
                if address in ready:
                    ready.remove(address)
                make_ready(address)
                peer.count("ready")
                peer.log("ready", name)
            elif message == [PPP_HEARTBEAT]:
                peer.count("heartbeats_in")
                peer.log("heartbeat", name)
                if not known:            # a worker that knew an earlier queue: alive, so ready
                    make_ready(address)
            elif len(message) >= 3:      # [client id, b"", reply...]
                front.send_multipart(message)
                peer.count("replies")
                make_ready(address)
            else:
                peer.count("bad")
                peer.log("bad message", f"{name}: {message!r}")

        if front in events and ready:
            request = front.recv_multipart()         # [client id, b"", request]
            address = ready.pop(0)
            back.send_multipart([address] + request)
            peer.count("requests")

        now = time.monotonic()
        if now >= heartbeat_at:
            for address in expiry:
                back.send_multipart([address, PPP_HEARTBEAT])
                peer.count("heartbeats_out")
            heartbeat_at = now + interval
        for address, deadline in list(expiry.items()):
            if deadline < now:           # silent for liveness x interval: dead
                del expiry[address]
                if address in ready:
                    ready.remove(address)
                peer.count("purged")
                peer.log("purge", address.decode(errors="replace"))


def worker(peer, endpoint: str, interval: float = HEARTBEAT_INTERVAL, liveness: int = HEARTBEAT_LIVENESS,
           interval_init: float = INTERVAL_INIT, interval_max: float = INTERVAL_MAX):
    """DEALER: READY, then echo requests, heartbeat the queue, and reconnect with exponential
    back-off when the queue has been silent for ``liveness`` intervals."""
    attempt = 0

    def connect() -> zmq.Socket:
        sock = peer.socket(zmq.DEALER)
        sock.routing_id = worker_identity(peer, attempt)
        sock.connect(endpoint)
        sock.send(PPP_READY)
        peer.log("liveness", liveness)
        return sock

    for name in ("served", "heartbeats_in", "heartbeats_out", "reconnects"):
        peer.counter(name)
    sock = connect()
    alive = liveness                      # intervals of silence we still tolerate
    backoff = interval_init
    check_at = time.monotonic() + interval
    heartbeat_at = time.monotonic() + interval
    while peer.running:
        if sock.poll(_poll_ms(min(check_at, heartbeat_at))):
            frames = sock.recv_multipart()
            if len(frames) == 3:          # [client id, b"", request]: do the work, send the reply
                peer.throttle()           # a slow worker sends no heartbeats meanwhile
                if not peer.running:
                    break
                sock.send_multipart(frames)
                peer.count("served")
                peer.log("served", frames[-1].decode(errors="replace"))
            elif frames == [PPP_HEARTBEAT]:
                peer.count("heartbeats_in")
                peer.log("heartbeat")
            else:
                peer.count("bad")
                peer.log("bad message", repr(frames))
            if alive != liveness:
                peer.log("liveness", liveness)
            alive = liveness
            backoff = interval_init
            check_at = time.monotonic() + interval
        elif time.monotonic() >= check_at:
            alive -= 1                    # one more interval without a word from the queue
            peer.log("liveness", alive)
            check_at += interval
            if alive == 0:
                peer.count("reconnects")
                peer.log("queue lost", backoff)
                peer.close_socket(sock)
                if not peer.sleep(backoff):
                    break
                backoff = min(backoff * 2, interval_max)
                attempt += 1
                sock = connect()
                alive = liveness
                check_at = time.monotonic() + interval
        if time.monotonic() >= heartbeat_at:
            sock.send(PPP_HEARTBEAT)
            peer.count("heartbeats_out")
            heartbeat_at = time.monotonic() + interval


ROLES = {"queue": queue, "worker": worker, "client": client}


# ---- detection times and the heartbeat figure -----------------------------------------------

def purge_delays(events, queue_name: str = "queue") -> dict[str, list[float]]:
    """For every worker kill: seconds until the queue purged the identity that worker had when it
    was killed (the one the queue heard from last). {worker name: [delay, ...]}; a kill with no
    purge after it (say the queue died first) is left out."""
    delays: dict[str, list[float]] = {}
    for t_kill, kind, name, _ in events:
        if kind != "kill" or name == queue_name:
            continue
        heard = [d for t, k, p, d in events
                 if k == "heard" and p == queue_name and t <= t_kill and worker_name(d) == name]
        if not heard:
            continue
        identity = heard[-1]
        purges = [t for t, k, p, d in events
                  if k == "purge" and p == queue_name and d == identity and t >= t_kill]
        if purges:
            delays.setdefault(name, []).append(purges[0] - t_kill)
    return delays


def _queue_view(events, workers: list[str], queue_name: str, interval: float, liveness: int, end: float):
    """{worker: [(times, values, purge time or None), ...]}: the queue's 'heartbeats left' for each
    identity of each worker, one segment per identity and queue lifetime."""
    changes = [(t, k) for t, k, p, _ in events if p == queue_name and k in ("kill", "restart")]
    boundaries = [t for t, _ in changes] + [end]
    heard: dict[str, list[float]] = {}
    purged: dict[str, list[float]] = {}
    for t, kind, p, detail in events:
        if p == queue_name and kind == "heard":
            heard.setdefault(detail, []).append(t)
        elif p == queue_name and kind == "purge":
            purged.setdefault(detail, []).append(t)
    view: dict[str, list] = {w: [] for w in workers}
    for identity, times in heard.items():
        name = worker_name(identity)
        if name not in view:
            continue
        epochs: dict[int, list[float]] = {}
        for t in times:
            epochs.setdefault(sum(b <= t for b in boundaries), []).append(t)
        for epoch, ts in epochs.items():
            if epoch and changes[epoch - 1][1] == "kill":
                continue                 # heard by a queue already being killed: it is dead now
            stop = min([b for b in boundaries if b > ts[0]] or [end])
            purge = next((t for t in purged.get(identity, []) if ts[0] <= t <= stop), None)
            stop = purge if purge is not None else stop
            xs, ys, i, t = [], [], 0, ts[0]
            while t <= stop:
                while i + 1 < len(ts) and ts[i + 1] <= t:
                    i += 1
                xs.append(t)
                ys.append(max(0.0, liveness - (t - ts[i]) / interval))
                t += interval / 10
            view[name].append((xs, ys, purge))
    return view


def _worker_view(events, name: str, liveness: int, end: float):
    """[(times, values)] step segments of a worker's liveness counter; a segment ends when it is
    killed. A worker already running when the run began starts the run at full liveness."""
    mine = [e for e in events if e[2] == name and e[1] in ("liveness", "kill", "start", "restart")]
    segments, xs, ys = [], [], []
    if mine and mine[0][1] not in ("start", "restart"):
        xs, ys = [0.0], [liveness]
    for t, kind, _p, detail in mine:
        if kind == "liveness":
            xs.append(t)
            ys.append(detail)
        elif kind == "kill" and xs:
            xs.append(t)
            ys.append(ys[-1])
            segments.append((xs, ys))
            xs, ys = [], []
    if xs:
        xs.append(end)
        ys.append(ys[-1])
        segments.append((xs, ys))
    return segments


def heartbeat_figure(report, workers: list[str], queue_name: str = "queue",
                     interval: float = HEARTBEAT_INTERVAL, liveness: int = HEARTBEAT_LIVENESS,
                     title: str = "Paranoid Pirate: heartbeats and liveness"):
    """Two views, one row per worker. Top: the queue's view, heartbeats left before it purges the
    worker (the saw teeth are heartbeats arriving; a red x is a purge). Bottom: the worker's view,
    its liveness counter for the queue (a purple triangle is 'queue lost: reconnect after back-off')."""
    from ..plots import new_figure
    events, end = report.events, max(report.duration, 0.1)
    colours = ["tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:cyan", "tab:olive"]
    heights = [STRIP_HEIGHT, 0.3 + 0.6 * len(workers), 0.3 + 0.6 * len(workers)]
    fig = new_figure(9, sum(heights) + 1.0)
    strip, top, bottom = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": heights})
    fault_strip(strip, events, set(workers) | {queue_name}, span=end)
    strip.set_title(f"{title}\n(row height: 0 to {liveness} intervals of {interval * 1000:g} ms)")
    scale = 0.8 / liveness                    # a row is 0.8 high at full liveness
    view = _queue_view(events, workers, queue_name, interval, liveness, end)
    peers = set(workers) | {queue_name}
    for row, name in enumerate(workers):
        colour = colours[row % len(colours)]
        base = len(workers) - 1 - row
        for xs, ys, purge in view[name]:
            top.plot(xs, [base + scale * y for y in ys], color=colour, linewidth=0.9)
            if purge is not None:
                top.scatter([purge], [base], color="tab:red", marker="x", s=45, zorder=3,
                            label="purged by the queue")
        for xs, ys in _worker_view(events, name, liveness, end):
            bottom.step(xs, [base + scale * y for y in ys], where="post", color=colour, linewidth=1.3)
        lost = [t for t, k, p, _ in events if k == "queue lost" and p == name]
        if lost:
            bottom.scatter(lost, [base] * len(lost), color="tab:purple", marker="^", s=40, zorder=3,
                           label="queue lost: back off, reconnect")
    for ax, what in ((top, "queue's view:\nheartbeats left"), (bottom, "worker's view:\nliveness of queue")):
        fault_lines(ax, events, peers)
        ax.set_yticks([len(workers) - 1 - r for r in range(len(workers))], workers)
        ax.set_ylim(-0.15, len(workers) - 0.05)
        ax.set_ylabel(what)
        ax.grid(True, axis="x", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        if unique:
            ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    bottom.set_xlabel("time since start of run (s)")
    bottom.set_xlim(0, end)
    return fig


def detection_summary(report, workers: list[str], queue_name: str = "queue",
                      window: float = 1.0) -> dict[str, Any]:
    """Worker kills -> purge delays, and queue stalls/kills -> each worker's 'queue lost' delay.
    A worker that heard from a restarted queue in time does not lose it at all: only 'queue lost'
    events within ``window`` seconds of the queue's fault count."""
    events = report.events
    faults = [t for t, k, p, d in events if p == queue_name and (k == "kill" or (k == "throttle" and d))]
    lost: dict[str, list[float]] = {}
    for t_fault in faults:
        for name in workers:
            after = [t for t, k, p, _ in events
                     if k == "queue lost" and p == name and t_fault <= t <= t_fault + window]
            if after:
                lost.setdefault(name, []).append(after[0] - t_fault)
    return {"purge": purge_delays(events, queue_name), "queue_lost": lost}
