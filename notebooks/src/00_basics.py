# Source of notebooks/00_basics.ipynb - build with: python tools/nbbuild.py notebooks/src/00_basics.py
# %% [markdown]
# # 00 · Basics: context, socket, message, fire-and-forget, transports
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
# **binds**. Numbers that vary from run to run are printed after a `~`; everything else a cell prints
# is checked by the test suite on every commit.

# %%
import time

import zmq

from zguide_py import Lab, Scenario, show_source
from zguide_py.patterns import basics

lab = Lab("basics")          # re-running this cell closes the old lab first: always safe
lab

# %% [markdown]
# ## 1. The context
#
# A **context** is the entry point. It owns the I/O thread(s) that move bytes in the background,
# knows every socket you created, and carries the `inproc://` namespace: threads that share a context
# can talk over `inproc://` with no network at all. One context per process is the rule; in this
# workbook each notebook's lab owns a private `zmq.Context()` (never the process-wide shared instance
# of the kernel), so closing the lab cannot break anything else.

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
# `ctx.socket` that the lab closes for us at the end).

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
print("all 3 queued messages delivered after the late bind:", len(got) == 3)

# %% [markdown]
# ## 4. Fire-and-forget with roles
#
# The rest of the workbook runs each side of a pattern as a **role**: a short function of plain pyzmq
# that the lab runs in its own thread. `peer.socket` is `ctx.socket` plus cleanup, `peer.running`
# turns False when the lab kills the peer, and `peer.count` is one integer increment for the plots.
# Every role polls with a short timeout, so a kill takes effect within 50 ms.
#
# Look at the end of `pusher`: `send()` only *queued* the messages, so before it returns the pusher
# closes its socket with a **linger** of 2 s, which makes `close()` wait up to that long for queued
# messages to leave. A crash is a close with linger 0: whatever is still queued is dropped.

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
# builds up in front of the puller. At t = 0.5 s the puller is killed; at t = 1.0 s it is restarted at
# full speed. The puller binds over TCP, so the pusher reconnects to it by itself after the restart.

# %%
lab.remove("pusher"); lab.remove("puller")
inbox = lab.endpoint("inbox", "tcp")
# throttle= sets the pace before the thread starts (a throttle() call just after start() could
# come too late: an unthrottled pusher queues thousands of messages in a few milliseconds)
lab.start("puller", basics.puller, endpoint=inbox, throttle=0.005)
lab.start("pusher", basics.pusher, endpoint=inbox, count=2000, throttle=0.001)

crash = Scenario("slow puller crashes", seed=0).at(0.5, "kill", "puller") \
    .at(1.0, "throttle", "puller", 0.0).at(1.0, "restart", "puller")
print(crash.describe())
report = lab.run(crash, seconds=10, until=lambda: lab.peer("pusher").state == "done")
report

# %%
report.plot(counters=["sent", "received"], title="fire-and-forget: a slow puller is killed and restarted")

# %%
# the last messages may still be on their way: wait until nothing more arrives for 200 ms
last = -1
while last != lab.peer("puller").get("received"):
    last = lab.peer("puller").get("received")
    time.sleep(0.2)
sent, received = lab.peer("pusher").get("sent"), lab.peer("puller").get("received")
print(f"pusher sent {sent}, puller received ~{received}, lost ~{sent - received}")
print("the pusher sent all 2000:", sent == 2000)
print("messages were lost with the killed puller's queue:", received < sent)
print("the pusher was never told:", lab.peer("pusher").state == "done" and not lab.errors())
assert sent == 2000 and received < sent and not lab.errors()

# %% [markdown]
# What happened: while the puller was slow, the messages waited in queues (the pusher's outgoing
# queue and the puller's incoming one, each up to its *high-water mark*). The kill closed the puller's
# socket with linger 0 and everything in its queue was dropped. The pusher noticed nothing: it
# paused while it had no peer, and resumed when the restarted puller came back. Reliability is not
# built in; later notebooks build it (Lazy Pirate and friends).
#
# ## 5. Transports: the same code over inproc, ipc and tcp
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
    print(f"{transport:>6}: 500 of 500 messages received:", lab.peer(f"pull-{transport}").get("received") == 500)
print("PGM/EPGM built into this pyzmq:", zmq.has("pgm"), "- pyzmq's wheels leave it out, so we move on")

# %% [markdown]
# ## 6. Play with it
#
# The panel has a row per peer: its state, **kill** and **restart** buttons, a **throttle** slider
# (seconds per message) and live counters; below it a rate plot that a background thread redraws a few
# times a second. Every control calls the same `lab.kill / lab.restart / lab.throttle` that the
# scenario above called. Start an endless stream and try it: slow the puller, kill it, restart it.

# %%
for name in list(lab.peers):
    lab.remove(name)
stream = lab.endpoint("stream", "tcp")
lab.start("puller", basics.puller, endpoint=stream)
lab.start("pusher", basics.pusher, endpoint=stream, count=10**9, throttle=0.001)
panel = lab.panel(counters=["sent", "received"])

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# Headless (when the test suite runs this notebook) nobody clicks, so the notebook clicks its own
# buttons and checks that each did what the matching lab method does.

# %%
panel.rows["puller"].kill.click()
print("after clicking kill:", lab.peer("puller").state, "| panel says:", panel.last_message)
panel.rows["puller"].restart.click()
lab.wait_for(lambda: lab.peer("puller").get("received") > 0, timeout=5, what="traffic after restart")
print("after clicking restart:", lab.peer("puller").state)
panel.rows["pusher"].throttle.value = 0.005
print("slider moved to 0.005 -> pusher throttle:", lab.peer("pusher").delay)

# %% [markdown]
# Bad input gets a clear error and loses nothing: the lab and its peers carry on.

# %%
for bad in (lambda: lab.throttle("pusher", -1), lambda: lab.kill("nobody"),
            lambda: lab.endpoint("x", "pgm")):
    try:
        bad()
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")
print("still running:", sorted(n for n, p in lab.peers.items() if p.state == "running"))

# %% [markdown]
# ## 7. What you saw, and questions
#
# * A context, sockets, and messages that arrive whole. Sockets can connect before the other side binds;
#   `send` only enqueues.
# * PUSH/PULL is fire-and-forget: when the receiver died, the messages in its queue died with it and
#   the sender was never told.
# * The transport is one word in the endpoint; the pattern code did not change.
#
# **Questions**
# 1. The pusher paused while the puller was dead, and nothing was lost *during* that pause. Why not?
#    (Hint: what does a PUSH socket do when it has no peer to send to?)
# 2. If the pusher had bound and the puller connected, which side could you restart freely over `inproc`?
# 3. Why does this workbook poll with a 50 ms timeout instead of calling a blocking `recv()`?
#
# **Exercise.** Make a guess, then run the check: if a pusher with `count=50` connects and sends while
# no puller exists, and a puller binds 0.3 s later, how many of the 50 does the puller receive?

# %%
my_guess = None      # put your number here, then run this cell and the next one

# %%
check = Lab("basics-exercise")
ep = check.endpoint("exercise", "tcp")
check.start("pusher", basics.pusher, endpoint=ep, count=50)
time.sleep(0.3)                                    # the puller really is late
check.start("puller", basics.puller, endpoint=ep)
check.wait_for(lambda: check.peer("puller").get("received") == 50, timeout=5, what="all 50")
print("the late puller received:", check.peer("puller").get("received"), "| your guess:", my_guess)
check.close()

# %% [markdown]
# ## Teardown
#
# Closing the lab joins every peer thread, stops the sampler and the panel's refresher, closes every
# socket with linger 0 and terminates the context.

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0 and lab.ctx.closed
