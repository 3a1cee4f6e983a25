"""The Pirates' analysis and figures (notebooks 09-11, and 17): give-up times, purge delays, the
requests timeline and the heartbeat figure.

Everything here reads the structured events the roles log (``send``/``retry``/``abandoned`` with
``seq``; ``heard``/``purge`` with ``worker``; ``liveness`` with ``left``; ``queue lost`` with
``backoff``) and the lab's own ``kill``/``restart``/``throttle`` events. Faults are marked with
:func:`zguide_py.plots.mark_events`, the one way to mark events on a time axis.
"""
from __future__ import annotations

from typing import Any, Iterable

from ..patterns.paranoidpirate import HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS
from ..patterns.simplepirate import worker_name
from ..plots import FAULTS, STRIP_HEIGHT, mark_events, new_figure

__all__ = ["field", "give_up_times", "served_between", "requests_figure", "purge_delays",
           "heartbeat_figure", "detection_summary"]


def field(event, name: str, default: Any = None) -> Any:
    """One field of an event: an :class:`~zguide_py.events.Event` of this lab, or an event that a
    role process sent up (its fields arrive as a plain dict)."""
    detail = event[3]
    return detail.get(name, default) if isinstance(detail, dict) else default


# ---- Lazy Pirate: every request --------------------------------------------------------------

def give_up_times(events: Iterable) -> list[float]:
    """Seconds from the first send of a request to its ``abandoned`` event, for every abandoned one."""
    first_send: dict[tuple[str, Any], float] = {}
    times = []
    for event in events:
        key = (event[2], field(event, "seq"))
        if event[1] == "send":
            first_send[key] = event[0]
        elif event[1] == "abandoned" and key in first_send:
            times.append(event[0] - first_send[key])
    return times


def served_between(events: Iterable, workers: list[str], start: float, end: float) -> dict[str, int]:
    """How many requests each worker served (its ``served`` events) between ``start`` and ``end``."""
    counts = dict.fromkeys(workers, 0)
    for t, kind, peer, _detail in events:
        if kind == "served" and peer in counts and start < t < end:
            counts[peer] += 1
    return counts


def requests_figure(report, clients: list[str], workers: list[str] | None = None,
                    fault_peers: list[str] | None = None, title: str = "Lazy Pirate: every request"):
    """Top: requests answered over time, per client (flat stretches are outages).
    Bottom: one row per client with its retries and abandoned requests, and (optionally) one row
    per worker with the requests it served. Faults are dashed lines, labelled in a strip on top."""
    workers = workers or []
    events, end = report.events, max(report.duration, 0.1)
    rows = list(clients) + list(workers)
    heights = [STRIP_HEIGHT, 2.3, 0.7 + 0.32 * len(rows)]
    fig = new_figure(9, sum(heights) + 0.9)
    strip, top, bottom = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": heights})
    bottom.set_xlim(0, end)
    strip.set_title(title)
    # clients often answer in step, and equal lines would hide each other: the first is a wide pale
    # band, each later one thinner and dashed, drawn on top of it
    for i, name in enumerate(clients):
        times = [t for t, k, p, _ in events if k == "answered" and p == name]
        wide = i == 0 and len(clients) > 1
        top.step([0.0] + times, range(len(times) + 1), where="post", color=f"C{i}", label=name,
                 linewidth=5 if wide else max(1.0, 1.8 - 0.2 * i), alpha=0.45 if wide else 1.0,
                 linestyle=("-", "--", "-.", ":")[min(i, 3)], zorder=2 + i)
    top.set_ylabel("requests answered\n(cumulative)")
    top.set_ylim(bottom=0)
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)

    styles = {"retry": ("tab:orange", "|", 60), "abandoned": ("tab:red", "x", 40),
              "mismatched": ("black", "D", 30), "served": ("tab:gray", "|", 30)}
    handles = {}
    for y, name in enumerate(rows):
        kinds = ("retry", "abandoned", "mismatched") if name in clients else ("served",)
        for kind in kinds:
            xs = [t for t, k, p, _ in events if k == kind and p == name]
            if xs:
                colour, marker, size = styles[kind]
                handles[kind] = bottom.scatter(xs, [y] * len(xs), color=colour, marker=marker, s=size,
                                               linewidths=1.2)
    mark_events([top, bottom], events, kinds=FAULTS, peers=fault_peers, strip=strip)
    bottom.set_yticks(range(len(rows)), rows)
    bottom.set_ylim(-0.6, len(rows) - 0.4)
    bottom.invert_yaxis()
    bottom.set_xlabel("time since start of run (s)")
    bottom.set_ylabel("peer")
    bottom.grid(True, axis="x", alpha=0.3)
    if handles:
        labels = {"retry": "retry (timeout, new socket)", "abandoned": "abandoned",
                  "mismatched": "wrong reply", "served": "request served"}
        bottom.legend(handles.values(), [labels[k] for k in handles], loc="upper left",
                      bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


# ---- Paranoid Pirate: detection times and the heartbeat figure --------------------------------

def purge_delays(events, queue_name: str = "queue") -> dict[str, list[float]]:
    """For every worker kill: seconds until the queue purged the identity that worker had when it
    was killed (the one the queue heard from last). {worker name: [delay, ...]}; a kill with no
    purge after it (say the queue died first) is left out."""
    events = list(events)
    delays: dict[str, list[float]] = {}
    for t_kill, kind, name, _ in events:
        if kind != "kill" or name == queue_name:
            continue
        heard = [field(e, "worker") for e in events if e[1] == "heard" and e[2] == queue_name
                 and e[0] <= t_kill and worker_name(field(e, "worker", "")) == name]
        if not heard:
            continue
        purges = [e[0] for e in events if e[1] == "purge" and e[2] == queue_name
                  and field(e, "worker") == heard[-1] and e[0] >= t_kill]
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
    for event in events:
        if event[2] == queue_name and event[1] in ("heard", "purge"):
            into = heard if event[1] == "heard" else purged
            into.setdefault(field(event, "worker"), []).append(event[0])
    view: dict[str, list] = {w: [] for w in workers}
    for identity, times in heard.items():
        name = worker_name(identity or "")
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
    for event in mine:
        if event[1] == "liveness":
            xs.append(event[0])
            ys.append(field(event, "left"))
        elif event[1] == "kill" and xs:
            xs.append(event[0])
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
    events, end = report.events, max(report.duration, 0.1)
    colours = ["tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:cyan", "tab:olive"]
    heights = [STRIP_HEIGHT, 0.3 + 0.6 * len(workers), 0.3 + 0.6 * len(workers)]
    fig = new_figure(9, sum(heights) + 1.0)
    strip, top, bottom = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": heights})
    bottom.set_xlim(0, end)
    strip.set_title(f"{title}\n(row height: 0 to {liveness} intervals of {interval * 1000:g} ms)")
    scale = 0.8 / liveness                    # a row is 0.8 high at full liveness
    view = _queue_view(events, workers, queue_name, interval, liveness, end)
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
    mark_events([top, bottom], events, kinds=FAULTS, peers=[*workers, queue_name], strip=strip)
    for ax, what in ((top, "queue's view:\nheartbeats left"), (bottom, "worker's view:\nliveness of queue")):
        ax.set_yticks([len(workers) - 1 - r for r in range(len(workers))], workers)
        ax.set_ylim(-0.15, len(workers) - 0.05)
        ax.set_ylabel(what)
        ax.grid(True, axis="x", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        if unique:
            ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    bottom.set_xlabel("time since start of run (s)")
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
