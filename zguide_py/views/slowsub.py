"""Notebook 08 (slow subscriber): memory, how far behind a subscriber is, its queues and losses
over a run, and the age of what it reads - all from the counters the roles keep, sampled by the lab,
and the fields of the events they log."""
from __future__ import annotations

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..plots import new_figure


def last_words(event) -> str:
    """A snail's "suicide" event, said in a sentence (measured numbers after a ``~``)."""
    if event.get("reason") == "too old":
        over = (event.get("age") - event.get("max_age")) * 1000
        return (f"message ~{event.get('seq')} is ~{event.get('age'):.4f} s old, ~{over:.2f} ms over "
                f"the limit of {event.get('max_age')} s")
    return (f"~{event.get('gap')} messages missing before message ~{event.get('seq')} "
            f"(limit {event.get('max_gap')})")


def rss_mb() -> float:
    """This process's resident memory (VmRSS) in MB, from /proc/self/status (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def behind_series(lab, publisher_name: str, subscriber_name: str, since: float = 0.0):
    """How many messages a subscriber is behind its publisher over time (sampled): the messages
    published after the one it is reading now, whether queued or already dropped."""
    times, values = [], []
    for t, snap in lab.sampler.history(since):
        pub, sub = snap.get(publisher_name, {}), snap.get(subscriber_name, {})
        if "sent" in pub and "last_seq" in sub:
            times.append(t - since)
            values.append(max(0, pub["sent"] - 1 - sub["last_seq"]))
    return times, values


def _death_time(report, name: str) -> float | None:
    deaths = report.events_of("suicide", name)
    return deaths[0].t if deaths else None


def _values(lab, report, name: str, fn) -> tuple[list[float], list[float]]:
    """fn(snapshot of all counters) -> value or None, at each sample of the run (cut at a death)."""
    end = _death_time(report, name)
    times, values = [], []
    for t, snap in lab.sampler.history(report.start):
        t -= report.start
        if t > report.duration or (end is not None and t > end):
            continue
        value = fn(snap)
        if value is not None:
            times.append(t)
            values.append(value)
    return times, values


def lost_below(gaps_at: list[tuple[int, int]], n: int) -> int:
    """How many of the messages numbered below ``n`` were lost, from a list of (expected, got) gaps."""
    return sum(max(0, min(got, n) - expected) for expected, got in gaps_at if expected < n)


def queue_series(lab, report, publisher_name: str, name: str):
    """For one subscriber, sampled over the run and worked out from the gaps it found:
    ``(times, waiting, dropped)``, where dropped so far = the lost messages numbered below the
    publisher's count (a PUB drops a message when it sends it), and waiting in the queues =
    published - received - dropped so far."""
    gaps = list(lab.peer(name).data.get("gaps_at", []))
    times, waiting, dropped = [], [], []

    def both(snap):
        pub, sub = snap.get(publisher_name, {}), snap.get(name, {})
        if "sent" not in pub or "received" not in sub:
            return None
        gone = lost_below(gaps, pub["sent"])
        return max(0, pub["sent"] - sub["received"] - gone), gone

    for t, (w, d) in zip(*_values(lab, report, name, both)):
        times.append(t)
        waiting.append(w)
        dropped.append(d)
    return times, waiting, dropped


def throttle_spans(report, names: list[str]) -> list[tuple[str, float, float, float]]:
    """``(peer, from, to, seconds per message)`` for every stretch of the run in which a peer was
    throttled (a throttle to 0 ends it; a death or the end of the run too)."""
    spans: list[tuple[str, float, float, float]] = []
    open_: dict[str, tuple[float, float]] = {}
    for t, kind, peer, detail in sorted(report.events, key=lambda e: e[0]):
        if peer not in names or kind not in ("throttle", "suicide", "kill"):
            continue
        if peer in open_:
            start, value = open_.pop(peer)
            spans.append((peer, start, t, value))
        if kind == "throttle" and float(detail or 0) > 0:
            open_[peer] = (t, float(detail))
    for peer, (start, value) in open_.items():
        spans.append((peer, start, report.duration, value))
    return spans


def _shade_throttles(axes, report, names: list[str]) -> list:
    """Shade the throttled stretches on every axes; returns legend handles (one per stretch).
    The legend says what and when, so no label is written over the data."""
    handles = []
    for peer, start, end, value in throttle_spans(report, names):
        for ax in axes:
            ax.axvspan(start, end, color="tab:orange", alpha=0.12, linewidth=0)
        handles.append(Patch(color="tab:orange", alpha=0.25,
                             label=f"{peer} throttled to {value * 1000:g} ms/msg\n({start:.1f}-{end:.1f} s)"))
    return handles


def _flat_label(name: str, values: list[float], top: float) -> str:
    """A line that stays at the bottom of the plot is easy to miss: its label says so."""
    return f"{name} (stays at ~0)" if values and max(values) <= 0.01 * top else name


def queue_figure(lab, report, publisher_name: str, subscribers: list[str], title: str):
    """Two panels over the run, per subscriber (see :func:`queue_series`): how many of its messages
    wait in the queues, and how many were lost: dropped by the publisher (when it happened) and
    lost as the subscriber saw it (when it read the first message after each hole). Throttled
    stretches are shaded."""
    fig = new_figure(8, 5)
    ax_queue, ax_lost = fig.subplots(2, 1, sharex=True)
    series = {name: queue_series(lab, report, publisher_name, name) for name in subscribers}
    seen = {name: _values(lab, report, name, lambda snap, name=name: snap.get(name, {}).get("lost"))
            for name in subscribers}
    top_queue = max([max(w, default=0) for _, w, _ in series.values()] + [1])
    top_lost = max([max(d, default=0) for _, _, d in series.values()]
                   + [max(v, default=0) for _, v in seen.values()] + [1])
    lost_handles = []
    for i, name in enumerate(subscribers):
        times, waiting, dropped = series[name]
        # zorder and clip_on=False: a line at 0 is drawn over the axis, not hidden under it
        ax_queue.plot(times, waiting, color=f"C{i}", linewidth=1.8, zorder=3, clip_on=False,
                      label=_flat_label(name, waiting, top_queue))
        ax_lost.plot(times, dropped, color=f"C{i}", linestyle="-", linewidth=1.8, zorder=3, clip_on=False)
        ax_lost.plot(*seen[name], color=f"C{i}", linestyle=":", linewidth=2.4, zorder=4, clip_on=False)
        flat = _flat_label(name, dropped + list(seen[name][1]), top_lost) != name
        lost_handles.append(Line2D([], [], color=f"C{i}", linewidth=1.8,
                                   label=f"{name}: dropped by the publisher" + (" (~0)" if flat else "")))
        lost_handles.append(Line2D([], [], color=f"C{i}", linestyle=":", linewidth=2.4,
                                   label=f"{name}: lost, as it found out" + (" (~0)" if flat else "")))
    throttled = _shade_throttles((ax_queue, ax_lost), report, subscribers)
    for ax, top in ((ax_queue, top_queue), (ax_lost, top_lost)):
        ax.grid(True, alpha=0.3)
        ax.set_ylim(-0.03 * top, top * 1.08)   # a little room below 0, so a line at 0 shows
        ax.set_xlim(0, report.duration)
    fig.suptitle(title)                        # over the whole figure: a long title is not cut
    ax_queue.set_ylabel("waiting in the queues\n(messages)")
    ax_lost.set_ylabel("lost so far\n(messages)")
    ax_lost.set_xlabel("time since start of run (s)")
    handles, _ = ax_queue.get_legend_handles_labels()
    ax_queue.legend(handles=handles + throttled, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax_lost.legend(handles=lost_handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def age_figure(lab, report, subscribers: list[str], limit: float | None, title: str):
    """The age of the message each subscriber is reading, over the run; the snail's limit dotted,
    its death a cross, throttled stretches shaded."""
    fig = new_figure(8, 3.4)
    ax = fig.add_subplot()
    ages = {name: _values(lab, report, name, lambda snap, name=name: snap.get(name, {}).get("age_ms"))
            for name in subscribers}
    top = max([max(v, default=0) for _, v in ages.values()] + [(limit or 0) * 1000, 1])
    for i, name in enumerate(subscribers):
        ax.plot(*ages[name], color=f"C{i}", linewidth=1.8, zorder=3, clip_on=False,
                label=_flat_label(name, ages[name][1], top))
    for i, name in enumerate(subscribers):
        death, t = lab.peer(name).data.get("death"), _death_time(report, name)
        if death and t is not None:
            ax.axvline(t, color=f"C{i}", linestyle="--", linewidth=1, alpha=0.6)
            ax.scatter([t], [death["age"] * 1000], marker="X", s=70, color=f"C{i}", zorder=5,
                       label=f"{name} dies ({death['reason']})")
    if limit is not None:
        ax.axhline(limit * 1000, color="black", linestyle=":", linewidth=1.2,
                   label=f"the snail's limit ({limit * 1000:g} ms)")
    throttled = _shade_throttles([ax], report, subscribers)
    ax.set_title(title)
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("age of the message being read (ms)")
    ax.set_ylim(-0.03 * top, top * 1.1)
    ax.set_xlim(0, report.duration)
    ax.grid(True, alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + throttled, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig
