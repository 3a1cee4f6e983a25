"""The multithreaded server's analysis and figure (notebook 22): which requests a worker's kill
cost, and who served what over time.

It reads the Lazy Pirate clients' events (``send``, ``retry``, ``answered``, each with ``seq``) and
the lab's ``kill`` events. A request "in flight at a kill" was sent before the kill took effect
(the kill event, plus at most one of the lab's slices) and had no reply when the kill came: its
first try timed out after the kill. Those are the requests a kill can lose, and the only ones.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..peer import SLICE
from ..plots import FAULTS, STRIP_HEIGHT, mark_events, new_figure
from .pirates import field as event_field


def relay_story(events) -> list[tuple[float, str, str]]:
    """The relay's events in order: (time, step, what it did), in words."""
    said = {"bound": lambda d: f"bound {d.get('endpoint')}", "starts": lambda d: f"starts the thread of {d.get('thread')}",
            "signals": lambda d: f"signals {d.get('receiver')}", "heard": lambda d: f"heard {d.get('sender')}",
            "complete": lambda d: "the relay is complete", "malformed": lambda d: "ignored a malformed signal"}
    return [(e.t, e.peer, said[e.kind](e.detail if isinstance(e.detail, dict) else {}))
            for e in events if e.kind in said and e.peer.startswith("step")]


def bound_before_started(events, last: int = 3) -> bool:
    """True when every step of the relay bound its PAIR before it started the step that connects
    to it, and that step did nothing before it was started."""
    first = {}
    for e in events:
        first.setdefault((e.peer, e.kind), e.t)
    for step in range(2, last + 1):
        bound, starts = first.get((f"step{step}", "bound")), first.get((f"step{step}", "starts"))
        before = [t for (peer, _kind), t in first.items() if peer == f"step{step - 1}"]
        if bound is None or starts is None or not before or not bound < starts <= min(before):
            return False
    return True


@dataclass
class Resent:
    """A request that needed more than one try."""

    client: str
    seq: int
    sent: float                    # its first try (seconds into the run)
    answered: float | None         # when its reply came (None: abandoned)
    tries: int
    kill: tuple[float, str] | None = None    # (time, worker) of the kill it was in flight at


@dataclass
class KillCost:
    """What the kills of a run cost: every request sent again, and which kill explains it."""

    requests: int = 0
    resent: list[Resent] = field(default_factory=list)

    @property
    def explained(self) -> list[Resent]:
        return [r for r in self.resent if r.kill is not None]

    @property
    def unexplained(self) -> list[Resent]:
        return [r for r in self.resent if r.kill is None]

    def per_kill(self) -> dict[tuple[float, str], int]:
        counts: dict[tuple[float, str], int] = {}
        for r in self.explained:
            counts[r.kill] = counts.get(r.kill, 0) + 1
        return counts


def kill_cost(report, clients: list[str], workers: list[str] | None = None, timeout: float = 0.5) -> KillCost:
    """Every request of ``clients`` that needed a retry, each matched with the kill of a worker
    (``workers``; default: any peer) that it was in flight at: sent no later than one slice after
    the kill, and the kill no later than its first try's timeout."""
    kills = [(e.t, e.peer) for e in report.events if e.kind == "kill" and (workers is None or e.peer in workers)]
    sent: dict[tuple[str, int], float] = {}
    answered: dict[tuple[str, int], float] = {}
    tries: dict[tuple[str, int], int] = {}
    for e in report.events:
        if e.peer not in clients or e.kind not in ("send", "retry", "answered"):
            continue
        key = (e.peer, event_field(e, "seq"))
        if e.kind == "send":
            sent[key], tries[key] = e.t, 1
        elif e.kind == "retry":
            tries[key] = tries.get(key, 1) + 1
        else:
            answered.setdefault(key, e.t)
    cost = KillCost(requests=len(sent))
    for key, n in sorted(tries.items(), key=lambda item: sent.get(item[0], 0.0)):
        if n < 2 or key not in sent:
            continue
        t = sent[key]
        at = [k for k in kills if t <= k[0] + SLICE + 0.01 and k[0] <= t + timeout]
        cost.resent.append(Resent(key[0], key[1], t, answered.get(key), n, at[0] if at else None))
    return cost


def kills_figure(report, clients: list[str], workers: list[str], cost: KillCost,
                 title: str = "The multithreaded server under worker kills"):
    """Top: replies per second of each worker thread. Bottom: a row per client, a tick for each
    request answered at its first try, and a bar from first try to reply for each one sent again.
    Kills, starts and restarts are dashed lines, labelled in a strip above."""
    end = max(report.duration, 0.1)
    heights = [STRIP_HEIGHT, 2.2, 0.6 + 0.35 * len(clients)]
    fig = new_figure(9, sum(heights) + 0.9)
    strip, top, bottom = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": heights})
    bottom.set_xlim(0, end)
    strip.set_title(title)
    for i, name in enumerate(workers):
        times, rates = report.series.get((name, "replies"), ([], []))
        if times:
            top.plot(times, rates, color=f"C{i}", linewidth=1.6, marker=".", markersize=3, label=name)
    top.set_ylabel("replies per second\n(each worker)")
    top.set_ylim(bottom=0)
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)

    resent = {(r.client, r.seq): r for r in cost.resent}
    first_try = {name: [] for name in clients}
    for e in report.events:
        if e.kind == "answered" and e.peer in first_try and (e.peer, event_field(e, "seq")) not in resent:
            first_try[e.peer].append(e.t)
    handles = {}
    for y, name in enumerate(clients):
        if first_try[name]:
            handles["first"] = bottom.scatter(first_try[name], [y] * len(first_try[name]), marker="|",
                                              s=40, color="tab:gray", linewidths=0.8)
        for r in resent.values():
            if r.client == name:
                until = r.answered if r.answered is not None else end
                handles["again"], = bottom.plot([r.sent, until], [y, y], color="tab:orange", linewidth=5,
                                                solid_capstyle="butt")
    mark_events([top, bottom], report.events, kinds=FAULTS + ("start",), peers=workers, strip=strip)
    bottom.set_yticks(range(len(clients)), clients)
    bottom.set_ylim(-0.6, len(clients) - 0.4)
    bottom.invert_yaxis()
    bottom.set_xlabel("time since start of run (s)")
    bottom.set_ylabel("client")
    bottom.grid(True, axis="x", alpha=0.3)
    labels = {"first": "answered at the first try", "again": "sent again: first try to reply"}
    if handles:
        bottom.legend([handles[k] for k in labels if k in handles], [labels[k] for k in labels if k in handles],
                      loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig
