"""Binary Star (notebook 14): each server's states over time, read from its "state" events, the
checks that never two servers were active, and the figure of who answered and in which state."""
from __future__ import annotations

from matplotlib.patches import Patch

from ..plots import new_figure


def state_timeline(lab, names=("primary", "backup"), since: float = 0.0, until: float | None = None):
    """Each server's states over time from its "state" events: {name: [(start, end, state)]}."""
    end_of_time = lab.now() if until is None else until
    timeline = {}
    for name in names:
        spans, current, t0 = [], None, None
        for event in lab.events_of("state", name):
            if current is not None:
                spans.append((t0, event.t, current))
            current, t0 = event.get("state"), event.t
        if current is not None:
            spans.append((t0, end_of_time, current))
        timeline[name] = [(max(a, since), b, s) for a, b, s in spans if b > since]
    return timeline


def active_overlaps(timeline) -> list[tuple[float, float]]:
    """Moments when more than one server was active: [(start, end)], empty when never."""
    actives = [(a, b) for spans in timeline.values() for a, b, s in spans if s == "active"]
    overlaps = []
    for i, (a1, b1) in enumerate(actives):
        for a2, b2 in actives[i + 1:]:
            lo, hi = max(a1, a2), min(b1, b2)
            if lo < hi:
                overlaps.append((lo, hi))
    return overlaps


def no_active_gaps(timeline, since: float, until: float) -> list[tuple[float, float]]:
    """The intervals in [since, until] when no server was active."""
    actives = sorted((a, b) for spans in timeline.values() for a, b, s in spans if s == "active")
    gaps, t = [], since
    for a, b in actives:
        if b <= t:
            continue
        if a > t:
            gaps.append((t, min(a, until)))
        t = max(t, b)
        if t >= until:
            break
    if t < until:
        gaps.append((t, until))
    return [(a, b) for a, b in gaps if b > a]


def describe_change(event) -> str:
    """A "state" event in words, the state in capitals (a state, not a server's name):
    "ACTIVE (client request, peer silent ~0.213 s)", "PASSIVE (heard the peer say ACTIVE)"."""
    why = event.get("why", "")
    if why.startswith("heard peer "):
        why = f"heard the peer say {why.removeprefix('heard peer ').upper()}"
    if "silent" in event.fields:
        why += f", peer silent ~{event.get('silent'):.3f} s"
    return f"{str(event.get('state')).upper()} ({why})"


STATE_COLOURS = {"primary": "0.85", "backup": "0.6", "active": "tab:green", "passive": "gold",
                 "down": "tab:red"}
ANSWER_COLOURS = {"primary": "tab:blue", "backup": "tab:purple"}


def states_figure(report, timeline, t0: float, names=("primary", "backup")):
    """Top: the replies each server gave per second. Bottom: each server's state over the run
    (``timeline`` from :func:`state_timeline`, in lab time; ``t0`` is the run's start). States are
    labelled in capitals, servers by name: the primary server can be in state PASSIVE."""
    state_labels = {"primary": "PRIMARY (starting)", "backup": "BACKUP (starting)", "active": "ACTIVE",
                    "passive": "PASSIVE", "down": "DOWN (killed)"}
    fig = new_figure(9, 5.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2.2, 1])
    for name in names:
        times, rates = report.series.get((name, "replies"), ([], []))
        top.plot(times, rates, marker=".", markersize=3, linewidth=1.2, color=ANSWER_COLOURS.get(name),
                 label=f"answered by the {name} server")
    top.set_ylabel("replies per second")
    top.set_title("Binary Star: who answers the clients, and each server's state")
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    for y, name in enumerate(names):
        for start, end, state in timeline[name]:
            bottom.broken_barh([(start - t0, end - start)], (y - 0.35, 0.7),
                               color=STATE_COLOURS.get(state, "tab:gray"), alpha=0.8)
    bottom.set_yticks(range(len(names)), [f"{name} server" for name in names])
    bottom.invert_yaxis()
    bottom.set_ylabel("state")
    bottom.set_xlabel("time since start of run (s)")
    bottom.legend([Patch(color=c) for c in STATE_COLOURS.values()],
                  [state_labels.get(s, s) for s in STATE_COLOURS],
                  loc="upper left", bbox_to_anchor=(1.01, 1.05), fontsize=8)
    bottom.grid(True, axis="x", alpha=0.3)
    return fig
