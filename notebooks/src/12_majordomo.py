# Source of notebooks/12_majordomo.ipynb - build with: python tools/nbbuild.py notebooks/src/12_majordomo.py
# %% [markdown]
# # 12 · Majordomo: a broker that routes by service name (7/MDP)
#
# *Where this sits: before this, [11 · Paranoid Pirate](11_paranoid_pirate.ipynb); next, [13 ·
# Titanic](13_titanic.ipynb); in the guide, chapter 4, [Service-Oriented Reliable Queuing (Majordomo
# Pattern)](https://zguide.zeromq.org/docs/chapter4/). Words used here: [service](glossary.ipynb#Service),
# [MMI](glossary.ipynb#MMI), [heartbeat](glossary.ipynb#Heartbeat), [RFCs](glossary.ipynb#RFCs) (all in
# the [glossary](glossary.ipynb)).*
#
# **The problem:** the Paranoid Pirate queue hands *any* request to *any* worker. Real systems have
# several kinds of work ("resize this image", "look up this customer") done by different programs.
# The **Majordomo** pattern puts a *service name* in every request; workers tell the broker which
# one service they offer; the broker keeps one queue per service and hands each request to the
# worker of that service that has been idle longest. Its protocol,
# **[7/MDP](https://rfc.zeromq.org/spec/7/)**, also makes both sides
# say who they are in every message (a header frame, `MDPC01` for clients and `MDPW01` for workers)
# and makes broker and workers **heartbeat** each other, so that a dead worker is noticed and
# forgotten, and a restarted broker is found again.
#
# ```mermaid
# flowchart LR
#     C1["client<br/>REQ (connect)"] -- "MDPC01 'echo'" --> B["broker<br/>ROUTER (bind, tcp)"]
#     C2["client<br/>REQ (connect)"] -- "MDPC01 'upper'" --> B
#     W1["worker 'echo'<br/>DEALER (connect)"] -- "MDPW01 READY / REPLY / HEARTBEAT" --> B
#     W2["worker 'echo'<br/>DEALER (connect)"] --> B
#     W3["worker 'upper'<br/>DEALER (connect)"] --> B
# ```
#
# One ROUTER socket serves both sides: the header frame says whether a message comes from a client
# or from a worker. The broker also answers a small management service itself
# (**[8/MMI](https://rfc.zeromq.org/spec/8/)**):
# `mmi.service` says `200` if some worker offers a service and `404` if none does.
#
# A number printed after a `~` (such as `~0.31 s`) is a measurement: it changes from run to run.
# Everything else a cell prints comes out the same every time.

# %%
import time

import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, summarize, show_example, verdict
from zguide_py.exercise import grade
from zguide_py.flow import Flow
from zguide_py.patterns import majordomo
from zguide_py.patterns.majordomo import worker_name
from zguide_py.plots import bars_figure, new_figure, report_figure
from zguide_py.views import majordomo as views
from zguide_py.widgets import Panel, adder

lab = Lab("majordomo")

# %% [markdown]
# ## 1. The protocol, one frame at a time
#
# | message | frames (after the empty delimiter) |
# |---|---|
# | client → broker: request | `MDPC01`, service, body… |
# | broker → client: reply | `MDPC01`, service, body… |
# | worker → broker: READY | `MDPW01`, `0x01`, service |
# | broker → worker: REQUEST | `MDPW01`, `0x02`, client address, empty, body… |
# | worker → broker: REPLY | `MDPW01`, `0x03`, client address, empty, body… |
# | either way: HEARTBEAT / DISCONNECT | `MDPW01`, `0x04` / `0x05` |
#
# We start a broker with a slow heartbeat (5 s, and a worker is dead after 12 silent heartbeats,
# a minute), then play both a worker and a client by hand from this notebook, one call per cell.
# Our hand-made sockets get readable identities so that the frames print the same every time.

# %%
tutor_endpoint = lab.endpoint("tutor", "tcp")
lab.start("tutor", majordomo.broker, endpoint=tutor_endpoint, heartbeat=5.0, liveness=12)

hand_worker = lab.socket(zmq.DEALER, routing_id=b"hand-worker")
hand_worker.connect(tutor_endpoint)
hand_worker.send_multipart([b"", b"MDPW01", majordomo.READY, b"echo"])    # READY for "echo"
lab.wait_for(lambda: lab.peer("tutor").data["workers"], timeout=3, what="the READY to arrive")
print("the broker now knows:", lab.peer("tutor").data["workers"])

# %%
hand_client = lab.socket(zmq.REQ, routing_id=b"hand-client")
hand_client.connect(tutor_endpoint)
hand_client.send_multipart([b"MDPC01", b"echo", b"hello"])   # REQ adds the empty frame itself


# %%
def next_command(sock, timeout=3.0):
    """The next message on a worker socket that is not a HEARTBEAT (bounded wait)."""
    deadline = time.monotonic() + timeout
    while sock.poll(max(0, int((deadline - time.monotonic()) * 1000))):
        frames = sock.recv_multipart()
        if frames[2:3] != [majordomo.HEARTBEAT]:
            return frames
    raise TimeoutError("no command")


request = next_command(hand_worker)
request

# %% [markdown]
# The worker got a **REQUEST** (`\x02`) with the client's address (`hand-client`), an empty frame,
# then the body. It answers with a **REPLY** that carries the same address, and the broker routes
# it back, rewrapped for the client:

# %%
_empty, _header, _command, client_address, _delimiter, *body = request
hand_worker.send_multipart([b"", b"MDPW01", majordomo.REPLY, client_address, b"", b"hello to you"])
hand_client.poll(3000)
hand_client.recv_multipart()

# %% [markdown]
# The management interface: is there an `echo` service? a `coffee` service?

# %%
for name in (b"echo", b"coffee"):
    hand_client.send_multipart([b"MDPC01", b"mmi.service", name])
    hand_client.poll(3000)
    print(name.decode(), "->", hand_client.recv_multipart())

# %% [markdown]
# A worker that says goodbye with **DISCONNECT** is forgotten at once, and MMI now says 404:

# %%
hand_worker.send_multipart([b"", b"MDPW01", majordomo.DISCONNECT])
lab.wait_for(lambda: not lab.peer("tutor").data["workers"], timeout=3, what="the broker to forget it")
hand_client.send_multipart([b"MDPC01", b"mmi.service", b"echo"])
hand_client.poll(3000)
print("echo ->", hand_client.recv_multipart())
hand_client.close()
hand_worker.close()
lab.remove("tutor")

# %% [markdown]
# ## 2. The roles
#
# The broker keeps, per service, a queue of requests and a line of idle workers; `dispatch` pairs
# them. Its loop waits with `peer.poll(router, heartbeat)` (the socket's `poll`, which the lab can
# interrupt). Every heartbeat it forgets workers it has not heard from for `liveness` heartbeats,
# then heartbeats the workers it still believes in, and forgets services that have no worker and no
# request left (so a stranger asking for a million names cannot fill its memory). The request a
# forgotten worker was holding goes back to the *front* of its service's queue: that is this
# workbook's choice, not the guide's. The guide's `mdbroker` simply drops it, and the client's retry
# (Lazy Pirate style) sends it again after a timeout. Both rely on MDP's assumption that a request may
# safely run twice; re-queuing saves the client that timeout. Every message is checked first (`parse_at_broker`): a malformed one is counted and logged,
# never acted on, and a worker that sends one is disconnected. What it does is logged as events with
# fields, `peer.log("worker removed", worker=..., why=...)`, which section 4 reads.

# %%
show_source(majordomo.broker)

# %% [markdown]
# The worker says READY, answers REQUESTs, heartbeats while idle, and starts over on a new socket
# when the broker has been silent too long or says DISCONNECT. The client is a Lazy Pirate: poll
# with a timeout, and after a timeout close the REQ socket, open a new one and resend. It checks that
# each reply answers its request; its `book` records replies and failures for the notebook.

# %%
show_source(majordomo.worker, majordomo.mdp_request, majordomo.client)

# %% [markdown]
# ## 3. One request through the broker, as a sequence diagram
#
# A real broker and three workers, heartbeat 100 ms. The broker records what it receives and sends
# (heartbeats left out) into a `Flow`; one `echo` and one `upper` request, and one MMI lookup:

# %%
HB = 0.1
endpoint = lab.endpoint("broker", "tcp")
flow = Flow(lab)
lab.start("broker", majordomo.broker, endpoint=endpoint, heartbeat=HB, liveness=3, flow=flow)
for name, service in [("echo1", "echo"), ("echo2", "echo"), ("upper1", "upper")]:
    lab.start(name, majordomo.worker, broker=endpoint, service=service, heartbeat=HB, liveness=3)
lab.wait_for(lambda: len(lab.peer("broker").data["workers"]) == 3, timeout=5, what="3 workers")
print("registered:", sorted(lab.peer("broker").data["workers"].items()))

lab.start("asker", majordomo.mmi_lookup, broker=endpoint, services=["upper"])
lab.wait_done("asker")
lab.start("c", majordomo.client, broker=endpoint, service="echo", requests=1)
lab.wait_done("c")
lab.start("u", majordomo.client, broker=endpoint, service="upper", requests=1)
lab.wait_done("u")
print("mmi:", lab.peer("asker").data["mmi"], "| echo:", lab.peer("c").data["replies"],
      "| upper:", lab.peer("u").data["replies"])
for name in ("asker", "c", "u"):
    lab.remove(name)

# %%
fig = flow.figure(peers=["asker.1.1", "c.1.1", "u.1.1", "broker", "echo1.1.1", "echo2.1.1", "upper1.1.1"],
                  since=flow.events(peers=["asker.1.1", "broker"])[0].t, max_events=10, label_width=12,
                  max_frames=7, title="Majordomo: MMI lookup, an echo and an upper request",
                  fig=new_figure(11, 6.2))
for label in fig.axes[0].texts:       # larger message labels than the default, to read them at a glance
    label.set_fontsize(10)
fig.axes[0].tick_params(labelsize=10)
fig

# %% [markdown]
# Read it top to bottom: the READYs came earlier (not shown); the MMI question is answered by the
# broker itself; the `echo` request goes to whichever echo worker has been idle longest; the
# `upper` request can only go to `upper1`. Note how the broker rewraps each message: the client's
# `MDPC01` request becomes an `MDPW01` REQUEST carrying the client's address, and back.
#
# ## 4. A scripted run: a worker dies, a worker freezes
#
# Two clients, 250 requests each at about 100 per second, one to `echo` and one to `upper`.
#
# * at 0.8 s `echo1` is **killed**: it stops heartbeating, the broker forgets it ~0.3 s later;
# * at 1.4 s a replacement, `echo3`, starts and says READY;
# * at 2.0 s `echo2` is throttled to 1 s per request: it **freezes** on its next request, sends no
#   heartbeat, and the broker forgets it and gives its request to `echo3`. At 3.0 s it thaws, sends
#   its late reply, hears DISCONNECT (the broker no longer knows it) and registers again.
#
# The clients wait up to 1 s per try, 5 tries per request.

# %%
flow.enabled = False
params = dict(broker=endpoint, heartbeat=HB, liveness=3)
faults = (Scenario("worker dies and is replaced; a worker freezes", seed=0)
          .at(0, "start", "c_echo", majordomo.client, broker=endpoint, service="echo", requests=250,
              interval=0.01, timeout=1.0, retries=5)
          .at(0, "start", "c_upper", majordomo.client, broker=endpoint, service="upper", requests=250,
              interval=0.01, timeout=1.0, retries=5)
          .at(0.8, "kill", "echo1")
          .at(1.4, "start", "echo3", majordomo.worker, service="echo", **params)
          .at(2.0, "throttle", "echo2", 1.0)
          .at(3.0, "throttle", "echo2", 0))
print(faults.describe())
report = lab.run(faults, seconds=10,
                 until=lambda: all(n in lab.peers and lab.peers[n].state == "done" for n in ("c_echo", "c_upper")))
for step in report.steps:
    print(f"fired at ~{step.fired_at:.2f} s: {step.label}")
print("errors:", report.errors or "none")

# %%
broker_peer = lab.peer("broker")
removed = broker_peer.data["removed"]
verdict({worker_name(w) for w, why in removed if why == "silent"} >= {"echo1", "echo2"},
        "The broker removed echo1 (killed) and echo2 (frozen) because they went silent.")
gone_after = views.removal_delay(report.events, "echo1")
print(f"echo1 was forgotten ~{gone_after:.2f} s after it was killed (3 heartbeats = {3 * HB:.1f} s)")
print(f"requests handed back to a queue after a worker died or froze: ~{broker_peer.get('requeued')}"
      " (re-queued: this workbook's choice, see section 2)")
# echo2 thaws at 3.0 s, sends its late reply, is told DISCONNECT and registers again
_ = lab.wait_for(lambda: any(worker_name(w) == "echo2" for w in broker_peer.data["workers"]), timeout=5,
                 what="echo2 to register again")

# %%
workers = ["echo1", "echo2", "echo3", "upper1"]
report_figure(report, counters=["requests"], peers=workers,
              title="Majordomo: requests handled per worker (echo1 killed, echo2 frozen)",
              ylabel="requests per second")

# %% [markdown]
# `echo1`'s line stops at the kill. Right after it, *both* echo lines drop to zero for about 0.3 s:
# the echo client's request was in `echo1`'s hands, and the broker gives it to `echo2` only once it
# has declared `echo1` dead (3 silent heartbeats). Then `echo2` carries the echo load alone until
# `echo3` arrives and the two share it. The freeze at 2.0 s shows the same dip, then `echo3` does all
# the echo work until `echo2` thaws and registers again. `upper1` is never starved: its requests
# never wait for an echo worker, and its ups and downs are the machine's noise, not the faults (its
# line ends when its client has sent all 250 requests).
#
# **Verdict.** Every request was answered, and correctly: each client checks that an `echo` reply
# is its request and an `upper` reply is its request in capitals, so a request routed to the wrong
# service would have failed the client.

# %%
c_echo, c_upper = lab.peer("c_echo"), lab.peer("c_upper")
answered = all(len(c.data["replies"]) == 250 and not c.data["failed"] for c in (c_echo, c_upper))
verdict(answered, "All 500 requests were answered.")
verdict(all(c.state == "done" for c in (c_echo, c_upper)) and not lab.errors(),
        "Every reply came from the service its request named (each client checked every one).")
echo_done = sum(lab.peer(w).get("requests") for w in ("echo1", "echo2", "echo3"))
print(f"echo workers handled ~{echo_done} requests, upper1 ~{lab.peer('upper1').get('requests')}")
verdict(0 < gone_after < 1.0, "The killed echo1 was removed within 1 s.")
verdict(any(worker_name(w) == "echo2" and why == "silent" for w, why in removed)
        and any(worker_name(w) == "echo2" for w in broker_peer.data["workers"]),
        "The frozen echo2 was removed, and came back when it thawed.")
rtt = summarize(c_echo.latencies["rtt"])
print(f"echo round trip: median ~{rtt.p50 * 1e3:.1f} ms, slowest ~{rtt.max * 1e3:.0f} ms (the frozen request)")
assert answered and not lab.errors() and 0 < gone_after < 1.0

# %% [markdown]
# Why more than 250 when each client sent 250? A worker's `requests` counter holds every request it
# answered since it started, and these workers also served section 3: one `echo` and one `upper`
# request. And the frozen request was done twice: by `echo3`, and late by `echo2` (the broker dropped
# that second reply, as it came from a worker it had forgotten). So the echo workers show
# 250 + 1 + 1, `upper1` 250 + 1. The request lost with the killed `echo1` adds nothing: `echo1` never
# answered it, so it was answered once, by `echo2`.

# %%
per_worker = {w: lab.peer(w).get("requests") for w in workers}
fig = new_figure(6.5, 3.2)
bars_figure(per_worker, title="requests per worker over the whole run", ylabel="requests handled",
            xlabel="worker (echo1, echo2, echo3 offer 'echo'; upper1 offers 'upper')", fig=fig)
fig

# %% [markdown]
# ## 5. Play with it
#
# A lab of your own: a broker, two `echo` workers, one `upper` worker, two clients that keep going,
# and a button to add `echo` workers. The plot shows the requests each worker handles, and the
# broker's line all the requests that reach it; the broker's row says, per service, how many workers
# it knows (how many idle) and how many requests wait. Kill an `echo` worker and watch the `echo`
# rate carry on with the other; kill both and the `echo` client waits (its requests queue in the
# broker) while `upper` is untouched; add a worker and the queue drains. Slide a worker's throttle to
# 1 s and it freezes long enough to be forgotten. This lab stays open after the notebook ends;
# re-running the cell starts it afresh.

# %%
def playground(name):
    """A broker, three workers and two clients that keep going, in a lab of their own, under a panel."""
    play = Lab(name)
    broker = play.endpoint("broker", "tcp")
    play.start("broker", majordomo.broker, endpoint=broker, heartbeat=HB, liveness=3)
    for worker, service in [("echo1", "echo"), ("echo2", "echo"), ("upper1", "upper")]:
        play.start(worker, majordomo.worker, broker=broker, service=service, heartbeat=HB, liveness=3)
    for client, service in [("c_echo", "echo"), ("c_upper", "upper")]:
        play.start(client, majordomo.client, broker=broker, service=service, requests=10**6,
                   interval=0.02, timeout=1.0, retries=10**6)
    add_echo = adder("echo", majordomo.worker, broker=broker, service="echo", heartbeat=HB, liveness=3)
    return play, Panel(play, counters=["requests"], title="Majordomo: broker, workers, clients",
                       max_throttle=1.0, actions={"add echo worker": add_echo})


play, panel = playground("majordomo-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried this on a twin of your lab, so your panel is fresh (the code is folded).
# What it saw: with both `echo` workers killed the broker forgot them and `upper` replies carried on;
# after **add echo worker**, `echo` replies flowed again.

# %%
# FOLDED
rehearsal, twin = playground("majordomo-rehearsal")
broker, c_echo, c_upper = (rehearsal.peer(n) for n in ("broker", "c_echo", "c_upper"))
rehearsal.wait_for(lambda: c_echo.get("replies") >= 5 and c_upper.get("replies") >= 5, timeout=5,
                   what="replies from both services")
for name in ("echo1", "echo2"):
    twin.rows[name].kill.click()
rehearsal.wait_for(lambda: "echo" not in broker.data["workers"].values(), timeout=3,
                   what="the broker to forget the echo workers")
verdict("echo" not in broker.data["workers"].values(), "The broker forgot both killed echo workers.")
echo_stuck, upper_before = c_echo.get("replies"), c_upper.get("replies")
rehearsal.wait_for(lambda: c_upper.get("replies") > upper_before + 5, timeout=5, what="upper replies")
verdict(c_upper.get("replies") > upper_before + 5 and c_echo.get("replies") <= echo_stuck + 1,
        "Meanwhile upper replies carried on, and the echo client got nothing.")
twin.action_buttons["add echo worker"].click()
rehearsal.wait_for(lambda: c_echo.get("replies") > echo_stuck + 5, timeout=5, what="echo replies")
verdict(c_echo.get("replies") > echo_stuck + 5, f"The button said '{twin.last_message}', and echo replies flowed again.")
assert not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 6. What you saw, and questions
#
# * Requests name a service; the broker keeps one queue per service and routes by name. A worker
#   offers exactly one service; several workers of one service share its load.
# * Every message carries `MDPC01` or `MDPW01` and a one-byte command, so each side can check what
#   it received, and one ROUTER socket serves clients and workers.
# * Heartbeats go both ways. A killed worker or a frozen one is forgotten after `liveness`
#   heartbeats; its request goes to another worker. A worker that finds the broker silent
#   reconnects on its own.
# * `mmi.service` tells a client whether anyone offers a service before it waits for one.
#
# **Questions**
# 1. The frozen worker's request was done twice (once by `echo3`, once late by `echo2`). Why is
#    that acceptable in MDP, and what kind of service would it not be acceptable for?
# 2. A request for a service nobody offers waits in the broker. What would happen with MMI if the
#    client asked first? What does `request_expiry` protect the broker against?
# 3. Why does each worker get a new identity when it reconnects?
#
# **Exercise.** A client asks for a service before any worker offers it: three requests for `reverse`,
# one at a time, each with a 2 s timeout. Half a second after the first one reaches the broker, a
# `reverse` worker starts. How many of the three requests get a reply? Put a number from 0 to 3 in
# `my_guess`, run that cell, then the check; the folded cell between them runs exactly this.

# %%
my_guess = None      # 0, 1, 2 or 3

# %%
# FOLDED
with Lab("majordomo-exercise") as ex:
    ep = ex.endpoint("broker", "tcp")
    ex.start("broker", majordomo.broker, endpoint=ep, heartbeat=HB)
    ex.start("early", majordomo.client, broker=ep, service="reverse", requests=3, timeout=2.0, retries=1)
    ex.wait_for(lambda: ex.peer("broker").get("requests") >= 1, timeout=5, what="the first request at the broker")
    first_at = ex.now()
    ex.wait_for(lambda: ex.now() - first_at >= 0.5, timeout=2, what="half a second")
    ex.start("reverse1", majordomo.worker, broker=ep, service="reverse", heartbeat=HB)
    ex.wait_done("early", timeout=15)
    replies = ex.peer("early").data["replies"]
    answer = len(replies)
    assert all(reply == request[::-1] for request, reply in replies), replies

# %%
print(grade(my_guess, answer))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **3.** The broker keeps a request for a service that has no worker yet in that service's queue (ours
# for up to 10 s, `request_expiry`, then the client gets nothing and retries or gives up). The first
# request waited half a second for `reverse1`, well within the client's 2 s, and the other two found
# the worker there. A client can start before its workers, which is one reason to put a broker in the
# middle. To offer a service yourself, start a worker for it in your playground, and ask its broker
# with MMI (then `play.peer("ask").data["mmi"]` holds the answer):
#
# ```python
# broker = play.peer("broker").params["endpoint"]
# play.start("reverse1", majordomo.worker, broker=broker, service="reverse", heartbeat=HB, liveness=3)
# play.start("ask", majordomo.mmi_lookup, broker=broker, services=["reverse"])
# ```
# </details>

# %% [markdown]
# ## 7. What a broker costs per request
#
# A request through the broker is four message hops: in from a client, out to a worker, back from the
# worker, out to the client. The **floor** is a loop that does exactly those hops with the same
# ROUTER socket and frames (2 × `recv_multipart` and 2 × `send_multipart` per request, one request
# per worker at a time) and nothing else: no checks, no books, no heartbeats. Whatever a broker
# spends above its floor is what its own logic costs.
#
# The measure runs the broker in a process of its own, with 2 echo workers and 2 clients that keep
# 200 requests each in flight, and reads the CPU clock of the broker's thread. First, where the time
# goes: cProfile, with a CPU clock, on the broker thread, for the broker *as it was before this
# section was written* (`views.majordomo_before.broker_before`, kept verbatim) and as it is now.
# cProfile adds a cost to every function call, so read the bars as shares, not as real µs.

# %%
from zguide_py.views import brokercost, majordomo_before

before = brokercost.profile("majordomo", "inproc", requests=1500, role=majordomo_before.broker_before)
after = brokercost.profile("majordomo", "inproc", requests=1500)
brokercost.time_figure({"before": before, "after": after}, title="Where the Majordomo broker's CPU goes")

# %% [markdown]
# Most of it is pyzmq's own work on the frames: `send_multipart` is one `send` per frame, and a
# broker request carries about 24 frames in all. Before, the broker also polled once per message and
# read the clock per message; now one poll and one clock read serve a whole burst (`drain`), and
# heartbeats and expiry run once per interval however busy it is. Its checks are the same (every
# message goes through `parse_at_broker`; malformed ones are counted and dropped).
#
# Now the broker against its floor: three runs of each, in turns, on the same machine. A benchmark's
# numbers vary from run to run, so read the spread beside the median (`make bench` repeats them over
# tcp and inproc for all three brokers):

# %%
row = brokercost.cost("majordomo", "inproc", requests=3000, repeats=3)
print(f"broker: ~{row['cpu_us']['median']:.0f} µs of CPU per request; floor: ~{row['floor_us']['median']:.0f} µs"
      " (medians of 3 runs each, broker and floor in turns)")
print(f"broker / floor: ~{row['ratio']['median']:.2f}, from ~{row['ratio']['min']:.2f} to "
      f"~{row['ratio']['max']:.2f} over the 3 pairs (target: at most 1.5)")

# %% [markdown]
# **Rules to take away** (for any role on a hot path):
#
# * One poll per burst, not per message: after `peer.poll` says a message waits, take every message
#   that waits (`for frames in drain(sock):`), then poll again.
# * Read the clock once per wake-up; do timer work (heartbeats, expiry, purges) once per interval.
# * Count with integers; do not format strings or log events per message (a counter per service is
#   made once, and "heard" is logged at most ten times an interval).
# * Build nothing you may not need: `d.setdefault(k, deque())` makes a deque on every call, a
#   `defaultdict` only when the key is missing.
# * Measure against a floor in the same run, on the same machine: a ratio survives noise that
#   absolute µs do not.
#
# **Question.** After this, the broker is close to its floor. What is the floor's own time made of,
# and how could a broker in Python go below it?
#
# <details><summary>Answer (guess first)</summary>
#
# Frames and wake-ups. Each frame costs pyzmq a `send` or a `recv`, and with one request per worker
# at a time the broker wakes up for almost every reply (a poll, a system call, a thread switch). To
# go below: fewer frames per request (pack what travels together into one frame), more requests per
# wake-up (more workers, so replies arrive in bursts), or let C do the hops (`zmq.proxy` forwards
# without Python, but also without checks or routing by service).
#
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/mdbroker.py`, `examples/mdworker.py` and `examples/mdclient.py` speak 7/MDP with its
# heartbeat (2.5 s, liveness 3). The worker is shown; run it next to the workbook's broker:
#
# ```sh
# python -m zguide_py run majordomo.broker --bind tcp://127.0.0.1:5555
# python examples/mdworker.py --service echo
# python examples/mdclient.py --service echo --count 10
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('mdworker')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [13 · Titanic](13_titanic.ipynb).
