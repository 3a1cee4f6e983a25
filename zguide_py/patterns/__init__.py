"""One module per notebook; each holds that pattern's roles as plain pyzmq functions.

Every module here is a pattern; its ``ROLES`` dict names the roles that
``python -m zguide_py run PATTERN ROLE`` can start as a process (over tcp or ipc).
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def names() -> list[str]:
    """The short names of every pattern module, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(pattern: str) -> ModuleType:
    """The module of a pattern by its short name; a clear error lists the known ones."""
    if pattern not in names():
        raise ValueError(f"unknown pattern {pattern!r}: known patterns are {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{pattern}")


def roles(pattern: str) -> dict:
    return dict(getattr(load(pattern), "ROLES", {}))


def role(pattern: str, name: str):
    known = roles(pattern)
    try:
        return known[name]
    except KeyError:
        raise ValueError(f"pattern {pattern!r} has no role {name!r}: its roles are "
                         f"{', '.join(known) or 'none'}") from None
