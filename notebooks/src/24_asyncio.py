# Source of notebooks/24_asyncio.ipynb - build with: python tools/nbbuild.py notebooks/src/24_asyncio.py
# %% [markdown]
# # 24 · zmq.asyncio: the same patterns with `async def`
#
# *Where this sits: before this, [23 · Proxies](23_proxies.ipynb); next, [25 · Clone, grown
# up](25_clone_reliable.ipynb). In the guide,
# chapter 4, [Client-Side Reliability (Lazy Pirate
# Pattern)](https://zguide.zeromq.org/docs/chapter4/) and [Service-Oriented Reliable Queuing (Majordomo
# Pattern)](https://zguide.zeromq.org/docs/chapter4/); in pyzmq's documentation,
# [zmq.asyncio](https://pyzmq.readthedocs.io/en/latest/api/zmq.asyncio.html). Words used here:
# [event loop](glossary.ipynb#Event-loop), [heartbeat](glossary.ipynb#Heartbeat),
# [liveness](glossary.ipynb#Liveness), [context](glossary.ipynb#Context) (all in the
# [glossary](glossary.ipynb)).*
#
# **The problem:** every notebook so far ran its roles as plain threads that block in `poll` and
# `recv`. A lot of today's Python does not look like that. Web frameworks, HTTP clients, database
# drivers and Jupyter itself run on **asyncio**: one thread, one [event loop](glossary.ipynb#Event-loop),
# and many `async def` coroutines that take turns, each handing the thread back at every `await`. A
# plain `sock.recv()` inside such a program does not hand anything back: it holds the thread, and every
# other coroutine on that loop stops until a message arrives.
#
# **pyzmq's answer** is `zmq.asyncio`: the same sockets, whose `send`, `recv` and `poll` return
# awaitables. The patterns do not change; only the waiting does. This notebook shows it on two patterns
# you know, side by side with their thread versions and against the same peers:
#
# * the **Lazy Pirate** client (09) against the same REP server, killed three times;
# * a **Majordomo worker** (12) behind the same broker, killed and restarted, heartbeating.
#
# ```mermaid
# flowchart LR
#     TC["thread_client<br/>REQ (connect)<br/>a plain thread"] -- "'thread_client:17' / echo" --> S["server<br/>REP (bind, tcp)"]
#     AC["async_client<br/>REQ (connect)<br/>an event loop"] -- "'async_client:17' / echo" --> S
#     TW["thread_worker<br/>DEALER (connect)"] -- "MDPW01 READY / REPLY / HEARTBEAT" --> B["broker<br/>ROUTER (bind, tcp)"]
#     AW["async_worker<br/>DEALER (connect)<br/>+ a heartbeat task"] -- "the same frames" --> B
#     C["client<br/>REQ (connect)"] -- "MDPC01 'echo'" --> B
# ```
#
# Then: what each style costs per message (measured), and the three traps of asyncio code: blocking
# the loop, the plain context, and the plain poller.
#
# (The guide's own asyncio ports of its examples are no help here: most are written with
# `@asyncio.coroutine`, which Python 3.11 removed.)
#
# A number printed after a `~` is a measurement: it changes from run to run. Everything else a cell
# prints comes out the same every time.

# %%
import asyncio
import inspect
import time

import zmq
import zmq.asyncio

from zguide_py import Lab, Peer, Scenario, live_labs, show_example, show_source, verdict
from zguide_py.exercise import passed
from zguide_py.patterns import asyncpatterns, lazypirate, majordomo, reqrep
from zguide_py.patterns.majordomo import worker_name
from zguide_py.plots import report_figure
from zguide_py.views import asyncpatterns as views
from zguide_py.views import majordomo as mdviews
from zguide_py.views import pirates
from zguide_py.widgets import Panel, adder

lab = Lab("asyncio")

# %% [markdown]
# ## 1. `await`, one call per cell
#
# Jupyter runs every cell inside an asyncio event loop, so a cell may `await` directly. A Lazy Pirate
# server (a plain thread role) starts in the lab; the notebook talks to it through a `zmq.asyncio`
# socket. Note the context: `zmq.asyncio.Context()`, not `zmq.Context()` (section 6 shows why).

# %%
endpoint = lab.endpoint("server", "tcp")
lab.start("server", lazypirate.server, endpoint=endpoint)
actx = zmq.asyncio.Context()                 # the notebook's own asyncio context (closed below)
areq = actx.socket(zmq.REQ)
areq.linger = 0
areq.connect(endpoint)
await areq.send(b"hello:0")                  # done: the request is queued, the cell goes on

# %%
await asyncio.wait_for(areq.recv(), timeout=2)   # awaits the reply, 2 s at most

# %% [markdown]
# `poll` is awaitable too: it resolves to the events that are ready (`1` is `zmq.POLLIN`), or to `0`
# when its timeout passes first. That is the Lazy Pirate's wait for a reply, without blocking anybody.

# %%
await areq.send(b"hello:1")
await areq.poll(2000)

# %%
await areq.recv()

# %%
areq.close()
actx.destroy(linger=0)

# %% [markdown]
# ## 2. How the lab runs an `async def` role
#
# A role written as `async def role(peer, ...)` runs in the lab like any other, with the same
# controls: start, kill, restart, throttle, the panel, `close()`. The lab had two ways to host it:
#
# * **one event loop per peer**, each in the peer's own thread (`asyncio.run` in that thread): *this
#   is the lab's choice*;
# * **one shared loop** in one thread, with every async peer a task on it.
#
# A shared loop is what a single asyncio program looks like, and it saves threads. But on a shared
# loop, one role that blocks (a `time.sleep`, a plain `recv`) freezes *every* async peer, and you
# could no longer tell which one was at fault, nor kill it. A loop per peer keeps peers apart, as
# processes on different machines are: a blocked role freezes only itself (section 6 shows it). And
# each peer's lifecycle stays exactly that of a thread role: kill the peer, join its thread, done.
# A lab has a handful of peers, so a thread each costs nothing worth saving.
#
# Inside the peer's thread, `_run_async` starts the role as a task and waits on it in slices of 50
# ms. When the lab kills the peer, it **cancels the task**: the role gets `CancelledError` at the
# `await` it is in (its `finally:` blocks run), then its sockets are closed while the loop still runs.
# So a kill lands within one slice, wherever the role awaits. A throttle is `await
# peer.athrottle()`, which sleeps on the loop. `peer.socket(...)` gives `zmq.asyncio` sockets on the
# lab's own context.

# %%
show_source(Peer._run_async)

# %% [markdown]
# Two things of the thread roles do not carry over. `peer.poll`, `peer.send` and `peer.sleep` block
# their thread: an async role uses `await sock.poll(ms)`, `await sock.send(...)` and `await
# asyncio.sleep(s)` instead, and needs no `while peer.running` either (the kill cancels it). And a
# role that blocks its loop can only be cancelled at its next `await`.
#
# ## 3. Lazy Pirate, thread and async
#
# The thread client from 09, then its async twin:

# %%
show_source(lazypirate.client, asyncpatterns.lazy_pirate_client)

# %% [markdown]
# Line by line, leaving out the docstrings and comments, this is all that differs (`-` thread, `+`
# async):

# %%
print(views.source_diff(lazypirate.client, asyncpatterns.lazy_pirate_client))

# %% [markdown]
# Every wait became an `await`, and the thread's kill checks went away: a kill cancels the task at
# its `await`. The close-and-reopen, the retries, the check that a reply echoes *this* request, and
# what the client records are the same, so `lazypirate.tally` judges both clients alike.
#
# **The run:** both clients at once, 150 requests each, one every ~15 ms, against one server. The
# server is killed three times between 0.5 s and 2.5 s (a seeded schedule, 0.2–0.5 s down each time).
# Each client waits 250 ms per try and makes up to 8 tries, 2 s in all: longer than any outage, so no
# request should be abandoned.

# %%
CLIENTS = ["thread_client", "async_client"]
TRIES = 8
kills = Scenario("server killed three times", seed=24) \
    .chaos(["server"], kills=3, start=0.5, end=2.5, downtime=(0.2, 0.5))
kills.at(0, "start", "thread_client", lazypirate.client, endpoint=endpoint, requests=150, pause=0.015,
         retries=TRIES)
kills.at(0, "start", "async_client", asyncpatterns.lazy_pirate_client, endpoint=endpoint, requests=150,
         pause=0.015, retries=TRIES)
print(kills.describe())
report = lab.run(kills, seconds=20, until=lambda: not any(lab.peer(n).alive for n in CLIENTS))

# %%
for name in CLIENTS:
    tally = lazypirate.tally(lab, [name])
    verdict(tally.ok and tally.answered == tally.requests == 150 and tally.abandoned == 0,
            f"{name}: all 150 requests were answered exactly once, none abandoned, none answered "
            "with another request's reply.")
    print(f"  (~{lab.peer(name).get('retries')} retries after a timeout)")
    assert tally.ok and tally.answered == 150 and lab.peer(name).get("retries") >= 1
print("async peers:", [name for name, peer in lab.peers.items() if peer.is_async])
assert not report.errors and all(step.error is None for step in report.steps)

# %%
pirates.requests_figure(report, CLIENTS, fault_peers=["server"],
                        title="Lazy Pirate: a thread client and an async client, one server killed three times")

# %% [markdown]
# The two clients live through the same outages in the same way: answers stop at each kill, a
# retry or more per client (a new socket each time), and the answers resume once the server is back.
# The server cannot tell them apart: the frames on the wire are the same.
#
# ## 4. A Majordomo worker, thread and async
#
# The thread worker of 12 does everything in one loop: it polls with a timeout of one heartbeat,
# answers requests, and sends a heartbeat when one is due. The async worker splits that in two
# **tasks** on its loop: the main loop polls and answers, and a small `heartbeats()` task beats every
# `heartbeat` seconds whatever the main loop is doing. `connect()` starts over on a new socket (after
# a DISCONNECT, or when the broker has been silent for `liveness` heartbeats), and the heartbeat task
# skips its beats while there is no socket. Its `work` may be a plain function or an `async def`.

# %%
show_source(majordomo.worker, asyncpatterns.mdp_worker)

# %% [markdown]
# **The run:** our Majordomo broker (a thread role) with one thread worker and one async worker of the
# `echo` service, heartbeat 100 ms, liveness 3; one client sends 250 requests, one every ~10 ms. The
# async worker is killed at 0.6 s and restarted at 1.2 s; the thread worker is killed at 1.6 s and
# restarted at 2.2 s.

# %%
HB = 0.1
broker_ep = lab.endpoint("broker", "tcp")
lab.start("broker", majordomo.broker, endpoint=broker_ep, heartbeat=HB, liveness=3)
WORKERS = ["thread_worker", "async_worker"]
mdp = (Scenario("each worker killed and restarted")
       .at(0, "start", "thread_worker", majordomo.worker, broker=broker_ep, heartbeat=HB, liveness=3)
       .at(0, "start", "async_worker", asyncpatterns.mdp_worker, broker=broker_ep, heartbeat=HB, liveness=3)
       .at(0.1, "start", "client", majordomo.client, broker=broker_ep, requests=250, interval=0.01,
           timeout=1.0, retries=5)
       .at(0.6, "kill", "async_worker").at(1.2, "restart", "async_worker")
       .at(1.6, "kill", "thread_worker").at(2.2, "restart", "thread_worker"))
print(mdp.describe())
mdp_report = lab.run(mdp, seconds=15, until=lambda: "client" in lab.peers and not lab.peer("client").alive)

# %%
removals = mdviews.removals(mdp_report.events)
ready = [e for e in mdp_report.events if e.kind == "worker ready" and e.peer == "broker"]
for name in WORKERS:
    delay = mdviews.removal_delay(mdp_report.events, name)
    again = [e for e in ready if worker_name(e.get("worker")) == name and e.t > 1.0]
    verdict(delay is not None,
            f"{name}: killed, it went silent, and the broker removed it ~{delay or 0:.2f} s later "
            f"({3 * HB:.1f} s is 3 heartbeats).")
    verdict(len(again) >= 1, f"{name}: restarted, it said READY and the broker took it back.")
client = lab.peer("client")
verdict(client.data["failed"] == [] and client.get("replies") == 250,
        "The client got all 250 replies, each the echo of its own request.")
gaps = [gap for _t, gap in lab.peer("async_worker").data["gaps"]]
print(f"the async worker sent ~{len(gaps)} heartbeats, at most ~{max(gaps):.3f} s apart")
assert client.data["failed"] == [] and client.get("replies") == 250 and len(removals) >= 2
assert not mdp_report.errors

# %%
report_figure(mdp_report, counters=["requests"], peers=WORKERS, ylabel="requests served per second",
              title="Majordomo: a thread worker and an async worker, each killed and restarted")

# %% [markdown]
# While one worker is dead the other takes the whole load; once the broker has removed the dead one
# (3 heartbeats later) no request waits for it. Each comes back with a new identity and a READY. The
# broker never knew which worker was which kind: the same frames, the same heartbeats.
#
# ## 5. What each style costs, measured
#
# The same REQ/REP pair twice over tcp: a thread client with a thread server (`reqrep.echo_server`),
# and an async client with an async server (`asyncpatterns.echo_server`). Each client makes as many
# round trips as it can for 0.5 s. Three rounds, the two styles taking turns (the order swaps each
# round), all in one run on one machine:

# %%
show_source(asyncpatterns.pinger)

# %%
thread_ep, async_ep = lab.endpoint("thread_echo", "tcp"), lab.endpoint("async_echo", "tcp")
lab.start("thread_echo", reqrep.echo_server, endpoint=thread_ep)
lab.start("async_echo", asyncpatterns.echo_server, endpoint=async_ep)
styles = {"thread": (asyncpatterns.thread_pinger, thread_ep), "async": (asyncpatterns.pinger, async_ep)}
rounds = []
for r in range(1, 4):
    rate = {}
    for style in (["thread", "async"] if r % 2 else ["async", "thread"]):
        role, ep = styles[style]
        peer = lab.start(f"{style}_pinger{r}", role, endpoint=ep, seconds=0.5)
        lab.wait_done(peer.name, timeout=10)
        rate[style] = peer.data["rate"]
    rounds.append((rate["thread"], rate["async"]))
    print(f"round {r}: thread ~{rate['thread']:,.0f} round trips/s, async ~{rate['async']:,.0f} round trips/s")
middle, low, high = views.ratio(rounds)
print(f"async / thread: ~{middle:.2f} (from ~{low:.2f} to ~{high:.2f} over {len(rounds)} rounds)")
assert all(t > 0 and a > 0 for t, a in rounds)

# %%
views.rates_figure(rounds, title="The same REQ/REP pair over tcp: thread roles and async roles")

# %% [markdown]
# **Reading it.** Each round trip is the same work for libzmq. What the async pair adds is Python:
# every `await` goes through the event loop (a future, a callback, a reader on the socket's file
# descriptor), and that costs more than the thread's direct call. So the async pair makes fewer round
# trips per second, here roughly the ratio printed above, on every round. On a busy machine the
# rounds vary, which is why the styles take turns and the ratio is given with its spread.
#
# **When to choose which:**
#
# * **asyncio** when your program already has a loop (a web service, Jupyter, any asyncio library),
#   or when one thread must wait on many things at once: sockets, timers, HTTP calls. Each becomes
#   a task, with no poller to write; `asyncio.wait_for` and cancellation give every wait a bound.
# * **plain sockets in threads** for a tight message loop where the cost per message matters: a
#   broker, a proxy, a pipeline stage. The thread pair above made more round trips per second.
# * Either way Python runs one thread at a time (the GIL): for work that needs many cores, use
#   processes (17). And the two styles mix freely: every run here had thread and async peers talking.
#
# ## 6. The traps
#
# ### Never block the loop
#
# A coroutine that calls something blocking, such as `time.sleep`, a plain socket's `recv`, or a
# slow library call, holds the thread, and no other task on its loop runs until the call returns.
# For the async worker, that other task is its heartbeat. Two async workers, each 0.6 s per request:
# one `await`s its wait, the other calls `time.sleep`. The broker forgets a worker after 3 silent
# heartbeats (0.3 s). Both run at the same time, for 2 s, each with a client that keeps asking:

# %%
def blocking_echo(body):
    time.sleep(0.6)                   # holds the thread: nothing else on this loop runs
    return body


async def awaiting_echo(body):
    await asyncio.sleep(0.6)          # hands the loop back: the heartbeat task runs meanwhile
    return body


trap = Scenario("0.6 s per request, awaited or blocking")
for kind, work in (("awaits", awaiting_echo), ("blocks", blocking_echo)):
    trap.at(0, "start", f"{kind}_worker", asyncpatterns.mdp_worker, broker=broker_ep, service=kind,
            heartbeat=HB, liveness=3, work=work)
    trap.at(0.05, "start", f"{kind}_client", majordomo.client, broker=broker_ep, service=kind,
            requests=100, timeout=5.0, retries=1)
trap_report = lab.run(trap, seconds=2.0)

# %%
trap_removals = {name: [t for t, who, why in mdviews.removals(trap_report.events) if who == name and why == "silent"]
                 for name in ("awaits_worker", "blocks_worker")}
trap_gaps = {name: [(t - trap_report.start, gap) for t, gap in lab.peer(name).data["gaps"]]
             for name in trap_removals}                   # (seconds since the run started, gap)
longest = {name: max(gap for _t, gap in points) for name, points in trap_gaps.items()}
verdict(not trap_removals["awaits_worker"] and longest["awaits_worker"] < 0.3,
        f"awaits_worker: heartbeats at most ~{longest['awaits_worker']:.2f} s apart; never removed.")
verdict(len(trap_removals["blocks_worker"]) >= 1 and longest["blocks_worker"] >= 0.55,
        f"blocks_worker: silent for up to ~{longest['blocks_worker']:.2f} s; removed, alive and working.")
print(f"replies in 2 s: awaits ~{lab.peer('awaits_client').get('replies')}, "
      f"blocks ~{lab.peer('blocks_client').get('replies')}")
for name in ("awaits_worker", "blocks_worker", "awaits_client", "blocks_client"):
    lab.remove(name)

# %%
views.gaps_figure(trap_gaps, patience=3 * HB, removals=trap_removals,
                  title="Two async workers, 0.6 s per request: awaited or blocking")

# %% [markdown]
# The blocking worker's heartbeats come 0.6 s apart, twice the broker's patience, so the broker
# removes it and hands its request back to the queue. When the worker wakes, its reply comes from a
# worker the broker no longer knows, and is dropped (with a DISCONNECT); the worker registers again,
# is given the same request, blocks again... It works all the time and its client gets next to
# nothing. The awaiting worker is as slow, and nobody doubts it is alive. Each worker had a loop of
# its own, so the blocked one did not slow the other (on a shared loop it would have frozen both).
#
# The same trap, in this notebook's own loop: a ticker task that wants to tick every 10 ms, while a
# cell waits 0.3 s in two ways.

# %%
async def ticks_while(wait):
    """Start a ticker task on this notebook's loop, call ``wait()`` (and await it, if it gives an
    awaitable), and count how often the ticker got to run meanwhile (at most every 10 ms)."""
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)                 # let the ticker start
    result = wait()
    if inspect.isawaitable(result):
        await result
    task.cancel()
    return ticks


print(f"await asyncio.sleep(0.3): the ticker ran ~{await ticks_while(lambda: asyncio.sleep(0.3))} times")
print(f"time.sleep(0.3):          the ticker ran {await ticks_while(lambda: time.sleep(0.3))} times")

# %% [markdown]
# If you must call something that blocks, run it in a thread and await that:
# `await asyncio.to_thread(blocking_call, args)`. The exercise below asks you to do exactly that.
#
# ### `zmq.asyncio.Context`, not `zmq.Context`
#
# A socket made by a plain `zmq.Context()` is a plain socket: its `recv` does not return an
# awaitable, it *blocks* until a message comes and returns the bytes. Inside a coroutine that is the
# trap above (the whole loop waits), followed by a `TypeError`, because the bytes cannot be awaited.
# Safely, with the reply already there so that the `recv` cannot block (a `poll` first):

# %%
plain = lab.socket(zmq.REQ)                     # lab.socket: the lab's plain zmq.Context
plain.connect(endpoint)
plain.send(b"plain:0")
plain.poll(2000)                                # the reply is here: recv below returns at once
try:
    await plain.recv()
except TypeError as exc:
    print("TypeError:", exc)
plain.close()

# %% [markdown]
# Had the reply not been there, that `recv` would have frozen this notebook's loop until it came. The
# cure is the asyncio context: `zmq.asyncio.Context()` in your own code, or
# `zmq.asyncio.Context.shadow(ctx)` to make asyncio sockets on a context you already have (that is
# what `peer.socket` does for an async role, so that `inproc://` still reaches every peer of the lab).
# One more rule: an asyncio socket belongs to the loop, and so the thread, that first used it.
#
# ### The poller
#
# `zmq.Poller().poll(timeout)` blocks like a plain `recv`: waiting on several sockets in a coroutine
# needs `zmq.asyncio.Poller`, whose `poll` is awaited. (Often you need no poller at all: a task per
# socket, each awaiting its own `recv`, does the same job.) The ticker again, while each poller waits
# 0.3 s on a socket that receives nothing:

# %%
with zmq.asyncio.Context() as pctx, pctx.socket(zmq.PULL) as quiet:
    quiet.linger = 0
    quiet.bind("inproc://nothing-comes")
    plain_poller, async_poller = zmq.Poller(), zmq.asyncio.Poller()
    plain_poller.register(quiet, zmq.POLLIN)
    async_poller.register(quiet, zmq.POLLIN)
    print(f"zmq.asyncio.Poller, awaited: the ticker ran ~{await ticks_while(lambda: async_poller.poll(300))} times")
    print(f"zmq.Poller:                  the ticker ran {await ticks_while(lambda: plain_poller.poll(300))} times")

# %% [markdown]
# ## 7. Play with it
#
# A lab of its own for you: a Majordomo broker, two **async** workers and a client that keeps asking.
# Its heartbeat is 0.25 s, slower than above, so a busy machine is not taken for a dead worker: the
# broker's patience is 3 heartbeats, 0.75 s. Kill an async worker: the broker forgets it after 3
# silent heartbeats and the other takes the load; restart it and it registers again. Slide a
# worker's throttle up to 1 s per request, more than that patience: unlike the thread worker of 12,
# it is never forgotten, because its heartbeat task goes on while it awaits the
# throttle (slow is not dead). **add async worker** starts one more. The broker's row says which
# workers it knows; the plot shows the requests each worker serves and the client's replies. This lab
# stays open after the notebook ends; re-running the cell starts it afresh.

# %%
PLAY_HB = 0.25


def playground(name):
    """A broker, two async workers and a client that never stops, in a lab of their own, under a panel."""
    play = Lab(name)
    broker = play.endpoint("broker", "tcp")
    play.start("broker", majordomo.broker, endpoint=broker, heartbeat=PLAY_HB, liveness=3)
    for worker in ("worker1", "worker2"):
        play.start(worker, asyncpatterns.mdp_worker, broker=broker, heartbeat=PLAY_HB, liveness=3)
    play.start("client", majordomo.client, broker=broker, requests=10**6, interval=0.02, timeout=2.5,
               retries=10**6)
    add = adder("worker", asyncpatterns.mdp_worker, broker=broker, heartbeat=PLAY_HB, liveness=3)
    return play, Panel(play, counters=["requests", "replies"], max_throttle=1.0,
                       actions={"add async worker": add},
                       title="Majordomo with async workers: kill one, slow one, add one")


play, panel = playground("asyncio-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried the buttons on a twin of this lab, so your panel is fresh (the code is
# folded). A killed async worker was forgotten and the client went on through the other; restarted,
# it registered again. Slowed to 1 s per request, a worker kept its heartbeat and stayed. The add
# button started a third worker.

# %%
# FOLDED
rehearsal, twin = playground("asyncio-rehearsal")
broker, client = rehearsal.peer("broker"), rehearsal.peer("client")


def known(name):
    return any(worker_name(w) == name for w in broker.data["workers"])


rehearsal.wait_for(lambda: client.get("replies") >= 5 and known("worker1") and known("worker2"), timeout=5,
                   what="replies through both workers")
twin.rows["worker1"].kill.click()
rehearsal.wait_for(lambda: not known("worker1"), timeout=3, what="the broker to forget worker1")
before = client.get("replies")
rehearsal.wait_for(lambda: client.get("replies") >= before + 5, timeout=5, what="replies through worker2")
verdict(not known("worker1") and client.get("replies") >= before + 5,
        "Killed, async worker1 went silent and the broker forgot it; the client went on through worker2.")
twin.rows["worker1"].restart.click()
verdict(rehearsal.wait_for(lambda: known("worker1"), timeout=5, what="worker1's READY"),
        "Restarted, worker1 said READY and the broker took it back.")
twin.rows["worker2"].throttle.value = 1.0
served = rehearsal.peer("worker2").get("requests")
rehearsal.wait_for(lambda: rehearsal.peer("worker2").get("requests") >= served + 2, timeout=8,
                   what="two slow requests from worker2")
forgot = [why for w, why in broker.data["removed"] if worker_name(w) == "worker2"]
verdict(known("worker2") and not forgot,
        "Slowed to 1 s per request, async worker2 kept its heartbeat and the broker never forgot it.")
assert not forgot, f"the broker forgot worker2: {forgot}"
twin.rows["worker2"].throttle.value = 0
twin.action_buttons["add async worker"].click()
verdict(rehearsal.wait_for(lambda: known("worker3"), timeout=5, what="worker3's READY"),
        f"The button said '{twin.last_message}', and worker3 registered with the broker.")
assert not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 8. What you saw, and questions
#
# * `zmq.asyncio` sockets are pyzmq's sockets whose waits are awaited. The Lazy Pirate client and the
#   Majordomo worker kept their protocol, their checks and their verdicts; only the waiting changed.
# * The lab runs each `async def` role on an event loop of its own, in its own thread; a kill
#   cancels the role's task at its `await`, and a throttle is awaited.
# * An async worker can heartbeat from a task of its own, so a slow request does not make it look
#   dead, as long as it awaits. A blocking call stops every task on its loop: there, the heartbeat.
# * Per message, the async pair cost more than the thread pair (the ratio above). Choose asyncio for
#   programs that already have a loop or wait on many things; threads for tight message loops.
# * Traps: `time.sleep` and other blocking calls in a coroutine; `zmq.Context` instead of
#   `zmq.asyncio.Context`; `zmq.Poller` instead of `zmq.asyncio.Poller`.
#
# **Questions**
# 1. The async worker's heartbeat task beats even while a request is being worked on. When is that
#    what you want, and when would you rather the broker noticed a worker stuck on one request? (The
#    thread worker of 12 was forgotten when it froze.)
# 2. The Lazy Pirate client closes its REQ socket after a timeout. In the async client, what happens
#    to a reply that arrives for the closed socket? Is it any different from the thread client?
# 3. On a shared event loop with ten async workers, one of them calls `time.sleep(0.6)`. What does the
#    broker see?
#
# **Exercise.** A service must call `slow_upper`, a library function you cannot change, which blocks
# for 0.4 s. Write `my_work(body)` for an async Majordomo worker so that it returns what
# `slow_upper(body)` returns, **without blocking the worker's loop**. The folded cell runs a worker with
# your `my_work` behind a broker (heartbeat 100 ms, liveness 3) and asks it three times; the check
# wants the three right replies, no removal by the broker, and no gap of more than 0.25 s between
# heartbeats.

# %%
def slow_upper(body):
    """A library call you cannot change: 0.4 s of blocking work per request."""
    time.sleep(0.4)
    return [frame.upper() for frame in body]


my_work = None      # write: async def my_work(body): ...   (it must give back slow_upper(body))

# %%
# FOLDED
checks = [False, False, False]
if my_work is not None:
    with Lab("asyncio-exercise") as ex:
        ex_ep = ex.endpoint("broker", "inproc")
        ex.start("broker", majordomo.broker, endpoint=ex_ep, heartbeat=HB, liveness=3)
        ex.start("worker", asyncpatterns.mdp_worker, broker=ex_ep, service="upper", heartbeat=HB,
                 liveness=3, work=my_work)
        ex.start("client", majordomo.client, broker=ex_ep, service="upper", requests=3, timeout=1.5, retries=1)
        ex.wait_for(lambda: not ex.peer("client").alive, timeout=10, what="the client to finish")
        ex_gaps = [gap for _t, gap in ex.peer("worker").data.get("gaps", [])]
        checks = [ex.peer("client").get("replies") == 3,
                  not ex.peer("broker").data["removed"],
                  bool(ex_gaps) and max(ex_gaps) <= 0.25]

# %%
print(passed(checks))

# %% [markdown]
# <details><summary>Answer (open it after you have tried)</summary>
#
# Run the blocking call in a thread, and await that:
#
# ```python
# async def my_work(body):
#     return await asyncio.to_thread(slow_upper, body)
# ```
#
# `asyncio.to_thread` (Python 3.9 and later; before that, `loop.run_in_executor(None, slow_upper,
# body)`) hands the call to a pool thread and gives the loop an awaitable that completes when the call
# returns. Meanwhile the loop runs the heartbeat task, so the broker hears the worker every 100 ms.
# `async def my_work(body): return slow_upper(body)` passes none of the checks: the `async` keyword
# does not make a blocking call wait any differently. It still holds the loop for 0.4 s, more than the
# broker's 0.3 s of patience, so the broker gives the worker up before each reply, as it did the
# blocking worker of section 6, and the client gets nothing. (`time.sleep` releases the GIL; a
# CPU-bound call in a thread would still share it with the loop, which slows the loop but does not stop it.)
#
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/asyncpirate.py` is the Lazy Pirate client on `zmq.asyncio`, with no lab: `--clients N`
# runs N clients as tasks on one event loop in one thread, each with its own REQ socket, which is the
# kind of program asyncio suits. Point it at `examples/lpserver.py` (kill and restart the server while
# it runs) or at the workbook's server:
#
# ```sh
# python examples/lpserver.py --bind tcp://127.0.0.1:5555
# python examples/asyncpirate.py --clients 3 --count 20 --timeout 2.5 --retries 3
# ```
#
# It is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists every script.

# %%
show_example("asyncpirate")

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [25 · Clone, grown up: subtrees, ephemeral values and a pair of servers](25_clone_reliable.ipynb).
