# Source of notebooks/26_peering.ipynb - build with: python tools/nbbuild.py notebooks/src/26_peering.py
# %% [markdown]
# # 26 · Inter-broker routing: clusters that lend each other their workers
#
# *Where this sits: before this, [25 · Clone, grown up](25_clone_reliable.ipynb);
# this one builds on [05 · Load balancing](05_load_balancing.ipynb) and is the last notebook (next: back
# to [the list of notebooks](../README.md) or the [glossary](glossary.ipynb)). In the guide, chapter 3,
# [Worked Example: Inter-Broker Routing](https://zguide.zeromq.org/docs/chapter3/). Words used here:
# [broker](glossary.ipynb#Broker), [LRU](glossary.ipynb#LRU), [identity](glossary.ipynb#Identity),
# [envelope](glossary.ipynb#Envelope), [liveness](glossary.ipynb#Liveness),
# [peering](glossary.ipynb#Peering) (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** the broker of notebook 05 shares work among the workers of *one* cluster. Systems
# grow into several clusters (one per building, per data centre, per customer), each with its own
# broker, clients and workers, and each with its own busy hours. When one cluster's clients ask for more
# than its workers can do while another cluster's workers sit idle, requests should cross over. But
# crossing costs a hop and a slower link, so a request should stay at home while a local worker is
# free, and go abroad only when none is.
#
# Here three clusters, `dc1`, `dc2` and `dc3`, each run the same broker, and the brokers **peer**: they
# know each other by name and add three kinds of link to their local frontend and backend.
#
# * **State flow** (PUB to SUB): each broker publishes `[name, free]`, how many of its workers are idle,
#   whenever that number changes and every 100 ms anyway; it subscribes to every peer's. A peer not
#   heard for 3 intervals (its [liveness](glossary.ipynb#Liveness)) counts as having no free worker.
# * **Cloud flow** (ROUTER to ROUTER): each broker's `cloudbe` connects to every peer's `cloudfe`. Both
#   sockets carry the broker's name as their [identity](glossary.ipynb#Identity), so
#   `cloudbe.send_multipart([b"dc2", ...])` reaches dc2. A client's request goes to a free local worker,
#   least recently used first; **only when there is none** does it go to the peer that said it has the
#   most free workers. A request that came from a peer is served at home or waits there: it is never
#   lent on, so no request goes round in circles.
# * **Monitor** (PUSH to PULL): every routing decision, with the numbers it was made on, goes to one
#   monitor, which this notebook reads.
#
# ```mermaid
# flowchart LR
#     C["dc1's clients<br/>DEALER (connect)"] --> LFE
#     W["dc1's workers<br/>DEALER (connect)"] -- "READY, replies" --> LBE
#     subgraph dc1["broker dc1"]
#         LFE["localfe<br/>ROUTER (bind)"]
#         LBE["localbe<br/>ROUTER (bind)"]
#         CFE["cloudfe<br/>ROUTER (bind)"]
#         CBE["cloudbe<br/>ROUTER (connect)"]
#         SBE["statebe<br/>PUB (bind)"]
#         SFE["statefe<br/>SUB (connect)"]
#         MON["monitor<br/>PUSH (connect)"]
#     end
#     CBE -- "requests dc1 lends" --> PCF["cloudfe of dc2, dc3"]
#     PCB["cloudbe of dc2, dc3"] -- "requests dc1 borrows" --> CFE
#     SFE -- "their free workers" --> PSB["statebe of dc2, dc3"]
#     PSF["statefe of dc2, dc3"] -- "dc1's free workers" --> SBE
#     MON -- "routing decisions" --> M["monitor<br/>PULL (bind)"]
# ```
#
# Arrows go from the socket that connects to the one that binds; the labels say what flows. dc2 and
# dc3 have the same seven sockets, and each broker connects its `cloudbe` and `statefe` to both of
# the others.
#
# A `~` in front of a printed number marks a measurement, which changes from run to run; everything else
# a cell prints is the same on every run.

# %%
import zmq

from zguide_py import Lab, Scenario, live_labs, show_example, show_source, verdict
from zguide_py.exercise import grade
from zguide_py.flow import Flow
from zguide_py.patterns import peering as pr
from zguide_py.views import peering as peering_views
from zguide_py.widgets import Panel, adder

lab = Lab("peering")

# %% [markdown]
# ## 1. Two ways to join brokers: federation and peering
#
# **Federation** joins brokers without new protocol: a broker simply becomes a client of another,
# or one of its workers. Say dc2 connects a socket to dc1's backend and says `READY` there, as any
# worker would. dc1's [LRU](glossary.ipynb#LRU) queue now holds "dc2" beside its own workers, and when
# dc2 is at the head of the queue, dc1 hands it a request; dc2 serves it with one of its own workers and
# sends the reply back as a worker would. It is cheap to build, and it suits a one-way hierarchy (a
# regional broker that hands certain work to a central one). Its limits show as soon as clusters are
# equals:
#
# * dc1 sees dc2 as **one** worker. It lends dc2 one request at a time, whether dc2 has one idle worker
#   or fifty (or dc2 says `READY` fifty times and then owes dc1 fifty answers it may not be able to give).
# * dc1 knows nothing of dc2's own load. It may lend to dc2 while dc2's workers are busy with dc2's
#   own clients, and it may lend to dc2 while one of its *own* workers is free.
# * Each direction is a separate link. For dc1 and dc2 to help each other, each must be the other's
#   worker, and then a request can bounce from one to the other and back.
#
# **Peering**, which this notebook builds, treats the brokers as equals with links made for the purpose.
# Each says how many workers it has free, and lends only to a peer that has said it has room, and only
# when it has no room itself. It costs more sockets and more code, and each broker's picture of the
# others is as old as their last state message; in return every decision is made on numbers, work
# flows both ways, and one rule (a borrowed request is never lent on) rules out loops. The guide
# builds peering too, in three steps (state flow, cloud flow, both together); we go straight to the
# whole thing.
#
# ## 2. The roles
#
# * `broker` binds `frontend` (its clients), `backend` (its workers), `cloud` and `state`, and connects
#   to its peers' `cloud` and `state` endpoints and to the monitor. Its loop reads a peer's request only
#   when one of its own workers is free, and a client's request only when someone's worker is free
#   (otherwise requests wait in the socket's queue, as in 05). `route` makes each decision, and
#   `decided` logs it (`peer.log("route", ...)`) and tells the monitor, with the free workers the broker
#   saw at home (`local`) and at its peers (`cloud`). `tick` publishes the state.
# * `worker` is a DEALER that says `READY`, serves a task, and replies with the task's
#   [envelope](glossary.ipynb#Envelope) in front, as in 05, with one addition: a socket monitor tells it
#   each time its connection to the broker is made, and it says `READY` again then. So a broker that
#   crashes and restarts learns its workers again.
# * `client` is a DEALER Lazy Pirate (notebook 09): it sends a request, waits up to a timeout, then
#   sends it again on the same socket, up to 10 tries. It takes the first reply to each request as its
#   answer, and counts any later reply to the same request (an earlier try, answered late) as a
#   **duplicate**, which it drops.
# * `monitor` pulls the brokers' decisions and counts, per broker, requests kept at home and lent to the
#   cloud, and any that went to the cloud while a local worker was free.
#
# Every message is checked before it is used: a malformed one is counted and dropped, and the broker
# goes on.

# %%
show_source(pr.broker, pr.route, pr.tick, pr.worker)

# %% [markdown]
# ## 3. One request's trip through two brokers
#
# Two clusters: dc1 has **no** worker, dc2 has one. Both brokers record the messages they send and
# receive in a `Flow`. The notebook plays a client of dc1, with a DEALER socket of its own named
# `client`. First what each broker knows once the state flow has run for a moment:

# %%
flow = Flow(lab)
trip = peering_views.start_clusters(lab, {"dc1": 0, "dc2": 1}, flow=flow, monitor=False)
for name in trip.names:
    print(f"{name}: {lab.peer(name).data['status']()}")

# %% [markdown]
# dc1 has heard dc2 say it has one free worker. Now one request, one call per cell:

# %%
flow.clear()
client = lab.socket(zmq.DEALER, routing_id=b"client", rcvtimeo=2000)    # a recv never waits over 2 s
client.connect(trip.endpoints["dc1"]["frontend"])
client.send_multipart([b"", b"client:0"])

# %%
client.recv_multipart()

# %% [markdown]
# The answer came from `dc2-worker1`, a worker of the other cluster. Each broker logged its decision
# with what it saw:

# %%
for e in sorted(pr.routes(lab.events_of()), key=lambda e: e.peer):      # dc1's decision, then dc2's
    print(f"{e.peer}: {e.get('request').decode()} -> {e.get('to')} ({e.get('via')}); it saw "
          f"{e.get('local')} free worker(s) at home and {e.get('cloud')} at its peers")

# %% [markdown]
# dc1 had no free worker, so the request went to the cloud; dc2 had one, and gave it the request. The
# frames of the trip, as each receiving socket hands them over:

# %%
flow.table(where=lambda e: e.note != "state", width=30)

# %% [markdown]
# Read the envelope grow and shrink. dc1's frontend put `"client"` in front (who asked). dc1's `cloudbe`
# sent `[dc2, client, '', request]`, and dc2's `cloudfe` handed it over as `[dc1, client, '', request]`:
# the ROUTER took off the address it routed on and put on the one it received from. dc2 gave its worker
# `['', dc1, client, '', request]`, with both addresses, and the reply carried them back: dc2 saw
# `dc1` first, a peer's name, so it sent the reply on `cloudfe`; dc1 saw `client` first, so it sent it on
# its frontend. The diagram adds the state messages dc1 heard meanwhile: dc2's free workers went to 0
# while its worker was busy, and back to 1.

# %%
flow.figure(peers=["client", "dc1", "dc2", "dc2-worker1"], label_width=16, max_frames=6,
            title="one request of dc1's client, served in dc2")

# %%
client.close()
peering_views.remove(lab, trip)

# %% [markdown]
# ## 4. A scripted run: three clusters, one slowed, one killed
#
# * **dc1** has 1 worker and 3 clients: it always has more requests than workers.
# * **dc2** and **dc3** have 2 workers and 1 client each: they have room to spare.
#
# ```mermaid
# flowchart LR
#     subgraph one["cluster dc1"]
#         direction TB
#         C1["3 clients"] --> B1["broker dc1"]
#         W1["1 worker"] --> B1
#     end
#     subgraph two["cluster dc2"]
#         direction TB
#         C2["1 client"] --> B2["broker dc2"]
#         W2["2 workers"] --> B2
#     end
#     subgraph three["cluster dc3"]
#         direction TB
#         C3["1 client"] --> B3["broker dc3"]
#         W3["2 workers"] --> B3
#     end
#     one <-- "state and cloud" --> two
#     two <-- "state and cloud" --> three
#     one <-- "state and cloud" --> three
# ```
#
# (The links between clusters join their brokers; clients and workers only ever talk to their own.)
#
# A worker takes 10 ms a task. Every client sends requests one at a time, with a 0.5 s timeout, until
# the run ends. The schedule:
#
# * at 1.0 s dc2's workers are **throttled** to 40 ms more a task (what the panel's sliders do), and
#   back to full speed at 3.5 s;
# * at 2.0 s the broker of dc3 is **killed**, as a crash would kill it, and restarted at 3.0 s. Its
#   workers and its client stay up and reconnect.

# %%
clusters = peering_views.start_clusters(lab, {"dc1": 1, "dc2": 2, "dc3": 2}, work=0.01)
clients = peering_views.start_clients(lab, clusters, {"dc1": 3, "dc2": 1, "dc3": 1}, requests=None, timeout=0.5)
schedule = Scenario("dc2 slowed, dc3 killed and restarted", seed=26)
for w in clusters.workers["dc2"]:
    schedule.at(1.0, "throttle", w, 0.04).at(3.5, "throttle", w, 0)
schedule.at(2.0, "kill", "dc3").at(3.0, "restart", "dc3")
print(schedule.describe())

# %%
report = lab.run(schedule, seconds=4.5)
peering_views.stop_clients(lab, clusters)        # each finishes the request in hand, then stops
tally = pr.tally(lab, clients)
print(f"~{tally.requests} requests in ~{report.duration:.1f} s, answered by the workers of "
      + ", ".join(f"{c} ~{n}" for c, n in sorted(tally.served_in.items())))

# %%
peering_views.run_figure(report, clusters, "three clusters: dc2's workers slowed, dc3's broker killed")

# %% [markdown]
# **Reading the plot.** At the start dc1's clients keep its one worker busy all the time, so dc1 lends
# the rest, about evenly, to dc2 and dc3. When dc2's workers slow down, dc2 has a free worker less
# often: it says so, and dc1 lends most of its work to dc3. When dc3's broker dies, dc3's workers stand
# idle (they have nobody to serve), dc1 lends only to the slow dc2, and dc3's own client waits. Once dc3
# is back, its workers connect again and say `READY`, dc3 says it has free workers, and the lending
# resumes; at 3.5 s dc2 is fast again and gets its share back.
#
# ## 5. The verdicts
#
# Every request of every client, accounted for: answered exactly once (a client takes one answer per
# request), or abandoned, or answered by a reply that was not its own. And every decision to lend, read
# from the brokers' logs and from the monitor.

# %%
kill = next(e.t for e in report.events if e.kind == "kill")
restart = next(e.t for e in report.events if e.kind == "restart")
decisions = pr.routes(report.events)
lent = [e for e in decisions if e.get("to") == "cloud"]
watched = lab.peer("monitor").data["routes"]
slowed, dead, revived = (peering_views.lent(report.events, a, b) for a, b in
                         ((1.0, kill), (kill + 0.5, restart), (restart, report.duration)))
verdict(tally.ok, "Every request was answered exactly once: none abandoned, none answered by another's reply.")
resent = {c: sum(lab.peer(n).get("retries") for n in clients if n.startswith(c)) for c in clusters.names}
print("(Requests sent again after a timeout: " + ", ".join(f"by {c}'s clients ~{n}" for c, n in resent.items())
      + f"; ~{tally.duplicates} later replies to requests already answered were dropped as duplicates.)")
verdict(lent and all(e.get("local") == 0 for e in lent),
        f"Each of the ~{len(lent)} requests lent to a peer was lent while its broker saw no free worker at home.")
verdict(lab.peer("monitor").get("violations") == 0 and any(d["to"] == "cloud" for d in watched),
        f"The monitor, which got ~{len(watched)} decisions from the three brokers, saw the same.")
verdict(slowed[("dc1", "dc3")] > slowed[("dc1", "dc2")],
        f"While dc2 was slow, dc1 lent more to dc3 (~{slowed[('dc1', 'dc3')]}) than to dc2 "
        f"(~{slowed[('dc1', 'dc2')]}).")
verdict(not any(peer == "dc3" for _, peer in dead) and dead[("dc1", "dc2")] > 0,
        "From 0.5 s after dc3's broker was killed until its restart nobody lent it a request; dc1 lent to dc2.")
verdict(revived[("dc1", "dc3")] > 0, "Restarted, dc3 heard its workers say READY again and took dc1's requests again.")
assert tally.ok and tally.requests > 100 and lent and all(e.get("local") == 0 for e in lent)
assert lab.peer("monitor").get("violations") == 0 and slowed[("dc1", "dc3")] > slowed[("dc1", "dc2")]
assert not any(peer == "dc3" for _, peer in dead) and revived[("dc1", "dc3")] > 0 and not lab.errors()

# %% [markdown]
# Why 0.5 s: a peer learns that a broker is gone in one of two ways. When the dead broker's sockets close,
# the connection drops, and a send to it fails at once (`ROUTER_MANDATORY`): the peer tries the next one.
# And when it has not heard the broker's state for 3 intervals (0.3 s), it counts it as having no free
# worker. Until one of these happens, a request can still be lent to the dead broker, and is lost with it.
#
# Exactly once, in spite of a broker killed with requests in hand: some of dc1's requests were in dc3
# when it died. They were lost with it, and dc1's clients sent them again after their timeout; dc1 then
# lent them elsewhere. A reply that comes after the client has sent its request again (a slow worker,
# not a dead one) makes a duplicate, which the client drops. As with every Lazy Pirate, requests must be
# safe to do twice: a lost reply means the work may have been done already.
#
# The brokers' logs cannot lie about what they saw, but they show only what a broker believed. dc1's
# count of a peer's free workers is as old as that peer's last state message, minus what dc1 has lent
# it since. When dc1 lends to a peer whose workers have just got busy, the request waits in that
# peer's `cloudfe` queue until one is free: the peer reads its cloud only when it has a free worker.

# %%
peering_views.remove(lab, clusters)

# %% [markdown]
# ## 6. Play with it
#
# A lab of its own for you: the same three clusters, with clients that never stop (dc1's three, dc2's
# and dc3's one each, each waiting 10 ms between requests). The rows of the brokers say how many workers are free at
# home and what each peer last said (`silent` when it has not been heard for 3 state intervals). Kill a
# broker and watch its peers stop lending to it; restart it and watch it take work again. Slow dc2's
# workers with the buttons (or one worker with its slider), add workers to dc1 and watch it lend less.
# This lab stays open after the notebook ends; re-running the cell starts it afresh.
#
# In the broker's rows, `requests` counts its clients' requests, `from_peers` the requests it
# borrowed, `to_local` and `to_cloud` its decisions, `lent` the replies it sent back to a peer and
# `replies` those to its own clients; `unreachable` counts sends to a peer that was not connected at
# that moment (its requests went elsewhere). A client's `retries` counts requests sent again after a
# timeout, `duplicates` the extra replies it dropped. The plot shows each worker's tasks per second (summed
# per cluster once there are more lines than fit) and the requests each broker lends per second.

# %%
def playground(name):
    """Three peered clusters with clients that never stop, under a panel."""
    play = Lab(name, sample_interval=0.25)
    c = peering_views.start_clusters(play, {"dc1": 1, "dc2": 2, "dc3": 2}, work=0.01)
    peering_views.start_clients(play, c, {"dc1": 3, "dc2": 1, "dc3": 1}, requests=None, timeout=0.5, pause=0.01)

    def slow_dc2(lab, seconds=0.05):
        for w in [n for n in lab.peers if n.startswith("dc2-worker")]:
            lab.throttle(w, seconds)
        return f"dc2's workers take {seconds * 1000:.0f} ms more a task"

    actions = {"add a dc1 worker": adder("dc1-worker", pr.worker, endpoint=c.endpoints["dc1"]["backend"], work=0.01),
               "slow dc2's workers": slow_dc2, "dc2 at full speed": lambda lab: slow_dc2(lab, 0)}
    return play, Panel(play, counters=["tasks", "to_cloud"], actions=actions,
                       title="three peered clusters: kill a broker, slow a cluster, add workers")


play, panel = playground("peering-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried these for you on a twin of this lab, so your panel is fresh (the code is
# folded). What it saw: dc1 lent to both peers; with dc2's workers slowed it lent more to dc3; with dc3's
# broker killed it lent only to dc2, while dc3's client retried; restarted, dc3 took dc1's requests again;
# a worker added to dc1 got tasks; and neither a client nor the monitor saw anything wrong.

# %%
# FOLDED
rehearsal, twin = playground("peering-rehearsal")


def lent_next(n, broker="dc1"):
    """The next n requests that `broker` lends, counted by the peer that took them (at most 10 s)."""
    since = rehearsal.now()

    def enough():
        got = peering_views.lent(rehearsal.events_of("route", broker, since))
        return got if sum(got.values()) >= n else None
    return {peer: k for (_, peer), k in rehearsal.wait_for(enough, timeout=10, what=f"{n} lent").items()}


first = lent_next(30)
assert verdict(first.get("dc2", 0) > 0 and first.get("dc3", 0) > 0, "dc1 lent requests to both dc2 and dc3.")
twin.action_buttons["slow dc2's workers"].click()
slow = lent_next(40)
assert verdict(slow.get("dc3", 0) > slow.get("dc2", 0), "With dc2's workers slowed, dc1 lent more to dc3.")
retries = rehearsal.peer("dc3-client1").get("retries")
twin.rows["dc3"].kill.click()
rehearsal.wait_for(lambda: rehearsal.events_of("peer_silent", "dc1"), timeout=5, what="dc1 to find dc3 silent")
assert verdict(set(lent_next(10)) == {"dc2"}, "With dc3's broker dead, dc1 lent only to dc2.")
rehearsal.wait_for(lambda: rehearsal.peer("dc3-client1").get("retries") > retries, timeout=5, what="a retry")
twin.rows["dc3"].restart.click()
verdict(rehearsal.wait_for(lambda: "dc3" in lent_next(1), timeout=10, what="dc1 to lend to dc3 again"),
        "Restarted, dc3 took dc1's requests again.")
twin.action_buttons["dc2 at full speed"].click()
twin.action_buttons["add a dc1 worker"].click()
verdict(rehearsal.wait_for(lambda: rehearsal.peer("dc1-worker2").get("tasks") >= 5, timeout=5, what="tasks"),
        "The worker added to dc1 said READY and got tasks.")
seen = {c: rehearsal.peer(c).get("mismatched") for c in rehearsal.peers if "-client" in c}
assert verdict(not any(seen.values()) and rehearsal.peer("monitor").get("violations") == 0
               and not rehearsal.errors(),
               "No client got a reply that was not its own, and the monitor saw no request lent while a "
               "local worker was free.")
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * A broker that knows its own free workers and hears its peers' can keep work at home while it can,
#   and lend the rest where there is room. The state flow is cheap (a number per change), and it is
#   what makes every decision to lend an informed one.
# * ROUTER to ROUTER works when both ends have names: each broker's cloud sockets carry its name, so
#   a broker addresses a peer as it addresses a worker.
# * "A borrowed request is never lent on" is the whole of the loop prevention. The price: a borrowed
#   request waits for a local worker even when a third cluster has room.
# * A dead broker costs the requests it held. The clients' retries make the loss invisible to their
#   users, once the state flow says the dead broker has nothing to offer.
#
# **Questions**
# 1. dc1 lends to a peer while the peer's last state message said it had free workers. What happens to a
#    request dc1 lends to a peer whose workers all got busy in the meantime? Where does it wait?
# 2. Why does a broker read its `cloudfe` only when it has a free worker, but its `frontend` when any
#    cluster has one?
# 3. What would go wrong if a broker could lend a borrowed request on to a third broker?
# 4. The state heartbeat here is 100 ms and a peer is silent after 3 of them. What changes for the
#    clients if the heartbeat is 1 s? What if there were no heartbeat at all, only messages on change?
#
# **Exercise.** dc1 has **2** workers; dc2 has **3**, all idle. dc1's only client sends 30 requests, one
# at a time (it waits for each reply before it sends the next). How many of the 30 does dc1 lend to dc2?
# Put your prediction in `my_guess`, run the cell, the folded experiment and the check.

# %%
my_guess = None      # how many of dc1's 30 requests go to dc2

# %%
# FOLDED
with Lab("peering-exercise") as ex:
    quiz = peering_views.start_clusters(ex, {"dc1": 2, "dc2": 3}, monitor=False)
    peering_views.start_clients(ex, quiz, {"dc1": 1}, requests=30)
    ex.wait_done("dc1-client1", timeout=20)
    answer = peering_views.lent(ex.events_of())[("dc1", "dc2")]
    assert pr.tally(ex, ["dc1-client1"]).ok and answer == 0 and not ex.errors()

# %%
print(grade(my_guess, answer))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **None: 0.** A client that waits for each reply never has more than one request in dc1, and dc1 has
# two workers: when a request arrives, the worker that served the previous one has already said it is
# free again (its reply is what tells dc1, before dc1 passes the reply on). dc1 lends only when it has
# no free worker of its own, and that never happens here, however many idle workers dc2 has. Lending
# starts when a cluster's clients together keep more requests in flight than it has workers, as dc1's
# three clients did in section 4.
#
# </details>

# %% [markdown]
# ## The roles as processes
#
# Each role runs as a process too, over tcp (or ipc). Two clusters, dc1 with no worker and dc2 with
# one, and a monitor; give each broker its name with `--name`, and each client and worker a name of its
# own (the broker routes by them):
#
# ```sh
# python -m zguide_py run peering.monitor --bind tcp://127.0.0.1:5590
# python -m zguide_py run peering.broker --name dc1 --bind frontend=5511 --bind backend=5512 \
#     --bind cloud=5513 --bind state=5514 --connect peer_clouds=5523 --connect peer_states=5524 \
#     --connect monitor=5590
# python -m zguide_py run peering.broker --name dc2 --bind frontend=5521 --bind backend=5522 \
#     --bind cloud=5523 --bind state=5524 --connect peer_clouds=5513 --connect peer_states=5514 \
#     --connect monitor=5590
# python -m zguide_py run peering.worker --name dc2-worker1 --connect 5522
# python -m zguide_py run peering.client --name dc1-client1 --connect 5511 requests=20
# ```
#
# With a third broker, give `--connect peer_clouds=...` and `--connect peer_states=...` once per peer.

# %% [markdown]
# ## The pattern without the lab
#
# `examples/peering.py` is one whole cluster in one process, in plain pyzmq: the broker in the main
# thread, its workers and Lazy Pirate clients as threads, its peers named on the command line, and
# their cloud and state endpoints derived from the names (`ipc://DIR/NAME-cloud.ipc`). Kill one of the
# three with Ctrl-C and the others carry on. It speaks the same frames as the workbook's broker, so a
# script cluster and a workbook cluster can peer.
#
# ```sh
# python examples/peering.py dc1 dc2 dc3 --workers 1 --clients 3 &
# python examples/peering.py dc2 dc1 dc3 --workers 3 --clients 1 &
# python examples/peering.py dc3 dc1 dc2 --workers 3 --clients 1
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example("peering")

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: this is the last notebook. Go back to [the list of notebooks](../README.md) for one you have
# not opened yet, or to the [glossary](glossary.ipynb) for the words they use.
