"""Figures for notebook 02 (publish-subscribe): topic filtering, fair queuing, the slow joiner, and
a socket's connection events (its monitor) beside the data it received."""
from __future__ import annotations

from ..plots import EVENT_STYLE, mark_events, new_figure, timeline_figure


def topics_figure(lab, listeners: dict[str, list[str]], topics: list[str]):
    """Stacked bars: the messages each subscriber received, per topic, with the totals on top."""
    fig = new_figure(8, 3.4)
    ax = fig.add_subplot()
    bottom = [0] * len(listeners)
    for topic in topics:
        heights = [lab.peer(n).data["per_topic"].get(topic, 0) for n in listeners]
        ax.bar(list(listeners), heights, bottom=bottom, label=topic)
        bottom = [b + h for b, h in zip(bottom, heights)]
    for x, total in enumerate(bottom):
        ax.annotate(str(total), (x, total), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
    ax.set_ylim(0, max(bottom) * 1.12)
    ax.set_xticks(range(len(listeners)), [f"{n}\n{p!r}" if p else f"{n}\n(none)"
                                          for n, p in listeners.items()])
    ax.set_xlabel("subscriber (and its subscription)")
    ax.set_ylabel("messages received")
    ax.set_title("topic filtering: each subscriber gets the topics its prefix matches")
    ax.legend(title="topic", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def arrivals_figure(sources: list[str], publishers: list[str], first: int = 60):
    """Which publisher sent each of the first ``first`` messages a subscriber received."""
    rows = {src: [(i, "arrived") for i, s in enumerate(sources[:first]) if s == src] for src in publishers}
    fig = timeline_figure(rows, title=f"one SUB socket fed by two publishers: the first {first} arrivals",
                          xlabel="arrival order at the subscriber (message number)",
                          colours={"arrived": "tab:blue"})
    fig.axes[0].set_ylabel("sent by")
    return fig


def slow_joiner_figure(missed_plain: list[int], missed_sync: list[int], count: int):
    """The first messages of two runs, received (green) or lost (red): without and with handshake."""
    shown = max(60, len(missed_plain) + 20)
    fig = new_figure(8, 1.9)
    ax = fig.add_subplot()
    for y, missed in enumerate([missed_plain, missed_sync]):
        for kind, colour in [("received", "tab:green"), ("lost", "tab:red")]:
            xs = [n for n in range(shown) if (n in missed) == (kind == "lost")]
            ax.scatter(xs, [y] * len(xs), marker="s", s=14, color=colour, label=kind if y == 0 else None)
    ax.set_yticks([0, 1], [f"no handshake\n({len(missed_plain)} lost)", f"handshake\n({len(missed_sync)} lost)"])
    ax.set_ylim(1.6, -0.6)
    ax.set_xlabel("message number (the publisher's sequence)")
    ax.set_ylabel("run")
    ax.set_title(f"slow joiner: the first {shown} of {count} messages, as the subscriber saw them")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


#: The events a connecting socket's monitor reports, in the order of a connection's life, as the
#: figure names them (libzmq's names, ``zmq.Event``, in words).
MONITOR_KINDS = {"CONNECT_DELAYED": "connect delayed", "CLOSED": "closed", "CONNECT_RETRIED": "connect retried",
                 "CONNECTED": "connected", "HANDSHAKE_SUCCEEDED": "handshake succeeded",
                 "DISCONNECTED": "disconnected", "MONITOR_STOPPED": "monitor stopped"}


def monitor_events(events, peer: str) -> list[tuple[float, str]]:
    """The socket-monitor events that ``peer`` logged (``peer.log("monitor", event=...)``), in
    time order, as ``(time, libzmq's name)``: from a lab's or a report's list of events."""
    return sorted((e.t, e.get("event")) for e in events if e.kind == "monitor" and e.peer == peer)


def milestones(monitor: list[tuple[float, str]]) -> list[str]:
    """The story of a connection in a few words: the monitor's events without the attempts'
    details (``connect delayed``, ``closed``), and each run of retries said once."""
    story: list[str] = []
    for _, name in monitor:
        if name in ("CONNECT_DELAYED", "CLOSED") or (story and name == story[-1] == "CONNECT_RETRIED"):
            continue
        story.append(name)
    return story


def monitor_figure(report, watcher: str, publisher: str, title: str):
    """Above, a row per kind of monitor event of ``watcher``'s socket and a row for what the run did
    to ``publisher`` (start, kill, restart); below, the messages ``watcher`` received per second,
    on the same time axis."""
    fig = new_figure(8, 4.6)
    events_ax, rate_ax = fig.subplots(2, 1, sharex=True, height_ratios=[1.5, 1])
    monitor = monitor_events(report.events, watcher)
    kinds = [k for k in MONITOR_KINDS if any(name == k for _, name in monitor)]
    actions = [(e.t, e.kind) for e in report.events if e.peer == publisher and e.kind in EVENT_STYLE]
    rows = [f"{publisher} (scenario)"] + [MONITOR_KINDS[k] for k in kinds]
    for t, kind in actions:
        events_ax.scatter([t], [0], marker="v", s=50, color=EVENT_STYLE[kind], zorder=3)
        events_ax.annotate(kind, (t, 0), xytext=(4, 3), textcoords="offset points", fontsize=8,
                           color=EVENT_STYLE[kind])
    for y, kind in enumerate(kinds, start=1):
        xs = [t for t, name in monitor if name == kind]
        events_ax.scatter(xs, [y] * len(xs), marker="o", s=22, color=f"C{y - 1}", zorder=3)
    events_ax.set_yticks(range(len(rows)), rows)
    events_ax.set_ylim(len(rows) - 0.4, -0.7)
    events_ax.set_ylabel("socket monitor event")
    events_ax.set_title(title)
    times, rates = report.series_of(["received"], [watcher]).get((watcher, "received"), ([], []))
    rate_ax.plot(times, rates, marker=".", markersize=3, color="tab:blue", label=f"{watcher}.received")
    rate_ax.set_ylim(bottom=0)
    rate_ax.set_ylabel("messages per second")
    rate_ax.set_xlabel("time since start of run (s)")
    rate_ax.set_xlim(0, report.duration)
    for ax in (events_ax, rate_ax):
        ax.grid(True, axis="x", alpha=0.3)
    rate_ax.grid(True, axis="y", alpha=0.3)
    mark_events([events_ax, rate_ax], report.events, peers=[publisher], labels=False)
    return fig
