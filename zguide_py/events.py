"""Events: what happened in a lab, when, to whom, as data.

An event is ``Event(t, kind, peer, detail)``: a named tuple, so ``for t, kind, peer, detail in
lab.events`` works. A role logs facts as fields, ``peer.log("served", seq=17, worker="w1")``; the
detail is then a :class:`Fields` dict, and views read ``event.fields["seq"]``, never a sentence.
"""
from __future__ import annotations

import inspect
import re
from typing import Any, Callable, NamedTuple


class Fields(dict):
    """The fields of one event. Prints as ``seq=17 worker=w1``."""

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.items())

    def __repr__(self) -> str:
        return f"Fields({dict.__repr__(self)})"


#: An event keeps at most this much of any one value, so that events logged from the network (a
#: malformed 10 MB frame, say) cannot pin memory: the log is bounded in bytes, not only in count.
MAX_BYTES = 64
MAX_TEXT = 200
MAX_ITEMS = 8


def clip(value: Any, depth: int = 0) -> Any:
    """``value`` cut down to a bounded size: bytes to 64 (plus ``...``), text to 200 characters,
    lists and tuples to 8 items (each clipped); other values as they are."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value[:MAX_BYTES + 1]) if not isinstance(value, bytes) else value
        return value if len(value) <= MAX_BYTES else value[:MAX_BYTES] + b"..."
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "..."
    if isinstance(value, (list, tuple)) and depth < 2:
        items = [clip(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"... {len(value) - MAX_ITEMS} more")
        return type(value)(items) if isinstance(value, list) else tuple(items)
    if isinstance(value, dict) and depth < 2 and not isinstance(value, Fields):
        return {clip(k, 2): clip(v, depth + 1) for k, v in list(value.items())[:MAX_ITEMS]}
    return value


def make_detail(detail: Any = "", fields: dict[str, Any] | None = None) -> Any:
    """The detail of an event: the fields if there are any (a positional detail joins them as
    ``note``), else the plain detail. Every value is clipped (see :func:`clip`)."""
    if not fields:
        return clip(detail)
    clipped = Fields({k: clip(v) for k, v in fields.items()})
    if detail not in ("", None):
        return Fields(note=clip(detail), **clipped)
    return clipped


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


#: What a masked secret looks like wherever a command line or parameters are echoed.
MASK = "***"
_SECRET_NAME = re.compile(r"(?:^|_)(?:password|passwords|passwd|passphrase|secret|secrets|token|api_key)$",
                          re.IGNORECASE)


def is_secret(name: str, fn: Callable | None = None) -> bool:
    """Whether parameter ``name`` holds a secret: its name ends in password(s), passwd, passphrase,
    secret(s), token or api_key, or the role's module lists it in ``SECRET_PARAMS``. Where a secret
    comes from (``password_file``, ``password_env``) is not itself secret."""
    if fn is not None and name in getattr(inspect.getmodule(fn), "SECRET_PARAMS", ()):
        return True
    return bool(_SECRET_NAME.search(name))


def masked(params: dict[str, Any], fn: Callable | None = None) -> dict[str, Any]:
    """``params`` with every secret value replaced by ``***`` (a copy)."""
    return {k: (MASK if is_secret(k, fn) and v is not None else v) for k, v in params.items()}
