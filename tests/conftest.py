"""The one ``lab`` fixture: a fresh lab per test, closed after it, with no thread left behind."""
from __future__ import annotations

import re

import pytest

from zguide_py import Lab


@pytest.fixture
def lab(request):
    """A lab named after the test (so re-running a test, or two tests at once, never collide)."""
    name = "test-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:80]
    lab = Lab(name)
    yield lab
    lab.close()
    assert not lab.threads(), f"threads left after close: {[t.name for t in lab.threads()]}"
