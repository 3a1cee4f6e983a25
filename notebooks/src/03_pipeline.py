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
import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
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
assert verdict(not push.poll(0, zmq.POLLOUT), "With nobody connected, PUSH has no room to send.")

# %% [markdown]
# Nobody is connected yet, so PUSH has nowhere to put a message: `send()` would block until a puller
# turns up. That is why our roles send with `peer.send(sock, frames)`: it waits for room (it polls
# for `POLLOUT`), but never past a kill.

# %%
pull_a = lab.socket(zmq.PULL)
pull_a.connect("inproc://tasks")
pull_b = lab.socket(zmq.PULL)
pull_b.connect("inproc://tasks")
assert verdict(push.poll(100, zmq.POLLOUT), "Now that two pullers are connected, PUSH has room to send.")

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
verdict(sorted(record["results"]) == list(range(100)), "All 100 results reached the sink.")
verdict(set(per_worker.values()) == {25}, "Each worker did exactly a quarter of them.")
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
# ventilator endpoint and fresh workers. Ideally, twice the workers take half the time. A single
# timing can be thrown off by a busy machine, so each count of workers runs three times; we keep the
# median, and print the range beside it.

# %%
runs = {1: [], 2: [], 4: [], 8: []}
batch = 100
for _ in range(3):
    for n in runs:
        batch += 1
        names = [f"w{n}-{i}" for i in range(1, n + 1)]
        tasks_ep = lab.endpoint(f"tasks-{batch}")
        start_workers(names, tasks_ep)
        lab.start("ventilator", pipeline.ventilator, endpoint=tasks_ep, sink=sink_ep, tasks=32,
                  work=0.02, batch=batch)
        runs[n].append(finish_batch(batch)["seconds"])
        for name in [*names, "ventilator"]:
            lab.remove(name)
times = {n: sorted(r)[1] for n, r in runs.items()}       # the median of three
for n, r in runs.items():
    print(f"{n} worker(s): median ~{times[n]:.3f} s, from ~{min(r):.3f} to ~{max(r):.3f} s"
          f" (ideal ~{0.64 / n:.2f} s)")

# %%
counts = list(times)
pipeline_views.scaling_figure(times, title="pipeline: 32 tasks of 20 ms, batch time (median of 3)")

# %%
speedup = times[1] / times[8]
print(f"by the medians, 8 workers are ~{speedup:.1f}x faster than 1 (ideal 8x)")
verdict(times[8] < times[1] / 3, "8 workers finished in less than a third of one worker's time.")
verdict(all(times[a] > times[b] for a, b in zip(counts, counts[1:])),
        "Every step up in workers (1, 2, 4, 8) made the batch faster.")
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
verdict(tally["missing"] == held, "The sink is missing exactly the tasks worker2 held.")
others_got = {t for w in WORKERS if w != "worker2" for b, t in lab.peer(w).data["received"] if b == 5}
verdict(not others_got & set(held), "None of them was re-sent to another worker.")
verdict(all(tally["workers"][w]["finished"] == 25 for w in WORKERS if w != "worker2"),
        "The other workers finished everything dealt to them, 25 each.")
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
# A lab of its own for you to play with: a ventilator that never stops (a task of 10 ms every 4 ms,
# about 250 tasks a second), three workers (each can do about 100 a second) and the sink. **add
# worker** starts another one; each row can kill, restart and throttle its worker. This lab stays open
# after the notebook ends; re-running the cell starts it afresh.
#
# Things to try: throttle `worker2` to 0.05 s/msg. PUSH keeps dealing it its share of the tasks, so its
# queue grows and the sink's rate falls, although the other workers are idle half the time. Then kill
# `worker2`: the tasks queued for it are lost with it. Move its slider back to 0 and restart it: it
# connects again and gets its share.

# %%
def playground(name):
    """A ventilator that never stops, three workers and the sink, in a lab of their own, under a panel."""
    play = Lab(name)
    sink_ep, feed = play.endpoint("sink"), play.endpoint("tasks")
    play.start("sink", pipeline.sink, endpoint=sink_ep)
    for worker in ["worker1", "worker2", "worker3"]:
        play.start(worker, pipeline.worker, endpoint=feed, sink=sink_ep)
    play.start("ventilator", pipeline.ventilator, endpoint=feed, sink=sink_ep, tasks=None, work=0.01,
               interval=0.004)
    more = {"add worker": adder("worker", pipeline.worker, endpoint=feed, sink=sink_ep)}
    return play, Panel(play, counters=["finished", "results"], title="pipeline: ventilator, workers, sink",
                       actions=more)


play, panel = playground("pipeline-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried these for you on a twin of this lab, so your panel is fresh (the code is
# folded: click the "..." to read it). What it saw: an added worker got tasks at once; PUSH went on
# dealing the throttled `worker2` as many tasks as the fast `worker3`, so they piled up in its queue
# and died with it when it was killed; restarted, it got its share again.

# %%
# FOLDED
rehearsal, twin = playground("pipeline-rehearsal")


def grows(name, by=10):
    """Wait (at most 5 s) until worker `name` has finished `by` more tasks."""
    before = rehearsal.peer(name).get("finished")
    rehearsal.wait_for(lambda: rehearsal.peer(name).get("finished") >= before + by, timeout=5,
                       what=f"{by} more tasks finished at {name}")


twin.action_buttons["add worker"].click()
grows("worker4")
print("The worker added while the ventilator ran got tasks at once: PUSH deals to it too.")

twin.rows["worker2"].throttle.value = 0.05
grows("worker3", by=60)
twin.rows["worker2"].kill.click()
dead = rehearsal.peer("worker2").data
dealt2 = len(dead["received"]) + len(dead["queued"])        # what it took, and what waited for it
dealt3 = len(rehearsal.peer("worker3").data["received"])
print(f"dealt so far: worker2 (throttled) ~{dealt2} tasks, worker3 ~{dealt3}")
assert verdict(0.8 <= dealt2 / dealt3 <= 1.25,
               "PUSH dealt the slow worker2 about as many tasks as the fast worker3: round-robin ignores speed.")
assert verdict(len(dead["queued"]) > 0,
               f"When worker2 was killed, ~{len(dead['queued'])} tasks were still in its queue; they died with it.")

twin.rows["worker2"].throttle.value = 0
twin.rows["worker2"].restart.click()
grows("worker2")
assert verdict(not rehearsal.errors(), "Restarted at full speed, worker2 connected again and got its share.")
rehearsal.close()

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
#
# Closing the lab joins every peer thread and closes every socket. Your playground stays open.

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [04 · Router-dealer](04_router_dealer.ipynb).
