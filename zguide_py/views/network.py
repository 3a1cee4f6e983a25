"""Notebook 19's analysis and figures: who noticed a cut, when ticks came back, latency under loss."""
from __future__ import annotations

from typing import Any

from ..metrics import percentile
from ..plots import mark_events, new_figure


def _counts(report, peer: str, counter: str) -> tuple[list[float], list[float]]:
    """(times since the run started, cumulative count) rebuilt from the report's rate series."""
    times, rates = report.series.get((peer, counter), ([], []))
    total, out, previous = 0.0, [], 0.0
    for t, rate in zip(times, rates):
        total += rate * (t - previous)
        out.append(total)
        previous = t
    return list(times), out


def received_between(report, peer: str, start: float, end: float, counter: str = "received") -> int:
    """How many messages ``peer`` counted between ``start`` and ``end`` seconds into the run."""
    times, rates = report.series.get((peer, counter), ([], []))
    total, previous = 0.0, None
    for t, rate in zip(times, rates):
        if previous is not None and start <= previous and t <= end:
            total += rate * (t - previous)
        previous = t
    return round(total)


def _fault_time(report, kind: str, default: float) -> float:
    events = [e.t for e in report.events if e.kind == kind]
    return events[0] if events else default


def detection(report, peers, cut: float, heal: float) -> dict[str, dict[str, Any]]:
    """For each peer: ``detected``, seconds from the cut to its first ``disconnected`` event before
    the heal (None if it never noticed), and ``recovered``, seconds from the heal to the first
    sample in which it counted messages again (None if it never did)."""
    t_cut, t_heal = _fault_time(report, "cut", cut), _fault_time(report, "heal", heal)
    out = {}
    for name in peers:
        lost = [e.t for e in report.events
                if e.peer == name and e.kind == "disconnected" and t_cut <= e.t <= t_heal]
        times, rates = report.series.get((name, "received"), ([], []))
        back = [t for t, r in zip(times, rates) if t > t_heal and r > 0]
        out[name] = {"detected": lost[0] - t_cut if lost else None,
                     "recovered": back[0] - t_heal if back else None}
    return out


def detection_figure(report, peers, cut: float, heal: float, sender: str = "ticker"):
    """Ticks received so far, per listener, beside the ticks sent: during the cut every line is
    flat; after the heal a listener whose connection survived catches up with the backlog TCP kept,
    one that reconnected carries on from where it is, and the gap is what it lost. An x marks where
    a listener gave its connection up."""
    fig = new_figure(9, 3.8)
    ax = fig.add_subplot()
    times, sent = _counts(report, sender, "sent")
    if times:
        ax.plot(times, sent, color="0.6", linewidth=5, alpha=0.5, label=f"{sender}: ticks sent")
    for i, name in enumerate(peers):
        times, got = _counts(report, name, "received")
        ax.plot(times, got, color=f"C{i}", linewidth=2.2 - 0.4 * i, linestyle=("-", "--", ":")[i % 3],
                label=f"{name}: ticks received")
        lost = [e.t for e in report.events if e.peer == name and e.kind == "disconnected"]
        if lost and times:
            ys = [got[min(range(len(times)), key=lambda k: abs(times[k] - t))] for t in lost]
            ax.scatter(lost, ys, marker="x", s=70, color=f"C{i}", zorder=5, label=f"{name}: gave the connection up")
    ax.set_xlim(0, report.duration)
    ax.set_ylim(bottom=0)
    mark_events(ax, report.events, kinds=("cut", "heal"))
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("ticks so far (since the run began)")
    ax.set_title("a cut link: flat during the cut; who caught up after the heal")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def lazy_outcome(lab, clients) -> dict[str, dict[str, Any]]:
    """Per Lazy Pirate client process: requests, answered once, abandoned (reported), mismatched,
    unaccounted (neither), and its round-trip times."""
    out = {}
    for name in clients:
        data = lab.peer(name).data.get("result", {})
        sent = data.get("sent", [])
        answered = {int(k): v for k, v in dict(data.get("answered", {})).items()}
        abandoned = set(data.get("abandoned", []))
        once = [s for s in sent if answered.get(s) == 1 and s not in abandoned]
        dropped = [s for s in sent if not answered.get(s) and s in abandoned]
        out[name] = {"requests": len(sent), "answered": len(once), "abandoned": len(dropped),
                     "mismatched": len(data.get("mismatched", [])),
                     "unaccounted": len(sent) - len(once) - len(dropped),
                     "rtt": round_trips(lab.events_of(peer=name))}
    return out


def round_trips(events) -> list[float]:
    """Seconds from each request's first ``send`` to its ``answered`` event (sorted)."""
    sent: dict[Any, float] = {}
    rtts = []
    for e in events:
        seq = e.get("seq")
        if e.kind == "send":
            sent.setdefault(seq, e.t)
        elif e.kind == "answered" and seq in sent:
            rtts.append(e.t - sent.pop(seq))
    return sorted(rtts)


def loss_figure(outcome, loss: dict[str, float]):
    """Round-trip percentiles (p50, p90, p99, max) against the loss rate of the client's link."""
    fig = new_figure(7, 3.6)
    ax = fig.add_subplot()
    names = sorted(outcome, key=lambda n: loss[n])
    xs = [loss[n] for n in names]
    for q, style in ((50, "o-"), (90, "s--"), (99, "^-."), (100, "x:")):
        ys = [percentile(outcome[n]["rtt"], q) * 1000 if outcome[n]["rtt"] else float("nan") for n in names]
        ax.plot(xs, ys, style, label="max" if q == 100 else f"p{q}")
    ax.set_yscale("log")
    ax.set_xticks(xs, [f"{x:g} %" for x in xs])
    ax.set_xlabel("packets dropped on the client's link, each way")
    ax.set_ylabel("request round trip (ms, log scale)")
    ax.set_title("Lazy Pirate over a lossy link: the tail grows, the median hardly moves")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def check_detection(guess: float, measured: float | None) -> str:
    """The exercise's check: is the learner's worst case at least what was measured, and not far off?"""
    if measured is None:
        return "the zmtp listener did not notice the cut in this run: run section 2 again"
    try:
        value = float(guess)
    except (TypeError, ValueError):
        return f"not yet: your formula gave {guess!r}, not a number of seconds"
    if value < measured:
        return f"not yet: the listener took ~{measured:.2f} s, longer than your {value:.2f} s"
    if value > 2 * measured + 0.2:
        return f"not yet: {value:.2f} s is a safe bound, but far above the measured ~{measured:.2f} s"
    return f"yes: your bound {value:.2f} s covers the measured ~{measured:.2f} s"
