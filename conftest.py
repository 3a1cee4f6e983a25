"""For the notebooks under nbval: cells tagged ``nbval-net`` (``# NBVAL_NET`` in a notebook's source)
need network namespaces. Where the machine cannot build them they are skipped with the reason, so
the notebook's output is stable both ways; where ZGUIDE_REQUIRE_NET is set (CI), they must run."""
from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    problem = None
    checked = False
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or "nbval-net" not in cell.get("metadata", {}).get("tags", []):
            continue
        if not checked:
            from zguide_py.net import missing
            problem, checked = missing(), True
            if problem and os.environ.get("ZGUIDE_REQUIRE_NET"):
                raise pytest.UsageError(f"the network notebooks must run here (ZGUIDE_REQUIRE_NET): {problem}")
        if problem:
            item.add_marker(pytest.mark.skip(reason=f"network section: {problem}"))
