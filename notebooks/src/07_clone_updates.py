# Source of notebooks/07_clone_updates.ipynb - build with: python tools/nbbuild.py notebooks/src/07_clone_updates.py
# %% [markdown]
# # 07 · Snapshot plus updates: every client writes (the Clone pattern, model 3)
#
# *Where this sits: before this, [06 · Pub-sub with a snapshot (the Clone pattern, model
# 2)](06_clone_snapshot.ipynb); next, [08 · The slow subscriber](08_slow_subscriber.ipynb); in the guide,
# chapter 5, [Republishing Updates from Clients](https://zguide.zeromq.org/docs/chapter5/). Words used
# here: [snapshot](glossary.ipynb#Snapshot), [sequence number](glossary.ipynb#Sequence-number) (all in the
# [glossary](glossary.ipynb)).*
#
# **The problem:** in notebook 06 only the server changed the state. Now every client wants to
# change it too: several copies of one key-value table, each edited in its own place, that must
# stay identical. If clients sent their changes to each other directly, two clients changing the
# same key at the same moment would each apply the other's change last, and their copies would
# differ for ever.
#
# Model 3 of the guide's **Clone** pattern makes the server the one place that decides the order. A
# client does not change its own copy: it **pushes** its update to the server, with no sequence
# number. The server gives it the next number, stores it, and **publishes** it to every client,
# the writer included. Every client applies the same updates in the same order, so all the copies
# end up equal. Late and restarted clients still start from a snapshot, exactly as in model 2.
#
# ```mermaid
# flowchart LR
#     subgraph server["server (clonesrv3)"]
#         R["ROUTER (bind)"]
#         L["PULL (bind)"]
#         P["PUB (bind)"]
#     end
#     subgraph client["each client (clonecli3)"]
#         D["DEALER (connect)"]
#         U["PUSH (connect)"]
#         S["SUB (connect)"]
#     end
#     R ~~~ D
#     L ~~~ U
#     D -- "ICANHAZ?" --> R
#     R -- "kvmsg… KTHXBAI" --> D
#     U -- "my update, sequence 0" --> L
#     P -- "numbered updates, to everyone" --> S
# ```
#
# Arrows follow the messages. Three socket pairs: the snapshot (asked by the client, sent by the
# server), updates in (client to server) and updates out (server to every client). The client's
# sockets connect, the server's bind.
#
# As in every notebook here, a `~` in front of a number marks a measurement: it changes from one run
# to the next. Everything printed without a `~` comes out the same every time.

# %%
import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import passed
from zguide_py.patterns import clone
from zguide_py.patterns.clone import KVMsg, clonecli3, clonesrv3
from zguide_py.views import clone as clone_view
from zguide_py.widgets import Panel, adder

lab = Lab("clone-updates", sample_interval=0.02)   # sample often: the plot follows each client

# %% [markdown]
# ## 1. The roles
#
# The server polls two sockets in one loop: an update on the PULL socket gets the next sequence
# number, is published and stored; an `ICANHAZ?` on the ROUTER socket gets the snapshot. The client
# is model 2's client plus a PUSH socket: it sends `count` updates of its own at `rate` per second,
# each with a fresh uuid and a property `from=<its name>`, and it does **not** apply them when it
# sends them: they count only when they come back from the server, numbered. It never waits to
# push: `peer.send(push, ..., timeout=0)` is a send that gives up at once when no server takes it.
# The server checks each update before it numbers it (`recv_update`): not a kvmsg, a protocol key
# such as `KTHXBAI`, a body over 32 kB, or a new key once the map holds 10 000, and the update is
# dropped, counted and logged as `malformed`. One bad client cannot stop the server.

# %%
show_source(clonesrv3, clonecli3, clone.recv_update)

# %% [markdown]
# ## 2. One update by hand
#
# A server, and one client that only listens (`count=0`). The notebook pushes an update itself,
# then watches it arrive at the client with the number the server gave it.

# %%
eps = {"snapshot": lab.endpoint("snapshot", "tcp"), "publisher": lab.endpoint("updates", "tcp"),
       "collector": lab.endpoint("collector", "tcp")}
lab.start("server", clonesrv3, **eps)
lab.start("reader", clonecli3, count=0, **eps)
push = lab.socket(zmq.PUSH)
push.connect(eps["collector"])
mine = KVMsg("greeting", 0, b"hello", properties={"from": "notebook"})
print("sending:", mine, "| uuid", mine.uuid_str)

# %%
mine.send(push)

# %%
lab.wait_for(lambda: lab.peer("reader").data.get("sequence") == 1, timeout=5, what="update 1 at the reader")
back = lab.peer("reader").data["kvmap"]["greeting"]
print("the reader has:", back, "| uuid", back.uuid_str)
assert verdict(back.sequence == 1 and back.uuid == mine.uuid,
               "The server gave it number 1; the uuid shows it is the very update the notebook pushed.")

# %% [markdown]
# The notebook sent sequence 0; the reader got sequence 1, with the same uuid and properties: the
# server only set the number. Was the reader's subscription already live when the update was
# published? If it was, the update came in the stream. If not, the update was lost for the reader
# and no later update reveals a gap, because we send only one. Then the server's heartbeat saves
# it: every 0.5 s the server publishes `HUGZ` with its current number, 1; the reader, still at 0,
# knows it missed something and takes a new snapshot. Either way it ends with the same state.

# %%
push.close()
for name in ["server", "reader"]:
    lab.remove(name)

# %% [markdown]
# ## 3. A scripted run: three writers, four crashes
#
# Three clients each push 120 updates to 15 shared keys, 80 a second, so they often write the
# same key at nearly the same time. A seeded schedule **kills** clients four times and
# **restarts** each one 0.1-0.4 s later; a restarted client starts over from a snapshot and pushes
# another 120 updates. The run ends when every client has pushed all its updates, the server has
# numbered every one of them, and every client has reached the server's last number.

# %%
CLIENTS = ["client1", "client2", "client3"]
lab.start("server", clonesrv3, **eps)
writers = Scenario("three writers, seeded crashes", seed=7)
for name in CLIENTS:
    writers.at(0, "start", name, clonecli3, count=120, rate=80, keys=15, seed=7, **eps)
writers.chaos(CLIENTS, kills=4, start=0.2, end=1.2, downtime=(0.1, 0.4))
print(writers.describe())
report = lab.run(writers, seconds=15,
                 until=lambda: all(s.fired_at is not None for s in writers.steps)
                 and clone.writes_settled(lab, "server", CLIENTS) and clone.caught_up(lab, "server", CLIENTS))
print(f"run took ~{report.duration:.1f} s; the server numbered ~{lab.peer('server').data['sequence']} updates")

# %%
clone_view.progress_figure(lab, report, ["server", *CLIENTS],
                           title="Clone model 3: three writers, crashed and restarted, follow one numbering")

# %% [markdown]
# One panel per client. The pale band, the same in each, is the server's count of numbered updates:
# it rises faster while all three clients write and slower while one is dead. Each client runs along
# it while alive, stays flat while dead (the shaded stretches, from a kill to the restart), and jumps
# back onto it with a snapshot (circle) when it restarts.
#
# ## 4. The verdict: one state, everywhere

# %%
server_seq, server_map = clone.state_of(lab.peer("server"))
print(f"server: {len(server_map)} keys")
verdicts = {}
for name in CLIENTS:
    seq, kvmap = clone.state_of(lab.peer(name))
    verdicts[name] = seq == server_seq and kvmap == server_map
    verdict(verdicts[name], f"{name} is at the server's last number, with the same keys, sequences and "
            "values as the server.")
sequenced = lab.peer("server").data["sequenced"]
pushed = {u for name in CLIENTS for u in lab.peer(name).data["sent_uuids"]}
verdict(sequenced <= pushed and len(sequenced) == server_seq,
        "Every numbered update was pushed by a client, and each was numbered once.")
assert all(verdicts.values()) and sequenced <= pushed and len(sequenced) == server_seq

# %% [markdown]
# Who wrote what? The `from` property of each stored update says who wrote its latest value.

# %%
authors = {name: sum(1 for m in lab.peer("server").data["kvmap"].values()
                     if m.properties.get("from") == name) for name in CLIENTS}
print("keys whose latest value came from each client:")
for name, n in authors.items():
    print(f"  {name}: ~{n}")
for name in ["server", *CLIENTS]:      # the scripted run is over
    lab.remove(name)

# %% [markdown]
# ## 5. Lost updates, seen: a writer killed with a backlog
#
# Can a pushed update get lost? Yes: an update still waiting in a client's PUSH queue when the
# client is killed dies with the socket (linger 0). It was pushed, it is never numbered, and nobody
# is told. In the run above the kills were unlikely to catch one: the server kept up, and ZeroMQ's
# I/O thread passes each update on to TCP within a millisecond, so the queues were nearly always
# empty.
#
# So this run fills them. It uses a lab of its own, whose sockets get small buffers on the way to
# the server (1 kB TCP buffers, and a high-water mark of 50 on the server's receiving side) and a
# big one in the writers: each writer's PUSH queue holds up to 500 updates. They are set once on its
# context: `ctx.setsockopt` gives a default to every socket made on that context afterwards. From
# 0.1 s the server is slowed to 5 updates a second while two writers push 200 a second each. The
# small buffers downstream fill within a second, and from then on every update a writer pushes
# waits in its own queue. At 1.8 s the scenario **kills** `writer1`, hundreds of updates in its
# queue, and lets the server run at full speed again.
#
# (Why a big queue? With small queues everywhere, the last few dozen updates a writer accepted may
# already sit in TCP's buffers when it dies, and these still arrive: how many die would depend on
# timing. A backlog in the writer's own queue is what a slow server really causes.)

# %%
lossy = Lab("clone-lost", sample_interval=0.02)
for option, value in [(zmq.SNDHWM, 500), (zmq.RCVHWM, 50), (zmq.SNDBUF, 1024), (zmq.RCVBUF, 1024)]:
    lossy.ctx.setsockopt(option, value)       # the default for every socket made on this context
lossy_eps = {"snapshot": lossy.endpoint("snapshot", "tcp"), "publisher": lossy.endpoint("updates", "tcp"),
             "collector": lossy.endpoint("collector", "tcp")}
lossy.start("server", clonesrv3, **lossy_eps)
WRITERS = ["writer1", "writer2"]
full_queue = Scenario("a writer killed with a backlog in its queue", seed=3)
for name in WRITERS:
    full_queue.at(0, "start", name, clonecli3, count=400, rate=200, keys=15, seed=3, **lossy_eps)
full_queue.at(0.1, "throttle", "server", 0.2) \
    .at(1.8, "kill", "writer1").at(1.8, "throttle", "server", 0)
print(full_queue.describe())
lossy.run(full_queue, seconds=15, until=lambda: all(s.fired_at is not None for s in full_queue.steps)
          and clone.writes_settled(lossy, "server", ["writer2"]))
pushed_by, numbered_by = clone_view.writes(lossy, WRITERS)
for name in WRITERS:
    print(f"{name} ({lossy.peer(name).state}): pushed ~{pushed_by[name]}, numbered ~{numbered_by[name]}, "
          f"lost ~{pushed_by[name] - numbered_by[name]}")
verdict(pushed_by["writer1"] > numbered_by["writer1"],
        "writer1 lost updates that it had pushed: they died in its queue, and it was never told.")
verdict(pushed_by["writer2"] == numbered_by["writer2"],
        "writer2, alive, lost none: its backlog reached the server once the server sped up again.")
assert pushed_by["writer1"] > numbered_by["writer1"] and pushed_by["writer2"] == numbered_by["writer2"]
assert not lossy.errors()
lossy.close()

# %%
clone_view.writers_figure(lossy, WRITERS)

# %% [markdown]
# Gray bars count what each writer pushed (its socket accepted), blue bars what the server numbered,
# matched by uuid. `writer2`'s bars are equal. `writer1`'s differ by exactly the updates that were
# in its queue when it died: the server never saw them, and no client will ever apply them. Neither
# our client nor the guide's model 3 does anything about it; question 2 below asks what would.

# %% [markdown]
# ## 6. Play with it
#
# A lab of its own for you: a server and three clients that write 5 updates a second each, for
# ever. Kill and restart clients; *add client* starts one more; *pause writers* stops every
# client's writing (they keep listening; the button calls `lab.set(name, paused=True)` for each
# client), so that *compare maps* can compare the copies while nothing moves: it says on the
# panel's message line which clients hold exactly the server's map. Slow a client with its slider:
# the others are not slowed, and it catches up when released (watch its `sequence`). The live plot
# shows what each client pushes and what the server numbers: the sum of them all.
#
# The counters in each row: `updates` (server) are the updates it numbered; `sent` (client) the
# updates it pushed, `mine back` those of them it has seen come back numbered, `applied` every
# numbered update it used, whoever wrote it; `sequence` is the newest number reached;
# `snapshot requests` and `snapshots` count `ICANHAZ?` asked and snapshots answered or received;
# `skipped` counts updates a snapshot already held, `resyncs` new snapshots taken after a gap,
# `hugz` the server's heartbeats. This lab stays open after the notebook ends; re-running the cell
# starts it afresh.

# %%
def clients(lab):
    """The lab's clients, in the order they were added."""
    return [name for name in lab.peers if name.startswith("client")]


def pause_writers(lab, paused=True):
    for name in clients(lab):
        lab.set(name, paused=paused)


def compare_maps(lab):
    same = clone.same_state(lab, "server", [c for c in clients(lab) if lab.peer(c).alive])
    return "same map as the server: " + ", ".join(f"{c} {'yes' if ok else 'NO'}" for c, ok in same.items())


def playground(name):
    """A server and three clients that write for ever, in a lab of their own, under a panel."""
    play = Lab(name, sample_interval=0.5)      # a few updates a second: rates over half a second
    eps = {"snapshot": play.endpoint("snapshot", "tcp"), "publisher": play.endpoint("updates", "tcp"),
           "collector": play.endpoint("collector", "tcp")}
    writer = dict(count=10**9, rate=5, keys=15, seed=None, **eps)
    play.start("server", clonesrv3, **eps)
    for client in ("client1", "client2", "client3"):
        play.start(client, clonecli3, **writer)
    return play, Panel(play, counters=["sent", "updates"], max_throttle=0.05,
                       title="Clone model 3: clients write through the server",
                       actions={"add client": adder("client", clonecli3, **writer),
                                "pause writers": pause_writers,
                                "resume writers": lambda lab: pause_writers(lab, paused=False),
                                "compare maps": compare_maps})


play, panel = playground("clone-updates-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried these buttons for you on a twin of this lab, so your panel is fresh (the
# code is folded). Every client's own updates came back to it numbered; `client2`, killed and
# restarted, wrote and followed again from a new snapshot; an added `client4` wrote too; with the
# writers paused, all four clients held exactly the server's map.

# %%
# FOLDED
rehearsal, twin = playground("clone-updates-rehearsal")


def writes_and_follows(name, timeout=5):
    """Wait until client `name` has had 3 of its own updates numbered and come back to it."""
    before = rehearsal.peer(name).get("mine back")
    return rehearsal.wait_for(lambda: rehearsal.peer(name).get("mine back") >= before + 3, timeout,
                              f"{name}'s updates back")


assert verdict(all(writes_and_follows(c) for c in clients(rehearsal)),
               "Every client's own updates came back to it, numbered by the server.")
twin.rows["client2"].kill.click()
twin.rows["client2"].restart.click()
assert verdict(writes_and_follows("client2") and rehearsal.peer("client2").get("snapshots") >= 2,
               "client2, killed and restarted, took a new snapshot, and its new updates come back numbered.")
twin.action_buttons["add client"].click()
assert verdict(writes_and_follows("client4"), "client4, added late, writes through the server too.")
twin.action_buttons["pause writers"].click()
rehearsal.wait_for(lambda: clone.writes_settled(rehearsal, "server", clients(rehearsal))
                   and clone.caught_up(rehearsal, "server", clients(rehearsal)),
                   timeout=5, what="all writes numbered and every client at the server's last number")
same = clone.same_state(rehearsal, "server", clients(rehearsal))
assert verdict(all(same.values()) and len(same) == 4,
               "With the writers paused, all four clients hold the server's map: same keys, sequences, values.")
assert not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * One server numbers every change, so every copy applies the same changes in the same order: the
#   copies converge, whoever writes, whoever crashes.
# * A client's own change only counts when it comes back numbered; its uuid lets the client (and
#   you) recognise it.
# * An update still queued in a writer that dies is lost, silently: pushed, never numbered.
# * Our wire format is the guide's full `kvmsg` (key, sequence, uuid, properties, body), which the
#   guide introduces with model 5 and writes down in [12/CHP](https://rfc.zeromq.org/spec/12/); its
#   model 3 still sends `kvsimple`'s three frames (key, sequence, body). The uuid is what let us
#   match pushed updates to numbered ones.
#
# **Questions**
# 1. Two clients write the same key at the same moment. Which value wins, and does every client
#    agree on it? Why?
# 2. Section 5's `writer1` died with updates in its queue. How could a client make sure none of its
#    updates is lost? What would it have to keep, and for how long?
# 3. What if the *server* is killed and restarted? (The guide's model 6 adds a second server, with
#    the Binary Star pattern of notebook 14. There the *passive* server keeps a "pending list" of
#    updates it has from clients but not yet from the active server, and the other way round, so
#    that a failover loses none.)
#
# **Exercise.** Find section 5's lost updates: pushed by a writer, never numbered by the server. Write
# `lost_updates(lab, clients)`, which returns, for each client, the set of uuids it pushed that the
# server never numbered. Use the uuids: each client's `data["sent_uuids"]` lists everything it
# pushed, the server's `data["sequenced"]` holds what it numbered. Then run the check, which tries
# your function on section 5's lab.

# %%
def lost_updates(lab, clients, server="server"):
    """{client: set of uuids it pushed that the server never numbered}."""
    # your turn: return a dict {client name: set of uuids}, then run the check below
    return None


# %%
# FOLDED
numbered = lossy.peer("server").data["sequenced"]
expected = {w: {u for u in lossy.peer(w).data["sent_uuids"] if u not in numbered} for w in WRITERS}
sent1 = lossy.peer("writer1").data["sent_uuids"]
assert expected["writer1"] and not expected["writer2"]
assert expected["writer1"] == set(sent1[len(sent1) - len(expected["writer1"]):])   # its last pushes

# %%
print(passed([
    lost_updates(lossy, WRITERS) == expected,
    lost_updates(lossy, ["writer2"]) == {"writer2": set()},
]))

# %% [markdown]
# <details><summary>One answer (open it after you have tried)</summary>
#
# ```python
# def lost_updates(lab, clients, server="server"):
#     numbered = lab.peer(server).data["sequenced"]
#     return {c: set(lab.peer(c).data["sent_uuids"]) - numbered for c in clients}
# ```
#
# `writer1`'s lost updates are exactly the last ones it pushed, one unbroken block: everything
# before them had left its socket and reached the server; those were still queued when it died.
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/clonesrv.py` is model 3's server as a script, and `examples/clonecli.py` its client
# (shown in notebook 06). The workbook's clients can write through the script's server:
#
# ```sh
# python examples/clonesrv.py &
# python -m zguide_py run clone.clonecli3 --connect snapshot=tcp://127.0.0.1:5556 --connect publisher=tcp://127.0.0.1:5557 --connect collector=tcp://127.0.0.1:5558
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('clonesrv')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [08 · The slow subscriber](08_slow_subscriber.ipynb).
