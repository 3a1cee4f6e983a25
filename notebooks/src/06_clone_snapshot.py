# Source of notebooks/06_clone_snapshot.ipynb - build with: python tools/nbbuild.py notebooks/src/06_clone_snapshot.py
# %% [markdown]
# # 06 · Pub-sub with a snapshot (the Clone pattern, model 2)
#
# *Where this sits: before this, [02 · Publish-subscribe](02_publish_subscribe.ipynb); next, [07 ·
# Snapshot plus updates](07_clone_updates.ipynb); in the guide, chapter 5, [Reliable Pub-Sub (Clone
# Pattern)](https://zguide.zeromq.org/docs/chapter5/); chapter 5, [Getting an Out-of-Band
# Snapshot](https://zguide.zeromq.org/docs/chapter5/). Words used here:
# [snapshot](glossary.ipynb#Snapshot), [sequence number](glossary.ipynb#Sequence-number),
# [RFCs](glossary.ipynb#RFCs) (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** a server holds some *state* (a table of prices, the configuration of a cluster,
# who is online) and publishes every change to it. Plain publish-subscribe only carries the
# changes. A subscriber that starts late, or crashes and comes back, has missed the changes sent
# while it was away, and nothing in the stream tells it what they were: its copy of the state is
# wrong, silently, for ever.
#
# The guide's **Clone** pattern keeps copies exact with two ideas:
#
# * every update carries a **sequence number**: 1, 2, 3...; the number of the newest update is the
#   *version* of the state;
# * a client can ask for a **snapshot**: the whole state plus its version. It then applies only the
#   updates that are newer than the snapshot.
#
# ```mermaid
# flowchart LR
#     subgraph server["server (clonesrv2)"]
#         R["ROUTER (bind)"]
#         P["PUB (bind)"]
#     end
#     subgraph client["client (clonecli2)"]
#         D["DEALER (connect)"]
#         S["SUB (connect)"]
#     end
#     D -- "ICANHAZ?" --> R
#     R -- "one kvmsg per key … KTHXBAI" --> D
#     P -- "every update, numbered" --> S
# ```
#
# Arrows follow the messages: the request for a snapshot goes from client to server, the snapshot
# and the stream of updates from server to client. The client's sockets connect, the server's bind.
# The order matters: the client
# **subscribes first** and asks for the snapshot second. Updates published in between are then
# waiting in its SUB queue; it skips those that the snapshot already contains and applies the rest.
#
# A number printed after a `~` (like `~0.9 s`) was measured in this run and will differ when you
# run it again; everything else the cells print is the same every time.

# %%
import uuid

import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import passed
from zguide_py.patterns import clone
from zguide_py.patterns.clone import KVMsg, clonecli2, clonesrv2
from zguide_py.views import clone as clone_view
from zguide_py.widgets import Panel, adder

lab = Lab("clone-snapshot", sample_interval=0.02)   # sample often: the plot follows each client

# %% [markdown]
# ## 1. The message: `kvmsg`
#
# Every update, and every entry of a snapshot, is one multipart message. The guide's model 2 uses its
# `kvsimple` class: **three frames**, the **key**, the **sequence** number (8 bytes, big-endian) and
# the **body** (the value). The guide adds a **uuid** that names one update and **properties** as
# `name=value` lines only with model 5, in its full `kvmsg` class. This workbook uses those five
# frames from the start (our choice, not the guide's): one message format serves notebooks 06 and
# 07, where the uuid and a `from` property tell who wrote an update. Model 2 itself needs only the
# key, the sequence and the body. The five frames, and the names `ICANHAZ?`, `KTHXBAI` and `HUGZ`
# met below, are those of the guide's Clustered Hashmap Protocol, written down as the
# [RFC](glossary.ipynb#RFCs) [12/CHP](https://rfc.zeromq.org/spec/12/) for its model 6; we follow it
# loosely (our `ICANHAZ?` has no subtree frame, for one). The sequence frame is binary, so it is
# shown here byte by byte in hex, with the number it holds: 42 is `2a`.

# %%
update = KVMsg("key-007", 42, b"hello", properties={"from": "server"})
names = ["key", "sequence", "uuid", "properties", "body"]
for i, (name, frame) in enumerate(zip(names, update.encode())):
    if name == "uuid":
        shown = str(uuid.UUID(bytes=frame))
    elif name == "sequence":
        shown = f"{frame.hex(' ')}  (= {int.from_bytes(frame, 'big')})"
    else:
        shown = repr(frame)
    print(f"frame {i}: {name:<10} {len(frame):>2} bytes  {shown}")
assert verdict(KVMsg.decode(update.encode()) == update, "The five frames decode back to the same update.")

# %% [markdown]
# ## 2. The roles
#
# The server publishes random updates to 100 keys at a steady rate (a small `Pacer` says how many
# are due each time round) and keeps the newest update of each key. Between updates it polls its
# ROUTER socket; a request `ICANHAZ?` ("I can has
# snapshot?") is answered with every stored update, then a `KTHXBAI` message whose sequence number
# is the snapshot's version. One thread does both, so a snapshot is always exactly "everything up to
# its version". (The guide's C version splits the publisher and the state keeper into two threads.)
#
# The client subscribes, asks for a snapshot, then follows the stream. It goes one step further
# than the guide: if an update's number is not the next one, an update went missing (dropped at the
# high-water mark, or sent before the subscription reached the server), so it asks for a new snapshot.
# That step is `follow`, and it is this workbook's choice. The guide argues against it (in the
# section on model 3): holes in the stream are caused by network stress, and asking the server for
# what is missing adds more stress to a network that is already stressed, so things get worse. A
# whole snapshot is the heaviest request there is. Its advice is that the client warn its users that
# it is "unable to continue" and stop, until someone has checked the cause (notebook 08's suicidal
# snail does that). We re-snapshot because here a gap is rare and the state is 100 small keys; with a
# big state, or a network that is losing messages because it is overloaded, the guide's advice is the
# safer one. Every message is checked before it is used (`recv_kvmsg`, `snapshot_request`):
# one that is not a well-formed kvmsg is counted and logged as `malformed`, and dropped.

# %%
show_source(clonesrv2, clone.send_snapshot, clonecli2, clone.follow, clone.request_snapshot)

# %% [markdown]
# ## 3. A snapshot by hand
#
# A server publishes 5 updates to 3 keys, and stops. Then the notebook asks for a snapshot itself,
# one call per cell, with a DEALER socket: everything after `ICANHAZ?` is the server's reply.

# %%
eps = {"snapshot": lab.endpoint("snapshot", "tcp"), "publisher": lab.endpoint("updates", "tcp")}
lab.start("server", clonesrv2, count=5, rate=100, keys=3, seed=1, **eps)
lab.wait_for(lambda: lab.peer("server").data.get("done"), timeout=5, what="5 updates")
dealer = lab.socket(zmq.DEALER)
dealer.connect(eps["snapshot"])
done, version = lab.peer("server").data["done"], lab.peer("server").data["sequence"]
assert verdict(done, f"The server has sent its 5 updates; the version of its state is {version}.")

# %%
dealer.send(b"ICANHAZ?")

# %%
while dealer.poll(2000):
    entry = KVMsg.decode(dealer.recv_multipart())
    print(entry)
    if entry.key == "KTHXBAI":
        break

# %% [markdown]
# Three keys, each with the number of the update that last set it, then `KTHXBAI` carrying 5: the
# version. A client that gets this snapshot skips every update numbered 5 or less, and applies 6, 7...

# %%
dealer.close()
lab.remove("server")

# %% [markdown]
# ## 4. A scripted run: a late client and a crashed one
#
# The server publishes 1 500 updates to 100 keys, 1 000 a second. `client1` starts with it; the
# scenario **kills** it at 0.4 s and **restarts** it at 0.9 s: it comes back with nothing and must
# rebuild its state. A second client, `late`, only **starts** at 0.7 s, when the server is already
# at about update 700.

# %%
lab.start("server", clonesrv2, count=1500, rate=1000, keys=100, seed=6, **eps)
CLIENTS = ["client1", "late"]
late_and_crash = Scenario("a late client and a crashed one", seed=6) \
    .at(0, "start", "client1", clonecli2, **eps) \
    .at(0.4, "kill", "client1") \
    .at(0.7, "start", "late", clonecli2, **eps) \
    .at(0.9, "restart", "client1")
print(late_and_crash.describe())
report = lab.run(late_and_crash, seconds=10,
                 until=lambda: "late" in lab.peers and lab.peer("server").data.get("done")
                 and clone.caught_up(lab, "server", CLIENTS))
print(f"run took ~{report.duration:.1f} s")
restarted_at = report.events_of("restart", "client1")[0][0]
t, keys, version = clone_view.snapshots(report, "late")[0]
print(f"late joined at ~{t:.2f} s with a snapshot of ~{keys} keys at version ~{version}")
t, keys, version = next(s for s in clone_view.snapshots(report, "client1") if s[0] >= restarted_at)
print(f"client1 restarted at ~{t:.2f} s with a snapshot of ~{keys} keys at version ~{version}")
print(f"snapshots asked again after a gap: ~{len(report.events_of('gap'))}")

# %%
clone_view.progress_figure(lab, report, ["server", *CLIENTS],
                           title="Clone model 2: a late client and a restarted one catch up through snapshots")

# %% [markdown]
# One panel per client; the server's line (the pale band) is drawn in both and climbs steadily.
# `client1` (top) runs along it, stays flat while it is dead (the shaded stretch), and jumps back
# onto it with the snapshot it gets when it restarts (a circle): a restarted client starts from
# nothing and does not replay what it missed. `late` (bottom) starts at 0.7 s with nothing, and its
# first snapshot lifts it straight onto the band. After that, both follow the stream update by
# update, each in its own panel.
#
# ## 5. The verdict: do the copies equal the original?

# %%
server_seq, server_map = clone.state_of(lab.peer("server"))
print(f"server: {len(server_map)} keys at version {server_seq}")
verdicts = {}
for name in CLIENTS:
    seq, kvmap = clone.state_of(lab.peer(name))
    verdicts[name] = seq == server_seq and kvmap == server_map
    verdict(verdicts[name], f"{name} (started {lab.peer(name).starts}x) is at version {seq}, "
            "with the same keys, sequences and values as the server.")
print("sample:", clone_view.describe(server_map, 4))
assert server_seq == 1500 and all(verdicts.values())
for name in ["server", *CLIENTS]:      # the scripted run is over
    lab.remove(name)

# %% [markdown]
# ## 6. Play with it
#
# A lab of its own for you: a server that publishes 200 updates a second for ever, and two clients.
# Kill a client and restart it: it comes back with a snapshot. *add client* starts one more.
# *pause updates* stops the server's updates (it still answers snapshots) so that you can compare
# the maps while nothing moves: the button calls `lab.set("server", paused=True)`, and the server
# reads `peer.inputs["paused"]`. *compare maps* says, on the panel's message line, which clients
# hold exactly the server's map. Slow a client with its slider: its `sequence` falls behind the
# server's, as the updates wait in its queues, and it catches up when you release it. Those queues
# are deep (1 000 updates in ZeroMQ on each side, and thousands more in the TCP buffers of the
# operating system): it would take minutes of slowness to overflow them, make the server drop
# updates, and have the client see a gap and take a new snapshot. Notebook 08 makes that happen
# with small queues.
#
# The counters in each row: `published` (server) and `applied` (client) are updates sent and used;
# `sequence` is the newest number reached; `snapshot requests` and `snapshots` count `ICANHAZ?`
# asked and snapshots answered or received; `skipped` counts updates a snapshot already held;
# `resyncs` counts new snapshots taken after a gap; `hugz` counts the server's heartbeats. This lab
# stays open after the notebook ends; re-running the cell starts it afresh.

# %%
def clients(lab):
    """The lab's clients, in the order they were added."""
    return [name for name in lab.peers if name.startswith("client")]


def compare_maps(lab):
    same = clone.same_state(lab, "server", [c for c in clients(lab) if lab.peer(c).alive])
    return "same map as the server: " + ", ".join(f"{c} {'yes' if ok else 'NO'}" for c, ok in same.items())


def playground(name):
    """A server that publishes for ever and two clients, in a lab of their own, under a panel."""
    play = Lab(name)
    eps = {"snapshot": play.endpoint("snapshot", "tcp"), "publisher": play.endpoint("updates", "tcp")}
    play.start("server", clonesrv2, count=None, rate=200, keys=100, seed=7, **eps)
    for client in ("client1", "client2"):
        play.start(client, clonecli2, **eps)
    return play, Panel(play, counters=["applied", "published"], max_throttle=0.05,
                       title="Clone model 2: one server, clients with snapshots",
                       actions={"add client": adder("client", clonecli2, **eps),
                                "pause updates": lambda lab: lab.set("server", paused=True),
                                "resume updates": lambda lab: lab.set("server", paused=False),
                                "compare maps": compare_maps})


play, panel = playground("clone-snapshot-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried these buttons for you on a twin of this lab, so your panel is fresh (the
# code is folded). It killed and restarted `client1`, which asked for a new snapshot and followed
# the stream again; it added `client3`, which started from a snapshot too; then it paused the
# updates, and all three clients held exactly the server's map, key by key.

# %%
# FOLDED
rehearsal, twin = playground("clone-snapshot-rehearsal")


def follows(name, timeout=5):
    """Wait until client `name` has applied 20 more updates from the stream."""
    before = rehearsal.peer(name).get("applied")
    return rehearsal.wait_for(lambda: rehearsal.peer(name).get("applied") >= before + 20, timeout,
                              f"{name} to follow")


follows("client1")
follows("client2")
twin.rows["client1"].kill.click()
snapshots_before = rehearsal.peer("server").get("snapshots")
twin.rows["client1"].restart.click()
verdict(follows("client1") and rehearsal.peer("server").get("snapshots") > snapshots_before,
        "client1, killed and restarted, asked the server for a new snapshot and follows the stream again.")
twin.action_buttons["add client"].click()
verdict(follows("client3") and rehearsal.peer("client3").get("snapshots") >= 1,
        "client3, added late, started from a snapshot and follows the stream.")
twin.action_buttons["pause updates"].click()
rehearsal.wait_for(lambda: clone.caught_up(rehearsal, "server", clients(rehearsal)), timeout=5,
                   what="every client at the server's version")
same = clone.same_state(rehearsal, "server", clients(rehearsal))
verdict(all(same.values()) and len(same) == 3,
        "With the updates paused, all three clients hold the server's map: same keys, sequences, values.")
assert all(same.values()) and len(same) == 3 and not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * Sequence numbers turn "the state" into "the state at version N", which a client can ask for.
# * Subscribing *before* asking for the snapshot means no update can fall between the two: the
#   ones already in the snapshot are skipped, the newer ones applied.
# * A client that starts late, or crashes and restarts, gets exactly the server's state, checked
#   key by key.
# * A gap in the numbers is the alarm that something was lost. Our client takes a new snapshot; the
#   guide warns that this adds load to a network that is already under stress, and would rather
#   the client stop and say it cannot go on.
# * A gap shows only when a newer update arrives. When the stream goes quiet, the server's heartbeat
#   does the same job: twice a second it publishes `HUGZ` with its current number (the guide's
#   model 6 sends `HUGZ` too), and a client whose own number is lower knows it missed the end.
#
# **Questions**
# 1. What would go wrong if the client asked for the snapshot *before* subscribing?
# 2. Kill the *server* in the panel and restart it. Its sequence numbers start again from 1. What do
#    the clients do with updates numbered lower than their version? How would you fix that?
# 3. The snapshot is sent as one message per key. What happens with a million keys, and a ROUTER
#    whose high-water mark is 1 000 messages?
#
# **Exercise.** Write the client's core rule as a pure function: given the snapshot's version and
# the sequence numbers of the updates in the order they arrive, return the numbers the client
# applies, and whether it must ask for a new snapshot (it stops at the first gap). Then run the
# check.

# %%
def catch_up(version, arriving):
    """Sequence numbers to apply after a snapshot at `version`, and True if a gap was found."""
    # your turn: return (list of numbers applied, True if a gap was found), then run the check below
    return None


# %%
print(passed([
    catch_up(5, [3, 4, 5, 6, 7]) == ([6, 7], False),     # skips what the snapshot holds
    catch_up(5, [6, 7, 9, 10]) == ([6, 7], True),        # stops at a gap
    catch_up(5, [4, 5]) == ([], False),                  # nothing new is fine
    catch_up(5, [8]) == ([], True),                      # a late first update is a gap
    catch_up(0, [1, 2, 3]) == ([1, 2, 3], False),        # an empty snapshot
]))

# %% [markdown]
# <details><summary>One answer (open it after you have tried)</summary>
#
# ```python
# def catch_up(version, arriving):
#     applied = []
#     for seq in arriving:
#         if seq <= version:
#             continue                          # already in the snapshot
#         if seq != version + 1:
#             return applied, True              # something is missing: new snapshot
#         applied.append(seq)
#         version = seq
#     return applied, False
# ```
#
# This is the heart of `clone.follow`. The guide's model 2 client has only the first rule: it
# skips every update that is not newer than its snapshot. The gap rule is ours (see section 2).
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/clonesrv.py` (model 3 server: numbers, stores, republishes, snapshots) and
# `examples/clonecli.py` (snapshot, then ordered updates; `--count 0` makes it a model 2 reader):
#
# ```sh
# python examples/clonesrv.py &
# python examples/clonecli.py --count 0
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('clonecli')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [07 · Snapshot plus updates](07_clone_updates.ipynb).
