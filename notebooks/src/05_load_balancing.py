# Source of notebooks/05_load_balancing.ipynb - build with: python tools/nbbuild.py notebooks/src/05_load_balancing.py
# %% [markdown]
# # 05 · Load balancing: round-robin against least recently used
#
# *Where this sits: before this, [04 · Router-dealer](04_router_dealer.ipynb); next, [06 · Pub-sub with a
# snapshot (the Clone pattern, model 2)](06_clone_snapshot.ipynb); in the guide, chapter 3, [A Load
# Balancing Message Broker](https://zguide.zeromq.org/docs/chapter3/). Words used here:
# [LRU](glossary.ipynb#LRU), [round-robin](glossary.ipynb#Round-robin), [broker](glossary.ipynb#Broker)
# (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** requests come from many clients and should be spread over a pool of workers.
# Workers are rarely equal: one runs on a slower machine, one is stuck in a long task, one is just
# starting. A balancer that deals requests out blindly lets requests queue behind a slow worker while
# the others sit idle. A good balancer only gives work to a worker that is free to do it.
#
# Both balancers here are *brokers*: REQ clients connect to a ROUTER frontend, workers connect to a
# backend, and a Poller loop in between passes the messages on.
#
# **The "simple" balancer** has a DEALER backend. DEALER deals each request to the next worker in
# turn (round-robin), busy or not.
#
# ```mermaid
# flowchart BT
#     C1["client1..6<br/>REQ (connect)"] --> FE
#     W1["worker1<br/>DEALER (connect)"] --> BE
#     W2["worker2<br/>DEALER (connect)"] --> BE
#     W3["worker3 (slow)<br/>DEALER (connect)"] --> BE
#     subgraph simple["simple balancer: frames passed on unchanged"]
#         FE["frontend<br/>ROUTER (bind)"]
#         BE["backend<br/>DEALER (bind)<br/>round-robin"]
#     end
# ```
#
# **The "better" balancer** (the guide's *load balancing broker*) has a ROUTER backend. Each worker
# says `READY` when it starts, and each reply it sends says "ready again". The broker keeps a queue of
# ready workers and gives each request to the one that has waited longest: **least recently used
# (LRU)** first. A busy worker is not in the queue, so it is never sent a task. When no worker is ready
# the broker stops reading requests, and they wait in the frontend's queue.
#
# ```mermaid
# flowchart BT
#     C1["client1..6<br/>REQ (connect)"] --> FE
#     W1["worker1<br/>DEALER (connect)"] -- "READY,<br/>replies" --> BE
#     W2["worker2<br/>DEALER (connect)"] -- "READY,<br/>replies" --> BE
#     W3["worker3 (slow)<br/>DEALER (connect)"] -- "READY,<br/>replies" --> BE
#     subgraph lru["LRU broker: a request goes to the worker at the head of the ready queue"]
#         FE["frontend<br/>ROUTER (bind)"]
#         BE["backend<br/>ROUTER (bind)"]
#     end
# ```
#
# Arrows go from the socket that connects to the socket that binds; messages flow both ways. A `~` in
# front of a printed number marks a measurement, which changes from run to run; everything else a
# cell prints is the same on every run.

# %%
import zmq

from zguide_py import Lab, live_labs, show_source, summarize, show_example, verdict
from zguide_py.exercise import grade
from zguide_py.flow import Flow
from zguide_py.patterns import loadbalance as lb
from zguide_py.views import loadbalance as lb_views
from zguide_py.widgets import Panel, adder

lab = Lab("load-balancing")
flow = Flow(lab)

# %% [markdown]
# ## 1. The worker, and the READY handshake by hand
#
# Both balancers use the same worker: a DEALER that says `READY` (for the LRU broker), then takes a
# task, works, and replies with the task's envelope in front. The clients are plain REQ clients:
# one request at a time, each given up after a timeout.
#
# Two words from the lab: `peer.poll(sock)` waits for a message and returns False once the lab kills
# the peer; `peer.send(sock, frames)` sends, but waits (killably) while nobody is connected. And one
# helper: `arrived_while_busy` is the worker's **check of its broker**. When the worker is free again,
# anything already waiting for it was sent while it was busy (or before it said `READY`). It keeps
# those tasks for later, in order, and counts them. A broker that only gives work to free workers
# never leaves anything there.

# %%
show_source(lb.worker)

# %% [markdown]
# Now you play the LRU broker: a ROUTER backend in this notebook (called `broker` in the table and
# the diagram below), and one `worker` peer that connects to it. One call per cell.

# %%
backend = lab.socket(zmq.ROUTER)
backend.bind("inproc://by-hand")
worker1 = lab.start("worker1", lb.worker, endpoint="inproc://by-hand", work=0.0)

# %%
assert backend.poll(2000), "no READY within 2 s"
ready = backend.recv_multipart()
flow.record("worker1", "broker", ready)
ready

# %% [markdown]
# `[identity, '', READY]`: the worker chose its name as identity, the empty frame is the delimiter the
# worker put in front (as a REQ would), and `READY` is the body. Now hand it a task. The ROUTER needs
# the worker's identity in front; behind it goes the client's envelope, as the frontend received it.

# %%
backend.send_multipart([b"worker1", b"", b"client-x", b"", b"6 x 7?"])
flow.record("broker", "worker1", [b"", b"client-x", b"", b"6 x 7?"],
            note="as the worker receives it")

# %%
assert backend.poll(2000), "no reply within 2 s"
reply = backend.recv_multipart()
flow.record("worker1", "broker", reply)
reply

# %% [markdown]
# The reply is the task's envelope with a new body: `[worker, '', client, '', reply]`. A broker takes
# the first two frames off (and notes that worker1 is free again), and sends `[client, '', reply]` to
# the frontend, which routes it to the client.

# %%
flow.table(width=32)

# %%
flow.figure(title="the READY handshake", label_width=30)

# %%
lab.remove("worker1")

# %% [markdown]
# ## 2. The simple balancer, with one slow worker
#
# The simple balancer is a ROUTER frontend, a DEALER backend and a Poller loop that passes frames on
# unchanged. It never looks at the workers: the DEALER deals each request to the next one in turn.

# %%
show_source(lb.simple_broker)

# %% [markdown]
# ### Round-robin with one slow worker
#
# A scripted run. Three workers take 2 ms per task; worker3 is **throttled** to 20 ms more per task,
# the same call as the panel's slider. Six clients send 30 requests each, 180 in all.
# `lb_views.run_balancer` starts the broker and the workers, waits until every worker is connected
# (and, for LRU, has said READY), throttles the slow worker, starts the clients, waits until they are
# done, collects the numbers and removes the peers again.

# %%
simple = lb_views.run_balancer(lab, "simple", workers=3, clients=6, requests=30, work=0.002,
                               slow="worker3", slow_delay=0.02)
print(f"simple: {simple.answered} of {simple.requests} answered in ~{simple.seconds:.2f} s")
print("tasks per worker:", {w: f"~{n}" for w, n in simple.tasks.items()})
print("tasks that reached a worker while it was busy:", {w: f"~{n}" for w, n in simple.arrived_while_busy.items()})
print(lb_views.latency_line(simple.latencies))

# %% [markdown]
# Every worker got a third of the tasks, the slow one too, and the tasks dealt to worker3 mostly
# arrived while it was still busy with an earlier one: they waited in its queue while the other two
# workers sat idle. Some requests took many times the slow worker's 22 ms.
#
# ## 3. The LRU broker
#
# The LRU broker keeps a queue of ready workers. A worker joins it when it says `READY` and again with
# each reply; a request goes to the worker at the head, the one that has waited longest. It reads
# the frontend only while some worker is free, and no more requests than there are free workers.
# Every message is checked before it is used (`worker_says`, `has_envelope`): a malformed one is
# counted and dropped, and its sender is never made ready. `send_to_worker` sends
# `[worker, '', client, '', request]` out of the backend; if that worker has gone, it returns False
# and the request goes to the next one (section 4 shows how).

# %%
show_source(lb.lru_broker)

# %% [markdown]
# ### LRU with one slow worker
#
# The same run as before, with the LRU broker: the same workers, the same slow one, the same clients.

# %%
lru = lb_views.run_balancer(lab, "lru", workers=3, clients=6, requests=30, work=0.002,
                            slow="worker3", slow_delay=0.02)
print(f"LRU: {lru.answered} of {lru.requests} answered in ~{lru.seconds:.2f} s")
print("tasks per worker:", {w: f"~{n}" for w, n in lru.tasks.items()})
print("tasks that reached a worker while it was busy:", {w: f"~{n}" for w, n in lru.arrived_while_busy.items()})
print(lb_views.latency_line(lru.latencies))

# %%
lb_views.compare_figure([simple, lru])

# %% [markdown]
# **Left:** the simple balancer gives each worker exactly a third, the slow one too. The LRU broker
# gives the slow worker only what it can take, and the fast ones the rest. **Right** (a log scale):
# with round-robin a third of all requests wait behind the slow worker, often behind several others
# queued there, so the 90th percentile and above are slow. With LRU only the few requests that the
# slow worker took are slow. The median can be a little *lower* with round-robin: while most clients
# are stuck waiting for the slow worker, the few others have the fast workers to themselves. With LRU
# all six clients share the two fast workers, and a request may wait a moment for one to be free.

# %%
p90_simple = summarize(simple.latencies).p90
verdict(simple.answered == simple.requests == lru.answered == lru.requests == 180,
        "Both balancers answered every one of the 180 requests.")
verdict(abs(simple.tasks["worker3"] - 60) <= 1,
        "Simple: the slow worker got its full third, 60 of 180 (give or take one).")
verdict(p90_simple >= 0.02,
        "Simple: so at least a tenth of the requests took longer than the slow worker's 20 ms.")
busy = simple.arrived_while_busy          # per worker
print(f"simple: tasks that reached a worker while it was busy: ~{simple.violations} in all")
verdict(max(busy, key=busy.get) == "worker3", "Simple: most of them reached the slow worker.")
verdict(lru.violations == 0, "LRU: no task reached a worker while it was busy or before it said READY.")
verdict(lru.share("worker3") < 1 / 3, "LRU: the slow worker got less than its third.")
print(f"time to serve all 180 requests: simple ~{simple.seconds:.2f} s, LRU ~{lru.seconds:.2f} s")
assert simple.answered == lru.answered == 180
assert abs(simple.tasks["worker3"] - 60) <= 1 and simple.violations > 0
assert max(busy, key=busy.get) == "worker3"
assert lru.violations == 0 and lru.share("worker3") < 1 / 3

# %% [markdown]
# **The verdict:** the LRU broker never sent a task to a busy worker: every worker counted 0 tasks
# arriving while it was busy or not yet ready. The round-robin DEALER did it again and again, and
# almost always to the slow worker: nearly every task dealt to worker3 arrived while it was still busy
# with an earlier one, and waited. The fast workers were usually free when their turn came.
#
# ## 4. Play with it
#
# A lab of its own for you to play with: the LRU broker again, now over TCP (so that a restarted
# broker can be found again) and with two clients that never stop, each paced to one request per
# 10 ms. Throttle a worker and watch the broker move work away from it; kill one and the others carry
# on; add workers with the button. The plot shows tasks per second per worker, each point counted
# over half a second: on a busy machine a thread can stall for a moment, and over a shorter interval
# that would show as a drop to zero although nothing stopped. This lab stays open after the notebook
# ends; re-running the cell starts it afresh.

# %%
def playground(name):
    """The LRU broker over tcp, three workers and two clients that never stop, under a panel."""
    play = Lab(name, sample_interval=0.5)      # the plot's rates: counted over half a second
    frontend, backend = play.endpoint("frontend", "tcp"), play.endpoint("backend", "tcp")
    play.start("broker", lb.lru_broker, frontend=frontend, backend=backend)
    add_worker = adder("worker", lb.worker, endpoint=backend, work=0.002)
    for _ in range(3):
        add_worker(play)
    for c in ("client1", "client2"):
        play.start(c, lb.client, endpoint=frontend, timeout=1.0, throttle=0.01)
    return play, Panel(play, counters=["tasks"], actions={"add worker": add_worker},
                       title="LRU broker: workers and clients")


play, panel = playground("load-balancing-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The broker's row says how many workers are in its ready queue right now, and counts `ready` (the
# READY messages it received), `requests` (handed to a worker) and `replies` (sent back to a client).
# A client's `lost` counts a request that got no reply within 1 s: the one a worker held when you
# killed it, for instance.
#
# After you kill a worker, the broker's row may also count **`vanished`**. A worker killed while it
# was idle is still in the ready queue: the broker learns that it is gone only when it sends to it. A
# plain ROUTER would drop that request without a word. With `ROUTER_MANDATORY` the send raises
# `EHOSTUNREACH` instead, and `send_to_worker` counts a `vanished` worker and keeps the request first
# in line for the next ready one:

# %%
show_source(lb.send_to_worker)

# %% [markdown]
# The notebook has tried these buttons for you, but not on your panel. The folded cell below (click
# the "..." to read it) is a **rehearsal**: it builds a **twin**, a second lab made by the same
# `playground` function with a panel of its own that is never shown, clicks that panel's buttons from
# code, checks what happened, and closes it. So your panel above starts fresh. What it saw: an added
# worker got tasks; a worker throttled to 100 ms a task was given fewer than its share; with one
# worker killed the broker went on with the others, and once restarted the worker said READY again
# and got tasks; and no task ever reached a worker that was busy or had not said READY.

# %%
# FOLDED
rehearsal, twin = playground("load-balancing-rehearsal")
broker = rehearsal.peer("broker")


def tasks_during(replies, workers):
    """Tasks each worker took while the broker sent `replies` more replies (at most 10 s)."""
    before = {w: rehearsal.peer(w).get("tasks") for w in workers}
    target = broker.get("replies") + replies
    rehearsal.wait_for(lambda: broker.get("replies") >= target, timeout=10, what=f"{replies} more replies")
    return {w: rehearsal.peer(w).get("tasks") - before[w] for w in workers}


twin.action_buttons["add worker"].click()
assert verdict(tasks_during(40, ["worker4"])["worker4"] > 0, "The worker added while the broker ran got tasks.")

twin.rows["worker1"].throttle.value = 0.1
took = tasks_during(100, ["worker1", "worker2", "worker3", "worker4"])
print(f"tasks in the next 100: {', '.join(f'{w} ~{n}' for w, n in took.items())}")
assert verdict(took["worker1"] < 25, "The throttled worker1 took fewer than a quarter of them.")

twin.rows["worker2"].kill.click()
assert verdict(sum(tasks_during(40, ["worker3", "worker4"]).values()) > 0,
               "With worker2 killed, the broker went on with the other workers.")
twin.rows["worker2"].restart.click()
assert verdict(tasks_during(60, ["worker2"])["worker2"] > 0, "Restarted, worker2 said READY again and got tasks.")
violations = sum(rehearsal.peer(w).get("arrived_while_busy") for w in rehearsal.peers if w.startswith("worker"))
assert verdict(violations == 0 and not rehearsal.errors(),
               "In all of this, no task reached a worker that was busy or had not said READY.")
rehearsal.close()

# %% [markdown]
# ## 5. What you saw, and questions
#
# * Round-robin (DEALER) is fair by count, not by capacity: a slow worker gets its full share, and the
#   requests dealt to it wait.
# * The LRU broker sends a request only to a worker that has said it is ready, and the longest-idle
#   one first. Workers tell the broker when they are free; the broker never guesses.
# * ROUTER on both sides: the frontend's identities send replies home, the backend's identities pick
#   the worker. The envelope `[worker, '', client, '', body]` carries both.
#
# **Questions**
# 1. With LRU, what happens to requests when every worker is busy? Where do they wait?
# 2. A worker is killed while it holds a task. What does the client see? (Try it with the panel, and
#    watch the client's `lost` counter.) What would fix it?
# 3. The LRU broker also sets `ROUTER_HANDOVER` on its backend. What would happen without it when a
#    killed worker is restarted under the same name while the broker still has the old connection?
# 4. The simple balancer is a few lines of code and needs no protocol. When is it good enough?
#
# **Exercise.** Four workers this time, one of them slow (2 ms + 20 ms a task, as before), behind
# the **simple** balancer; six clients send 30 requests each, 180 in all. How many seconds until all
# 180 are answered? (Section 2 timed three workers; this is a different number.) Put your guess in
# `my_guess`, then run the three cells: the folded one runs the balancer, the last one compares
# (within 20%).

# %%
my_guess = None      # seconds until all 180 requests are answered, e.g. 0.5

# %%
# FOLDED
with Lab("load-balancing-exercise") as ex:
    check = lb_views.run_balancer(ex, "simple", workers=4, clients=6, requests=30, work=0.002,
                                  slow="worker4", slow_delay=0.02)
    answer = check.seconds
    assert abs(check.tasks["worker4"] - 45) <= 1 and answer >= 44 * 0.02 and not ex.errors()

# %%
print(grade(my_guess, answer, relative=0.2, unit="s"))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **About 1 s.** The DEALER deals one request in four to the slow worker: 45 of the 180. Each takes
# it 22 ms, and it is never idle: a client whose requests go to fast workers gets its replies back
# quickly and soon sends one that is dealt to the slow worker, where it waits. So the slow worker's
# queue never runs dry, and the run cannot end before its last task: 45 x 22 ms = 0.99 s, plus a
# little. The three fast workers finish their 135 tasks in a fraction of that and then sit idle.
# With three workers it was 60 x 22 ms, about 1.3 s: adding a fast worker helps only because it
# takes the slow worker's share down from a third to a quarter.
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/lbbroker.py` is the least-recently-used broker, `examples/lbworker.py` a REQ worker
# that says READY, `examples/lbclient.py` a client. The workbook's workers can serve the script's
# broker (`python -m zguide_py list` shows each role's endpoints):
#
# ```sh
# python examples/lbbroker.py &
# python examples/lbworker.py & python examples/lbclient.py
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('lbbroker')

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
# Next: [06 · Pub-sub with a snapshot (the Clone pattern, model 2)](06_clone_snapshot.ipynb).
