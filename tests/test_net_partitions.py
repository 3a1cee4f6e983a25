"""The pirates and Binary Star on namespace hosts, under real loss, cuts and partitions (notebook 19).

* Lazy Pirate, Paranoid Pirate and Majordomo clients lose nothing and match nothing wrongly under
  packet loss and under a seeded schedule of cuts of the workers' host;
* Binary Star, per kind of partition: the state link cut keeps one active server and the backup
  passive; clients cut from the primary get no failover (still one active); the "two buildings"
  partition makes two servers active (split brain) when it lasts long enough for client b to give
  up on the primary, not when it is brief; after a split brain a server stops on "dual actives"
  once the link is back.

Every wait is bounded (lab.wait_for, a scenario's seconds, the runner's own bounded polls). These
tests need root (or CAP_NET_ADMIN), iproute2 and iptables. Without them they are skipped with the
reason, unless ZGUIDE_REQUIRE_NET is set (CI sets it: there they must run).
"""
from __future__ import annotations

import os
import time

import pytest

from zguide_py import Lab, Scenario
from zguide_py import net as znet
from zguide_py.net import Net

if znet.missing():
    if os.environ.get("ZGUIDE_REQUIRE_NET"):
        pytest.fail(f"the network tests must run here (ZGUIDE_REQUIRE_NET): {znet.missing()}",
                    pytrace=False)
    pytest.skip(znet.missing(), allow_module_level=True)

from zguide_py.views import network  # noqa: E402  (matplotlib: only once the tests can run)

PARTITIONS = {
    "state link": [("primary", "backup")],
    "clients from primary": [("clienta", "primary"), ("clientb", "primary")],
    "two buildings": [("primary", "backup"), ("clientb", "primary"), ("clienta", "backup")],
}


@pytest.fixture
def netlab():
    lab = Lab("test-net-partitions")
    net = Net(lab)
    try:
        yield lab, net
    finally:
        ids = net.namespaces()
        lab.close()                                      # closes the Net: every namespace goes
        assert not [ns for ns in ids if ns in znet.namespaces()]
        assert not lab.threads()


def test_pirates_lose_nothing_under_loss_and_a_seeded_schedule_of_cuts(netlab):
    lab, net = netlab
    net.host("servers"), net.host("workers"), net.host("lossy")
    net.loss("lossy", 10)
    server, front, back, mdp = (net["servers"].endpoint(p) for p in (5555, 5557, 5558, 5559))
    lab.start("server", net.on("servers", "lazypirate.server"), endpoint=server)
    lab.start("queue", net.on("servers", "paranoidpirate.queue"), frontend=front, backend=back)
    lab.start("broker", net.on("servers", "majordomo.broker"), endpoint=mdp)
    lab.start("ppworker", net.on("workers", "paranoidpirate.worker"), endpoint=back)
    lab.start("mdworker", net.on("workers", "majordomo.worker"), broker=mdp, service="echo")
    requests = 60
    common = dict(requests=requests, timeout=0.5, retries=10)
    lab.start("lazy", net.on("lossy", "lazypirate.client"), endpoint=server, pause=0.02, **common)
    lab.start("paranoid", net.on("lossy", "paranoidpirate.client"), endpoint=front, pause=0.02, **common)
    lab.start("majordomo", net.on("lossy", "majordomo.client"), broker=mdp, interval=0.02, **common)
    lab.wait_for(lambda: all(lab.peer(n).get("replies") for n in ("lazy", "paranoid", "majordomo")), 30,
                 "a first reply to every client")
    cuts = Scenario("workers cut off", seed=7)            # seeded: the same schedule every run
    t = 0.0
    for _ in range(2):
        t += cuts.rng.uniform(0.2, 0.6)
        length = cuts.rng.uniform(0.4, 0.8)
        cuts.at(t, net.step("isolate", "workers")).at(t + length, net.step("rejoin", "workers"))
        t += length
    clients = ("lazy", "paranoid", "majordomo")
    report = lab.run(cuts, seconds=45, until=lambda: all(not lab.peer(n).alive for n in clients))
    assert [s.label for s in report.steps] == ["isolate workers", "rejoin workers"] * 2
    assert not any(s.error for s in report.steps)
    assert all(lab.peer(n).state == "done" for n in clients), lab.errors()
    outcome = network.pirate_outcome(lab, {n: requests for n in clients})
    for name, row in outcome.items():
        assert row["unaccounted"] == 0 and row["mismatched"] == 0, (name, row)
        assert row["answered"] + row["abandoned"] == requests and len(row["rtt"]) == row["answered"]
    assert lab.peer("ppworker").get("reconnects") > 0    # the cuts were long enough to be noticed
    assert lab.peer("mdworker").get("connects") > 1


def test_binary_star_outcome_per_kind_of_partition(netlab):
    lab, net = netlab
    started = time.monotonic()
    long_cut = [{"kind": kind, "seed": 0, "start": 0.2, "duration": 1.5} for kind in PARTITIONS]
    short_cut = [{"kind": "two buildings", "seed": 1, "start": 0.2, "duration": 0.1}]
    results = network.run_partitions(lab, net, PARTITIONS, long_cut + short_cut, heartbeat=0.2, timeout=1.0)
    by = {(r["kind"], r["duration"]): r for r in results}

    state_link = by["state link", 1.5]                  # silence alone: the backup stays passive
    assert state_link["most_active"] == 1 and not state_link["backup_active"] and not state_link["fatal"]
    assert state_link["client_replies"] > 10            # the clients were served all along

    clients_cut = by["clients from primary", 1.5]       # the backup still hears the primary: no failover
    assert clients_cut["most_active"] == 1 and not clients_cut["backup_active"] and not clients_cut["fatal"]

    buildings = by["two buildings", 1.5]                # split brain, found and fatal after the heal
    assert buildings["most_active"] == 2 and buildings["backup_active"] and buildings["two_active_for"] > 0.3
    assert buildings["fatal"]                            # one stopped at least (usually both)

    brief = by["two buildings", 0.1]                    # TCP resends before client b gives up on the primary
    assert brief["most_active"] == 1 and not brief["backup_active"]

    table = {kind: (n, single, double) for kind, n, single, double, _ in network.partition_table(results)}
    assert table == {"state link": (1, 1, 0), "clients from primary": (1, 1, 0), "two buildings": (2, 1, 1)}
    assert not [name for name in lab.peers if name[1:] in network.ROLES_OF_A_PAIR]   # the runner removed them
    assert time.monotonic() - started < 40


def test_partition_schedules_are_seeded():
    one = [network.partition_schedule(kind, seed) for seed in range(3) for kind in PARTITIONS]
    assert one == [network.partition_schedule(kind, seed) for seed in range(3) for kind in PARTITIONS]
    for seed in range(3):                               # one seed: the same cut for every kind
        assert len({(s["start"], s["duration"]) for s in one if s["seed"] == seed}) == 1
    assert all(0.1 <= s["start"] <= 0.4 and 0.1 <= s["duration"] <= 2.0 for s in one)
