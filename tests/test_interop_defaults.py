"""Our CLI roles with no heartbeat flags meet the guide-style peers in examples/ (ppqueue/ppworker,
mdbroker/mdworker/mdclient) with their own defaults, and neither side gives the other up.

A short run of tools/interop_soak.py (the full one soaks 30 s): the four pairings at once, every
process a child over tcp on loopback, each one started only after what it connects to listens and
the soak timed from every pairing's first reply. Waits are bounded polls, never fixed sleeps.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def interop():
    spec = importlib.util.spec_from_file_location("zguide_tools_interop_soak", ROOT / "tools" / "interop_soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                    # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_cli_defaults_meet_the_guide_peers_without_a_storm(interop, tmp_path):
    # 4 s: four 1 s PPP heartbeats, and both MDP sides heartbeat once; a request every 1 s
    rows = interop.soak(seconds=4.0, gap=1.0, folder=tmp_path)
    text = interop.table(rows)
    assert [r.label.split()[0] for r in rows] == ["PPP", "PPP", "MDP", "MDP"], text
    for r in rows:
        assert not r.died, text
        assert r.reconnects == 0 and r.purges == 0, text      # not even one: the defaults agree
        assert r.replies >= 3 and r.failed == 0, text          # the first reply, then one a second
        assert r.malformed == 0, text                           # each side parses the other's frames


def test_the_soak_sees_heartbeats_that_do_not_match(interop, tmp_path):
    # our roles at 0.1 s x 3 (what they were before the CLI followed the specs): each side gives the
    # other up within a second of silence, and the check says so
    params = {"paranoidpirate": ["interval=0.1"], "majordomo": ["heartbeat=0.1"],
              "majordomo.worker": ["reconnect=0.1"]}
    rows = interop.soak(seconds=2.0, gap=1.0, folder=tmp_path, params=params)
    text = interop.table(rows)
    for r in rows:
        assert not r.died, text
        assert r.reconnects + r.purges >= 1, text
    assert all(r.storm and not r.ok for r in rows if r.label.startswith("PPP")), text
