# Source of notebooks/01_request_reply.ipynb - build with: python tools/nbbuild.py notebooks/src/01_request_reply.py
# %% [markdown]
# # 01 · Request-reply: REQ and REP in lockstep
#
# *Where this sits: before this, [00 · Basics](00_basics.ipynb); next, [02 ·
# Publish-subscribe](02_publish_subscribe.ipynb); in the guide, chapter 1, [Ask and Ye Shall
# Receive](https://zguide.zeromq.org/docs/chapter1/); chapter 3, [The Request-Reply
# Mechanisms](https://zguide.zeromq.org/docs/chapter3/). Words used here: [socket
# types](glossary.ipynb#Socket-types), [EFSM](glossary.ipynb#EFSM) (all in the
# [glossary](glossary.ipynb)).*
#
# **The problem:** a client needs an answer to each question it asks: a lookup, a calculation, a
# remote procedure call. Request-reply is ZeroMQ's pattern for it. A **REQ** socket (the client)
# sends a request and then must receive the reply; a **REP** socket (the server) receives a request
# and then must send the reply. Many clients can connect to one server; REP answers each one in turn
# and routes every reply back to the client that asked.
#
# ```mermaid
# flowchart LR
#     C1["client 1<br/>REQ (connect)"] -- "request / reply" --> S["server<br/>REP (bind)"]
#     C2["client 2<br/>REQ (connect)"] -- "request / reply" --> S
# ```
#
# This notebook shows the lockstep, what the error `EFSM` means, and then what the simple pattern
# cannot survive: a server that dies while a request is in flight.

# %%
import time

import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, summarize, show_example, verdict
from zguide_py.exercise import grade
from zguide_py.patterns import reqrep
from zguide_py.plots import report_figure
from zguide_py.widgets import Panel

lab = Lab("reqrep")

# %% [markdown]
# ## 1. One call per cell

# %%
rep = lab.socket(zmq.REP)
rep.bind("inproc://hello")

# %%
req = lab.socket(zmq.REQ)
req.connect("inproc://hello")

# %%
req.send(b"Hello")

# %%
rep.recv()

# %%
rep.send(b"World")

# %%
req.recv()

# %% [markdown]
# ## 2. Lockstep, and what `EFSM` means
#
# Each socket type has a small **finite-state machine**. REQ must go send → recv → send → recv;
# REP must go recv → send → recv → send. A call out of turn fails at once with `zmq.ZMQError` whose
# errno is `EFSM`: *"Operation cannot be accomplished in current state"*. Nothing is sent and nothing is
# lost; the socket just refuses.

# %%
req.send(b"first question")
try:
    req.send(b"second question, before the first was answered")
except zmq.ZMQError as exc:
    verdict(exc.errno == zmq.EFSM, f"REQ refused a second send with EFSM ({exc}).")

# %%
try:
    rep.send(b"an answer nobody asked for... yet")
except zmq.ZMQError as exc:
    verdict(exc.errno == zmq.EFSM, "REP refused to send before it had received (EFSM).")
print("REP got:", rep.recv())              # the first question is still there
rep.send(b"first answer")
try:
    rep.send(b"a second answer")
except zmq.ZMQError as exc:
    verdict(exc.errno == zmq.EFSM, "REP refused a second send (EFSM).")
print("REQ got:", req.recv())
verdict(req.poll(0, zmq.POLLOUT) == zmq.POLLOUT, "With its reply received, REQ may send again.")

# %% [markdown]
# ## 3. The roles
#
# The server echoes each request back. The client is the guide's "hello world" client with a
# timeout: it sends numbered requests, one at a time, and accepts a reply only if it is the echo of
# *its* request. Both wait with `peer.poll(sock, timeout)`: True when a message waits, False on a
# timeout or once the lab kills the peer, so the lab can kill them at any time. The other calls are
# the lab's bookkeeping: `peer.count` and the client's `record_answer`, `record_timeout` and
# `malformed` keep the numbers this notebook plots and checks (replies, round-trip times, the request
# a client got stuck on), and `peer.throttle()` is where the panel's slider slows a peer down.

# %%
show_source(reqrep.echo_server, reqrep.client)

# %% [markdown]
# ## 4. A scripted run: 60 requests, with the server slowed down half way
#
# The server binds over TCP on loopback (the lab picks a free port) and takes 5 ms per request. The
# scenario starts the client, and after the server has answered 30 requests it throttles the server
# to 20 ms per request: the same call the panel's slider makes.

# %%
endpoint = lab.endpoint("echo", "tcp")
lab.start("server", reqrep.echo_server, endpoint=endpoint, throttle=0.005)
slowdown = Scenario("slow server", seed=0) \
    .at(0, "start", "client", reqrep.client, endpoint=endpoint, requests=60, timeout=2.0) \
    .after(30, "server", "replies", "throttle", "server", 0.02)
print(slowdown.describe())
report = lab.run(slowdown, seconds=5, until=lambda: lab.peer("client").state == "done")
report

# %%
client = lab.peer("client")
rtt = summarize(client.latencies["rtt"])
print(f"round trips: n={rtt.count}, median ~{rtt.p50 * 1e3:.1f} ms, slowest ~{rtt.max * 1e3:.1f} ms")
verdict(client.data["answered"] == list(range(60)), "All 60 requests were answered, in order.")
verdict(client.state == "done" and not lab.errors(), "The client finished cleanly.")
assert client.data["answered"] == list(range(60)) and client.state == "done"

# %% [markdown]
# The plot shows the server's replies per second (the client's line would lie exactly on top of it:
# every reply the server sends, the client receives). At 5 ms per request the server can answer at
# most 200 per second, at 20 ms at most 50.

# %%
report_figure(report, counters=["replies"], peers=["server"], ylabel="replies per second",
            title="request-reply: the server is throttled after 30 replies")

# %% [markdown]
# ## 5. Break it: the server dies while a request is in flight
#
# Now the server takes 100 ms over each request, and a client has 1 000 requests to make. Just after
# the server has *received* its 5th request, while it is still working on it, the scenario **kills**
# it; at t = 1.0 s it **restarts** it. The client waits at most 1 s for each reply (a real plain-REQ
# client would wait forever; the timeout is only there so that this notebook ends).

# %%
lab.remove("client")
lab.throttle("server", 0.1)
crash = Scenario("server crash", seed=0) \
    .at(0, "start", "client", reqrep.client, endpoint=endpoint, requests=1000, timeout=1.0) \
    .after(5, "server", "requests", "kill", "server") \
    .at(1.0, "restart", "server")
report = lab.run(crash, seconds=5, until=lambda: not lab.peer("client").alive)
report

# %%
client = lab.peer("client")
stuck_on = client.data.get("stuck_on")
print(f"the client got {len(client.data['answered'])} replies, then waited for the reply to request"
      f" {stuck_on} (numbered from 0)")
verdict(stuck_on is not None and lab.peer("server").state == "running",
        "The client is stuck, although the server is back.")
timeouts = report.events_of("timeout", "client")
verdict(len(timeouts) == 1, "The client's timeout fired once.")
assert stuck_on is not None and lab.peer("server").state == "running" and len(timeouts) == 1

# %%
report_figure(report, counters=["replies"], peers=["client"], ylabel="replies per second",
            title="request-reply: no reply after the kill, nor after the restart")

# %% [markdown]
# **What happened.** The request that was in flight died with the server's socket. The restarted
# server is up, and TCP reconnected the client to it by itself, but REP only answers requests it
# *received*, and REQ never sends a request twice. So the client waits for an answer that nobody
# will send. It cannot even ask again: its socket is still in the "waiting for a reply" state.

# %%
dead = lab.socket(zmq.REQ)
dead.connect(lab.endpoint("nobody-home", "tcp"))
dead.send(b"anyone?")
verdict(not dead.poll(300), "No reply came within 300 ms (nobody is home).")
try:
    dead.send(b"anyone at all?")
except zmq.ZMQError as exc:
    print("sending again:", "EFSM" if exc.errno == zmq.EFSM else exc)

# %% [markdown]
# The way out is on the client side: poll with a timeout, and when it expires **close the REQ socket,
# open a new one and resend**, a bounded number of times. That is the *Lazy Pirate* pattern of
# notebook 09.
#
# ## 6. Play with it
#
# A lab of its own for you to play with: a client with a million requests to send, each allowed 5 s
# for its reply, against a server. Slow the server with its slider and watch the reply rate fall.
# Kill the server: the client's replies stop, and its row counts how long it has waited. Restart the
# server within those 5 s and the client still waits, for the reason above; after 5 s it gives up
# and its row says `done` (a plain REQ client can do nothing else). Restart the client to get going
# again. This lab stays open after the notebook ends; re-running the cell starts it afresh.

# %%
def playground(name):
    """A server and a client that never stops, in a lab of their own, under a panel."""
    play = Lab(name, sample_interval=0.5)      # the plot's rates: counted over half a second
    endpoint = play.endpoint("echo", "tcp")
    play.start("server", reqrep.echo_server, endpoint=endpoint)
    play.start("client", reqrep.client, endpoint=endpoint, requests=10**6, timeout=5.0)
    return play, Panel(play, counters=["replies"], title="request-reply: server and client")


play, panel = playground("reqrep-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried those buttons for you, but not on your panel. The folded cell below (click
# the "..." to read it) is a **rehearsal**: it builds a **twin**, a second lab made by the same
# `playground` function with a panel of its own that is never shown, and clicks that panel's buttons
# from code. So your panel above starts fresh. What it saw: a kill stops the replies, and they stay
# stopped while the client waits; restarting both sets them going again.

# %%
# FOLDED
rehearsal, twin = playground("reqrep-rehearsal")
client = rehearsal.peer("client")
twin.rows["server"].throttle.value = 0.01
before = client.get("replies")
rehearsal.wait_for(lambda: client.get("replies") >= before + 5, timeout=5, what="5 more replies")
twin.rows["server"].kill.click()
# a reply sent just before the kill may still land; after that, nothing more comes (bounded: 3 s)
frozen = rehearsal.wait_quiet(lambda: client.get("replies"), quiet=0.3, timeout=3, what="replies to stop")
verdict(client.get("replies") == frozen and client.state == "running",
        "After the kill no reply came for 300 ms, and the client was still waiting for one.")
twin.rows["server"].restart.click()
twin.rows["client"].restart.click()
rehearsal.wait_for(lambda: client.get("replies") > frozen, timeout=5, what="replies after restarts")
verdict(client.get("replies") > frozen, "Once the server and the client were restarted, replies flowed again.")

# %% [markdown]
# A role that raises does not vanish into a thread: the peer's state becomes `failed`, the panel shows
# the traceback, and `lab.check()` raises it here, in the notebook. Here a client is given an endpoint
# that is not an address at all (on the twin lab, so your panel stays clean):

# %%
rehearsal.start("typo", reqrep.client, endpoint="tcp://no-such-host-or-port")
rehearsal.wait_done("typo", timeout=5)
twin.refresh()
print("state:", rehearsal.peer("typo").state)
print("last line of its traceback:", rehearsal.peer("typo").error.strip().splitlines()[-1])
verdict("peer typo failed" in twin.errors.value, "The panel shows the failure, with its traceback.")
try:
    rehearsal.check()
except Exception as exc:
    print("lab.check() raised", type(exc).__name__)
print("the others carry on:", rehearsal.peer("server").state, rehearsal.peer("client").state)
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * REQ and REP move in lockstep; a call out of turn is refused with `EFSM` and changes nothing.
# * A REP server serves REQ clients one request at a time; a slow server slows every client.
# * When the server dies with a request in flight, a plain REQ client waits forever, and restarting
#   the server does not help: the request is gone and REQ will not resend it.
#
# **Questions**
# 1. Two clients share one server throttled to 20 ms per request. What reply rate does each client see?
# 2. Lazy Pirate resends a request when no reply comes in time. What goes wrong if the server *did*
#    process the first request and only its reply was lost? Which requests are safe to resend?
# 3. If the *client* dies after sending, what happens to the server? (Try it with the panel.)
#
# <details><summary>Answers to questions 2 and 3 (open after you have thought about them)</summary>
#
# 2. The server then does the work twice: a resent "add 10 euros to my account" adds 20. A request
#    is safe to resend when doing it twice has the same effect as doing it once (it is
#    *idempotent*): reading a value, or setting it to a fixed value. For the others the server must
#    recognise a repeat, say by a request number, and send back the reply it kept instead of doing
#    the work again.
# 3. Nothing bad. If the request reached the server, REP works on it and sends the reply; the reply
#    has nowhere to go, so ZeroMQ drops it. Either way the server does not wait for the dead client,
#    sees no error, and goes on to the next request. In the panel: kill the client and the server's row simply
#    stops counting; restart the client and the server serves it again.
# </details>

# %% [markdown]
# **Exercise.** Check your answer to question 1: put the reply rate you expect for *each* of the two
# clients (replies per second) in `my_guess`, then run the three cells. The folded one runs two
# clients of 20 requests each against one server that takes 20 ms per request, and measures; the
# last one compares (within 30%).

# %%
my_guess = None      # replies per second that ONE of the two clients gets

# %%
# FOLDED
with Lab("reqrep-exercise") as ex:
    ep = ex.endpoint("echo")
    ex.start("server", reqrep.echo_server, endpoint=ep, throttle=0.02)
    started = time.perf_counter()
    ex.start("c1", reqrep.client, endpoint=ep, requests=20)
    ex.start("c2", reqrep.client, endpoint=ep, requests=20)
    ex.wait_done("c1", timeout=10); ex.wait_done("c2", timeout=10)
    answer = 20 / (time.perf_counter() - started)        # replies per second, per client
    assert ex.peer("c1").get("replies") + ex.peer("c2").get("replies") == 40 and not ex.errors()

# %%
print(grade(my_guess, answer, relative=0.3, unit="replies/s"))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **About 25 per client, a little less in practice.** REP handles one request at a time, so the
# server answers at most 1 / 0.020 s = 50 requests per second in all, and the two clients share
# that: each gets at most about 25 replies per second, less the time each round trip spends outside
# the server. A slow server slows every client.
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/hwserver.py` (REP) and `examples/hwclient.py` (REQ), in plain pyzmq. Either side can be the
# workbook's role:
#
# ```sh
# python -m zguide_py run reqrep.echo_server --bind tcp://127.0.0.1:5555
# python examples/hwclient.py --count 5
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('hwserver', 'hwclient')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [02 · Publish-subscribe](02_publish_subscribe.ipynb).
