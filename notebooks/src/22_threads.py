# Source of notebooks/22_threads.ipynb - build with: python tools/nbbuild.py notebooks/src/22_threads.py
# %% [markdown]
# # 22 · Threads that share nothing but messages
#
# *Where this sits: before this, [21 · Any code to any code](21_any_language.ipynb); next, [23 ·
# Proxies](23_proxies.ipynb); in the guide, chapter 2, [Multithreading with
# ZeroMQ](https://zguide.zeromq.org/docs/chapter2/) and Signaling Between Threads (PAIR Sockets), in the same
# chapter. Words used here: [context](glossary.ipynb#Context), [transports](glossary.ipynb#Transports),
# [proxy](glossary.ipynb#Proxy), [round-robin](glossary.ipynb#Round-robin), [envelope](glossary.ipynb#Envelope)
# (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** a program with threads usually shares data between them (a queue, a counter, a
# dictionary) and guards it with locks. Locks are easy to get wrong: forget one and the data is
# corrupted now and then, at random; take two in the wrong order and the program freezes. ZeroMQ
# offers another way. Each thread owns its sockets, and threads talk only by sending messages to
# each other over `inproc://` sockets (memory to memory, inside one process and one context).
# Nothing is shared, so nothing needs a lock. Every peer in this workbook is a thread that works this
# way; this notebook looks at the idea itself:
#
# 1. **PAIR pipes**: one thread tells another "ready" (the guide's relay), and why PAIR and not
#    PUSH/PULL;
# 2. **the multithreaded server**: REP worker threads behind `zmq.proxy`, killed, slowed down and
#    added while clients use them;
# 3. **the rule** that makes it work: a socket belongs to one thread, and what happens when two
#    threads use one.
#
# ```mermaid
# flowchart LR
#     C["client1..4<br/>REQ (connect, tcp)"] --> FE
#     subgraph S["one process, one context: the multithreaded server"]
#         FE["frontend<br/>ROUTER (bind, tcp)"] --- P(["zmq.proxy<br/>in a thread of its own"])
#         P --- BE["backend<br/>DEALER (bind, inproc)"]
#         W1["worker1 thread<br/>REP (connect, inproc)"] --> BE
#         W2["worker2 thread<br/>REP (connect, inproc)"] --> BE
#         W3["worker3 thread<br/>REP (connect, inproc)"] --> BE
#     end
# ```
#
# Arrows go from the socket that connects to the socket that binds; messages flow both ways. A `~` in
# front of a printed number marks a measurement, which changes from run to run; everything else a
# cell prints is the same on every run.

# %%
import time

import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import grade
from zguide_py.patterns import lazypirate, mtserver, reqrep
from zguide_py.views import mtserver as mt_views
from zguide_py.widgets import Panel, adder

lab = Lab("threads")

# %% [markdown]
# ## 1. A PAIR pipe, one call per cell
#
# Two PAIR sockets make a pipe with exactly two ends, and messages go both ways. Over `inproc://` it
# is how one thread tells another "I'm ready" or "stop". Here the notebook holds both ends.

# %%
pipe = lab.socket(zmq.PAIR)
pipe.bind("inproc://pipe")

# %%
other = lab.socket(zmq.PAIR)
other.connect("inproc://pipe")
other.send(b"READY")

# %%
pipe.recv()

# %%
pipe.send(b"thanks")          # a PAIR pipe works both ways
other.recv()

# %% [markdown]
# A third PAIR that connects to the same endpoint is refused: a PAIR takes one peer and no more. Its
# send either fails at once (it has nobody to send to) or goes into a connection that `pipe` then
# refuses. Either way nothing reaches `pipe`:

# %%
stray = lab.socket(zmq.PAIR, sndtimeo=0)
stray.connect("inproc://pipe")
try:
    stray.send(b"me too")
except zmq.Again:
    pass                       # no peer to send to
pipe.poll(200)                 # 0: nothing arrived from the stray

# %% [markdown]
# **Why PAIR and not PUSH/PULL for a signal?** PUSH deals its messages round-robin to every PULL
# connected to it. If a second receiver connects by mistake (a thread started twice, or a leftover
# from an earlier run of a cell), it silently takes half of the signals, and the thread that waits
# for them misses those. PAIR refuses the second connection, so the right pair keeps working. Ten
# signals, sent to two receivers that both connected:

# %%
def signals_received(kind_out, kind_in, endpoint):
    """Send 10 signals from one socket to two receivers that both connected; what each one got."""
    sender = lab.socket(kind_out)
    sender.bind(endpoint)
    receivers = [lab.socket(kind_in) for _ in range(2)]
    for receiver in receivers:
        receiver.connect(endpoint)
    for n in range(10):
        sender.send(f"signal {n}".encode(), zmq.NOBLOCK)
    got = []
    for receiver in receivers:
        n = 0
        while receiver.poll(100):
            receiver.recv()
            n += 1
        got.append(n)
    return got


push = signals_received(zmq.PUSH, zmq.PULL, "inproc://push-signals")
pair = signals_received(zmq.PAIR, zmq.PAIR, "inproc://pair-signals")
print("signals each receiver got: PUSH to two PULLs", push, "| PAIR with two PAIRs", pair)
verdict(push == [5, 5], "PUSH dealt the signals out: each receiver got half, and missed the other half.")
verdict(pair == [10, 0], "PAIR kept its first peer: it got all 10 signals, and the second connection was refused.")
assert push == [5, 5] and pair == [10, 0]

# %% [markdown]
# PAIR is made for this. libzmq's manual says PAIR sockets are designed for `inproc://` between threads
# and do not do what a network needs, such as reconnecting by themselves; between processes, use the
# other socket types.
#
# ## 2. The relay: bind first, then start the thread that connects
#
# The guide's relay has three steps, each a thread. Step 3 binds a PAIR and only then starts step 2;
# step 2 binds a PAIR of its own and starts step 1; step 1 connects to step 2 and signals READY; step
# 2 then connects to step 3 and passes the signal on. Each step here is a lab peer (a thread), so
# the lab can kill it, and what it does is recorded as events. `relay_step` starts the step before
# it with `peer.lab.start`, the lab's way of starting a thread.

# %%
show_source(mtserver.relay_step)

# %%
since = lab.now()
lab.start("step3", mtserver.relay_step, step=3)
lab.wait_for(lambda: lab.peer("step3").data.get("done"), timeout=5, what="the signal to reach step 3")
for name in ("step1", "step2", "step3"):
    lab.wait_done(name, timeout=5)
relay_events = lab.events_of(since=since)
for t, step, what in mt_views.relay_story(relay_events):
    print(f"~{(t - since) * 1000:.2f} ms  {step}  {what}")

# %%
verdict(mt_views.bound_before_started(relay_events),
        "Each step bound its PAIR before it started the thread that connects to it.")
verdict(all(lab.peer(n).state == "done" for n in ("step1", "step2", "step3")),
        "The signal went from step 1 through step 2 to step 3, and every step's thread ended.")
assert mt_views.bound_before_started(relay_events)

# %% [markdown]
# Why bind first? Since libzmq 4, an `inproc://` connect may come before the bind (notebook 00 shows
# it), so the order is no longer needed for the message to arrive. It still makes the program easier
# to reason about: the parent chooses the endpoint's name and creates it before anyone needs it, so a
# child thread never looks for an endpoint that is not there yet (or never will be, after a typo).
#
# ## 3. The multithreaded server
#
# Clients (REQ) connect to the server's ROUTER **frontend** over tcp. `zmq.proxy` passes each
# request, with the client's identity in front (its envelope), to a DEALER **backend** bound on
# `inproc://workers`. The DEALER deals requests round-robin to the **worker threads**, each with a REP
# socket of its own. REP takes the envelope off, the worker sees only the request, and REP puts the
# envelope back on the reply, which the proxy passes back to the ROUTER, which routes it to its
# client. It is notebook 05's simple balancer, with the workers inside the server as threads and the
# broker loop written in C.
#
# * `worker` is a plain REP loop. Each worker thread is a lab peer: kill it, slow it down with the
#   throttle, add more.
# * `server` binds the frontend and the backend, then runs `zmq.proxy` in **a thread of its own**.
#
# **How does a kill end the proxy?** `zmq.proxy` runs in C and never returns by itself; it cannot call
# `peer.poll`, so the lab's kill does not reach it. There are three ways to stop it:
#
# * close its sockets from another thread: that breaks the rule of section 5 (a socket belongs to one
#   thread) and can crash the process;
# * end the context (`ctx.term()`): every blocking call in every thread then fails with
#   `ContextTerminated`. That is how a whole program stops (`examples/mtserver.py` does it on the way
#   out), but the lab's context is shared by every peer: it would stop them all;
# * **`zmq.proxy_steerable` with a control socket**: send it `TERMINATE`, as a message, and it
#   returns. This is the one we use: a thread is told to stop the same way it is told anything else.
#
# So the server's own thread keeps the other end of a PAIR pipe to the proxy's control socket. Every
# 0.2 s it asks the proxy for `STATISTICS` (the counts of frames in and out, shown in its panel row);
# when the lab kills it, it sends `TERMINATE` and waits for the proxy's thread to end. The frontend,
# backend and control sockets belong to the proxy's thread while it runs, and come back to the
# server's thread, which closes them, only once the proxy has returned. (Keep the sending end open
# until then: with libzmq 4.3.5 we saw a proxy miss about one `TERMINATE` in three when the socket
# that sent it was closed straight away.)

# %%
show_source(mtserver.worker, mtserver.run_proxy, mtserver.server)

# %% [markdown]
# A server with two worker threads, and four requests from the notebook:

# %%
front = lab.endpoint("frontend", "tcp")           # a free port on 127.0.0.1
back = lab.endpoint("workers")                     # inproc://workers
lab.start("server", mtserver.server, frontend=front, backend=back)
for name in ("worker1", "worker2"):
    lab.start(name, mtserver.worker, endpoint=back)
connected = lab.wait_for(lambda: all(lab.peer(w).data.get("connected") for w in ("worker1", "worker2")),
                         timeout=5, what="both workers connected")

# %%
# NBVAL_IGNORE_OUTPUT
req = lab.socket(zmq.REQ, rcvtimeo=2000)
req.connect(front)
for n in range(4):
    req.send(f"hello {n}".encode())
    print(req.recv())
print("requests each worker thread answered:", {w: lab.peer(w).get("replies") for w in ("worker1", "worker2")})

# %% [markdown]
# Round-robin: each worker took every other request. Now kill the server, and watch its proxy thread
# go with it:

# %%
proxy = lab.peer("server").data["proxy"]
started = time.monotonic()
lab.kill("server")
print(f"the kill took ~{(time.monotonic() - started) * 1000:.1f} ms")
verdict(not proxy.is_alive(), "The proxy's thread ended with the server: TERMINATE reached it as a message.")
assert not proxy.is_alive()
req.close(linger=0)
for name in ("server", "worker1", "worker2"):
    lab.remove(name)

# %% [markdown]
# ## 4. A scripted run: four clients, and worker threads killed
#
# Four Lazy Pirate clients (notebook 09) send 70 requests each, one every ~10 ms; each waits 0.5 s
# for a reply, then sends the request again on a fresh socket. Three workers take 10 ms per request.
# The schedule:
#
# * 0.5 s: kill worker1; 0.8 s: add worker4;
# * 1.1 s: kill worker2; 1.4 s: restart worker1;
# * 1.7 s: kill worker3.
#
# **What can a kill lose?** A killed worker's REP socket closes with linger 0. Lost with it are the
# request it was working on and any the backend had already dealt to it, waiting in its queue; with
# clients that wait for each reply before sending again, that is at most one request per client.
# Requests dealt after the kill go to the workers still alive. A worker sees its kill within one
# slice of the lab (50 ms), so a request dealt to it in that moment may still be answered, or lost.
# So the claim to check: **a request is lost only if it was in flight at a kill** (sent before the
# kill took effect, not answered when it came), and the Lazy Pirate client sends it again.

# %%
TIMEOUT = 0.5
CLIENTS = ["client1", "client2", "client3", "client4"]
WORKERS = ["worker1", "worker2", "worker3", "worker4"]
for name in WORKERS[:3]:
    lab.start(name, mtserver.worker, endpoint=back, work=0.01)
lab.start("server", mtserver.server, frontend=front, backend=back)
kills = Scenario("worker threads killed and added") \
    .at(0.5, "kill", "worker1").at(0.8, "start", "worker4", mtserver.worker, endpoint=back, work=0.01) \
    .at(1.1, "kill", "worker2").at(1.4, "restart", "worker1").at(1.7, "kill", "worker3")
for name in CLIENTS:
    kills.at(0, "start", name, lazypirate.client, endpoint=front, requests=70, pause=0.01,
             timeout=TIMEOUT, retries=6)
print(kills.describe())

# %%
report = lab.run(kills, seconds=30, until=lambda: all(n in lab.peers and not lab.peer(n).alive for n in CLIENTS))
report

# %% [markdown]
# The verdict: every request of every client, and every request that needed a second try, matched
# with the kills.

# %%
tally = lazypirate.tally(lab, CLIENTS)
cost = mt_views.kill_cost(report, CLIENTS, WORKERS, timeout=TIMEOUT)
killed = [(e.t, e.peer) for e in report.events if e.kind == "kill"]
per_kill = cost.per_kill()
print(f"requests: {tally.requests}; sent again after a timeout: ~{len(cost.resent)}")
print("requests in flight at each kill, sent again:",
      ", ".join(f"{worker} at ~{t:.2f} s: ~{per_kill.get((t, worker), 0)}" for t, worker in killed))
verdict(tally.ok and tally.abandoned == 0 and tally.answered == 280,
        "All 280 requests were answered exactly once: none lost for good, none answered twice.")
verdict(not cost.unexplained, "Every request that needed a second try was in flight at a kill: nothing else was lost.")
assert tally.ok and tally.abandoned == 0 and tally.answered == 280 and not cost.unexplained
assert not report.errors and all(step.error is None for step in report.steps)

# %%
mt_views.kills_figure(report, CLIENTS, WORKERS, cost, title="The multithreaded server: worker threads killed and added")

# %% [markdown]
# **Reading the figure.** At the top, each worker's replies per second. A killed worker's line drops
# to zero; the others carry on, each a little busier; worker4 joins at 0.8 s and worker1 comes back
# at 1.4 s. At the bottom, a row per client: a grey tick for each request answered at the first try,
# and an orange bar from the first try to the reply for each request that had to be sent again.
# Every orange bar starts just before a kill (its request was in flight there) and lasts about one
# timeout, 0.5 s: the client waited, gave up on that socket, sent again, and a live worker answered
# at once. Nothing else was lost: the server went on serving through every kill.
#
# Without Lazy Pirate, those requests would be lost for good: a plain REQ client would wait for ever
# (the exercise below counts how many). Note too that each request here waited on one client only:
# REQ sends one request at a time. A DEALER client with many requests out could lose more than one to
# a single kill.
#
# ## 5. One socket, one thread
#
# A libzmq socket is **not thread-safe**. Its state (the message it is putting together, its queues,
# its connections) is changed by whichever thread calls it, without a lock. Two threads that use one
# socket at the same time can corrupt that state, and the process may crash. There is also a plainer
# problem: a multi-part message is sent frame by frame, so another thread's frames can end up in the
# middle of it.
#
# The rule is: **a socket belongs to the thread that uses it**. A socket may move to another thread
# if the first one has stopped using it, with a full memory barrier in between (starting or joining a
# thread is one); that is how the server above hands its three sockets to the proxy's thread and
# takes them back. Everything else goes through messages.
#
# To see what breaking the rule does without risking this notebook, `senders` runs in **child
# processes**: two threads send 2,000 three-frame messages each to one PULL socket, once with a PUSH
# socket each ("owned"), and three times through one shared PUSH socket ("shared"). Each thread lets
# the other run between its frames (`time.sleep(0)`), as a busy program does now and then at random;
# that makes the race show within a second instead of one time in many thousands.

# %%
show_source(mtserver.senders)

# %%
runs = mtserver.trials(["owned", "shared", "shared", "shared"], messages=2000)

# %%
# NBVAL_IGNORE_OUTPUT
for run in runs:
    if run.outcome == "crashed":
        print(f"{run.mode:>6}: the whole process crashed: {run.how}")
    elif run.outcome == "hung":
        print(f"{run.mode:>6}: the process hung, and was killed ({run.how})")
    else:
        print(f"{run.mode:>6}: {run.intact} messages arrived intact, {run.mixed} mixed")

# %%
owned = [run for run in runs if run.mode == "owned"]
shared = [run for run in runs if run.mode == "shared"]
print(f"the shared socket, {len(shared)} runs: ~{sum(r.outcome == 'crashed' for r in shared)} crashed the process, "
      f"~{sum(r.outcome == 'mixed' for r in shared)} delivered mixed messages, "
      f"~{sum(r.outcome == 'hung' for r in shared)} hung")
verdict(all(run.outcome == "intact" and run.intact == run.sent == 4000 for run in owned),
        "With a socket per thread, all 4,000 messages arrived intact.")
verdict(all(run.went_wrong for run in shared),
        "With one socket shared by two threads, every run went wrong: messages mixed, or the process crashed.")
assert all(run.outcome == "intact" for run in owned) and all(run.went_wrong for run in shared)

# %% [markdown]
# The crashes are libzmq's own checks failing (an assertion such as `check ()` in `msg.cpp`), or the
# memory allocator finding its data corrupted. Without the `time.sleep(0)`, the same mixing happened
# here in 20 to 260 of every 10,000 messages sent with `send_multipart`: rarely, which is worse,
# because it passes the tests and fails later. A lock around every use of the socket would prevent
# it, but then the threads share something again; the ZeroMQ way is a socket per thread, and
# messages between them.
#
# ## 6. Play with it
#
# A lab of its own for you: the server, three worker threads (5 ms per request) and two Lazy Pirate
# clients that never stop (a request every 20 ms, a 0.25 s timeout). Things to try:
#
# * **kill a worker**: a client may retry a request, and the other workers carry on;
# * **slow one down** past 0.25 s per request: round-robin keeps dealing requests to it, they wait in
#   its queue, and clients time out and retry (notebook 05's LRU broker avoids that);
# * **add workers** with the button;
# * **kill the server**: everything stops. **Restart it**: still nothing! The workers' `inproc://`
#   connections ended with the old server, and inproc does not reconnect. Restart each worker (or add
#   new ones) and replies flow again. In a real program the server and its threads live and die
#   together, as one process.
#
# The server's row shows the proxy's counts of frames from and to the clients (`frames_in`,
# `frames_out`: three a request, identity, delimiter and body); its slider does nothing (the proxy
# runs in C and never calls `peer.throttle`). This lab stays open after the notebook ends; re-running
# the cell starts it afresh.

# %%
def playground(name):
    """The multithreaded server, three worker threads and two clients that never stop, under a panel."""
    play = Lab(name)
    frontend, backend = play.endpoint("frontend", "tcp"), play.endpoint("workers")
    play.start("server", mtserver.server, frontend=frontend, backend=backend)
    add_worker = adder("worker", mtserver.worker, endpoint=backend, work=0.005)
    for _ in range(3):
        add_worker(play)
    for client in ("client1", "client2"):
        play.start(client, lazypirate.client, endpoint=frontend, requests=10**6, pause=0.02)
    return play, Panel(play, counters=["replies", "retries"], max_throttle=1.0, actions={"add worker": add_worker},
                       title="The multithreaded server: kill, slow down and add worker threads")


play, panel = playground("threads-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried these buttons for you on a twin of this lab, so your panel is fresh (the code
# is folded). An added worker got requests; with a worker killed, the clients were still answered; a
# worker slowed past the timeout made the clients retry; a restarted server served nobody until its
# workers were restarted too.

# %%
# FOLDED
rehearsal, twin = playground("threads-rehearsal")
clients = [rehearsal.peer(name) for name in ("client1", "client2")]


def replies():
    return sum(client.get("replies") for client in clients)


def more_replies(n, what):
    target = replies() + n
    return rehearsal.wait_for(lambda: replies() >= target, timeout=5, what=what)


more_replies(10, "the first replies")
twin.action_buttons["add worker"].click()
worker4 = rehearsal.peer("worker4")
verdict(rehearsal.wait_for(lambda: worker4.get("replies") >= 3, timeout=5, what="worker4's replies"),
        "The added worker4 got requests.")
twin.rows["worker2"].kill.click()
verdict(more_replies(20, "replies with worker2 dead"), "With worker2 killed, the clients were still answered.")

retries_before = sum(client.get("retries") for client in clients)
twin.rows["worker1"].throttle.value = 0.5                 # slower than the clients' 0.25 s timeout
verdict(rehearsal.wait_for(lambda: sum(c.get("retries") for c in clients) >= retries_before + 2, timeout=5,
                           what="retries"), "A worker slower than the timeout made the clients retry.")
twin.rows["worker1"].throttle.value = 0

twin.rows["server"].kill.click()
twin.rows["server"].restart.click()
stalled = replies()
rehearsal.run(seconds=0.6)                                # a window in which nothing may arrive
orphaned = replies() == stalled
for name in ("worker1", "worker3", "worker4"):
    twin.rows[name].restart.click()
verdict(orphaned and more_replies(10, "replies after the workers' restart"),
        "The restarted server answered nobody until its workers were restarted too: inproc does not reconnect.")
assert orphaned and not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * Threads that own their sockets and talk only through messages need no locks. `inproc://` is the
#   transport between them, and PAIR the socket for a pipe between two of them.
# * The multithreaded server is a ROUTER-DEALER proxy with REP worker threads behind it. A worker's
#   kill loses the requests it held, and only those; a Lazy Pirate client sends them again.
# * `zmq.proxy` never returns by itself: we stop it with a message, through `zmq.proxy_steerable`.
# * A socket belongs to one thread. Shared, it mixes messages or crashes the process.
#
# **Questions**
# 1. Why does the server keep its own end of the control pipe, instead of letting the proxy's thread
#    run `zmq.proxy` with no way to stop it? What would `lab.kill("server")` do then?
# 2. The workers connect to `inproc://workers`. Why do they not come back by themselves when the server
#    restarts, as a tcp connection would?
# 3. A worker is killed while the backend has dealt it five requests from a DEALER client that keeps
#    many requests out at once. How many requests are lost? What would the client need, to notice?
# 4. When a peer is stuck outside ZeroMQ (in a `time.sleep(60)`, say), `Lab.close` closes that peer's
#    sockets from the main thread, as a last resort. Why is that safe only because the stuck thread is
#    not inside a ZeroMQ call at that moment?
#
# **Exercise.** A server with three worker threads: worker1 is throttled to 0.5 s per request, the
# other two answer at once. Six **plain** REQ clients (no Lazy Pirate) send requests one after the
# other. Shortly after worker1 starts its second request, worker1 is killed. How many of the six
# clients are left waiting for a reply that will never come? Put your prediction in `my_guess`, run
# that cell, then the check (the experiment in between is folded away).

# %%
my_guess = None      # how many clients of six wait for ever, e.g. 2

# %%
# FOLDED
with Lab("threads-exercise") as ex:
    ex_front, ex_back = ex.endpoint("frontend", "tcp"), ex.endpoint("workers")
    ex.start("server", mtserver.server, frontend=ex_front, backend=ex_back)
    for i in (1, 2, 3):
        ex.start(f"worker{i}", mtserver.worker, endpoint=ex_back, throttle=0.5 if i == 1 else 0.0)
    ex_clients = [f"client{i}" for i in range(1, 7)]
    for name in ex_clients:
        ex.start(name, reqrep.client, endpoint=ex_front, requests=10**6, timeout=1.0)
    ex.wait_for(lambda: ex.peer("worker1").get("requests") >= 2, timeout=5, what="worker1's second request")
    ex.wait_quiet(lambda: sum(ex.peer(n).get("replies") for n in ex_clients), quiet=0.1, timeout=5)
    ex.kill("worker1")
    ex.wait_for(lambda: all("stuck_on" in ex.peer(n).data for n in ex_clients)
                or all(ex.peer(n).get("replies") > 50 for n in ex_clients), timeout=5, what="the clients' fate")
    answer = sum("stuck_on" in ex.peer(n).data for n in ex_clients)
    assert answer == 6 and ex.peer("worker1").get("replies") == 1 and not ex.errors()

# %%
print(grade(my_guess, answer))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **All six.** The backend's DEALER deals requests round-robin, without asking who is free: every third
# request goes to worker1. A client served by a fast worker sends its next request at once, and within
# a few milliseconds its request, too, lands at worker1 and waits there. So almost all the time, all
# six requests sit at worker1: the one it works on, and five in its queue, while the two fast workers
# have nothing to do. Killing worker1 loses all six, and a plain REQ client cannot even ask again
# (notebook 01). Here the clients stop after a 1 s timeout; without one they would wait for ever. A
# Lazy Pirate client would send again after its timeout; a broker that deals only to free workers
# (notebook 05's LRU) would not have queued five requests at a slow worker in the first place.
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/mtserver.py` is the multithreaded server: worker threads with REP sockets behind
# `zmq.proxy_steerable`, stopped by a `TERMINATE` message after `--seconds` (or by Ctrl-C), then by
# ending the context, which each worker thread notices in its `recv`. `examples/mtrelay.py` is the PAIR
# relay, with as many steps as you like. The workbook's clients work against the script's server:
#
# ```sh
# python examples/mtserver.py --workers 4
# python examples/hwclient.py --count 20
# python -m zguide_py run lazypirate.client --connect tcp://127.0.0.1:5555 requests=20
# python examples/mtrelay.py --steps 5
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('mtserver')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [23 · Proxies](23_proxies.ipynb).
