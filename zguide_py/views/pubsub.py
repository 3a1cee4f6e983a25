"""Figures for notebook 02 (publish-subscribe): topic filtering, fair queuing, the slow joiner."""
from __future__ import annotations

from ..plots import new_figure, timeline_figure


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
