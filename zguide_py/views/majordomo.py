"""Majordomo's analysis for notebook 12: when the broker forgot a killed or frozen worker.

It reads the broker's structured events (``worker removed`` with the fields ``worker``, the
routing id, and ``why``) and the lab's ``kill`` events; figures are plain
:func:`zguide_py.plots.report_figure` and :func:`zguide_py.plots.bars_figure`.
"""
from __future__ import annotations

from typing import Iterable

from ..patterns.majordomo import worker_name

__all__ = ["removals", "removal_delay"]


def removals(events: Iterable, broker: str = "broker") -> list[tuple[float, str, str]]:
    """Every worker the broker removed: (time, peer name, why), in time order."""
    return [(e.t, worker_name(e.get("worker", "")), e.get("why", "")) for e in events
            if e.kind == "worker removed" and e.peer == broker]


def removal_delay(events: Iterable, name: str, broker: str = "broker") -> float | None:
    """Seconds from the first kill of peer ``name`` to the broker's removal of it (None: never)."""
    events = list(events)
    kills = [e.t for e in events if e.kind == "kill" and e.peer == name]
    if not kills:
        return None
    after = [t for t, who, _why in removals(events, broker) if who == name and t >= kills[0]]
    return after[0] - kills[0] if after else None
