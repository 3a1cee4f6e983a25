"""Figures for notebook 04 (router-dealer): counters as running totals over a run."""
from __future__ import annotations

from ..plots import mark_events, new_figure


def progress_figure(lab, report, series: list[tuple[str, str]], title: str,
                    ylabel: str = "messages so far", marks=("kill", "restart", "throttle", "failed")):
    """Counters as running totals over a run (one line per ``(peer, counter)`` in ``series``), with
    the run's events of the kinds in ``marks`` shown as vertical lines. Read from the lab's sampler,
    so nothing is added to the message path."""
    end = report.start + report.duration
    samples = [(t, snap) for t, snap in lab.sampler.history(report.start) if t <= end]
    fig = new_figure(8, 3.6)
    ax = fig.add_subplot()
    for peer, counter in series:
        points = [(t - report.start, snap[peer].get(counter, 0)) for t, snap in samples if peer in snap]
        if points:
            base = report.totals.get(peer, {}).get(counter, 0) - report.count(peer, counter)
            ax.step([t for t, _ in points], [v - base for _, v in points], where="post",
                    label=f"{peer}.{counter}", linewidth=1.6)
    mark_events(ax, report.events, kinds=marks)
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig
