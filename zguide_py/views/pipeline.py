"""Figures for notebook 03 (pipeline): how batch time scales with workers, where a dead worker's
tasks went."""
from __future__ import annotations

from ..plots import new_figure


def scaling_figure(times: dict[int, float], title: str):
    """Batch time against the number of workers (``times`` must hold 1), measured and ideal."""
    fig = new_figure(6.4, 3.4)
    ax = fig.add_subplot()
    counts = list(times)
    ax.plot(counts, [times[n] for n in counts], marker="o", markersize=8, linewidth=3, alpha=0.6,
            label="measured")
    ax.plot(counts, [times[1] / n for n in counts], linestyle="--", marker="x", color="black",
            label="ideal: 1 worker's time / n")
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.set_xlabel("number of workers")
    ax.set_ylabel("batch time (s)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


def fate_figure(tally: dict, workers: list[str], title: str, top: int | None = None):
    """Per worker, the tasks dealt to it (from :func:`zguide_py.patterns.pipeline.tally`): finished,
    lost in its hands when killed, lost in its queue."""
    fig = new_figure(8, 3.4)
    ax = fig.add_subplot()
    done = [tally["workers"][w]["finished"] for w in workers]
    hand = [len(tally["workers"][w]["in_hand"]) for w in workers]
    queue = [len(tally["workers"][w]["queued"]) for w in workers]
    ax.bar(workers, done, label="finished (result at the sink)", color="tab:blue")
    ax.bar(workers, hand, bottom=done, label="lost: in its hands when killed", color="tab:red")
    ax.bar(workers, queue, bottom=[d + h for d, h in zip(done, hand)], label="lost: still in its queue",
           color="tab:orange")
    ax.set_ylim(0, top if top is not None else max(d + h + q for d, h, q in zip(done, hand, queue)) * 1.2)
    ax.set_xlabel("worker")
    ax.set_ylabel("tasks dealt to the worker")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return fig
