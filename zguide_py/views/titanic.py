"""Titanic's figure for notebook 13: requests accepted and replied over time, and what was down.

It reads the client's structured events (``accepted`` and ``replied``, each with its ``ticket``)
and the lab's ``kill``/``restart`` events.
"""
from __future__ import annotations

from typing import Iterable

from ..patterns.titanic import SERVICES
from ..plots import new_figure

__all__ = ["down_spans", "tickets_figure"]


def down_spans(events: Iterable, names: Iterable[str]) -> list[tuple[float, float]]:
    """(start, length) of each stretch from the first kill of any of ``names`` until all are back."""
    names = set(names)
    spans, down, down_at = [], set(), 0.0
    for t, kind, peer, _detail in events:
        if peer in names and kind == "kill":
            down_at = t if not down else down_at
            down.add(peer)
        elif peer in down and kind == "restart":
            down.discard(peer)
            if not down:
                spans.append((down_at, t - down_at))
    return spans


def tickets_figure(report, client: str = "client", broker: str = "broker",
                   workers: Iterable[str] = ("w1", "w2"), requests: int | None = None,
                   title: str = "Titanic: broker, workers and Titanic crash; every accepted request is answered"):
    """Top: requests accepted (the client holds a ticket) and replied (collected by ticket), over
    time. Bottom: when the broker, Titanic (its three services and the dispatcher) and the workers
    were down."""
    events = report.events
    accepted = [e.t for e in events if e.kind == "accepted" and e.peer == client]
    replied = [e.t for e in events if e.kind == "replied" and e.peer == client]
    fig = new_figure(8.5, 4.6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.step([0, *accepted], range(len(accepted) + 1), where="post", label="accepted (client holds a ticket)")
    top.step([0, *replied], range(len(replied) + 1), where="post", label="replied (collected by ticket)")
    top.set_ylabel("requests (cumulative)")
    top.set_title(title)
    top.set_ylim(0, 1.12 * (requests or max(len(accepted), 1)))
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", fontsize=8)
    rows = {broker: [broker], "Titanic (4 peers)": [*SERVICES, "dispatcher"], "echo workers": list(workers)}
    for y, names in enumerate(rows.values()):
        bottom.broken_barh(down_spans(events, names), (y - 0.35, 0.7), color="tab:red", alpha=0.7)
    bottom.set_yticks(range(len(rows)), list(rows), fontsize=8)
    bottom.invert_yaxis()
    bottom.set_ylabel("down")
    bottom.set_xlabel("time since start of run (s)")
    bottom.grid(True, axis="x", alpha=0.3)
    return fig
