# Source of notebooks/13_titanic.ipynb - build with: python tools/nbbuild.py notebooks/src/13_titanic.py
# %% [markdown]
# # 13 · Titanic: requests that survive a crash, on disk (9/TSP)
#
# *Where this sits: before this, [12 · Majordomo](12_majordomo.ipynb); next, [14 · Binary
# Star](14_binary_star.ipynb); in the guide, chapter 4, [Disconnected Reliability (Titanic
# Pattern)](https://zguide.zeromq.org/docs/chapter4/). Words used here: [ticket](glossary.ipynb#Ticket),
# [MMI](glossary.ipynb#MMI), [RFCs](glossary.ipynb#RFCs) (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** Majordomo keeps requests in memory. If the broker dies, every request it was
# holding dies with it, and the client has to keep retrying until the whole system is back. Some
# work must not be lost that way, and some clients cannot wait around for it ("send this invoice,
# tell me later"). **Titanic** (specified as [9/TSP](https://rfc.zeromq.org/spec/9/)) is a service
# on a Majordomo broker that **writes each request to
# disk before it says yes**, hands the client a *ticket*, delivers the request to its real service
# whenever that service is available, and keeps the reply until the client collects it. Once a
# client holds a ticket, its request will be answered, whatever crashes in between.
#
# ```mermaid
# flowchart LR
#     F[("folder on disk")] <-.-> T1 & T2 & T3 & D
#     subgraph TI["Titanic: three Majordomo workers and a Majordomo client"]
#         T1["titanic.request<br/>DEALER (connect)<br/>writes .req"]
#         T2["titanic.reply<br/>DEALER (connect)<br/>reads .rep"]
#         T3["titanic.close<br/>DEALER (connect)<br/>deletes both"]
#         D["dispatcher<br/>REQ (connect)<br/>reads .req, asks mmi.service,<br/>then 'echo', writes .rep"]
#     end
#     T1 & T2 & T3 & D --> B["broker<br/>ROUTER (bind, tcp)"]
#     C["client<br/>REQ (connect)"] -- "titanic.request / .reply / .close" --> B
#     W["worker 'echo'<br/>DEALER (connect)"] --> B
# ```
#
# Solid arrows are ZeroMQ connections (from the connecting socket to the binding one); dotted ones
# are file operations.
#
# Titanic is made of plain Majordomo pieces: three workers (one per service, their "work" is a file
# operation) and a dispatcher that is a Majordomo *client* of the real services. To the broker it
# is all ordinary traffic.
#
# A number printed after a `~` is a measurement that changes from run to run; everything else a
# cell prints is the same on every run.

# %%
import os
import shutil
import tempfile
import uuid

import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import passed
from zguide_py.patterns import majordomo, titanic
from zguide_py.views import titanic as titanic_views
from zguide_py.widgets import Panel

lab = Lab("titanic")
folder = tempfile.mkdtemp(prefix="titanic-", dir="/tmp")
lab.on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
print("Titanic keeps its files in", folder)


def show_folder():
    """The files in Titanic's folder, tickets written as UUIDs (so they print the same every time)."""
    names = sorted(os.listdir(folder), key=lambda n: (n[32:], n))
    return [f"{uuid.UUID(n[:32])}{n[32:]}" for n in names]


# %% [markdown]
# ## 1. The three services, one call per cell
#
# A broker (heartbeat 100 ms), the three Titanic services and the dispatcher, but no `echo`
# worker yet. We play the client by hand. A ticket is a UUID written as 32 hex digits, as 9/TSP
# asks; this notebook prints it in the usual dashed form.

# %%
HB = 0.1
endpoint = lab.endpoint("broker", "tcp")
lab.start("broker", majordomo.broker, endpoint=endpoint, heartbeat=HB, liveness=3)
for service in titanic.SERVICES:
    lab.start(service, titanic.titanic_service, broker=endpoint, folder=folder, service=service,
              heartbeat=HB, liveness=3)
lab.start("dispatcher", titanic.dispatcher, broker=endpoint, folder=folder)
lab.wait_for(lambda: len(lab.peer("broker").data["workers"]) == 3, timeout=5, what="Titanic's services")
print("services offered:", sorted(lab.peer("broker").data["workers"].values()))

hand = lab.socket(zmq.REQ)
hand.connect(endpoint)


def call(service, *body):
    """One Majordomo request from this notebook: returns the reply body."""
    hand.send_multipart([b"MDPC01", service, *body])
    if not hand.poll(3000):
        raise TimeoutError(f"no answer from {service!r}")
    _header, _service, *reply = hand.recv_multipart()
    return reply


# %%
status, ticket = call(b"titanic.request", b"echo", b"hello")
print("status:", status, "| ticket:", len(ticket), "hex digits =", uuid.UUID(ticket.decode()))

# %% [markdown]
# The request is on disk *before* that answer was sent:

# %%
show_folder()

# %% [markdown]
# Nobody offers `echo` yet, so the dispatcher (which asks `mmi.service` first) leaves it there.
# Asking for the reply says **300**, pending:

# %%
call(b"titanic.reply", ticket)

# %%
lab.start("w1", majordomo.worker, broker=endpoint, service="echo", heartbeat=HB, liveness=3)
lab.wait_for(lambda: titanic.stored(folder)["replies"] == 1, timeout=5, what="the reply file")
show_folder()

# %%
call(b"titanic.reply", ticket)

# %% [markdown]
# The client has its reply; it closes the ticket and Titanic forgets it. A closed (or made-up)
# ticket is **400**, unknown.

# %%
print("close:", call(b"titanic.close", ticket), "| folder:", show_folder())
print("reply for the closed ticket:", call(b"titanic.reply", ticket))
hand.close()

# %% [markdown]
# ## 2. The roles
#
# Each service is a Majordomo worker whose work is one file operation. Files are written to a
# temporary name, `fsync`ed and renamed, and then the folder itself is `fsync`ed (without that the
# rename may be lost in a power cut), so a crash never leaves half a request behind. Each file is a
# *record* with a version, the length of each frame and a checksum, and is checked when it is read:
# a damaged file is moved aside to `quarantine/`, logged, and its ticket answered with an error,
# instead of killing the role that read it. A request for a `titanic.*` service is refused (400).

# %%
show_source(titanic.store_request, titanic.fetch_reply, titanic.close_ticket, titanic.titanic_service)

# %% [markdown]
# The dispatcher looks at the folder once, when it starts; after that `titanic.request` hands it
# each new ticket through its inbox. It takes the oldest request of a service, asks `mmi.service`
# whether the service is offered, sends it, and writes the reply. When the broker does not answer,
# it tries again later. A service nobody offers is asked about again every `retry` seconds (once
# per service, not per ticket), and when it has been missing for `patience` seconds (60 by
# default) its tickets are answered `400` with a reason. Everything it needs is in the folder, so
# it can be killed and restarted at any moment. The client treats `300` (pending) and `500`
# (Titanic could not answer now) as "ask again later", and `400` as final.

# %%
show_source(titanic.dispatcher, titanic.client)

# %% [markdown]
# ## 3. A scripted run: everything crashes except the disk
#
# A client submits 40 requests (one every 40 ms) and collects the replies by ticket. A second
# `echo` worker joins. Then, after 10 requests were accepted:
#
# * the **broker and both workers are killed**: requests in flight die with them;
# * at 0.9 s **Titanic itself** (its three services and the dispatcher) is killed: only the folder
#   is left;
# * at 1.3 s the broker restarts, at 1.5 s Titanic, at 1.9 s the workers.
#
# While the broker is down the client cannot even submit: its `titanic.request` calls time out
# (0.5 s) and it tries again. A request only counts as *accepted* when the client holds a ticket.

# %%
lab.start("w2", majordomo.worker, broker=endpoint, service="echo", heartbeat=HB, liveness=3)
lab.start("client", titanic.client, broker=endpoint, service="echo", requests=40, interval=0.04,
          timeout=0.5)
everything = ["broker", *titanic.SERVICES, "dispatcher", "w1", "w2"]
crash = Scenario("broker, workers and Titanic crash and restart", seed=0)
for name in ("broker", "w1", "w2"):
    crash.after(10, "client", "accepted", "kill", name)
for name in (*titanic.SERVICES, "dispatcher"):
    crash.at(0.9, "kill", name)
crash.at(1.3, "restart", "broker")
for name in (*titanic.SERVICES, "dispatcher"):
    crash.at(1.5, "restart", name)
crash.at(1.9, "restart", "w1").at(1.9, "restart", "w2")
print(crash.describe())
report = lab.run(crash, seconds=15, until=lambda: lab.peer("client").state == "done")
for step in report.steps:
    print(f"fired at ~{step.fired_at:.2f} s: {step.label}")
print("errors:", report.errors or "none")

# %%
titanic_views.tickets_figure(report, requests=40)

# %% [markdown]
# Both lines go flat at the first crash: no broker, so no new tickets and no replies. Tickets
# already handed out are safe on disk. After the restarts the dispatcher finds the stored requests,
# the replies catch up with the tickets, and the client carries on.
#
# **Verdict**, counted by ticket:

# %%
client = lab.peer("client")
tickets, replies = client.data["tickets"], client.data["replies"]
print("requests accepted (tickets held):", len(tickets))
print("replies collected:", len(replies))
verdict(set(replies) == set(tickets) and all(replies[t] == tickets[t] for t in tickets),
        "Every ticket got the reply to its own request.")
print("tickets Titanic did not know:", len(client.data["unknown"]))
print(f"submissions that timed out while things were down: ~{client.get('not accepted')}")
assert len(tickets) == 40 and set(replies) == set(tickets) and not client.data["unknown"]
assert all(replies[t] == tickets[t] for t in tickets) and not lab.errors()

# %% [markdown]
# What is left in the folder? Each client ticket was closed after its reply, so anything left is an
# **orphan**: a request Titanic stored and acknowledged, but whose acknowledgement was lost with the
# broker, so the client asked again and got a second ticket. Titanic executed it anyway (it cannot
# know). That is the price of "at least once": duplicates and garbage, never loss.

# %%
orphans = {name[:32] for name in os.listdir(folder)}
print(f"orphan tickets on disk: ~{len(orphans)}")
assert verdict(not orphans & set(tickets), "None of them is a ticket the client holds.")

# %% [markdown]
# ## 4. Play with it
#
# A lab of your own, with a folder of its own: the broker, Titanic, two `echo` workers and a client
# that keeps submitting (one request every 50 ms), and two buttons: **crash all** kills everything but
# the client; **restart all** brings it back. Kill peers one by one too: kill only the workers and
# tickets keep being issued (replies wait); kill only `titanic.reply` and replies wait while tickets
# keep coming. This lab stays open after the notebook ends; re-running the cell starts it afresh.

# %%
def crash_all(lab):
    for name in everything:
        lab.kill(name)


def restart_all(lab):
    for name in everything:
        lab.restart(name)


def playground(name):
    """Broker, Titanic, two workers and a client that keeps submitting, in a lab of their own."""
    play = Lab(name)
    folder = tempfile.mkdtemp(prefix="titanic-play-", dir="/tmp")
    play.on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    broker = play.endpoint("broker", "tcp")
    play.start("broker", majordomo.broker, endpoint=broker, heartbeat=HB, liveness=3)
    for service in titanic.SERVICES:
        play.start(service, titanic.titanic_service, broker=broker, folder=folder, service=service,
                   heartbeat=HB, liveness=3)
    play.start("dispatcher", titanic.dispatcher, broker=broker, folder=folder)
    for worker in ("w1", "w2"):
        play.start(worker, majordomo.worker, broker=broker, service="echo", heartbeat=HB, liveness=3)
    play.start("client", titanic.client, broker=broker, service="echo", requests=10**6, interval=0.05,
               timeout=0.5)
    return play, Panel(play, counters=["accepted", "replies"], title="Titanic: crash everything but the disk",
                       actions={"crash all": crash_all, "restart all": restart_all})


play, panel = playground("titanic-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has pressed the buttons on a twin of your lab, so your panel is fresh (the code is
# folded). What it saw: after **crash all** no ticket was issued; after **restart all** every ticket
# handed out before the crash got its reply.

# %%
# FOLDED
rehearsal, twin = playground("titanic-rehearsal")
client = rehearsal.peer("client")
rehearsal.wait_for(lambda: client.get("replies") >= 5, timeout=5, what="5 replies")
twin.action_buttons["crash all"].click()
verdict(all(rehearsal.peer(n).state == "killed" for n in everything),
        "'crash all' killed the broker, Titanic and the workers.")
# a ticket already on its way may still land; after that, none comes (bounded: 3 s)
held = rehearsal.wait_quiet(lambda: len(client.data["tickets"]), quiet=0.3, timeout=3, what="tickets to stop")
verdict(len(client.data["tickets"]) == held, "With everything down, no ticket was issued for 0.3 s.")
twin.action_buttons["restart all"].click()
before_crash = list(client.data["tickets"])[:held]
rehearsal.wait_for(lambda: all(t in client.data["replies"] for t in before_crash), timeout=10,
                   what="the replies to every ticket held before the crash")
verdict(all(t in client.data["replies"] for t in before_crash),
        "After 'restart all', every ticket held before the crash got its reply.")
assert not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 5. What you saw, and questions
#
# * Titanic answers `titanic.request` only after the request is safely on disk; the ticket is a
#   promise that survives crashes of the broker, the workers and Titanic itself.
# * The client is *disconnected* from the work: it may submit now and collect much later.
# * The price: each request costs several round trips and a disk write (fsync), replies are
#   pulled (polling with `300 pending`), and lost acknowledgements leave orphans that someone must
#   clean up.
#
# **Questions**
# 1. Why must the file be written (and `fsync`ed) *before* the `200` is sent, and not after?
# 2. The dispatcher asks `mmi.service` before each request. What would happen without it when
#    nobody offers the service?
# 3. How would you expire orphans safely? What must a client promise for that to be safe?
#
# **Exercise.** Write `find_orphans(folder, tickets)`: it returns, as a set, the tickets whose request
# is stored in `folder` (a `<ticket>.req` file) but that are not among `tickets`, the ones the client
# holds. A ticket is the file name without its suffix. Mind the files Titanic writes on the way: a
# request being written is a `<ticket>.req.<pid>.tmp` until it is renamed, and it is not stored yet.
# Then run the check, which tries your function on a few small folders.

# %%
def find_orphans(folder, tickets):
    # your turn: return the set of tickets stored in folder that the client does not hold
    return None


# %%
a, b, c = (uuid.uuid4().hex for _ in range(3))          # three tickets, as Titanic makes them


def folder_with(*names):
    """A fresh folder holding empty files of these names."""
    where = tempfile.mkdtemp(prefix="orphans-")
    lab.on_close(lambda: shutil.rmtree(where, ignore_errors=True))
    for name in names:
        open(os.path.join(where, name), "wb").close()
    return where


checks = [
    (folder_with(f"{a}.req", f"{a}.rep", f"{b}.req"), [a], {b}),                # b: stored, not held
    (folder_with(f"{a}.req", f"{b}.req", f"{c}.req.4242.tmp"), [a], {b}),       # c is not stored yet
    (folder_with(f"{a}.req", f"{a}.rep", f"{b}.req", f"{b}.rep"), [b], {a}),    # a reply does not adopt it
    (folder_with(f"{a}.req", f"{b}.req"), [a, b], set()),                       # no orphan at all
]
print(passed([find_orphans(where, held) == want for where, held, want in checks]))

# %% [markdown]
# <details><summary>One answer (open it after you have tried)</summary>
#
# ```python
# def find_orphans(folder, tickets):
#     stored = {name[:-len(".req")] for name in os.listdir(folder) if name.endswith(".req")}
#     return stored - set(tickets)
# ```
#
# A ticket counts once however many files it has (`.req`, `.rep`), a `.tmp` file is a write that has
# not finished (Titanic never acknowledged it), and a reply on disk does not make a ticket less of an
# orphan: nobody holds the ticket to fetch it. Called on Titanic's own `folder` with the client's
# tickets, it finds the orphans of section 3. Deleting them safely needs a promise from the clients:
# question 3.
#
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/titanic.py` runs Titanic's three services and its dispatcher on a folder (9/TSP), on any
# Majordomo broker; `examples/ticlient.py` is the client (shown): request, poll by ticket, close.
#
# ```sh
# python examples/mdbroker.py & python examples/mdworker.py --service echo &
# python examples/titanic.py &
# python examples/ticlient.py --count 5
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('ticlient')

# %% [markdown]
# ## Teardown (the folder is deleted with the lab)

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
verdict(not os.path.exists(folder), "Titanic's folder was deleted with the lab.")
assert not lab.threads() and lab.open_sockets() == 0 and not os.path.exists(folder)
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [14 · Binary Star](14_binary_star.ipynb).
