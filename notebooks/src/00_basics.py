# Source of notebooks/00_basics.ipynb - build with: python tools/nbbuild.py notebooks/src/00_basics.py
# %% [markdown]
# # 00 · Basics: context, socket, message, fire-and-forget, transports
#
# *Where this sits: the start of the workbook; next, [01 · Request-reply](01_request_reply.ipynb); in the
# guide, chapter 1, [Basics](https://zguide.zeromq.org/docs/chapter1/); chapter 2, [Sockets and
# Patterns](https://zguide.zeromq.org/docs/chapter2/). Words used here: [context](glossary.ipynb#Context),
# [socket types](glossary.ipynb#Socket-types), [frame](glossary.ipynb#Frame), [bind and
# connect](glossary.ipynb#Bind-and-connect), [transports](glossary.ipynb#Transports),
# [linger](glossary.ipynb#Linger) (all in the [glossary](glossary.ipynb)).*
#
# ZeroMQ looks like a networking library and acts like a concurrency framework. It gives you
# **sockets that carry whole messages** between threads, processes and machines, and it connects
# them in **patterns**: request-reply, publish-subscribe, pipeline. There is no broker in the
# middle unless you build one.
#
# This notebook meets the three objects you use in every ZeroMQ program, then runs the simplest
# pattern there is, **fire-and-forget** with PUSH/PULL, and moves it across three transports
# without changing a line of the pattern code.
#
# ```mermaid
# flowchart LR
#     P["pusher<br/>PUSH (connect)"] -- "msg 0, msg 1, ..." --> Q["puller<br/>PULL (bind)"]
# ```
#
# *Conventions of this workbook:* arrows go from the socket that **connects** to the socket that
# **binds** (a diagram that draws the flow of messages instead says so, as 03's does). Numbers that
# vary from run to run are printed after a `~`; everything else a cell prints is checked by the test
# suite on every commit.

# %%
import time

import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import grade
from zguide_py.patterns import basics
from zguide_py.plots import report_figure
from zguide_py.widgets import Panel

lab = Lab("basics")          # re-running this cell closes the old lab first: always safe
lab

# %% [markdown]
# ## 1. The context
#
# A **context** is the entry point. It owns the I/O thread(s) that move bytes in the background,
# knows every socket you created, and carries the `inproc://` namespace: threads that share a context
# can talk over `inproc://` with no network at all. A program normally creates one context and shares
# it among its threads. In this workbook each notebook's lab owns a private `zmq.Context()` instead of
# pyzmq's process-wide shared context (the one its `instance` class method hands out), so closing the
# lab cannot break anything else running in the same Jupyter kernel.

# %%
ctx = lab.ctx
print("a private context:", isinstance(ctx, zmq.Context), "| I/O threads:", ctx.io_threads)

# %%
# NBVAL_IGNORE_OUTPUT
print("libzmq", zmq.zmq_version(), "| pyzmq", zmq.__version__)

# %% [markdown]
# ## 2. Sockets and messages, one call per cell
#
# A **socket** sends and receives messages and defines the pattern by its type. A **message** is an
# atomic blob of bytes: it arrives whole or not at all, with its boundaries kept (TCP gives you a byte
# stream; ZeroMQ gives you messages). ZeroMQ does no serialisation: you send bytes.
#
# We make a PULL socket that binds and a PUSH socket that connects (`lab.socket` is a plain
# `ctx.socket` that the lab closes for us at the end). **Bind** means "I own this address, come to me";
# **connect** means "go to that address". `bind()` and `connect()` return a small handle, shown under
# the cell, that pyzmq lets you use in a `with` block to undo them again; we do not need it.

# %%
pull = lab.socket(zmq.PULL)
pull.bind("inproc://hello")

# %%
push = lab.socket(zmq.PUSH)
push.connect("inproc://hello")

# %%
push.send(b"Hello")

# %%
pull.recv()

# %% [markdown]
# A message can have several **frames**. They travel together: the receiver gets all of them or none.

# %%
push.send_multipart([b"weather", b"sunny", b"21C"])

# %%
pull.recv_multipart()

# %% [markdown]
# ## 3. Asynchronous messaging: connect before bind, and send only enqueues
#
# ZeroMQ queues messages. A socket may **connect before anybody has bound** the endpoint, and
# `send()` returns as soon as the message is in the socket's outgoing queue; a background I/O thread
# delivers it later. Here the PUSH socket connects to a TCP port where nothing listens yet and sends
# three messages; only afterwards does the PULL socket bind.

# %%
endpoint = lab.endpoint("late", "tcp")        # a free port on 127.0.0.1
early = lab.socket(zmq.PUSH)
early.connect(endpoint)                        # nothing is listening yet: that's fine
started = time.perf_counter()
for n in range(3):
    early.send(f"sent before bind #{n}".encode())
print(f"3 sends returned in ~{(time.perf_counter() - started) * 1e6:.0f} µs, before any receiver existed")

# %%
late = lab.socket(zmq.PULL)
late.bind(endpoint)
got = [late.recv().decode() for _ in range(3) if late.poll(2000)]
print(got)
assert verdict(len(got) == 3, "All 3 messages, queued before anybody had bound, arrived after the late bind.")

# %% [markdown]
# ## 4. Don't queue for a peer that is not there: `immediate`
#
# That queue has a catch. A connecting socket makes a queue for an endpoint the moment you call
# `connect()`, whether anybody listens there or not, and a PUSH deals its messages round-robin over
# **all** its queues. A message dealt to an address where nobody listens yet waits there, while a
# peer that is up could have taken it. The socket option **`immediate`** (`ZMQ_IMMEDIATE`, 0 by
# default) changes this: with `immediate=1` a socket queues messages only on connections that are
# complete. With no complete connection at all, `send()` waits, as it does on a bound PUSH with no
# peer yet; with `zmq.NOBLOCK` it raises `zmq.Again` at once. First, a PUSH connects to an address
# where nothing listens and tries three sends with `NOBLOCK`, once with each setting:

# %%
def sends_taken(immediate):
    """How many of 3 NOBLOCK sends a PUSH takes when nothing listens where it connected."""
    push = lab.socket(zmq.PUSH, immediate=immediate)
    push.connect(lab.endpoint("nobody", "tcp"))
    taken = 0
    for _ in range(3):
        try:
            push.send(b"anybody there?", zmq.NOBLOCK)
            taken += 1
        except zmq.Again:                      # nowhere to queue it: a plain send() would wait here
            pass
    push.close()
    return taken


taken = {immediate: sends_taken(immediate) for immediate in (0, 1)}
print(f"immediate=0: {taken[0]} of 3 sends taken | immediate=1: {taken[1]} of 3 taken")
assert verdict(taken == {0: 3, 1: 0}, "With nobody there, the default queued all 3 messages; "
               "immediate=1 took none and raised zmq.Again instead.")

# %% [markdown]
# Now the case it is made for: a PUSH connects to two pullers, `up`, which has bound, and `later`,
# an address where nobody listens yet. It sends 10 messages; then `later` binds.

# %%
def arrivals(pull, quiet):
    """Receive until nothing has come for `quiet` seconds; how many came."""
    n = 0
    while pull.poll(int(quiet * 1000)):
        pull.recv()
        n += 1
    return n


def deal(immediate):
    """10 messages from a PUSH connected to `up` (bound) and `later` (bound afterwards)."""
    up, later = lab.endpoint("up", "tcp"), lab.endpoint("later", "tcp")
    pull_up = lab.socket(zmq.PULL)
    pull_up.bind(up)
    push = lab.socket(zmq.PUSH, immediate=immediate)
    push.connect(later)
    push.connect(up)
    assert push.poll(2000, zmq.POLLOUT)        # may it send? (immediate=1: once `up` is connected)
    for n in range(10):
        push.send(f"job {n}".encode())
    got_up = arrivals(pull_up, quiet=0.2)
    pull_later = lab.socket(zmq.PULL)
    pull_later.bind(later)                     # the PUSH retries its connection every ~0.1-0.2 s
    got_later = arrivals(pull_later, quiet=0.5)
    for sock in (push, pull_up, pull_later):
        sock.close()
    return got_up, got_later


dealt = {immediate: deal(immediate) for immediate in (0, 1)}
for immediate, (got_up, got_later) in dealt.items():
    print(f"immediate={immediate}: `up` received {got_up} of 10 at once, `later` {got_later} once it bound")
assert verdict(dealt[0] == (5, 5), "By default, half the messages waited for `later`, which was not "
               "there, and reached it only once it bound.")
assert verdict(dealt[1] == (10, 0), "With immediate=1, `up` got all 10 at once, and nothing was queued for `later`.")

# %% [markdown]
# So `immediate=1` suits a sender that connects to several peers (servers, workers) and wants its
# messages to go to those that are up now, not to wait for one that may never come; and a sender
# that would rather feel it, in a `send()` that waits or raises, than queue for nobody. The same
# holds when a connected peer goes away: once its connection is gone, nothing more is queued for
# it. What `immediate` cannot tell is whether a peer that *is* connected ever reads what it gets:
# that takes replies and timeouts (notebook 09).

# %% [markdown]
# ## 5. Fire-and-forget with roles
#
# **What fire-and-forget solves:** one side produces messages (log lines, measurements, jobs) and must
# not wait for anybody to confirm them. PUSH sends each message to a connected PULL socket and returns
# at once; nothing comes back.
#
# The rest of the workbook runs each side of a pattern as a **role**: a short function of plain pyzmq
# that the lab runs in its own thread. `peer.socket` is `ctx.socket` plus cleanup, and `peer.count`
# is one integer increment for the plots. `peer.poll(pull)` is `pull.poll()` that the lab can
# interrupt: True when a message waits, False once the lab kills the peer. `peer.send(push, body)` is
# a send that waits while there is no room, but not past a kill. Both wait in 50 ms slices, so a kill
# takes effect within 50 ms.
#
# Look at the end of `pusher`: `send()` only *queued* the messages, so the pusher closes its socket
# with a **linger** of 2 s. `close()` returns at once, and the context's I/O thread goes on delivering
# what is still queued for up to 2 s before it drops the rest. A crash is a close with linger 0:
# whatever is still queued is dropped at once.

# %%
show_source(basics.pusher, basics.puller)

# %%
inbox = lab.endpoint("inbox")
lab.start("puller", basics.puller, endpoint=inbox)
lab.start("pusher", basics.pusher, endpoint=inbox, count=1000)
lab.wait_for(lambda: lab.peer("puller").get("received") == 1000, timeout=10, what="1000 messages")
lab.wait_done("pusher", timeout=10)   # the pusher counts each message after sending it
print("pusher sent:", lab.peer("pusher").get("sent"), "| puller received:", lab.peer("puller").get("received"))
print("first three:", lab.peer("puller").data["received"][:3])

# %% [markdown]
# **Fire-and-forget** means exactly that: the pusher never learns whether anything arrived. That is fine
# while the puller lives. Now the scripted fault: the pusher sends 2 000 messages at about 1 000 per
# second to a puller that handles only 200 per second (throttled to 5 ms per message), so a queue
# builds up in front of the puller. At t = 0.5 s the puller is killed (and its throttle set back to
# zero, so that it comes back at full speed); at t = 1.0 s it is restarted. The puller binds over TCP,
# so the pusher reconnects to it by itself after the restart.

# %%
lab.remove("pusher"); lab.remove("puller")
inbox = lab.endpoint("inbox", "tcp")
# throttle= sets the pace before the thread starts (a throttle() call just after start() could
# come too late: an unthrottled pusher queues thousands of messages in a few milliseconds)
lab.start("puller", basics.puller, endpoint=inbox, throttle=0.005)

# the pusher starts with the run, so the report counts every message it sends
crash = Scenario("slow puller crashes", seed=0) \
    .at(0.0, "start", "pusher", basics.pusher, endpoint=inbox, count=2000, throttle=0.001) \
    .at(0.5, "kill", "puller").at(0.5, "throttle", "puller", 0.0).at(1.0, "restart", "puller")
print(crash.describe())
report = lab.run(crash, seconds=10, until=lambda: lab.peer("pusher").state == "done")
report

# %%
report_figure(report, counters=["sent", "received"], title="fire-and-forget: a slow puller is killed and restarted")

# %% [markdown]
# Read the plot: the pusher's send rate (orange) stays near 1 000 per second; it does not stop
# while the puller is dead.
# Right after the restart the puller receives a burst far above 1 000 per second: the messages that
# were sent during the outage had waited in the pusher's queue. Did any get lost? The next cell waits
# until the last stragglers have arrived, then counts, and looks at *which* message numbers are missing.

# %%
# the last messages may still be on their way: wait (at most 5 s) until none arrives for 300 ms
received = lab.wait_quiet(lambda: lab.peer("puller").get("received"), quiet=0.3, timeout=5,
                          what="the end of the stream")
sent = lab.peer("pusher").get("sent")
print(f"pusher sent {sent}, puller received ~{received}, lost ~{sent - received}")
assert sent == report.count("pusher", "sent") == 2000 and received < sent and not lab.errors()
print(f"The pusher sent all {sent} messages (the report above counts the same {report.count('pusher', 'sent')}).")
print("Some were lost with the killed puller's queue, and the pusher finished without being told.")

# which ones? the puller keeps the text of the first 1000 it received, in arrival order
numbers = [int(text.split()[1]) for text in lab.peer("puller").data["received"]]     # "msg 17" -> 17
gaps = [(a, b) for a, b in zip(numbers, numbers[1:]) if b != a + 1]
print(f"received msg 0 to msg ~{gaps[0][0]}, then msg ~{gaps[0][1]} onwards")
assert len(gaps) == 1 and gaps[0][1] - gaps[0][0] - 1 == sent - received
print("Every lost message is in that one gap.")

# %% [markdown]
# What happened: while the puller was slow, the messages waited in queues: the pusher's outgoing
# queue and the puller's incoming one. Each queue holds at most its **high-water mark** (HWM) of
# messages, 1 000 by default; a full queue makes `send()` wait (or fail with `zmq.Again` when called
# with `NOBLOCK`, as the pusher does). ZeroMQ moves messages on eagerly, so most of the backlog sat in
# the *puller's* queue. The kill closed the puller's socket with linger 0, and that whole block of
# messages was dropped: the one gap above. The pusher noticed nothing and kept sending. Its socket
# *connects*, and a connecting socket keeps its queue while the connection is down, so the messages
# sent during the outage waited there and arrived in the burst after the restart. Reliability is not built in; later notebooks
# build it (Lazy Pirate and friends).
#
# ## 6. Transports: the same code over inproc, ipc and tcp
#
# | transport | carries messages between | endpoint |
# |---|---|---|
# | `inproc` | threads of one process, through memory | `inproc://name` |
# | `ipc` | processes on one machine (a Unix socket file) | `ipc:///tmp/.../name` |
# | `tcp` | machines (here: loopback only) | `tcp://127.0.0.1:port` |
# | `pgm` / `epgm` | many receivers at once, by reliable multicast | needs a libzmq built with OpenPGM |

# %%
for transport in ("inproc", "ipc", "tcp"):
    ep = lab.endpoint(f"t-{transport}", transport)
    lab.start(f"pull-{transport}", basics.puller, endpoint=ep)
    lab.start(f"push-{transport}", basics.pusher, endpoint=ep, count=500, size=64)
    lab.wait_for(lambda: lab.peer(f"pull-{transport}").get("received") == 500, timeout=10)
    verdict(lab.peer(f"pull-{transport}").get("received") == 500, f"{transport}: all 500 messages arrived.")
print("PGM/EPGM is built into this pyzmq." if zmq.has("pgm") else
      "PGM/EPGM is not built into this pyzmq (its wheels leave it out), so we move on.")

# %% [markdown]
# ## 7. Play with it
#
# A lab of its own for you to play with: a pusher that never stops (about 1 000 messages per second)
# and a puller, over tcp. The panel has a row per peer: its state, **kill** and **restart** buttons, a
# **throttle** slider (seconds per message) and live counters; below it a rate plot that a background
# thread redraws a few times a second. Every control calls the same `lab.kill / lab.restart /
# lab.throttle` that the scenario above called. Slow the puller, kill it, restart it. This lab stays
# open after the notebook ends; re-running the cell starts it afresh.

# %%
def playground(name):
    """An endless pusher and a puller over tcp, in a lab of their own, under a panel."""
    play = Lab(name)
    stream = play.endpoint("stream", "tcp")
    play.start("puller", basics.puller, endpoint=stream)
    play.start("pusher", basics.pusher, endpoint=stream, count=10**9, throttle=0.001)
    return play, Panel(play, counters=["sent", "received"], title="fire-and-forget: pusher and puller")


play, panel = playground("basics-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried the kill and restart buttons for you on a twin of this lab, so your panel is
# fresh (the code is folded: click the "..." to read it). What it saw: with the puller dead, the
# pusher went on sending and was never told; after the restart the pusher reconnected by itself and
# the puller received again.

# %%
# FOLDED
rehearsal, twin = playground("basics-rehearsal")
pusher, puller = rehearsal.peer("pusher"), rehearsal.peer("puller")
rehearsal.wait_for(lambda: puller.get("received") >= 100, timeout=5, what="100 messages")
twin.rows["puller"].kill.click()
sent_at_kill, received_at_kill = pusher.get("sent"), puller.get("received")
rehearsal.wait_for(lambda: pusher.get("sent") >= sent_at_kill + 100, timeout=5, what="100 sends to nobody")
assert verdict(puller.state == "killed" and puller.get("received") == received_at_kill,
               "With the puller killed, the pusher sent 100 more messages and was never told.")
twin.rows["puller"].restart.click()
rehearsal.wait_for(lambda: puller.get("received") >= received_at_kill + 100, timeout=5,
                   what="100 messages after the restart")
assert verdict(puller.state == "running", "After the restart the puller received again: the pusher reconnected by itself.")

# %% [markdown]
# Bad input gets a clear error and loses nothing: the twin lab and its peers carry on.

# %%
for bad in (lambda: rehearsal.throttle("pusher", -1), lambda: rehearsal.kill("nobody"),
            lambda: rehearsal.endpoint("x", "pgm")):
    try:
        bad()
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")
print("still running:", sorted(n for n, p in rehearsal.peers.items() if p.state == "running"))
rehearsal.close()

# %% [markdown]
# ## 8. What you saw, and questions
#
# * A context, sockets, and messages that arrive whole. Sockets can connect before the other side binds;
#   `send` only enqueues.
# * By default a connecting socket queues even for an address where nobody listens yet;
#   `immediate=1` queues only on connections that are complete.
# * PUSH/PULL is fire-and-forget: when the receiver died, the messages in its queue died with it and
#   the sender was never told.
# * The transport is one word in the endpoint; the pattern code did not change.
#
# **Questions**
# 1. The puller was down for 0.5 s while the pusher sent about 1 000 messages per second, and the
#    pusher's send rate did not drop. What would the pusher have done if the puller had stayed down
#    for 3 s? (Hint: the high-water mark.)
# 2. If the pusher had bound and the puller connected, which side could you restart freely over `inproc`?
# 3. Why do the roles wait in `peer.poll` (50 ms at a time) instead of calling a blocking `recv()`?
#
# **Exercise.** In section 3 three messages sent before the bind all arrived. Now make it harder.
# A pusher with `count=50` connects, sends all 50 and closes its socket (with its 2 s linger) while no
# puller exists. A puller binds **3 s** later. How many of the 50 does the puller receive? Put your
# number in `my_guess` and run the three cells: the folded one replays exactly this on a timeline,
# and the last one compares.

# %%
my_guess = None      # how many of the 50 messages the late puller receives

# %%
# FOLDED
check = Lab("basics-exercise")
ep = check.endpoint("exercise", "tcp")
late = Scenario("puller binds 3 s late", seed=0) \
    .at(0.0, "start", "pusher", basics.pusher, endpoint=ep, count=50) \
    .at(3.0, "start", "puller", basics.puller, endpoint=ep)
check.run(late, seconds=3.5)                       # the puller gets 0.5 s to receive
answer = check.peer("puller").get("received")
assert check.peer("pusher").get("sent") == 50 and answer == 0 and not check.errors()
check.close()

# %%
print(grade(my_guess, answer))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **None of them: 0.** `close()` returned at once, and the context's I/O thread kept the 50 queued
# messages for the 2 s linger, trying to deliver them. Nobody was listening before the linger ran
# out, so they were dropped, and the puller that bound at 3 s found nobody sending. Change `3.0` to
# `1.0` in the folded cell's scenario and run it again: now the puller binds within the linger and
# receives all 50.
# </details>

# %% [markdown]
# ## Why ZeroMQ, and why not
#
# What the rest of this workbook shows, in one list, to weigh it against a message broker or plain
# sockets:
#
# * **Why.** Any code talks to any code: the same few socket types and patterns in every language
#   (notebook 21 puts C and JavaScript beside Python), over threads, processes or machines, by
#   changing one word of the endpoint. There is no server to install and run: you choose where a
#   broker goes, if you want one (05, 12). Messages arrive whole, reconnection is automatic, and the
#   I/O happens in a background thread, so even Python moves small messages by the hundred thousand
#   a second (16 measures it, beside C).
# * **Why not.** ZeroMQ keeps messages in memory only: a crashed process loses its queues (00, 03),
#   and durable storage is yours to write (13's Titanic). It promises no delivery: a full queue drops
#   or blocks (08), a dead peer is silent, and finding out takes heartbeats and timeouts of your own
#   (09 to 12, 19). There are no built-in users, accounts or management tools, and encryption is off
#   until you turn CURVE on (18). If what you need is a persistent, replayable log or a managed
#   queue with dead-letter handling, a broker product fits better; if you need fast, flexible
#   messaging between programs you write, this is the toolkit.

# %% [markdown]
# ## The pattern without the lab
#
# `examples/pusher.py` and `examples/puller.py` are this section's PUSH and PULL as plain pyzmq
# scripts. Run them in two terminals, or put one of them against the workbook's role:
#
# ```sh
# python examples/puller.py --count 10
# python -m zguide_py run basics.pusher --connect tcp://127.0.0.1:5560 count=10
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('puller', 'pusher')

# %% [markdown]
# ## Teardown
#
# Closing the lab joins every peer thread, stops the sampler, closes every socket with linger 0 and
# terminates the context. Your playground stays open.

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0 and lab.ctx.closed
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [01 · Request-reply](01_request_reply.ipynb).
