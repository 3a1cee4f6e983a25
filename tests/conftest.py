"""The one ``lab`` fixture (a fresh lab per test, closed after it, with no thread left behind), and
the hypothesis profiles of the fuzz suite."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))     # tests can import fuzzkit

# The fuzz suite: a few derandomized examples per test in `make test` (repeatable in CI), many
# random ones in `make fuzz`.
_FUZZ_CHECKS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=12, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_FUZZ_CHECKS)
settings.register_profile("fuzz", max_examples=150, deadline=None, suppress_health_check=_FUZZ_CHECKS)
settings.load_profile(os.environ.get("ZGUIDE_FUZZ", "ci"))

from zguide_py import Lab  # noqa: E402 - after the hypothesis profiles


@pytest.fixture
def lab(request):
    """A lab named after the test (so re-running a test, or two tests at once, never collide)."""
    name = "test-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:80]
    lab = Lab(name)
    yield lab
    lab.close()
    assert not lab.threads(), f"threads left after close: {[t.name for t in lab.threads()]}"
