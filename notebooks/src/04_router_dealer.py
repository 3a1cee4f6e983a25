# Source of notebooks/04_router_dealer.ipynb - build with: python tools/nbbuild.py notebooks/src/04_router_dealer.py
# %% [markdown]
# # 04 · Router-dealer: identities, envelopes and an asynchronous server
#
# *Where this sits: before this, [01 · Request-reply](01_request_reply.ipynb); next, [05 · Load
# balancing](05_load_balancing.ipynb); in the guide, chapter 3, [The Request-Reply
# Envelopes](https://zguide.zeromq.org/docs/chapter3/); chapter 3, [The Asynchronous Client/Server
# Pattern](https://zguide.zeromq.org/docs/chapter3/). Words used here:
# [envelope](glossary.ipynb#Envelope), [identity](glossary.ipynb#Identity),
# [delimiter](glossary.ipynb#Delimiter), [proxy](glossary.ipynb#Proxy) (all in the
# [glossary](glossary.ipynb)).*
#
# **The problem:** REQ and REP move in lockstep: one request, one reply, then the next. A server
# built from REP answers one client at a time, and a REQ client cannot have two questions open. Real
# servers want to take many requests at once, hand them to a pool of workers, and send each answer
# back to whoever asked, in whatever order the answers are ready.
#
# ZeroMQ's answer is a pair of socket types that drop the lockstep:
#
# * **DEALER** sends whenever it likes (round-robin over its connections) and receives whatever
#   comes (fair-queued). It adds nothing to your frames.
# * **ROUTER** knows every connection by an **identity**. It puts the sender's identity in front of
#   each message it receives, and takes the first frame of each message you send as the identity
#   of the connection to send it to.
#
# The frames in front of the body are the message's **envelope**. This notebook makes envelopes
# visible, frame by frame, then builds the guide's *asynchronous server*:
#
# ```mermaid
# flowchart BT
#     C1["client1<br/>DEALER<br/>(connect)"] --> FE
#     C2["client2<br/>DEALER<br/>(connect)"] --> FE
#     C3["client3<br/>DEALER<br/>(connect)"] --> FE
#     W1["worker1<br/>DEALER<br/>(connect)"] --> BE
#     W2["worker2<br/>DEALER<br/>(connect)"] --> BE
#     W3["worker3<br/>DEALER<br/>(connect)"] --> BE
#     subgraph server["server: one thread, a Poller loop"]
#         FE["frontend<br/>ROUTER (bind)"]
#         BE["backend<br/>DEALER (bind)"]
#     end
# ```
#
# Arrows go from the socket that connects to the socket that binds; messages flow both ways. Inside
# the server, one loop passes every message from the frontend to the backend and back, unchanged.
#
# A `~` in front of a printed number marks a measurement, which changes from run to run; everything
# else a cell prints is the same on every run.

# %%
import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, summarize, show_example, verdict
from zguide_py.exercise import passed
from zguide_py.flow import Flow
from zguide_py.patterns import routerdealer as rd
from zguide_py.views import routerdealer as rd_views
from zguide_py.widgets import Panel, adder

lab = Lab("router-dealer", sample_interval=0.02)
flow = Flow(lab)          # records messages: (time, sender, receiver, frames)

# %% [markdown]
# ## 1. Envelopes, one call per cell
#
# A ROUTER server and a REQ client, both driven from this notebook. `flow.record(...)` writes down
# each message we see, so that we can show it as a table of frames afterwards.

# %%
router = lab.socket(zmq.ROUTER)
router.bind("inproc://envelopes")

# %%
req = lab.socket(zmq.REQ)
req.connect("inproc://envelopes")

# %%
req.send(b"hello")

# %%
request = router.recv_multipart()
flow.record("REQ client", "ROUTER server", request)
print("the REQ sent 1 frame; the ROUTER received", len(request), "frames")

# %%
flow.table(per_frame=True, last=1)

# %% [markdown]
# Three frames for one `send`:
#
# * frame 0, the **identity**: the ROUTER made it up when the REQ connected (5 bytes, the first one
#   zero; shown in hex). It is how the ROUTER will find this connection again.
# * frame 1, an empty **delimiter**: REQ puts it in front of every request, to mark where the
#   envelope ends and the body begins.
# * frame 2, the **body**, as the client sent it.
#
# To answer, the server sends the envelope back in front of its reply. The ROUTER takes frame 0 off
# and uses it to pick the connection; the REQ takes the delimiter off; the client sees only the body.

# %%
identity = request[0]
verdict(len(identity) == 5 and identity[0] == 0, "The identity is 5 bytes, and its first byte is zero.")
router.send_multipart([identity, b"", b"world"])
flow.record("ROUTER server", "REQ client", [identity, b"", b"world"], note="as the ROUTER sent it")

# %%
reply = req.recv_multipart()
flow.record("ROUTER server", "REQ client", reply, note="as the REQ received it")
print("the REQ client received:", reply)

# %% [markdown]
# A DEALER adds nothing: no delimiter. And any socket may choose its own identity before it
# connects, which makes the envelope readable. (Identities must be unique among a ROUTER's
# connections; the ones a ROUTER makes up start with a zero byte so they never clash with chosen ones.)

# %%
dealer = lab.socket(zmq.DEALER, routing_id=b"client-A")
dealer.connect("inproc://envelopes")
dealer.send(b"hello from A")

# %%
request = router.recv_multipart()
flow.record("DEALER client-A", "ROUTER server", request)
print("the ROUTER received", len(request), "frames:", request)

# %%
router.send_multipart([b"client-A", b"hi A"])
reply = dealer.recv_multipart()
flow.record("ROUTER server", "DEALER client-A", reply)
print("client-A received:", reply)

# %% [markdown]
# Everything we recorded so far, one row per message (times are milliseconds since the first one):

# %%
flow.table()

# %% [markdown]
# The same messages as a **sequence diagram**: one vertical lifeline per peer, one arrow per message,
# top to bottom in time order, each labelled with its frames. `''` is an empty frame, `"..."` is
# text, `0x...` is binary.

# %%
flow.figure(peers=["REQ client", "ROUTER server", "DEALER client-A"], title="envelopes, by hand",
            label_width=16)

# %% [markdown]
# ## 2. A ROUTER drops what it cannot route, unless `ROUTER_MANDATORY` is set
#
# What if the first frame names nobody? By default the ROUTER **drops the message silently**: `send`
# returns as if all were well. That is deliberate (a server should not stall because one client went
# away), but it hides mistakes. With the socket option `ROUTER_MANDATORY` the ROUTER refuses instead:
# `send` raises `zmq.ZMQError` with errno `EHOSTUNREACH` ("Host unreachable").

# %%
router.send_multipart([b"nobody", b"are you there?"])
print("The message to an unknown identity vanished, and send() raised no error.")

# %%
router.setsockopt(zmq.ROUTER_MANDATORY, 1)
try:
    router.send_multipart([b"nobody", b"are you there?"])
    print("no error")
except zmq.ZMQError as exc:
    print("with ROUTER_MANDATORY:", "EHOSTUNREACH" if exc.errno == zmq.EHOSTUNREACH else exc.errno,
          "-", exc)

# %%
router.send_multipart([b"client-A", b"still there?"])      # a known identity still works
print("client-A received:", dealer.recv_multipart())

# %% [markdown]
# ## 3. The asynchronous server: the roles
#
# * `client_task` - a DEALER with its name as identity. It keeps up to `window` requests in flight
#   (no lockstep!), matches each reply to its open request, and counts requests with no reply after
#   `timeout` seconds as lost. What it records for this notebook (the replies it matched, the worker
#   that served each, the requests it lost) is kept by `books`, a small `ClientBooks` object beside it.
# * `server_task` - a ROUTER frontend, a DEALER backend, and a Poller loop that passes frames from
#   one to the other unchanged. It never looks inside a message; the envelope does the routing.
#   `peer.poll(poller)` is the lab's `poller.poll()`: the ready sockets, or `{}` once the lab kills
#   the server.
# * `server_worker` - a DEALER that takes `[identity, request]`, works, and sends back
#   `[identity, request, its name]`: the same envelope, so the reply finds its way home.
#
# Each role takes an optional `flow` and records what its sockets receive. They send with
# `peer.send(sock, frames)`, which keeps them killable: a DEALER (or REQ) with nobody connected blocks
# in `send` forever, so `peer.send` sends with `NOBLOCK` and, while there is nobody to send to, waits
# (polling for `POLLOUT`) until there is, or until the lab kills the peer. The client waits for a reply
# with `peer.poll(client, wait)`, where `wait` runs until its oldest open request times out.

# %%
show_source(rd.client_task, rd.server_task, rd.server_worker)

# %% [markdown]
# **The guide writes `server_task` in one line.** Its asyncsrv example binds the two sockets and calls
# `zmq.proxy(frontend, backend)`: libzmq's built-in loop, which passes every message from each socket
# to the other, frames unchanged, for as long as the context lives. Our Poller loop does the same
# work; we write it out only because a `zmq.proxy` call cannot be stopped on its own (it returns when
# the context ends, or, as `zmq.proxy_steerable`, when a control socket says `TERMINATE`), and the
# lab must be able to kill the server alone and count what it forwards. Here is the guide's server
# as a role, in a small lab of its own, serving the same clients and workers:

# %%
def proxy_server(peer, frontend, backend):
    """The guide's asyncsrv server: a ROUTER for clients, a DEALER for workers, zmq.proxy between."""
    clients = peer.socket(zmq.ROUTER)
    clients.bind(frontend)
    workers = peer.socket(zmq.DEALER)
    workers.bind(backend)
    zmq.proxy(clients, workers)        # runs until the context ends (ContextTerminated)


with Lab("router-dealer-proxy") as proxy_lab:
    proxy_lab.start("server", proxy_server, frontend="inproc://frontend", backend="inproc://backend")
    for w in ("worker1", "worker2"):
        proxy_lab.start(w, rd.server_worker, endpoint="inproc://backend", work=0.005)
    for c in ("client1", "client2"):
        proxy_lab.start(c, rd.client_task, endpoint="inproc://frontend", requests=20, window=4)
    proxy_lab.wait_for(lambda: all(proxy_lab.peer(c).data.get("done") for c in ("client1", "client2")),
                       timeout=10, what="both clients to finish")
    answered = all(sorted(proxy_lab.peer(c).data["answered"]) == list(range(20))
                   and not proxy_lab.peer(c).data["misrouted"] for c in ("client1", "client2"))
    assert answered and not proxy_lab.errors()
print("Through zmq.proxy, each client got all 20 of its replies, and none went to the wrong client.")

# %% [markdown]
# ## 4. A scripted run: three clients, three workers, and a client that dies
#
# Each client sends 40 requests, at most 4 in flight; each worker takes 20 ms per request. The
# server uses `ROUTER_MANDATORY`, so it can count the replies it could not deliver. The scenario
# **kills** client3 once it has counted 10 replies. The kill lands a moment later (the scenario checks
# the count every few milliseconds, and the client stops within one poll), so client3 may get a reply
# or two more first. Its open requests are still being worked on, and their replies arrive at the
# server for a client that is gone.

# %%
frontend, backend = lab.endpoint("frontend"), lab.endpoint("backend")
lab.start("server", rd.server_task, frontend=frontend, backend=backend, mandatory=True)
for w in ("worker1", "worker2", "worker3"):
    lab.start(w, rd.server_worker, endpoint=backend, work=0.02)
clients = ["client1", "client2", "client3"]
crash = Scenario("client3 dies", seed=0)
for c in clients:
    crash.at(0, "start", c, rd.client_task, endpoint=frontend, requests=40, window=4)
crash.after(10, "client3", "replies", "kill", "client3")
print(crash.describe())


def all_settled():
    """Both survivors are done and every request the server took has been answered or refused."""
    server = lab.peer("server")
    return (all(lab.peer(c).data.get("done") for c in ("client1", "client2"))
            and server.get("replies") + server.get("unroutable") == server.get("requests"))


report = lab.run(crash, seconds=10, until=all_settled)
report

# %%
rd_views.progress_figure(lab, report, [(c, "replies") for c in clients] + [("server", "unroutable")],
                         title="async server: replies received per client; client3 killed",
                         ylabel="replies so far")

# %% [markdown]
# client1 and client2 climb to 40. client3's line stops a little above 10, when the kill has landed,
# and the server's `unroutable` count rises by the replies that were still being worked on for it.

# %%
server = lab.peer("server")
survivors_ok = all(sorted(lab.peer(c).data["answered"]) == list(range(40))
                   and not lab.peer(c).data["misrouted"] for c in ("client1", "client2"))
in_flight = lab.peer("client3").get("requests") - lab.peer("client3").get("replies")
verdict(survivors_ok, "client1 and client2 got all 40 replies each, every one for the client that asked.")
verdict(all(not lab.peer(c).data["misrouted"] for c in clients), "No reply ever reached the wrong client.")
print(f"client3 had ~{in_flight} requests open when it died; "
      f"replies the server could not route: ~{server.get('unroutable')}")
verdict(server.get("unroutable") <= in_flight,
        "There were no more unroutable replies than requests client3 had left open.")
order = lab.peer("client1").data["answered"]
overtaken = sum(b < a for a, b in zip(order, order[1:]))
print(f"client1's replies out of order (a later request answered first): ~{overtaken}")
shares = {w: lab.peer(w).get("requests") for w in ("worker1", "worker2", "worker3")}
verdict(max(shares.values()) - min(shares.values()) <= 2,
        "The backend DEALER dealt the requests evenly over the three workers (within 2).")
median_ms = summarize(lab.peer("client1").latencies["rtt"]).p50 * 1e3
print(f"round trip per request: median ~{median_ms:.0f} ms")
assert survivors_ok and server.get("unroutable") <= in_flight and not lab.errors()

# %% [markdown]
# Out-of-order replies are normal here: three workers run in parallel, and whichever finishes first
# answers first. The client matches replies to requests by their content, not by their order.
#
# ## 5. Watch the frames: a message-flow diagram
#
# Now a small run with the flow recorder switched on: two clients send 3 requests each (all at once,
# since a DEALER need not wait), two workers answer. Each message is recorded once, with the frames
# its receiver gets: by the receiver, except the workers' replies, which a worker records as it sends
# them (the server's DEALER cannot tell which worker a reply came from). So each request makes four
# arrows: client → server (the ROUTER has put the identity in front), server → worker (passed on
# unchanged), worker → server (the envelope goes back with the reply), server → client (the ROUTER
# has taken the identity off). Each request has its own colour.

# %%
for name in list(lab.peers):
    lab.remove(name)
flow.clear()
frontend, backend = lab.endpoint("frontend-2"), lab.endpoint("backend-2")
lab.start("server", rd.server_task, frontend=frontend, backend=backend, flow=flow)
for w in ("worker1", "worker2"):
    lab.start(w, rd.server_worker, endpoint=backend, work=0.005, flow=flow)
lab.wait_for(lambda: all(lab.peer(w).data.get("connected") for w in ("worker1", "worker2")), timeout=5,
             what="both workers to connect")
for c in ("client1", "client2"):
    lab.start(c, rd.client_task, endpoint=frontend, requests=3, window=3, flow=flow)
lab.wait_for(lambda: all(lab.peer(c).data.get("done") for c in ("client1", "client2")), timeout=5,
             what="both clients to get 3 replies")
print("messages recorded:", flow.total, "(6 requests x 4 hops)")


def request_of(event):
    """The request an arrow belongs to: the frame that looks like 'client1:0'."""
    return next(f.decode() for f in event.frames if f.startswith(b"client") and b":" in f)


flow.figure(peers=["client1", "client2", "server", "worker1", "worker2"], key=request_of,
            legend_title="request", title="async server: 6 requests")

# %% [markdown]
# Read it top to bottom: the clients fire their requests without waiting for replies. The server
# passes them to its DEALER backend in the order they reach the frontend (the client → server
# arrows), and the DEALER deals them to worker1 and worker2 in turn: first to one worker, second to
# the other, and so on. The server → worker arrows need not alternate, though: each row is drawn when
# the worker *reads* the message, and a worker reads its next request only once it has answered the
# last, so a request can wait in a worker's queue while the other worker reads two. Replies come back
# in the order the workers finish, and each one retraces its request's path. (Run the cell again: the
# interleaving changes, the paths do not.) The cell after the table checks the turn-taking.
#
# A table can pick messages out, here client1's requests as the frontend ROUTER handed them to the
# server, identity first:

# %%
flow.table(where=lambda e: e.sender == "client1" and e.receiver == "server")

# %%
events = flow.events()
passed_on = [request_of(e) for e in events                # requests, in the order the server got them
             if e.receiver == "server" and e.sender.startswith("client")]
dealt_to = {request_of(e): e.receiver for e in events     # request -> the worker that got it
            if e.sender == "server" and e.receiver.startswith("worker")}
turns = [dealt_to[r] for r in passed_on]
verdict(flow.total == 24, "Every request made 4 hops.")
verdict(all(e.frames[0] == e.sender.encode() for e in events
            if e.receiver == "server" and e.sender.startswith("client")),
        "Each request the frontend received had its client's identity in front.")
verdict(all(len(e.frames) == 2 for e in events if e.receiver.startswith("client")),
        "The clients received no envelope, just [request, worker].")
verdict(all(a != b for a, b in zip(turns, turns[1:])),
        "In the order the server passed them on, the requests went to worker1 and worker2 in turn.")
assert flow.total == 24 and all(a != b for a, b in zip(turns, turns[1:]))

# %% [markdown]
# ## 6. Play with it
#
# A lab of its own for you to play with: the async server again, this time over TCP (so that a
# restarted server can be found again by its clients and workers), with two clients that never stop.
# Each client is throttled to one request every 20 ms, and keeps up to 4 requests in flight. Kill a
# worker: its queued requests are lost (the clients count them as `lost` after a 1 s timeout) and the
# DEALER deals to the others. Throttle a worker: requests dealt to it wait, since DEALER deals
# round-robin without asking who is busy (notebook 05 fixes that). Add clients and workers with the
# buttons. This lab stays open after the notebook ends; re-running the cell starts it afresh.

# %%
def playground(name):
    """The async server over tcp, two workers and two clients that never stop, under a panel."""
    play = Lab(name)
    frontend, backend = play.endpoint("frontend", "tcp"), play.endpoint("backend", "tcp")
    play.start("server", rd.server_task, frontend=frontend, backend=backend, mandatory=True)
    add_worker = adder("worker", rd.server_worker, endpoint=backend, work=0.005)
    add_client = adder("client", rd.client_task, endpoint=frontend, requests=None, timeout=1.0,
                       throttle=0.02)
    for _ in range(2):
        add_worker(play)
        add_client(play)
    return play, Panel(play, counters=["replies"], title="async server: clients, server, workers",
                       actions={"add worker": add_worker, "add client": add_client})


play, panel = playground("router-dealer-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried these for you on a twin of this lab, so your panel is fresh (the code is
# folded: click the "..." to read it). What it saw: an added worker was dealt requests at once; a
# worker slowed to 50 ms a request was still dealt as many as a fast one; killed, it took the requests
# waiting for it along, and the clients counted them as lost after their timeout, while the other
# workers carried on; an added client got its replies, and no reply ever reached the wrong client.

# %%
# FOLDED
rehearsal, twin = playground("router-dealer-rehearsal")
peer = rehearsal.peer
twin.action_buttons["add worker"].click()
rehearsal.wait_for(lambda: peer("worker3").get("requests") >= 5, timeout=5, what="worker3 to get work")
print("The worker added while the server ran was dealt requests at once.")

twin.rows["worker2"].throttle.value = 0.05
taken = {w: peer(w).get("requests") for w in ("worker2", "worker3")}
rehearsal.wait_for(lambda: peer("worker2").get("requests") >= taken["worker2"] + 10, timeout=5,
                   what="10 more requests at the slow worker2")
slow, fast = (peer(w).get("requests") - taken[w] for w in ("worker2", "worker3"))
assert verdict(fast < 2 * slow + 5, f"Slowed to 50 ms a request, worker2 still took ~{slow} requests while "
               f"worker3 took ~{fast}, not the ten times as many its speed would earn: the DEALER deals "
               "in turn, without asking who is busy.")

def lost_so_far():
    return sum(peer(c).get("lost") for c in ("client1", "client2"))


lost = lost_so_far()
twin.rows["worker2"].kill.click()
rehearsal.wait_for(lambda: lost_so_far() > lost, timeout=3, what="the clients to give up on worker2's requests")
after = {w: peer(w).get("requests") for w in ("worker1", "worker3")}
rehearsal.wait_for(lambda: all(peer(w).get("requests") >= after[w] + 5 for w in after), timeout=5,
                   what="the other workers to carry on")
print(f"The requests waiting at the killed worker2 were lost: after their 1 s timeout the clients gave up"
      f" on ~{lost_so_far() - lost}. worker1 and worker3 carried on.")

twin.action_buttons["add client"].click()
rehearsal.wait_for(lambda: peer("client3").get("replies") >= 5, timeout=5, what="client3 to get replies")
assert verdict(not any(peer(c).data["misrouted"] for c in rehearsal.peers if c.startswith("client")),
               "The added client3 got its replies, and no reply ever reached the wrong client.")
assert not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * A ROUTER puts the sender's identity in front of every message it receives and routes every
#   message it sends on its first frame. REQ adds an empty delimiter; DEALER adds nothing.
# * The envelope is just frames. A proxy that passes frames on unchanged lets the reply retrace the
#   request's path, so the asynchronous server needs no table of who asked what.
# * DEALER clients keep several requests open; replies may come back in a different order.
# * A ROUTER silently drops a message for an unknown identity, unless `ROUTER_MANDATORY` is set; then
#   `send` raises `EHOSTUNREACH`.
#
# **Questions**
# 1. The server never counts its workers. How does a new worker start getting requests?
# 2. When a worker is killed, which requests are lost: only the one it was working on?
# 3. What would go wrong if two clients chose the same identity?
# 4. When would you rather have `EHOSTUNREACH` than a silent drop? When not?
#
# **Exercise.** A message can pass through several ROUTERs; each one adds an identity, so envelopes
# stack: a REQ request that went through two ROUTER-DEALER proxies arrives as
# `[id2, id1, '', body]`. Write `split_envelope(frames)` that returns `(envelope, body)`: everything
# up to and including the first empty frame, and the rest. Then run the check.

# %%
def split_envelope(frames):
    # your turn: return (envelope, body) as two lists of frames, then run the check below
    return None


# %%
checks = [
    ([b"\x00\x80\x00\x00\x29", b"", b"hello"], ([b"\x00\x80\x00\x00\x29", b""], [b"hello"])),
    ([b"id2", b"id1", b"", b"body", b"more"], ([b"id2", b"id1", b""], [b"body", b"more"])),
    ([b"", b"just a body"], ([b""], [b"just a body"])),
    ([b"id1", b"", b"body", b"", b"tail"], ([b"id1", b""], [b"body", b"", b"tail"])),
]
print(passed([split_envelope(frames) == expected for frames, expected in checks]))

# %% [markdown]
# <details><summary>One answer (open it after you have tried)</summary>
#
# ```python
# def split_envelope(frames):
#     cut = frames.index(b"") + 1          # the first empty frame ends the envelope
#     return frames[:cut], frames[cut:]
# ```
#
# A ROUTER on the way back pops one identity per hop, so the reply retraces the request's path.
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/asyncsrv.py` is the asynchronous server (ROUTER frontend, DEALER backend, worker
# threads, `zmq.proxy` between) and `examples/asynccli.py` a DEALER client with requests in flight:
#
# ```sh
# python examples/asyncsrv.py --workers 4 &
# python examples/asynccli.py
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('asyncsrv')

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
# Next: [05 · Load balancing](05_load_balancing.ipynb).
