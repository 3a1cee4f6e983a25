# Source of notebooks/17_processes.ipynb - build with: python tools/nbbuild.py notebooks/src/17_processes.py
# %% [markdown]
# # 17 · Peers as processes: real crashes, real signals
#
# *Where this sits: before this, [11 · Paranoid Pirate](11_paranoid_pirate.ipynb); next, [18 ·
# Security](18_security.ipynb); in the guide, chapter 2, [Handling Interrupt
# Signals](https://zguide.zeromq.org/docs/chapter2/); chapter 4, [Robust Reliable Queuing (Paranoid Pirate
# Pattern)](https://zguide.zeromq.org/docs/chapter4/). Words used here:
# [heartbeat](glossary.ipynb#Heartbeat), [liveness](glossary.ipynb#Liveness) (all in the
# [glossary](glossary.ipynb)).*
#
# **The problem:** so far every peer was a thread of this notebook's kernel, and "kill" meant the lab
# asking a thread to stop at its next poll. Real systems are made of **processes**, often on other
# machines, and they die without asking: the out-of-memory killer, a `kill -9`, a power cut. ZeroMQ's
# promise is that this does not change the code: a socket does not care whether the peer at the other
# end of a tcp connection is a thread next door or a process across the world.
#
# This notebook keeps the **Paranoid Pirate** queue of notebook 11 in the kernel, and runs its workers
# as **separate processes** started from here over **tcp loopback**. Killing one sends it a real
# `SIGKILL`: the operating system removes the process, no line of Python runs, and the queue must notice
# by itself, through the heartbeats.
#
# ```mermaid
# flowchart TB
#     subgraph X["child processes"]
#         direction LR
#         W1["worker1<br/>DEALER (connect)"]
#         W2["worker2<br/>DEALER (connect)"]
#     end
#     subgraph K["Jupyter kernel: one process, many threads"]
#         direction LR
#         P["procs.process peers<br/>(one thread per child)"]
#         C1["client1<br/>REQ (connect)<br/>Lazy Pirate"] --> F
#         C2["client2<br/>REQ (connect)<br/>Lazy Pirate"] --> F
#         subgraph Q["queue"]
#             F["frontend<br/>ROUTER (bind, tcp)"]
#             B["backend<br/>ROUTER (bind, tcp)"]
#         end
#         W3["worker3<br/>DEALER (connect)<br/>a thread"] --> B
#     end
#     X -->|"DEALER to the backend, tcp 127.0.0.1"| K
#     P <-.->|"spawn · SIGKILL<br/>stdin: throttle<br/>stdout: JSON status lines"| X
# ```
#
# The dotted arrow is not ZeroMQ: it is how the notebook starts, watches and kills its children
# (pipes and signals). The solid arrows are the very sockets of notebook 11: each worker process
# connects its DEALER to the queue's backend.
#
# A number printed after a `~` is a measurement that changes from run to run; everything else a
# cell prints is the same on every run.

# %%
import os
import signal
import subprocess
import sys

from zguide_py import Lab, Scenario, live_labs, show_source, verdict
from zguide_py.exercise import grade
from zguide_py import procs
from zguide_py.patterns import lazypirate, paranoidpirate
from zguide_py.patterns.simplepirate import worker_name
from zguide_py.plots import mark_events, new_figure
from zguide_py.views import pirates
from zguide_py.widgets import Panel, adder

lab = Lab("processes")
WORKER = procs.as_process("paranoidpirate.worker")   # the same role, run as a child process
INTERVAL, LIVENESS = paranoidpirate.HEARTBEAT_INTERVAL, paranoidpirate.HEARTBEAT_LIVENESS
PURGE_BOUND = LIVENESS * INTERVAL + INTERVAL
print(f"heartbeat every {INTERVAL * 1000:g} ms, liveness {LIVENESS}: a silent worker is purged within "
      f"{PURGE_BOUND * 1000:g} ms, whether it is a thread or a process")

# %% [markdown]
# ## 1. Every role is a command
#
# `python -m zguide_py` runs any role of any notebook as a process of its own. `list` names the roles,
# their parameters, and which endpoints each one **binds** or **connects** (read from the role's code).

# %%
def cli(*args: str) -> subprocess.CompletedProcess:
    """Run `python -m zguide_py ARGS` and show what a terminal would show."""
    result = subprocess.run([sys.executable, "-m", "zguide_py", *args], capture_output=True, text=True,
                            timeout=60)
    print("$ python -m zguide_py", " ".join(args))
    print((result.stdout + result.stderr).rstrip())
    print(f"[exit status {result.returncode}]")
    return result


listing = cli("list", "paranoidpirate")

# %% [markdown]
# In a terminal you would start the queue and two workers like this (each line in its own shell, or on
# its own machine with the queue's address instead of 127.0.0.1):
#
# ```sh
# python -m zguide_py run paranoidpirate.queue --bind frontend=tcp://127.0.0.1:5555 --bind backend=5556
# python -m zguide_py run paranoidpirate.worker --connect tcp://127.0.0.1:5556 --name worker1
# python -m zguide_py run paranoidpirate.worker --connect tcp://127.0.0.1:5556 --name worker2
# python -m zguide_py run lazypirate.client --connect 5555 requests=20
# ```
#
# Each shows a status line with its counters and their rates, refreshed in place; Ctrl-C (or `kill`, which
# sends SIGTERM) stops it cleanly. Some rules of the command line:
#
# * `--bind NAME=ENDPOINT` / `--connect NAME=ENDPOINT`; `NAME` may be left out when only one endpoint of
#   the role fits. A worker that connects is refused a `--bind`.
# * A bare port, or a tcp endpoint without a host, means **127.0.0.1**: this machine only.
# * Binding **every** network interface (`tcp://*:5555`, `0.0.0.0`) is refused unless you add
#   `--all-interfaces`: nothing in these patterns checks who connects (notebook 18 adds CURVE for that).
# * `inproc://` cannot cross a process boundary.

# %%
refused = cli("run", "paranoidpirate.queue", "--bind", "frontend=tcp://*:5555", "--bind", "backend=5556")
try:
    procs.check_endpoint("inproc://backend", "connect")
except procs.UsageError as exc:
    print("\ninproc://backend for a process:", exc)
assert refused.returncode == 2 and "refusing to bind" in refused.stderr

# %% [markdown]
# ## 2. A worker process, started from the notebook
#
# The code each worker process runs is the Paranoid Pirate worker of notebook 11, unchanged: a DEALER
# that says `READY`, answers requests, heartbeats the queue and counts the queue's silent intervals:

# %%
show_source(paranoidpirate.worker)

# %% [markdown]
# Around it, a small harness. `procs.process` is a role like any other: its peer thread starts the
# command line above as a **child process**, reads the child's status lines (one JSON object every
# 100 ms) into the peer's counters, and passes the throttle slider to the child's stdin. When the lab
# kills the peer, the child gets `SIGKILL`. (Its 70 lines are plumbing, pipes and signals, in
# `zguide_py/procs.py`.) `procs.as_process("paranoidpirate.worker")` wraps it so that starting a
# worker process reads exactly like starting a worker thread:

# %%
show_source(procs.as_process)

# %%
frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
lab.start("queue", paranoidpirate.queue, frontend=frontend, backend=backend)
queue = lab.peer("queue")
lab.start("worker1", WORKER, endpoint=backend)   # as a thread: lab.start("worker1", paranoidpirate.worker, ...)
w1 = lab.peer("worker1")
lab.wait_for(lambda: len(queue.data["ready"]) == 1 and w1.data["up"], timeout=30, what="worker1's READY")
print(w1.data["command"])
other = verdict(w1.data["pid"] != os.getpid() and procs.pid_alive(w1.data["pid"]),
                "worker1 is another process, alive, with a pid of its own.")
carries = verdict(queue.data["ready"][0].decode().split("/")[1].startswith(f"{w1.data['pid']}."),
                  "The routing id the queue sees carries that pid.")
assert other and carries
print("a status line holds:", ", ".join(w1.data["status"]))
print("its counters, now the peer's:", ", ".join(sorted(w1.snapshot())))

# %% [markdown]
# Two more workers: `worker3` as a **thread** (as in notebook 11) and `worker2` as a process. The queue
# cannot tell them apart; what differs is the time from "start" to the worker's `READY`.

# %%
t0 = lab.now()
lab.start("worker3", paranoidpirate.worker, endpoint=backend)
lab.wait_for(lambda: len(queue.data["ready"]) == 2, timeout=10, what="worker3's READY")
thread_start = lab.now() - t0
t0 = lab.now()
lab.start("worker2", WORKER, endpoint=backend)
lab.wait_for(lambda: len(queue.data["ready"]) == 3, timeout=30, what="worker2's READY")
process_start = lab.now() - t0
print(f"start -> READY at the queue: a thread ~{thread_start * 1000:.0f} ms, "
      f"a process ~{process_start * 1000:.0f} ms "
      "(a new Python interpreter imports pyzmq and the workbook first)")
WORKERS, CLIENTS = ["worker1", "worker2", "worker3"], ["client1", "client2"]
assert all(lab.peer(n).state == "running" for n in WORKERS)

# %% [markdown]
# ## 3. A scripted run: three kinds of death
#
# Two Lazy Pirate clients (threads) send 100 requests each, one every ~20 ms. Meanwhile:
#
# * at 0.4 s the lab **kills worker1**: its child gets `SIGKILL`; at 1.0 s a **restart** starts a new
#   process (a new pid);
# * at 1.3 s the lab kills **worker3**, the thread, the way every notebook so far did; restarted at 1.6 s;
# * at 1.9 s **somebody outside the lab** kills worker2's process with `os.kill(pid, SIGKILL)` (think of
#   the out-of-memory killer). The lab did not ask for it: the peer turns **failed**, with the exit
#   status. At 2.4 s the scenario restarts it.

# %%
def crash_worker2(lab):
    """SIGKILL worker2's process behind the lab's back (recorded as a kill, for the plots)."""
    lab.record("kill", "worker2", "os.kill(pid, SIGKILL) from outside the lab")
    os.kill(lab.peer("worker2").data["pid"], signal.SIGKILL)


chaos = Scenario("worker processes crash", seed=17)
for name in CLIENTS:
    chaos.at(0, "start", name, lazypirate.client, endpoint=frontend, requests=100, pause=0.02, retries=5)
chaos.at(0.4, "kill", "worker1").at(1.0, "restart", "worker1") \
     .at(1.3, "kill", "worker3").at(1.6, "restart", "worker3") \
     .at(1.9, crash_worker2).at(2.4, "restart", "worker2")
print(chaos.describe())

# %%
def all_back() -> bool:
    return (not any(lab.peer(n).alive for n in CLIENTS) and len(queue.data["workers"]) == 3
            and all(lab.peer(n).state == "running" and lab.peer(n).data.get("up", True) for n in WORKERS))


report = lab.run(chaos, seconds=30, until=all_back)
report

# %% [markdown]
# ## 4. The verdict

# %%
tally = lazypirate.tally(lab, CLIENTS)
print(tally.lines(retries=5))
verdict(tally.ok and tally.answered == tally.requests == 200, "All 200 were answered exactly once: none was abandoned.")
kills = [e for e in report.events if e[1] == "kill" and e[2] in WORKERS]
delays = pirates.purge_delays(report.events)
each_purged = sorted(delays) == WORKERS and all(len(d) == 1 for d in delays.values())
print(f"\n{len(kills)} worker kills" + (", each purged once by the queue:" if each_purged else "; NOT each purged once:"))
for name, how in (("worker1", "process, lab.kill = SIGKILL"), ("worker2", "process, SIGKILL from outside"),
                  ("worker3", "thread, lab.kill")):
    print(f"  {name} ({how}): purged ~{delays[name][0]:.3f} s after its death")
failed = report.events_of("failed", "worker2")
verdict(len(failed) == 1, "worker2's peer went 'failed': it was killed, but not by the lab.")
history = {name: [h["exit"] for h in lab.peer(name).data["history"]] for name in ("worker1", "worker2")}
print("each process's end (None = still running):", history)
old_pids = [h["pid"] for name in ("worker1", "worker2") for h in lab.peer(name).data["history"][:-1]]
print("killed processes still alive:", [pid for pid in old_pids if procs.pid_alive(pid)])
retried = {(e.peer, e.get("seq")) for e in report.events_of("retry")}
print(f"requests lost with a dead worker, retried and answered by another: ~{len(retried)}")
SLACK = 4 * INTERVAL                                   # a busy 2-core machine wakes threads late
assert tally.ok and tally.answered == tally.requests == 200
assert len(kills) == 3 and sorted(delays) == WORKERS
assert max(d[0] for d in delays.values()) <= PURGE_BOUND + SLACK
assert history == {"worker1": ["SIGKILL", None], "worker2": ["SIGKILL", None]} and len(failed) == 1
assert not any(procs.pid_alive(pid) for pid in old_pids) and not report.errors

# %% [markdown]
# Every request was answered, through three deaths. The queue purged each dead worker within about
# 300–400 ms, **the same for a killed process as for a stopped thread**: it only ever knew that the
# heartbeats stopped. The requests a dead worker took with it were retried by the Lazy Pirate clients and
# served by another worker.
#
# What a worker logs with `peer.log` (each request served, each heartbeat heard) reaches the lab's
# events too. A thread writes there directly. A process sends its events up with each status line,
# and the lab dates them in its own clock. The events it logged after its last line die with a SIGKILL.

# %%
served_by = {n: len([e for e in report.events if e[1] == "served" and e[2] == n]) for n in WORKERS}
print("requests served, as each worker logged them:",
      ", ".join(f"{n} ~{c}" for n, c in served_by.items()))
reached = verdict(all(served_by[n] > 0 and lab.events_of("heartbeat", n) for n in ("worker1", "worker2")),
                  "The processes' own events reached the lab.")

# %%
pirates.requests_figure(report, CLIENTS, fault_peers=WORKERS,
                        title="Lazy Pirate clients through worker deaths (processes and a thread)")

# %% [markdown]
# Who served what: the requests each worker answered, counted by the child and read from its status
# lines. A flat stretch is a dead worker; the others' lines grow steeper while it is gone. Note how long
# a restarted **process** stays flat after its green line: a new interpreter must start before it can say
# `READY`. The restarted thread serves almost at once.

# %%
fig = new_figure(9, 3.4)
ax = fig.add_subplot()
kinds = {"worker1": "process", "worker2": "process", "worker3": "thread"}
for name in WORKERS:
    times, values = lab.sampler.values(name, "served", since=report.start)
    ax.step([t - report.start for t in times], [v - values[0] for v in values], where="post",
            linewidth=1.5, label=f"{name} ({kinds[name]})")
mark_events(ax, [e for e in report.events if e[2] in WORKERS], kinds=("kill", "restart"))
ax.set_title("requests served per worker, through kills and restarts")
ax.set_xlabel("time since start of run (s)")
ax.set_ylabel("requests served\n(cumulative)")
ax.set_xlim(0, report.duration)
ax.set_ylim(0, max(ax.get_ylim()[1], 1) * 1.35)     # room for the labels above the lines
ax.grid(True, alpha=0.3)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
fig

# %% [markdown]
# ## 5. What changes when peers are processes, and what stays the same
#
# | | a thread in the kernel | a process |
# |---|---|---|
# | **a kill** | the lab sets a flag; the role stops at its next poll and the lab closes its sockets | `SIGKILL`: no Python runs; the kernel closes its tcp connections |
# | **starting** | a few milliseconds (measured in section 2) | a noticeable fraction of a second: a new Python interpreter must start and import pyzmq and the workbook first (measured in section 2) |
# | **the GIL** | shared with the notebook and every other peer | its own: a busy worker slows nobody else |
# | **identity** | a thread name | a pid (`peer.data["pid"]`), signals, an exit status |
# | **its events** (`peer.log`) | in the lab's events at once | sent up with each status line (every 0.1 s); the last ones die with a SIGKILL |
# | **transport** | inproc, ipc or tcp | ipc or tcp only (inproc lives inside one process) |
# | **dying alone** | a role's exception | any of that, or a signal from anyone: `failed` with the exit status |
# | **the role's code** | `paranoidpirate.worker` | the same function, started by `python -m zguide_py run` |
# | **the wire** | [6/PPP](https://rfc.zeromq.org/spec/6/) frames over a socket | the same frames over the same kind of socket |
# | **detection** | heartbeats, within liveness × interval | the same heartbeats, the same bound |
#
# Signals are part of a process's life. `SIGKILL` cannot be caught; `SIGTERM` (what `kill PID` sends)
# and `SIGINT` (Ctrl-C) let the command line stop the role cleanly and exit with status 0:

# %%
w2 = lab.peer("worker2")
pid = w2.data["pid"]
os.kill(pid, signal.SIGTERM)
lab.wait_for(lambda: not w2.alive, timeout=10, what="worker2 to stop")
print("after SIGTERM, worker2 is", w2.state, "with", w2.data["exit"], "| its last status line said:",
      w2.data["status"]["state"])
assert w2.state == "done" and w2.data["exit"] == "exit 0" and not procs.pid_alive(pid)

# %% [markdown]
# ## 6. Play with it
#
# A lab of its own for you, where the queue is a process too: a queue and two workers as processes,
# and a Lazy Pirate client (a thread) that never stops. **kill** sends a process `SIGKILL`, **restart**
# starts a new one (its pid is `play.peer("worker1").data["pid"]`); the **throttle** slider reaches the
# child through its stdin; **add worker process** starts one more. A process's row shows the counters
# from its child's status lines and, above them, the line its role publishes: the queue's lists each
# worker it knows and how long ago it last heard it. Kill a worker and watch it leave that line about
# 0.3 s later; kill the queue and watch the client's replies stop and its retries climb (after 10 tries
# a request is abandoned). This lab stays open after the notebook ends (`play.close()` stops its
# processes); re-running the cell starts it afresh.

# %%
def playground(name):
    """The Paranoid Pirate queue and two workers as processes, a client that never stops, a panel."""
    play = Lab(name)
    frontend, backend = play.endpoint("frontend", "tcp"), play.endpoint("backend", "tcp")
    play.start("queue", procs.as_process("paranoidpirate.queue"), frontend=frontend, backend=backend)
    for worker in ("worker1", "worker2"):
        play.start(worker, WORKER, endpoint=backend)
    play.start("client", lazypirate.client, endpoint=frontend, requests=10**6, pause=0.02, retries=10)
    return play, Panel(play, counters=["served", "replies", "purged"], max_throttle=0.2,
                       actions={"add worker process": adder("worker", WORKER, endpoint=backend)},
                       title="Paranoid Pirate as processes: kill = SIGKILL")


play, panel = playground("processes-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried those controls for you on a twin of this lab, so your panel is fresh (the code
# is folded). What it saw: a kill ended worker1's process and the queue's own line dropped it; a restart
# brought a new process, with a new pid, back into that line; the slider's throttle reached worker2's
# process; an added worker process served requests; and no reply ever answered the wrong request.

# %%
# FOLDED
rehearsal, twin = playground("processes-rehearsal")
its_queue, its_client, its_w1 = (rehearsal.peer(n) for n in ("queue", "client", "worker1"))
knows = lambda name: name in its_queue.data.get("status", {}).get("says", "")   # the queue's own line
rehearsal.wait_for(lambda: its_client.get("replies") >= 5 and knows("worker1") and knows("worker2"), timeout=30,
                   what="5 replies, both workers at the queue")
old, t_kill = its_w1.data["pid"], rehearsal.now()
twin.rows["worker1"].kill.click()
purged = rehearsal.wait_for(lambda: [e.t for e in rehearsal.events_of("purge", "queue", since=t_kill)
                                     if worker_name(e.get("worker")) == "worker1"], timeout=5, what="worker1 purged")
rehearsal.wait_for(lambda: not knows("worker1"), timeout=5, what="worker1 gone from the queue's line")
verdict(not procs.pid_alive(old), f"The kill ended worker1's process ({its_w1.data['exit']}); the queue purged it"
        f" ~{purged[0] - t_kill:.1f} s later, and its line no longer named it.")
twin.rows["worker1"].restart.click()
rehearsal.wait_for(lambda: its_w1.data["pid"] != old and knows("worker1"), timeout=30, what="a new worker1 at the queue")
verdict(its_w1.data["pid"] != old, "The restart started a new process, with a new pid, and the queue's line named it again.")
twin.rows["worker2"].throttle.value = 0.05
rehearsal.wait_for(lambda: rehearsal.peer("worker2").data["status"].get("throttle") == 0.05, timeout=5,
                   what="the child to take the throttle")
verdict(rehearsal.peer("worker2").data["status"].get("throttle") == 0.05,
        "The slider reached worker2's process: it slept 0.05 s per request.")
twin.rows["worker2"].throttle.value = 0
twin.action_buttons["add worker process"].click()
rehearsal.wait_for(lambda: knows("worker3"), timeout=30, what="worker3 at the queue")
rehearsal.wait_for(lambda: rehearsal.peer("worker3").get("served") > 0, timeout=10, what="worker3 to serve")
verdict(rehearsal.peer("worker3").data["pid"] != os.getpid(), "The added worker3 is a process of its own, serving requests.")
verdict(its_client.get("mismatched") == 0, "No reply answered the wrong request.")
assert its_client.get("mismatched") == 0 and not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * A worker process killed with `SIGKILL` said nothing; the queue purged it after ~3 silent heartbeat
#   intervals, exactly as it purged the stopped thread. Heartbeats measure silence, not the reason for it.
# * The worker's code, the queue's code, the client's code and the bytes on the wire did not change. What
#   changed is everything around them: start-up time, pids and exit statuses, signals, tcp instead of
#   inproc, and crashes that no `finally` sees.
# * The notebook stays in charge of its children: a kill is a signal, a restart is a new process, and
#   `lab.close()` ends and reaps every child (a child whose notebook vanishes sees its stdin close and
#   stops by itself).
#
# **Questions**
# 1. After `SIGKILL` the operating system closes the worker's tcp connection at once, and libzmq inside
#    the queue notices (a socket monitor would even tell the queue). Why does Paranoid Pirate still rely on
#    heartbeats? (Think of a pulled network cable, a machine that freezes, or the exercise below.)
# 2. A worker process takes a noticeable fraction of a second to start, a worker thread a few
#    milliseconds. What does that mean for a supervisor that restarts crashed workers, and for a
#    queue whose workers all restart at once?
# 3. Would you put the queue in a process of its own too? What would the notebook lose, and gain?
#
# **Exercise.** `SIGSTOP` freezes a process: it is alive, holds its sockets and its tcp connection,
# but runs no code, until `SIGCONT`. A fourth worker process, worker4, joins the queue of sections 2
# to 5, is frozen for a while, then continued. What happens?
#
# * **a** the queue never purges it: its process is alive and its connection open;
# * **b** the queue purges it, and once continued it comes back to the queue by itself;
# * **c** the queue purges it, and it stays out until the lab restarts its process.
#
# Put a letter in `my_guess` (a string: `"a"`, `"b"` or `"c"`), run that cell, then the check; the
# folded cell between them starts worker4, freezes it, waits, and continues it.

# %%
my_guess = None      # "a", "b" or "c"

# %%
# FOLDED
w4 = lab.start("worker4", WORKER, endpoint=backend)
lab.wait_for(lambda: "worker4" in {worker_name(i) for i in queue.data["workers"]}, timeout=30,
             what="worker4 at the queue")
frozen = w4.data["pid"]
t_stop = lab.now()
os.kill(frozen, signal.SIGSTOP)                      # alive, but silent
purged = lab.wait_for(lambda: [e.t for e in lab.events_of("purge", "queue", since=t_stop)
                               if worker_name(e.get("worker")) == "worker4"], timeout=5, what="worker4 purged")
alive_while_frozen = procs.pid_alive(frozen)
os.kill(frozen, signal.SIGCONT)
back = lab.wait_for(lambda: "worker4" in {worker_name(i) for i in queue.data["workers"]}, timeout=10,
                    what="worker4 back at the queue")
answer = "a" if not purged else "b" if back and w4.data["pid"] == frozen else "c"
assert purged and alive_while_frozen and back and w4.data["pid"] == frozen

# %%
print(grade(my_guess, answer))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **b.** Frozen, the worker sends no heartbeats, so the queue purges it after liveness × interval of
# silence, exactly as it purged the killed ones: the operating system keeps its tcp connection open,
# but heartbeats measure silence, not connections (this is question 1's answer too). Once continued,
# the worker runs again with the same pid and the same socket, and its next heartbeat reaches a queue
# that no longer knows it. A heartbeat from an unknown worker means "alive", so the queue takes it back
# into its ready list. (Had the queue stayed silent long enough for the worker's own liveness to run
# out, the worker would have reconnected with a new socket and said `READY`: back by itself either way.)
# No restart was needed: the folded cell checked that the pid did not change.
#
# </details>

# %% [markdown]
# ## Teardown
#
# Closing the lab stops every child (SIGTERM, then SIGKILL after a short grace) and waits for it.

# %%
pids = [h["pid"] for p in lab.peers.values() for h in p.data.get("history", [])]
lab.close()
print("threads left:", len(lab.threads()), "| child processes left:", sum(procs.pid_alive(p) for p in pids))
assert not lab.threads() and not any(procs.pid_alive(p) for p in pids)
yours = {h["pid"] for p in play.peers.values() for h in p.data.get("history", [])}
assert set(procs.live_pids()) <= yours                 # no child left but your playground's
print("labs still open:", live_labs(), "(your playground: play.close() ends it and its processes)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [18 · Security](18_security.ipynb).
