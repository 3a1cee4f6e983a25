# Source of notebooks/10_simple_pirate.ipynb - build with: python tools/nbbuild.py notebooks/src/10_simple_pirate.py
# %% [markdown]
# # 10 · Simple Pirate: Lazy Pirate clients, a queue, and workers that die
#
# *Where this sits: before this, [05 · Load balancing](05_load_balancing.ipynb) and [09 · Lazy
# Pirate](09_lazy_pirate.ipynb); next, [11 · Paranoid Pirate](11_paranoid_pirate.ipynb); in the guide,
# chapter 4, [Basic Reliable Queuing (Simple Pirate Pattern)](https://zguide.zeromq.org/docs/chapter4/).
# Words used here: [LRU](glossary.ipynb#LRU), [broker](glossary.ipynb#Broker) (all in the
# [glossary](glossary.ipynb)).*
#
# **The problem:** with Lazy Pirate (notebook 09) a client survives a server crash, but while its only
# server is down, nothing gets answered. The obvious fix is more servers, and a **queue** in the
# middle so that clients need not know which servers exist.
#
# **Simple Pirate** is the smallest such queue:
#
# * two ROUTER sockets: the **frontend**, where clients connect, and the **backend**, where workers
#   connect;
# * a worker starts by sending `READY` (one byte, `0x01`); the queue keeps a **list of ready workers**,
#   least recently used first;
# * while the list is not empty, the queue reads a request from the frontend and hands it to the first
#   worker in the list; the worker's reply goes back to that client and puts the worker back in the list;
# * the clients are the unchanged Lazy Pirate clients: a request lost anywhere is retried by its client.
#
# ```mermaid
# flowchart LR
#     C1["client1<br/>REQ (connect)<br/>Lazy Pirate"] --> F
#     C2["client2<br/>REQ (connect)<br/>Lazy Pirate"] --> F
#     subgraph Q["queue"]
#         F["frontend<br/>ROUTER (bind, tcp)"]
#         B["backend<br/>ROUTER (bind, tcp)"]
#     end
#     W1["worker1<br/>REQ (connect)"] --> B
#     W2["worker2<br/>REQ (connect)"] --> B
#     W3["worker3<br/>REQ (connect)"] --> B
# ```
#
# The frames on the backend (the ROUTER adds or strips the worker's id; the worker's REQ socket adds or
# strips the empty delimiter frame):
#
# | direction | frames |
# |---|---|
# | worker → queue, READY | `[worker id, b"", b"\x01"]` |
# | queue → worker, a request | `[worker id, b"", client id, b"", b"client1:17"]` |
# | worker → queue, its reply | `[worker id, b"", client id, b"", b"client1:17"]` |
#
# This notebook kills workers (Simple Pirate copes) and then the queue (it does not, and we will see why).
#
# Counts that depend on timing (how many retries, which worker served what) are printed after a `~`:
# they were measured in this run and may differ in yours. Whatever is printed without a `~` is the
# same in every run.

# %%
import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import grade
from zguide_py.patterns import lazypirate, simplepirate
from zguide_py.views import pirates
from zguide_py.widgets import Panel, adder

lab = Lab("simplepirate")

# %% [markdown]
# ## 1. The roles
#
# The queue uses two pollers, as in the guide: with no ready worker it listens to the backend only, so
# requests wait in the frontend socket instead of being read with nowhere to go. It waits with
# `peer.poll(poller)`, the poller's `poll` that the lab can interrupt: it gives the ready sockets, or
# nothing once the lab kills the queue. It checks every message before it acts on it
# (`split_envelope`): a request with no envelope to route the reply back, or a worker message that is
# neither READY nor a reply, is counted as malformed and dropped. The worker is a REQ socket: READY once, then request in,
# reply out. Each worker's REQ socket gets a readable routing id
# (`worker1/…`) so that the plots can tell who did what.

# %%
show_source(simplepirate.queue, simplepirate.worker)

# %% [markdown]
# ## 2. Start the queue and three workers
#
# Queue and workers talk over tcp: the queue will be killed and restarted, and only tcp connections
# come back to a restarted binder (an inproc connection does not).

# %%
frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
WORKERS = ["worker1", "worker2", "worker3"]
CLIENTS = ["client1", "client2"]
lab.start("queue", simplepirate.queue, frontend=frontend, backend=backend)
for name in WORKERS:
    lab.start(name, simplepirate.worker, endpoint=backend)
lab.wait_for(lambda: lab.peer("queue").get("ready") == 3, timeout=5, what="3 workers READY")
# sorted: the workers say READY in whatever order their threads get going
print("ready workers at the queue:", sorted(simplepirate.worker_name(w) for w in lab.peer("queue").data["ready"]))

# %% [markdown]
# ## 3. A scripted run: 300 requests, workers that die, then a queue that dies
#
# * Between 0.3 s and 1.6 s, seeded **chaos** kills workers four times and restarts each after
#   0.2–0.5 s.
# * At 2.0 s the **queue** is killed; it is restarted at 2.3 s.
# * At 3.2 s an operator restarts all three workers (you will see why it is needed).
#
# Two Lazy Pirate clients send 150 requests each, one every ~15 ms (250 ms timeout, 3 tries).

# %%
chaos = Scenario("workers die, then the queue", seed=3) \
    .chaos(WORKERS, kills=4, start=0.3, end=1.6, downtime=(0.2, 0.5)) \
    .at(2.0, "kill", "queue").at(2.3, "restart", "queue")
for name in WORKERS:
    chaos.at(3.2, "restart", name)
for name in CLIENTS:
    chaos.at(0, "start", name, lazypirate.client, endpoint=frontend, requests=150, pause=0.015)
print(chaos.describe())

# %%
report = lab.run(chaos, seconds=20, until=lambda: not any(lab.peer(n).alive for n in CLIENTS))
report

# %% [markdown]
# ## 4. The verdict

# %%
tally = lazypirate.tally(lab, CLIENTS)
print(tally.lines())
assert tally.ok and tally.requests == 300
assert not report.errors and all(step.error is None for step in report.steps)

# %% [markdown]
# Now the weakness. Which workers did any work between the queue's restart (2.3 s) and the operator's
# restart of the workers (3.2 s)?

# %%
served_after_queue_restart = pirates.served_between(report.events, WORKERS, 2.3, 3.2)
orphaned = [name for name, n in served_after_queue_restart.items() if n == 0]
print("requests served between the queue's restart and the workers' restart:",
      ", ".join(f"{name} ~{n}" for name, n in served_after_queue_restart.items()))
print(f"workers orphaned by the queue's restart: ~{len(orphaned)} of 3")
assert orphaned, "an idle worker cannot be known to a restarted Simple Pirate queue"

# %% [markdown]
# A worker that was **idle** when the queue died is orphaned: its REQ socket sent READY (or its last
# reply) to the *old* queue and now waits for a request. TCP reconnects it to the new queue, but the new
# queue never heard READY from it, so it never sends it anything: both wait for ever. A worker that
# happened to be **busy** at that moment sends its reply after the reconnect, the new queue takes that
# reply as "ready", and that worker is back. Which workers were busy is luck, so the count above varies
# from run to run; usually all three are idle.

# %%
pirates.requests_figure(report, CLIENTS, workers=WORKERS, fault_peers=WORKERS + ["queue"],
                        title="Simple Pirate: workers die (0.3-1.6 s), then the queue (2.0 s)")

# %% [markdown]
# **Reading the plot.**
#
# * **Dead workers (0.3–1.6 s)** cost little: a request handed to a dying worker is lost, its client
#   retries after 250 ms and the queue hands the retry to another worker. But the queue never learns
#   that a worker died: the dead worker stays in its ready list until the next request is sent to it,
#   and that request is lost too.
# * **The dead queue (2.0–2.3 s)** on its own costs only retries. The request each client sent just after
#   2.0 s times out and is sent again at about 2.25 s (the queue is still dead), and a third time at about
#   2.5 s, when the restarted queue is already there to take it.
# * **After the queue's restart** that third try is not answered either: the new queue knows no worker,
#   because they were orphaned (see above). So each client abandons the request at about 2.75 s, the ✕:
#   the orphaned workers cost it, not the 0.3 s outage, which is shorter than 3 tries of 250 ms. (In a run
#   where a lucky worker was busy when the queue died, that worker answers the third try and there is no
#   ✕.) The next request waits the same way, with retries, until the operator restarts the workers at
#   3.2 s: they say READY to the new queue and the answered line climbs again.
#
# Simple Pirate has no way to tell "dead" from "quiet" in either direction. Notebook 11 (Paranoid Pirate)
# adds heartbeats for exactly that.

# %% [markdown]
# ## 5. Play with it
#
# A lab of its own for you: a queue, three workers, and a client that never stops. Kill a worker
# and watch the client's retries: the queue keeps sending requests to the dead worker until it has
# lost one. Add workers with the button; the queue's row says how many workers are ready for a
# request. Kill the queue and restart it: the idle workers are orphaned (the row says 0 ready), and
# only restarting them brings them back. In the rows, the queue's `ready` counts the READY messages
# it got, `requests` and `replies` what passed through it; a worker's `served` counts the requests
# it answered; the client's counters are those of notebook 09. This lab stays open after the
# notebook ends; re-running the cell starts it afresh.

# %%
def playground(name):
    """A queue, three workers and a client that never stops, in a lab of their own, under a panel."""
    play = Lab(name, sample_interval=0.5)      # the live plot: rates over half a second
    frontend, backend = play.endpoint("frontend", "tcp"), play.endpoint("backend", "tcp")
    play.start("queue", simplepirate.queue, frontend=frontend, backend=backend)
    for worker in ("worker1", "worker2", "worker3"):
        play.start(worker, simplepirate.worker, endpoint=backend)
    play.start("client", lazypirate.client, endpoint=frontend, requests=10**6, pause=0.02)
    return play, Panel(play, counters=["replies", "retries", "served"], max_throttle=1.0,
                       actions={"add worker": adder("worker", simplepirate.worker, endpoint=backend)},
                       title="Simple Pirate: kill workers, add workers, kill the queue")


play, panel = playground("simplepirate-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried these buttons for you on a twin of this lab, so your panel is fresh (the
# code is folded). It killed `worker1`: a request still went to it and was lost, the client retried,
# and the other workers answered. Then it added `worker4`, which said READY and served requests.

# %%
# FOLDED
rehearsal, twin = playground("simplepirate-rehearsal")
client, queue = rehearsal.peer("client"), rehearsal.peer("queue")
rehearsal.wait_for(lambda: client.get("replies") >= 5, timeout=5, what="5 replies")
retries_before = client.get("retries")
twin.rows["worker1"].kill.click()
rehearsal.wait_for(lambda: client.get("retries") > retries_before, timeout=5, what="a retry")
verdict(client.get("retries") > retries_before,
        "With worker1 dead, a request still went to it and was lost; the client retried.")
replies_before = client.get("replies")
verdict(rehearsal.wait_for(lambda: client.get("replies") >= replies_before + 5, timeout=5, what="5 more replies"),
        "The other workers answered the retry and what followed.")
ready_before = queue.get("ready")
twin.action_buttons["add worker"].click()
rehearsal.wait_for(lambda: queue.get("ready") > ready_before, timeout=5, what="READY from the new worker")
rehearsal.wait_for(lambda: rehearsal.peer("worker4").get("served") >= 1, timeout=5, what="worker4 to serve")
verdict(rehearsal.peer("worker4").get("served") >= 1, "worker4, added, said READY and served requests.")
verdict(client.get("mismatched") == 0, "No reply was ever taken for another request's.")
assert client.get("mismatched") == 0 and not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 6. What you saw, and questions
#
# * A queue with a list of ready workers spreads requests over workers and survives worker crashes,
#   because the Lazy Pirate clients retry what gets lost.
# * The queue cannot tell a dead worker from an idle one: it keeps offering work to the dead.
# * The workers cannot tell a dead queue from a quiet one: after a queue restart, idle workers wait for
#   ever, and only a restart of the workers brings them back.
#
# **Questions**
# 1. A worker dies while idle. How many client requests does that cost, at most? And if it dies while
#    busy?
# 2. The queue reads the frontend only while a worker is ready. What would go wrong if it read requests
#    with no worker to give them to?
# 3. Could a restarted worker be confused with its former self inside the queue's ROUTER? What does the
#    routing id `worker1/<pid>.<start>.<n>` prevent?
#
# **Exercise.** No client is sending. The queue is killed and restarted while its three workers are idle.
# How many workers does the new queue know after half a second? Put your prediction (a number) in
# `my_guess`, run that cell, then the check; the folded cell between them runs the experiment.

# %%
my_guess = None      # workers in the new queue's ready list, e.g. 2

# %%
# FOLDED
with Lab("simplepirate-exercise") as ex:
    fe, be = ex.endpoint("frontend", "tcp"), ex.endpoint("backend", "tcp")
    ex.start("queue", simplepirate.queue, frontend=fe, backend=be)
    for name in WORKERS:
        ex.start(name, simplepirate.worker, endpoint=be)
    ex.wait_for(lambda: len(ex.peer("queue").data["ready"]) == 3, timeout=5, what="3 ready")
    ex.restart("queue")
    ex.run(Scenario("just wait"), seconds=0.5)            # give the workers every chance to reconnect
    answer = len(ex.peer("queue").data["ready"])
    ex.start("client", lazypirate.client, endpoint=fe, requests=2, timeout=0.2, retries=2)
    ex.wait_done("client", timeout=5)
    abandoned = ex.peer("client").data["abandoned"]
    assert answer == 0 and abandoned == [0, 1], (answer, abandoned)

# %%
print(grade(my_guess, answer))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **None: 0.** The workers' REQ sockets reconnect to the new queue at once (libzmq reconnects tcp by
# itself), but a connection is not a message. Each worker said `READY` once, to the old queue, and now
# waits in `recv` for a request that the new queue will never send, because the new queue only hands
# work to workers that said `READY` to *it*. The folded cell also sent two requests after the restart:
# the client abandoned both. Only restarting the workers (or a heartbeat, notebook 11) brings them
# back.
#
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/spqueue.py` is the queue and `examples/spworker.py` its REQ worker (READY = 0x01); the
# clients are `examples/lpclient.py`. Mix them with the workbook's roles:
#
# ```sh
# python examples/spqueue.py &
# python -m zguide_py run simplepirate.worker --connect tcp://127.0.0.1:5556
# python examples/lpclient.py --count 10
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('spqueue')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [11 · Paranoid Pirate](11_paranoid_pirate.ipynb).
