"""Binary Star: never two active servers, failover only on a client request after 2 silent heartbeats."""
from __future__ import annotations

import random
import time

import pytest

from zguide_py import Scenario
from zguide_py.patterns import binarystar as bs
from zguide_py.views import binarystar as bsv

HB = 0.1
TIMEOUT = 0.05                        # the clients' Lazy Pirate timeout
# failover budget after a kill: 2 silent heartbeats, then one client switching round (2 timeouts),
# plus a wide margin for 2 shared cores
FAILOVER_BOUND = 2 * HB + 2 * TIMEOUT + 0.15


def states(lab):
    return {n: lab.peer(n).data.get("state") for n in ("primary", "backup")}


def start_pair(lab, clients=2):
    ep = bs.pair_endpoints(lab)
    for name in ("primary", "backup"):
        lab.start(name, bs.server, side=name, heartbeat=HB, **ep[name])
    lab.wait_for(lambda: states(lab) == {"primary": "active", "backup": "passive"}, 5, "the pair to settle")
    servers = [ep["primary"]["frontend"], ep["backup"]["frontend"]]
    for i in range(clients):
        lab.start(f"c{i + 1}", bs.client, servers=servers, timeout=TIMEOUT, interval=0.002)
    return ep


def test_state_machine_table():
    t = bs.next_state
    assert t(bs.PRIMARY, bs.PEER_BACKUP, False) == (bs.ACTIVE, False)
    assert t(bs.PRIMARY, bs.PEER_ACTIVE, False) == (bs.PASSIVE, False)
    assert t(bs.PRIMARY, bs.CLIENT_REQUEST, False) == (bs.PRIMARY, False)
    assert t(bs.PRIMARY, bs.CLIENT_REQUEST, True) == (bs.ACTIVE, True)
    assert t(bs.BACKUP, bs.PEER_ACTIVE, False) == (bs.PASSIVE, False)
    assert t(bs.BACKUP, bs.CLIENT_REQUEST, True) == (bs.BACKUP, False)      # never serves cold
    assert t(bs.BACKUP, bs.PEER_PRIMARY, False) == (bs.BACKUP, False)
    assert t(bs.ACTIVE, bs.CLIENT_REQUEST, False) == (bs.ACTIVE, True)
    assert t(bs.ACTIVE, bs.PEER_PASSIVE, False) == (bs.ACTIVE, False)
    assert t(bs.PASSIVE, bs.CLIENT_REQUEST, False) == (bs.PASSIVE, False)   # peer alive: no failover
    assert t(bs.PASSIVE, bs.CLIENT_REQUEST, True) == (bs.ACTIVE, True)      # failover
    assert t(bs.PASSIVE, bs.PEER_PRIMARY, False) == (bs.ACTIVE, False)
    assert t(bs.PASSIVE, bs.PEER_BACKUP, False) == (bs.ACTIVE, False)
    assert t(bs.PASSIVE, bs.PEER_ACTIVE, False) == (bs.PASSIVE, False)
    with pytest.raises(bs.SplitBrain):
        t(bs.ACTIVE, bs.PEER_ACTIVE, False)
    with pytest.raises(bs.SplitBrain):
        t(bs.PASSIVE, bs.PEER_PASSIVE, False)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("seed", [1, 2])
def test_seeded_failovers_exactly_one_active(lab, seed):
    start_pair(lab)
    lab.start("monitor", bs.watch, lab=lab)
    rng = random.Random(seed)
    scenario = Scenario(f"kill whichever server is active, seed {seed}", seed=seed)
    kills = []

    def kill_active(lab):
        victim = next(n for n in ("primary", "backup") if lab.peer(n).data.get("state") == "active")
        kills.append((lab.now(), victim))
        lab.kill(victim)

    def restart_dead(lab):
        for name in ("primary", "backup"):
            if not lab.peer(name).alive:
                lab.restart(name)

    t = 0.3
    for _ in range(3):
        scenario.at(round(t, 3), kill_active)
        t += rng.uniform(0.5, 0.8)                 # long enough for the failover to happen first
        scenario.at(round(t, 3), restart_dead)
        t += rng.uniform(0.5, 0.8)
    t_run = lab.now()
    report = lab.run(scenario, seconds=t + 0.3)
    t_end = lab.now()
    assert all(s.fired_at is not None and not s.error for s in report.steps), report
    lab.check()                                    # no SplitBrain raised by either server
    timeline = bsv.state_timeline(lab, since=t_run, until=t_end)

    # never two actives: not in the state changes, not in ~1 000 samples
    assert bsv.active_overlaps(timeline) == []
    mon = lab.peer("monitor").data
    assert mon["max_active"] == 1 and mon["two_active_at"] == [] and mon["samples"] > 500

    # no active server only right after each kill of the active one, and then not for long
    gaps = bsv.no_active_gaps(timeline, t_run, t_end)
    assert len(gaps) == len(kills) == 3, (gaps, kills)
    for (gap_start, gap_end), (killed_at, _victim) in zip(gaps, kills):
        assert abs(gap_start - killed_at) < 0.1            # the gap opens at the kill...
        assert gap_end - killed_at <= FAILOVER_BOUND, (gap_end - killed_at, FAILOVER_BOUND)

    # never early: each takeover came after at least 2 silent heartbeats
    failovers = [f for n in ("primary", "backup") for f in lab.peer(n).data.get("failovers", [])]
    assert len(failovers) == 3
    assert all(quiet >= 2 * HB for _t, quiet in failovers), failovers
    # the state events are data: each names its state, a takeover also the silence it waited for
    changes = lab.events_of("state", since=t_run)
    assert {e.get("state") for e in changes} <= {"primary", "backup", "active", "passive", "down"}
    takeovers = [e for e in changes if e.get("why") == "client request"]
    assert len(takeovers) == 3 and all(e.get("silent") >= 2 * HB - 0.001 for e in takeovers), takeovers

    # a restarted server comes back passive (recovery is manual), and clients carry on
    for name in ("primary", "backup"):
        assert timeline[name][-1][2] in ("active", "passive")
    assert sorted(s for s in states(lab).values()) == ["active", "passive"]
    before = lab.peer("c1").get("replies")
    lab.wait_for(lambda: lab.peer("c1").get("replies") > before + 10, 5, "replies after the last restart")


@pytest.mark.timeout(60)
def test_backup_alone_never_serves_and_passive_backup_never_steals(lab):
    # a logic test, not a timing test: a slower heartbeat keeps a busy machine's scheduling hiccups
    # (a primary thread starved for 2 x 100 ms while a client hammers the backup) out of it
    hb = 0.3
    ep = bs.pair_endpoints(lab)
    lab.start("backup", bs.server, side="backup", heartbeat=hb, **ep["backup"])
    only_backup = [ep["backup"]["frontend"], ep["backup"]["frontend"]]
    lab.start("c", bs.client, servers=only_backup, timeout=TIMEOUT)
    lab.wait_for(lambda: lab.peer("backup").get("rejected") >= 5, 5, "requests at the cold backup")
    assert lab.peer("backup").data["state"] == "backup" and lab.peer("c").get("replies") == 0
    # the primary arrives: it goes active, the backup passive; the client, stuck on the backup,
    # keeps being refused because the primary is alive and heartbeating
    lab.start("primary", bs.server, side="primary", heartbeat=hb, **ep["primary"])
    lab.wait_for(lambda: states(lab) == {"primary": "active", "backup": "passive"}, 5, "the pair")
    rejected = lab.peer("backup").get("rejected")
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:              # 1 s of client pressure on the passive backup
        assert states(lab) == {"primary": "active", "backup": "passive"}
        time.sleep(0.01)
    assert lab.peer("backup").get("rejected") > rejected and lab.peer("c").get("replies") == 0
    lab.check()


@pytest.mark.timeout(60)
def test_no_failover_without_client_requests(lab):
    """Silence alone is not enough: with no client asking, the backup stays passive."""
    ep = bs.pair_endpoints(lab)
    for name in ("primary", "backup"):
        lab.start(name, bs.server, side=name, heartbeat=HB, **ep[name])
    lab.wait_for(lambda: states(lab) == {"primary": "active", "backup": "passive"}, 5, "the pair")
    lab.kill("primary")
    deadline = time.monotonic() + 6 * HB
    while time.monotonic() < deadline:
        assert lab.peer("backup").data["state"] == "passive"
        time.sleep(0.01)
    lab.start("c", bs.client, servers=[ep["primary"]["frontend"], ep["backup"]["frontend"]],
              timeout=TIMEOUT, requests=5)
    lab.wait_done("c", 5)
    assert lab.peer("backup").data["state"] == "active" and lab.peer("c").get("replies") == 5
