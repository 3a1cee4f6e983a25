"""Pipeline guarantees: tasks spread round-robin, more workers are faster, and a killed worker loses
exactly the tasks it held (the one in its hands and its queue): PUSH never re-sends them."""
from __future__ import annotations

import pytest

from zguide_py import Scenario
from zguide_py.patterns import pipeline


@pytest.fixture
def lab(lab):
    """conftest's lab, with its sink already running."""
    lab.start("sink", pipeline.sink, endpoint=lab.endpoint("sink"))
    return lab

def _workers(lab, names, tasks_ep):
    for name in names:
        lab.start(name, pipeline.worker, endpoint=tasks_ep, sink=lab.endpoint("sink"))
    lab.wait_for(lambda: all(lab.peer(n).data.get("connected") for n in names), timeout=5)


def _batch(lab, batch, timeout=15):
    sink = lab.peer("sink")
    lab.wait_for(lambda: sink.data["batches"].get(batch, {}).get("seconds") is not None, timeout=timeout,
                 what=f"batch {batch}")
    return sink.data["batches"][batch]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("n_workers", [3, 4, 5])
def test_tasks_spread_round_robin(lab, n_workers):
    names = [f"w{i}" for i in range(n_workers)]
    _workers(lab, names, lab.endpoint("tasks"))
    lab.start("ventilator", pipeline.ventilator, endpoint=lab.endpoint("tasks"), sink=lab.endpoint("sink"),
              tasks=60, work=0.001, batch=1)
    record = _batch(lab, 1)
    assert sorted(record["results"]) == list(range(60))
    per_worker = [list(record["results"].values()).count(n) for n in names]
    assert max(per_worker) - min(per_worker) <= 1, per_worker
    lab.check()


@pytest.mark.timeout(60)
def test_more_workers_finish_faster(lab):
    times = {}
    for n in (1, 4):
        names = [f"w{n}-{i}" for i in range(n)]
        ep = lab.endpoint(f"tasks{n}")
        _workers(lab, names, ep)
        lab.start("ventilator", pipeline.ventilator, endpoint=ep, sink=lab.endpoint("sink"), tasks=24,
                  work=0.02, batch=n)
        times[n] = _batch(lab, n)["seconds"]
        for name in [*names, "ventilator"]:
            lab.remove(name)
    assert times[1] >= 24 * 0.02                       # one worker cannot beat the total work
    assert times[4] < times[1] / 2, times              # ideal is a quarter


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kill_after", [1, 4, 9])
def test_lost_tasks_are_exactly_what_the_killed_worker_held(lab, kill_after):
    workers = ["w1", "w2", "w3"]
    ep = lab.endpoint("tasks")
    _workers(lab, workers, ep)
    crash = Scenario("crash").at(0, "start", "ventilator", pipeline.ventilator, endpoint=ep,
                                 sink=lab.endpoint("sink"), tasks=60, work=0.02, batch=7) \
        .after(kill_after, "w2", "finished", "kill", "w2")
    lab.run(crash, seconds=20, until=lambda: pipeline.tally(lab, 7, workers)["settled"])
    tally = pipeline.tally(lab, 7, workers)
    assert tally["settled"], tally
    dead = tally["workers"]["w2"]
    assert not dead["alive"] and dead["finished"] >= kill_after
    held = set(dead["in_hand"]) | set(dead["queued"])
    missing = set(range(60)) - set(lab.peer("sink").data["batches"][7]["results"])
    # the lost-task count equals what the killed worker held, task for task
    assert missing == held and len(missing) == len(dead["in_hand"]) + len(dead["queued"]) > 0
    # and PUSH re-sent none of them: the survivors never saw them
    for name in ("w1", "w3"):
        assert not {t for b, t in lab.peer(name).data["received"] if b == 7} & held
    # every task is accounted for once: finished by someone, or held by the dead worker
    finished = sum(tally["workers"][w]["finished"] for w in workers)
    assert finished + len(held) == 60 == tally["at_sink"] + len(missing)
    lab.check()


@pytest.mark.timeout(60)
def test_killed_idle_worker_with_queue_loses_its_queue(lab):
    """A worker that is throttled hard builds a queue; killing it loses the whole queue."""
    workers = ["fast", "slow"]
    ep = lab.endpoint("tasks")
    _workers(lab, workers, ep)
    lab.throttle("slow", 0.2)
    lab.start("ventilator", pipeline.ventilator, endpoint=ep, sink=lab.endpoint("sink"), tasks=40, work=0.001,
              batch=3)
    lab.wait_for(lambda: lab.peer("fast").get("finished") == 20 and lab.peer("slow").get("received") >= 1,
                 timeout=10)
    lab.kill("slow")
    lab.wait_for(lambda: pipeline.tally(lab, 3, workers)["settled"], timeout=5)
    tally = pipeline.tally(lab, 3, workers)
    assert tally["missing"] == tally["held"]
    assert len(tally["held"]) == 20 - tally["workers"]["slow"]["finished"]
