"""For the notebooks under nbval: some cells need what not every machine has.

* ``nbval-net`` (``# NBVAL_NET`` in a notebook's source): network namespaces (notebook 19);
* ``nbval-peers`` (``# NBVAL_PEERS``): the peers in C and JavaScript that ``make peers`` builds
  (notebook 21).

Where the machine lacks them, those cells are skipped with the reason, so a notebook's output is stable
both ways; where ZGUIDE_REQUIRE_NET or ZGUIDE_REQUIRE_PEERS is set (CI), they must run."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def _net_missing() -> str | None:
    from zguide_py.net import missing
    return missing()


def _peers_missing() -> str | None:
    """What notebook 21 needs that is not there (``make peers`` builds it; ``make test`` runs that first)."""
    problems = []
    if not (ROOT / "build" / "mdworker").is_file():
        problems.append("no build/mdworker (make peers: needs cc and libzmq3-dev)")
    if shutil.which("node") is None or not (ROOT / "peers" / "js" / "node_modules" / "zeromq").is_dir():
        problems.append("no Node.js client (make peers: needs nodejs and npm)")
    return "; ".join(problems) or None


NEEDS = {   # tag: (what is checked, the variable that makes it required, what the skip says)
    "nbval-net": (_net_missing, "ZGUIDE_REQUIRE_NET", "network section"),
    "nbval-peers": (_peers_missing, "ZGUIDE_REQUIRE_PEERS", "peers in other languages"),
}


def pytest_collection_modifyitems(config, items):
    problems: dict[str, str | None] = {}
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None:
            continue
        for tag in cell.get("metadata", {}).get("tags", []):
            if tag not in NEEDS:
                continue
            check, required, section = NEEDS[tag]
            if tag not in problems:
                problems[tag] = check()
                if problems[tag] and os.environ.get(required):
                    raise pytest.UsageError(f"the {section} must run here ({required}): {problems[tag]}")
            if problems[tag]:
                item.add_marker(pytest.mark.skip(reason=f"{section}: {problems[tag]}"))


def pytest_sessionfinish(session, exitstatus):
    """nbval ends each notebook's kernel with SIGKILL, so a namespace host the notebook left open for
    the learner (19's and 20's playgrounds) outlives it: remove the namespaces whose process is gone."""
    if _net_missing() is None:
        from zguide_py import net
        net.clean()
