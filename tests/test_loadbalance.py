"""Load balancing: the LRU broker never routes to a worker that is busy or has not said READY;
the simple (DEALER round-robin) balancer gives a slow worker its full share."""
from __future__ import annotations

import pytest
import zmq

from zguide_py.patterns import loadbalance as lb
from zguide_py.views.loadbalance import run_balancer

pytestmark = pytest.mark.timeout(60)


def test_lru_broker_never_sends_to_a_busy_worker(lab):
    run = run_balancer(lab, "lru", workers=3, clients=6, requests=30, slow="worker3", slow_delay=0.02)
    assert run.requests == run.answered == 180 and run.lost == 0
    assert run.arrived_while_busy == {"worker1": 0, "worker2": 0, "worker3": 0}
    assert sum(run.tasks.values()) == 180
    assert run.share("worker3") < 1 / 3 - 0.1                   # the slow worker gets less


def test_simple_balancer_gives_the_slow_worker_its_full_share(lab):
    run = run_balancer(lab, "simple", workers=3, clients=6, requests=30, slow="worker3", slow_delay=0.02)
    assert run.requests == run.answered == 180 and run.lost == 0
    assert sum(run.tasks.values()) == 180
    # round-robin: every worker, the slow one too, gets a third (give or take one)
    assert all(abs(n - 60) <= 1 for n in run.tasks.values()), run.tasks
    # and tasks pile up at the slow worker while it is busy
    assert run.arrived_while_busy["worker3"] > 10
    assert run.violations > 0


def test_lru_broker_waits_for_ready_but_simple_does_not(lab):
    """A worker that connects and stays silent for 0.3 s: the LRU broker sends it nothing until it
    says READY; the DEALER of the simple balancer deals it tasks at once."""
    results = {}
    for broker in ("lru", "simple"):
        frontend, backend = lab.endpoint(f"{broker}-fe"), lab.endpoint(f"{broker}-be")
        lab.start("broker", lb.BROKERS[broker], frontend=frontend, backend=backend)
        lab.start("worker1", lb.worker, endpoint=backend, ready=(broker == "lru"))
        lab.wait_for(lambda: lab.peer("worker1").data.get("ready"), 5, "worker1 ready")
        for c in ("client1", "client2", "client3"):
            lab.start(c, lb.client, endpoint=frontend, timeout=5.0)
        lab.wait_for(lambda: lab.peer("worker1").get("tasks") >= 20, 5, "load flowing")
        lab.start("late", lb.worker, endpoint=backend, ready=(broker == "lru"), ready_delay=0.3)
        lab.wait_for(lambda: lab.peer("late").get("tasks") >= 5, 5, "the late worker to work")
        results[broker] = lab.peer("late").get("arrived_while_busy")
        lab.check()
        for name in list(lab.peers):
            lab.remove(name)
    assert results["lru"] == 0
    assert results["simple"] > 0


def test_lru_invariant_holds_under_kills_restarts_throttles_and_new_workers(lab):
    frontend, backend = lab.endpoint("fe", "tcp"), lab.endpoint("be", "tcp")
    lab.start("broker", lb.lru_broker, frontend=frontend, backend=backend)
    workers = ["worker1", "worker2", "worker3"]
    for w in workers:
        lab.start(w, lb.worker, endpoint=backend, work=0.002)
    clients = [f"client{i}" for i in range(1, 6)]
    for c in clients:
        lab.start(c, lb.client, endpoint=frontend, timeout=0.5)
    broker = lab.peer("broker")

    def more_replies(n):
        target = broker.get("replies") + n
        lab.wait_for(lambda: broker.get("replies") >= target, 10, f"{n} more replies")

    more_replies(50)
    lab.throttle("worker1", 0.03)
    more_replies(50)
    lab.kill("worker2")                       # maybe busy, maybe idle in the ready queue
    more_replies(50)
    lab.restart("worker2")                    # same identity, says READY again
    lab.start("worker4", lb.worker, endpoint=backend, work=0.002, ready_delay=0.1)
    before = {w: lab.peer(w).get("tasks") for w in ("worker2", "worker4")}
    lab.wait_for(lambda: all(lab.peer(w).get("tasks") > before[w] for w in before), 10,
                 "restarted and new workers to get tasks")
    lab.kill("worker3")
    lab.restart("worker3")
    lab.throttle("worker1", 0)
    more_replies(100)
    lab.check()
    everyone = workers + ["worker4"]
    assert {w: lab.peer(w).get("arrived_while_busy") for w in everyone} == dict.fromkeys(everyone, 0)
    # kills lose at most the task a killed worker held (or one sent to it as it died)
    lost = sum(lab.peer(c).get("lost") for c in clients)
    assert lost <= 4


def test_roles_are_listed_for_the_command_line():
    from zguide_py import patterns
    assert set(patterns.roles("loadbalance")) == {"client", "worker", "simple_broker", "lru_broker"}


@pytest.mark.timeout(30)
def test_lru_broker_gives_each_request_to_the_worker_that_waited_longest(lab):
    """Equal workers, ready in a known order, one request at a time: least recently used first,
    so the requests go round worker1, worker2, worker3, worker1, ... (a broker that picked the
    *most* recently used worker would send them all to worker3)."""
    frontend, backend = lab.endpoint("fe"), lab.endpoint("be")
    lab.start("broker", lb.lru_broker, frontend=frontend, backend=backend)
    workers = ["worker1", "worker2", "worker3"]
    for n, name in enumerate(workers, 1):           # READY one after the other: a known order
        lab.start(name, lb.worker, endpoint=backend, work=0)
        lab.wait_for(lambda n=n: lab.peer("broker").get("ready") == n, 5, f"{name} ready")
    req = lab.socket(zmq.REQ)
    req.connect(frontend)
    served_by = []
    for i in range(7):
        req.send(f"me:{i}".encode())
        assert req.poll(5000), f"no reply to request {i}"
        served_by.append(req.recv().split(b" by ")[-1].decode())
    assert served_by == (workers * 3)[:7], served_by
    lab.check()
