"""Events: what happened in a lab, when, to whom, as data.

An event is ``Event(t, kind, peer, detail)``: a named tuple, so ``for t, kind, peer, detail in
lab.events`` works. A role logs facts as fields, ``peer.log("served", seq=17, worker="w1")``; the
detail is then a :class:`Fields` dict, and views read ``event.fields["seq"]``, never a sentence.
"""
from __future__ import annotations

from typing import Any, NamedTuple


class Fields(dict):
    """The fields of one event. Prints as ``seq=17 worker=w1``."""

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.items())

    def __repr__(self) -> str:
        return f"Fields({dict.__repr__(self)})"


def make_detail(detail: Any = "", fields: dict[str, Any] | None = None) -> Any:
    """The detail of an event: the fields if there are any (a positional detail joins them as
    ``note``), else the plain detail."""
    if not fields:
        return detail
    if detail not in ("", None):
        return Fields(note=detail, **fields)
    return Fields(fields)


class Event(NamedTuple):
    t: float          # seconds on the lab's clock (or since the run started, in a Report)
    kind: str         # "kill", "retry", "served", ...
    peer: str         # who it happened to ("" for the lab itself)
    detail: Any       # a Fields dict, or one plain value

    @property
    def fields(self) -> dict[str, Any]:
        """The event's fields ({} when it was logged with a plain detail)."""
        return self.detail if isinstance(self.detail, Fields) else {}

    def get(self, name: str, default: Any = None) -> Any:
        """One field, or ``default``."""
        return self.fields.get(name, default)

    def shifted(self, dt: float) -> "Event":
        """The same event on a clock that starts ``dt`` seconds later."""
        return self._replace(t=self.t - dt)
