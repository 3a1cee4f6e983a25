# Source of notebooks/03_pipeline.ipynb - build with: python tools/nbbuild.py notebooks/src/03_pipeline.py
# %% [markdown]
# # 03 · Pipeline: ventilator, workers, sink
#
# *Where this sits: before this, [00 · Basics](00_basics.ipynb); next, [04 ·
# Router-dealer](04_router_dealer.ipynb); in the guide, chapter 1, [Divide and
# Conquer](https://zguide.zeromq.org/docs/chapter1/). Words used here:
# [round-robin](glossary.ipynb#Round-robin), [fair-queueing](glossary.ipynb#Fair-queueing) (all in the
# [glossary](glossary.ipynb)).*
#
# **The problem:** a big job splits into many independent tasks (resize 10 000 images, score a
# million rows). One process hands the tasks out, several workers do them in parallel, and one
# process collects the results. The guide calls the three roles **ventilator**, **worker** and
# **sink**. The sockets are **PUSH** and **PULL**: PUSH deals each message to *one* of the peers
# connected to it, in turn (round-robin); PULL takes messages from all its peers, fairly.
#
# ```mermaid
# flowchart TB
#     V["ventilator<br/>PUSH (bind): tasks<br/>PUSH (connect): batch start"]
#     W1["worker 1<br/>PULL (connect)<br/>PUSH (connect)"]
#     W2["worker 2<br/>PULL (connect)<br/>PUSH (connect)"]
#     W3["worker 3<br/>PULL (connect)<br/>PUSH (connect)"]
#     S["sink<br/>PULL (bind)"]
#     V --> W1
#     V -- "tasks" --> W2
#     V --> W3
#     W1 --> S
#     W2 -- "results" --> S
#     W3 --> S
#     V -. "batch start" .-> S
#     linkStyle 0,1,2 stroke:#1f77b4,stroke-width:2px
#     linkStyle 3,4,5 stroke:#2ca02c,stroke-width:2px
# ```
#
# **In this diagram the arrows show which way the messages flow** (the workbook's other diagrams draw
# them from the connecting socket to the binding one, which here would point the tasks backwards):
# tasks go from the ventilator to the workers (blue), results from the workers to the sink (green),
# and the ventilator tells the sink that a batch starts (dotted, through a second PUSH socket that
# connects to the sink). Which side binds is written in each box: the ventilator and the sink are the
# stable points and bind; workers come and go, and connect both their sockets. This notebook spreads a
# batch over workers, measures the speed-up from adding workers, then kills a worker in the middle of
# a batch to count exactly what is lost.
#
# A `~` in front of a printed number marks a measurement, which changes from run to run; everything
# else a cell prints is the same on every run.

# %%
import time

import zmq

from zguide_py import Lab, Scenario, show_source, show_example
from zguide_py.exercise import grade
from zguide_py.patterns import pipeline
from zguide_py.plots import bars_figure, report_figure
from zguide_py.views import pipeline as pipeline_views
from zguide_py.widgets import Panel, adder

lab = Lab("pipeline")

# %% [markdown]
# ## 1. One call per cell
#
# A PUSH socket binds and two PULL sockets connect to it. Four messages go out.

# %%
push = lab.socket(zmq.PUSH)
push.bind("inproc://tasks")
print("with nobody connected, PUSH has room to send:", bool(push.poll(0, zmq.POLLOUT)))

# %% [markdown]
# Nobody is connected yet, so PUSH has nowhere to put a message: `send()` would block until a puller
# turns up. That is why our roles send with `peer.send(sock, frames)`: it waits for room (it polls
# for `POLLOUT`), but never past a kill.

# %%
pull_a = lab.socket(zmq.PULL)
pull_a.connect("inproc://tasks")
pull_b = lab.socket(zmq.PULL)
pull_b.connect("inproc://tasks")
print("now PUSH has room to send:", bool(push.poll(100, zmq.POLLOUT)))

# %%
for n in range(4):
    push.send(b"task %d" % n)

# %%
print("A got:", pull_a.recv(), pull_a.recv())
print("B got:", pull_b.recv(), pull_b.recv())

# %% [markdown]
# Round-robin: one for A, one for B, one for A... Each task went to exactly one puller.
#
# ## 2. The roles
#
# The ventilator tells the sink that a batch begins, then pushes the tasks; each task says how long to
# work on it. A worker pulls a task, "works" (a sleep, which releases Python's GIL the way real I/O
# or C code does, so workers in threads run in parallel) and pushes the result to the sink. The sink
# times each batch from its start message to its last result. The worker also remembers which tasks
# it received and finished, and, when it is killed, which were still in its hands or in its queue
# (`note_lost_tasks`: bookkeeping for this notebook, not part of the pattern): that is how this
# notebook can count losses exactly. `peer.poll(tasks)` waits for a task, and returns False once the
# lab kills the worker.

# %%
show_source(pipeline.ventilator, pipeline.worker, pipeline.sink)

# %% [markdown]
# ## 3. A batch of 100 tasks over 4 workers
#
# The sink binds first and the workers connect before the ventilator binds, so all four are in place
# when the first task goes out. (Connecting before the other side has bound is fine in ZeroMQ.)

# %%
sink_ep = lab.endpoint("sink")
sink = lab.start("sink", pipeline.sink, endpoint=sink_ep)


def start_workers(names, tasks_ep):
    for name in names:
        lab.start(name, pipeline.worker, endpoint=tasks_ep, sink=sink_ep)
    lab.wait_for(lambda: all(lab.peer(n).data.get("connected") for n in names), timeout=5,
                 what="workers to connect")


def finish_batch(batch, timeout=10):
    lab.wait_for(lambda: sink.data["batches"].get(batch, {}).get("seconds") is not None,
                 timeout=timeout, what=f"batch {batch} at the sink")
    return sink.data["batches"][batch]


WORKERS = ["worker1", "worker2", "worker3", "worker4"]
start_workers(WORKERS, lab.endpoint("tasks-1"))
lab.start("ventilator", pipeline.ventilator, endpoint=lab.endpoint("tasks-1"), sink=sink_ep,
          tasks=100, work=0.01, batch=1)
record = finish_batch(1)
per_worker = {w: list(record["results"].values()).count(w) for w in WORKERS}
print(f"batch 1: 100 tasks of 10 ms in ~{record['seconds']:.2f} s (one worker alone would need 1 s)")
print("results per worker:", per_worker)

# %%
bars_figure(per_worker, title="pipeline: 100 tasks dealt round-robin to 4 workers",
            ylabel="tasks done (results at the sink)", xlabel="worker")

# %%
print("all 100 results reached the sink:", sorted(record["results"]) == list(range(100)))
print("each worker did exactly a quarter:", set(per_worker.values()) == {25})
assert sorted(record["results"]) == list(range(100)) and set(per_worker.values()) == {25}
for name in [*WORKERS, "ventilator"]:
    lab.remove(name)

# %% [markdown]
# PUSH deals tasks in turn, without asking whether a worker is busy. Here every task takes the same
# time, so that is fair. Section 6 shows what happens when one worker is slow.
#
# ## 4. More workers, shorter batches
#
# The same batch, 32 tasks of 20 ms each, with 1, 2, 4 and 8 workers. Each round uses its own
# ventilator endpoint and fresh workers. Ideally, twice the workers take half the time.

# %%
times = {}
for n in [1, 2, 4, 8]:
    names = [f"w{n}-{i}" for i in range(1, n + 1)]
    tasks_ep = lab.endpoint(f"tasks-x{n}")
    start_workers(names, tasks_ep)
    lab.start("ventilator", pipeline.ventilator, endpoint=tasks_ep, sink=sink_ep, tasks=32, work=0.02,
              batch=100 + n)
    times[n] = finish_batch(100 + n)["seconds"]
    for name in [*names, "ventilator"]:
        lab.remove(name)
    print(f"{n} worker(s): ~{times[n]:.3f} s (ideal ~{0.64 / n:.2f} s)")

# %%
counts = list(times)
pipeline_views.scaling_figure(times, title="pipeline: 32 tasks of 20 ms, batch time against workers")

# %%
speedup = times[1] / times[8]
print(f"8 workers are ~{speedup:.1f}x faster than 1 (ideal 8x)")
print("8 workers finish in less than a third of one worker's time:", times[8] < times[1] / 3)
print("every batch was faster than the one with fewer workers:", all(times[a] > times[b] for a, b in
                                                                     zip(counts, counts[1:])))
assert times[8] < times[1] / 3 and all(times[a] > times[b] for a, b in zip(counts, counts[1:]))

# %% [markdown]
# The speed-up is near ideal because the work is a sleep: while one worker waits, the others run.
# Work that holds the GIL (pure-Python number crunching) would not speed up in threads; run the
# workers as processes instead (`python -m zguide_py run pipeline worker ...`), the sockets are the same.
#
# ## 5. Kill a worker in the middle of the batch
#
# 100 tasks of 40 ms over 4 workers. After `worker2` has finished 5 tasks, the scenario kills
# it. PUSH dealt `worker2` its 25 tasks at the start; they sat in its queue. What happens to them?

# %%
start_workers(WORKERS, lab.endpoint("tasks-5"))
crash = Scenario("worker crash", seed=0) \
    .at(0, "start", "ventilator", pipeline.ventilator, endpoint=lab.endpoint("tasks-5"), sink=sink_ep,
        tasks=100, work=0.04, batch=5) \
    .after(5, "worker2", "finished", "kill", "worker2")
print(crash.describe())
report = lab.run(crash, seconds=10, until=lambda: pipeline.tally(lab, 5, WORKERS)["settled"])
tally = pipeline.tally(lab, 5, WORKERS)
dead = tally["workers"]["worker2"]
print(f"the sink got ~{tally['at_sink']} of 100 results; missing ~{len(tally['missing'])}")
print(f"worker2 died holding ~{len(dead['in_hand'])} task in its hands",
      f"and ~{len(dead['queued'])} in its queue")

# %%
pipeline_views.fate_figure(tally, WORKERS, top=30,
                           title="pipeline: worker2 is killed after 5 tasks; its tasks die with it")

# %%
held = tally["held"]
print("the sink is missing exactly the tasks worker2 held:", tally["missing"] == held)
others_got = {t for w in WORKERS if w != "worker2" for b, t in lab.peer(w).data["received"] if b == 5}
print("none of them was re-sent to another worker:", not others_got & set(held))
print("the other workers finished everything dealt to them:",
      all(tally["workers"][w]["finished"] == 25 for w in WORKERS if w != "worker2"))
assert held and tally["missing"] == held and not others_got & set(held)

# %%
report_figure(report, counters=["finished", "results"], peers=["sink", "worker1", "worker2"],
            title="pipeline: worker2 killed mid-batch (worker1 stands for the three survivors)",
            ylabel="tasks per second")

# %% [markdown]
# **What happened.** PUSH hands a message to one peer's queue and forgets it. When that peer dies,
# the task in its hands and everything queued for it die too, and nobody notices: the sink just waits
# for results that will never come. The fix is a reply path, so that work is handed out only to
# workers that ask for it (notebook 05), plus retries with timeouts (the reliable patterns, later).
#
# ## 6. Play with it
#
# A ventilator that never stops (a task of 10 ms every 4 ms, about 250 tasks a second), three workers
# (each can do about 100 a second) and the sink. **add worker** starts another one; each row can kill,
# restart and throttle its worker.
#
# Things to try: throttle `worker2` to 0.05 s/msg. PUSH keeps dealing it its share of the tasks, so its
# queue grows and the sink's rate falls, although the other workers are idle half the time. Then kill
# `worker2`: the tasks queued for it are lost with it. Move its slider back to 0 and restart it: it
# connects again and gets its share.

# %%
for name in WORKERS:
    lab.remove(name)
lab.remove("ventilator")
feed = lab.endpoint("tasks-live")
start_workers(["worker1", "worker2", "worker3"], feed)
lab.start("ventilator", pipeline.ventilator, endpoint=feed, sink=sink_ep, tasks=None, work=0.01,
          interval=0.004, batch=6)
panel = Panel(lab, counters=["finished", "results"], title="pipeline: ventilator, workers, sink",
              actions={"add worker": adder("worker", pipeline.worker, endpoint=feed, sink=sink_ep)})

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# Headless, the notebook clicks for you and checks each effect.

# %%
def grows(name, counter="finished", by=10, timeout=5):
    before = lab.peer(name).get(counter)
    lab.wait_for(lambda: lab.peer(name).get(counter) >= before + by, timeout=timeout,
                 what=f"{by} more {counter} at {name}")
    return True


panel.action_buttons["add worker"].click()
print("'add worker' -> worker4 started:", "worker4" in lab.peers, "| it works:", grows("worker4"))

panel.rows["worker2"].throttle.value = 0.05
t0, before = time.perf_counter(), lab.peer("worker2").get("finished")
grows("worker3", by=30)
elapsed, got = time.perf_counter() - t0, lab.peer("worker2").get("finished") - before
print("slider -> lab.throttle('worker2', 0.05):", lab.peer("worker2").delay == 0.05)
print(f"throttled worker2 finished ~{got} while worker3 finished 30; at most one per 50 ms:",
      got <= elapsed / 0.05 + 2)

panel.rows["worker2"].kill.click()
frozen = lab.peer("worker2").get("finished")
grows("worker3")
print("kill button -> worker2", lab.peer("worker2").state, "| finished nothing since:",
      lab.peer("worker2").get("finished") == frozen)
queued = len(lab.peer("worker2").data["queued"])
print(f"it took ~{queued} queued tasks with it, plus the one in its hands, if any")
print("worker2 died with tasks still waiting in its queue:", queued > 0)

panel.rows["worker2"].throttle.value = 0
panel.rows["worker2"].restart.click()
print("slider at 0, restart button -> worker2", lab.peer("worker2").state, "| works again:",
      grows("worker2"))
panel.refresh()
print("panel rows:", list(panel.rows))
print("no peer failed:", not lab.errors())
assert queued > 0 and got <= elapsed / 0.05 + 2
assert lab.peer("worker2").state == "running" and not lab.errors()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * PUSH deals tasks round-robin to the workers connected to it; PULL gathers results from all of
#   them. Adding workers needs no change to the ventilator or the sink.
# * With work that releases the GIL, batch time falls almost as 1/n with n workers.
# * PUSH never re-sends. A killed worker takes the task in its hands and its whole queue with it, and
#   the sink misses exactly those.
# * Round-robin ignores speed: a slow worker gets as many tasks as a fast one and holds up the batch.
#
# **Questions**
# 1. What happens if the ventilator starts pushing when only one worker has connected, and the others
#    connect a few milliseconds later? (Hint: section 1, with B connecting after the sends.)
# 2. Why do the ventilator and the sink bind, and the workers connect?
# 3. How could the sink *notice* that tasks are missing, and which ones?
#
# **Exercise.** Three workers share 30 tasks of 30 ms each. How long does the batch take, from the
# sink's start message to its last result? Put your answer in seconds in `my_guess`, then run the
# three cells: the folded one runs the batch, the last one compares (within 25%).

# %%
my_guess = None      # seconds for the whole batch

# %%
# FOLDED
with Lab("pipeline-exercise") as ex:
    s_ep, t_ep = ex.endpoint("sink"), ex.endpoint("tasks")
    ex_sink = ex.start("sink", pipeline.sink, endpoint=s_ep)
    for i in range(1, 4):
        ex.start(f"w{i}", pipeline.worker, endpoint=t_ep, sink=s_ep)
    ex.wait_for(lambda: all(ex.peer(f"w{i}").data.get("connected") for i in range(1, 4)), timeout=5)
    ex.start("ventilator", pipeline.ventilator, endpoint=t_ep, sink=s_ep, tasks=30, work=0.03)
    ex.wait_for(lambda: ex_sink.data["batches"].get(0, {}).get("seconds") is not None, timeout=10)
    answer = ex_sink.data["batches"][0]["seconds"]
    assert len(ex_sink.data["batches"][0]["results"]) == 30 and not ex.errors()

# %%
print(grade(my_guess, answer, relative=0.25, unit="s"))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **About 0.3 s, a little more in practice.** The 30 tasks take 30 x 30 ms = 0.9 s of work. PUSH deals
# them round-robin, 10 to each worker, and the three workers run in parallel, so the batch takes
# about 10 x 30 ms = 0.3 s, plus a few milliseconds of messaging. With one worker it would take 0.9 s.
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/taskvent.py`, `examples/taskwork.py` and `examples/tasksink.py` are the ventilator, a
# worker and the sink. The worker is shown; start the sink first, then any number of workers, then
# the ventilator:
#
# ```sh
# python examples/tasksink.py & python examples/taskwork.py & python examples/taskwork.py &
# python examples/taskvent.py
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('taskwork')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0

# %% [markdown]
# Next: [04 · Router-dealer](04_router_dealer.ipynb).
