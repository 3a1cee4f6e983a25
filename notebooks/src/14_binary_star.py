# Source of notebooks/14_binary_star.ipynb - build with: python tools/nbbuild.py notebooks/src/14_binary_star.py
# %% [markdown]
# # 14 · Binary Star: two servers, one in charge
#
# *Where this sits: before this, [09 · Lazy Pirate](09_lazy_pirate.ipynb); next, [15 ·
# Freelance](15_freelance.ipynb); in the guide, chapter 4, [High-Availability Pair (Binary Star
# Pattern)](https://zguide.zeromq.org/docs/chapter4/). Words used here: [failover](glossary.ipynb#Failover),
# [heartbeat](glossary.ipynb#Heartbeat), [split brain](glossary.ipynb#Split-brain),
# [partition](glossary.ipynb#Partition) (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** a broker (or any server) is a single point of failure: when it dies, every client
# waits. Binary Star runs two copies of the server, the **primary server** and the **backup
# server**. At any moment exactly one of them answers clients; the other one waits. When the one
# that answers dies, the other takes over, and the clients, finding no answer at the first server,
# try the second one.
#
# How does the waiting server know that the other one died? Every heartbeat, each server tells the
# other what it is doing, over a PUB/SUB link between them. The waiting server takes over only when
# **two** things are true: the other server has gone **silent**, and a **client** has come to ask it.
# Section 5 explains why the client is needed.
#
# ```mermaid
# flowchart LR
#     C["2 clients<br/>REQ (connect)"] -- "requests" --> P["primary server<br/>ROUTER (bind, tcp)"]
#     C -. "after a timeout" .-> B["backup server<br/>ROUTER (bind, tcp)"]
#     PS["primary server's SUB (connect)"] -- "connects; hears the backup server's state every heartbeat" --> BP["backup server's PUB (bind)"]
#     BS["backup server's SUB (connect)"] -- "connects; hears the primary server's state every heartbeat" --> PP["primary server's PUB (bind)"]
# ```
#
# As everywhere in this workbook, an arrow goes from the socket that connects to the one that binds.
# On the state links the data flows the other way: each server's PUB sends its state to the other
# server's SUB.
#
# A number printed after a `~` is a measurement that changes from run to run; everything else a
# cell prints is the same on every run.

# %%
import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import grade
from zguide_py.patterns import binarystar as bstar
from zguide_py.views import binarystar as bstar_view
from zguide_py.widgets import Panel

lab = Lab("binarystar")

# %% [markdown]
# ## 1. The roles
#
# The server has the three sockets of the diagram. It polls its ROUTER (clients) and its SUB (the
# peer) together, and reads the peer's news first, so that it knows how its peer is before it
# decides about a client. A small function, `next_state` (section 3), gives the server's next state
# from its current state and what just happened; the server answers a client only when
# `next_state` says so. `peer_expiry` is the moment after which the peer counts as silent: each
# message from the peer pushes it further away.
#
# The client is a Lazy Pirate ([09](09_lazy_pirate.ipynb)) over two servers: after a timeout (50 ms
# here) it closes its socket and sends the same request to the other server.
#
# `peer.socket`, `peer.poll` and `peer.running` are the lab's versions of pyzmq's calls, which a kill
# can interrupt. The rest of the lab is a few lines: `report(...)`, `peer.count(...)` and
# `answered(...)` tell it what happened, for the figures below, and `peer.throttle()` lets the
# panel's slider slow the server down.

# %%
show_source(bstar.server, bstar.client)

# %% [markdown]
# ## 2. A pair, by hand
#
# Heartbeat 100 ms. Both servers bind over TCP (they will be killed and restarted, and TCP
# reconnects by itself). Within a few heartbeats the primary server is ACTIVE (it answers clients)
# and the backup server PASSIVE (it waits).

# %%
HB = 0.1
ep = bstar.pair_endpoints(lab)
for name in ("primary", "backup"):
    lab.start(name, bstar.server, side=name, heartbeat=HB, **ep[name])
settled = lambda: {n: lab.peer(n).data.get("state") for n in ("primary", "backup")}
lab.wait_for(lambda: settled() == {"primary": "active", "backup": "passive"}, timeout=5, what="the pair")
print(", ".join(f"the {name} server is {state.upper()}" for name, state in settled().items()))

# %% [markdown]
# A request sent straight to the **PASSIVE backup server** gets no answer while the primary server
# lives. It is dropped, and the backup server stays PASSIVE:

# %%
to_backup = lab.socket(zmq.REQ)
to_backup.connect(ep["backup"]["frontend"])
to_backup.send(b"are you the master?")
verdict(not to_backup.poll(500) and lab.peer("backup").data["state"] == "passive",
        "No answer within 0.5 s, and the backup server is still PASSIVE.")
to_backup.close()

# %% [markdown]
# ## 3. The state machine
#
# **Names and states.** *Primary* and *backup* are the servers' **names**: which server is which
# is fixed when you start it. PRIMARY, BACKUP, ACTIVE and PASSIVE (in capitals in this notebook) are
# **states**, and they change. A server starts in the state of its name, PRIMARY or BACKUP (the
# starting state: it has not heard its peer yet), and then becomes ACTIVE or PASSIVE. So after a
# failover the primary server can be PASSIVE and the backup server ACTIVE. (The lab's records and
# the panel write states in lower case: `active`.)
#
# ```mermaid
# stateDiagram-v2
#     [*] --> PRIMARY: the primary server starts
#     [*] --> BACKUP: the backup server starts
#     PRIMARY --> ACTIVE: hears the peer say BACKUP
#     PRIMARY --> PASSIVE: hears the peer say ACTIVE
#     PRIMARY --> ACTIVE: a client asks, no word from the peer for alone_after s (off by default)
#     BACKUP --> PASSIVE: hears the peer say ACTIVE
#     PASSIVE --> ACTIVE: a client asks and the peer is silent (failover), or the peer restarted
#     ACTIVE --> [*]: killed
#     PASSIVE --> [*]: killed
# ```
#
# `next_state` is a pure function: the current state, an event (the state the peer says it is in,
# or a client request), and whether the peer is silent give the next state and whether to answer
# the client. Two ACTIVE servers, or two PASSIVE ones, cannot happen by design; if it happens anyway
# the server stops (it raises `SplitBrain`) rather than go on.

# %%
show_source(bstar.next_state)

# %%
said = lambda event: ("a client request" if event == bstar.CLIENT_REQUEST
                      else "the peer says " + bstar.EVENT_NAMES[event].removeprefix("peer ").upper())
for state, event, silent in [(bstar.PRIMARY, bstar.PEER_BACKUP, False),
                             (bstar.BACKUP, bstar.PEER_ACTIVE, False),
                             (bstar.PASSIVE, bstar.CLIENT_REQUEST, False),
                             (bstar.PASSIVE, bstar.CLIENT_REQUEST, True),
                             (bstar.BACKUP, bstar.CLIENT_REQUEST, True)]:
    new, answer = bstar.next_state(state, event, silent)
    print(f"{bstar.STATE_NAMES[state].upper():>8} + {said(event):<23} ({'peer silent' if silent else 'peer heard':<11})"
          f" -> {bstar.STATE_NAMES[new].upper():<8} {'answers the client' if answer else 'no answer'}")

# %% [markdown]
# ## 4. A scripted run: kill the primary server, restart it, kill the backup server
#
# Two clients send continuously. A referee thread samples both servers' states every 2 ms.
#
# * 1.0 s: the **primary server is killed**. Clients time out and switch to the backup server. It
#   refuses them until the primary server has been silent long enough, then takes over.
# * 2.0 s: the primary server **restarts**. It hears an ACTIVE backup server and goes **PASSIVE**:
#   no failing back.
# * 3.0 s: the **backup server is killed**: the same failover, the other way round.
# * 4.0 s: the backup server restarts, and goes PASSIVE.

# %%
servers = [ep["primary"]["frontend"], ep["backup"]["frontend"]]
for name in ("c1", "c2"):
    lab.start(name, bstar.client, servers=servers, timeout=0.05, interval=0.005)
lab.start("referee", bstar.watch, lab=lab)
failover = (Scenario("kill the primary, restart it, kill the backup", seed=0)
            .at(1.0, "kill", "primary").at(2.0, "restart", "primary")
            .at(3.0, "kill", "backup").at(4.0, "restart", "backup"))
t0 = lab.now()
report = lab.run(failover, seconds=4.6)
t_end = lab.now()
for step in report.steps:
    print(f"fired at ~{step.fired_at:.2f} s: {step.label}")
print("errors:", report.errors or "none")

# %%
print("state changes (time since the start of the run):")
for event in lab.events_of("state", since=t0):
    print(f"  at ~{event.t - t0:.2f} s  {event.peer + ' server':<14} -> {bstar_view.describe_change(event)}")

# %%
# each server's states, from the fields of its "state" events: {name: [(start, end, state)]}
timeline = bstar_view.state_timeline(lab, since=t0, until=t_end)
bstar_view.states_figure(report, timeline, t0)

# %% [markdown]
# The green bars never overlap: at every moment at most one server is ACTIVE. After each kill there
# is a short stretch with no ACTIVE server at all (no bar is green): the failover. It lasts until
# the survivor has heard nothing from its peer for long enough, counted from the peer's **last**
# heartbeat, and then until the next client request reaches it (a client tries the other server
# after 50 ms without a reply). For each failover the verdict prints two numbers: how long it took
# after the kill, and how long the dead peer had been silent when the survivor took over. Look at
# the second one: the exercise at the end asks about it.
#
# **Verdict.**

# %%
overlaps = bstar_view.active_overlaps(timeline)
referee = lab.peer("referee").data
gaps = bstar_view.no_active_gaps(timeline, t0, t_end)
kills = [t for t, kind, _p, _d in lab.events_of("kill", since=t0)]
failovers = sorted(f for name in ("primary", "backup") for f in lab.peer(name).data.get("failovers", []))
limit = bstar.SILENT_BEATS * HB          # the silence the rule waits for (the exercise asks how long)
bound = limit + 2 * 0.05 + 0.15          # ... + one round of client switching + a margin
verdict(overlaps == [], "Never two ACTIVE servers, by their state changes.")
verdict(referee["max_active"] == 1, "Never two ACTIVE servers, by the referee's samples.")
print(f"(the referee looked ~{referee['samples']} times)")
verdict(len(gaps) == 2 and all(abs(g[0] - k) < 0.1 for g, k in zip(gaps, kills)),
        "The only stretches with no ACTIVE server came right after the 2 kills.")
for (g_start, g_end), (t_active, quiet) in zip(gaps, failovers):
    print(f"  failover took ~{g_end - g_start:.3f} s after the kill; the dead peer had been silent "
          f"~{quiet:.3f} s when the takeover happened")
verdict(all(quiet >= limit for _t, quiet in failovers),
        "Each takeover waited until the dead peer had been silent as long as the rule asks.")
verdict(all(g_end - g_start <= bound for g_start, g_end in gaps),
        "Each failover completed within that silence plus one round of client switching.")
verdict([s for _a, _b, s in timeline["primary"]][-2:] == ["passive", "active"]
        and timeline["backup"][-1][2] == "passive",
        "Each restarted server came back PASSIVE, and stayed so until its peer died.")
assert overlaps == [] and referee["max_active"] == 1 and len(gaps) == 2 and len(failovers) == 2
assert all(quiet >= limit for _t, quiet in failovers) and all(b - a <= bound for a, b in gaps)

# %%
for name in ("c1", "c2"):
    c = lab.peer(name)
    worst = max(c.latencies["request"])
    print(f"{name}: ~{c.get('replies')} replies, ~{c.get('switches')} switches, "
          f"slowest request ~{worst * 1e3:.0f} ms (the one caught in a failover)")
assert verdict(all(lab.peer(n).state == "running" for n in ("c1", "c2")), "The clients never gave up.")

# %% [markdown]
# ## 5. Why a client must ask: split brain
#
# Why does the PASSIVE server not take over as soon as its peer goes silent? Because silence has two
# causes that it cannot tell apart: the peer died, or the link between the two servers broke while
# both are fine. In the second case a server that took over on silence alone would become ACTIVE
# next to a peer that is still ACTIVE. Two servers would each answer their own clients, each sure
# that it is in charge, and what they store would drift apart. That is called **[split
# brain](glossary.ipynb#Split-brain)**.
#
# The client is the second opinion. A client turns to the backup server only after the primary
# server failed to answer it, so a client at the backup's door means "the primary server is out of
# my reach too". If only the link between the servers broke, the clients are still served by the
# primary server and never ask the backup, and the backup stays PASSIVE. (Notebook
# [19](19_unreliable_network.ipynb) cuts real network links to check this, and shows the one layout
# of the network that fools the rule.)
#
# **One change from the guide.** In the guide, a primary server that hears nothing from its backup
# starts serving on its own after a short wait, so that it can work alone. Here that is off by
# default (the parameter `alone_after`). The reason is a restart: a primary server restarted while
# the backup server is ACTIVE must come back PASSIVE. On a busy machine it can miss the backup's
# first heartbeats, decide that it is alone, and go ACTIVE beside it: a split brain. So in this
# workbook a server that has never heard its peer serves nobody.
#
# ## 6. Play with it
#
# A pair of your own, with two clients and the referee (it has no row: it is not part of the
# pattern). Each server's row shows its state, in lower case there: `primary` or `backup` while it
# starts, then `active` or `passive`. Kill whichever server is active and watch the other take
# over; restart it and it comes back passive. Kill both and the clients keep switching, unanswered,
# until one comes back. Slow a server down with its slider: does the other take over? (Why not?)
# This lab stays open after the notebook ends; re-running the cell starts it afresh.
#
# <details><summary>Answer: why a slow server keeps its place (open it after you have tried)</summary>
#
# The slider makes the server sleep before each reply, up to 0.1 s. Its loop still sends its state
# between two requests, so its peer keeps hearing it. The clients time out and knock at the other
# server, but that one refuses them: it still hears its peer, so the peer is not silent. A slow
# server is not a dead one, and Binary Star only replaces dead ones; the clients just get slow (or
# no) answers. Much slower than the slider allows, the state messages themselves would come too
# late: the other server would take over, then hear its slow peer say ACTIVE, and one of them would
# stop on "dual actives".
#
# </details>

# %%
def playground(name):
    """A Binary Star pair, two clients and a referee, in a lab of their own, under a panel."""
    play = Lab(name)
    ep = bstar.pair_endpoints(play)
    for side in ("primary", "backup"):
        play.start(side, bstar.server, side=side, heartbeat=HB, **ep[side])
    servers = [ep["primary"]["frontend"], ep["backup"]["frontend"]]
    for client in ("c1", "c2"):
        play.start(client, bstar.client, servers=servers, timeout=0.05, interval=0.005)
    play.start("referee", bstar.watch, lab=play)
    return play, Panel(play, counters=["replies"], title="Binary Star: primary server, backup server, two clients")


play, panel = playground("binarystar-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried this on a twin of your pair, so your panel is fresh (the code is folded).
# What it saw: after the ACTIVE server was killed the other one took over, the restarted server came
# back PASSIVE, the clients were answered again, and the referee never saw two ACTIVE servers.

# %%
# FOLDED
rehearsal, twin = playground("binarystar-rehearsal")
assert "referee" not in twin.rows                   # a helper, not part of the pattern: no row
state = lambda name: rehearsal.peer(name).data.get("state")
rehearsal.wait_for(lambda: {state("primary"), state("backup")} == {"active", "passive"}, timeout=5,
                   what="the pair to settle")
active = next(n for n in ("primary", "backup") if state(n) == "active")
other = "backup" if active == "primary" else "primary"
twin.rows[active].kill.click()
rehearsal.wait_for(lambda: state(other) == "active", timeout=3, what="the failover")
verdict(state(other) == "active", f"With the ACTIVE {active} server killed, the {other} server took over.")
twin.rows[active].restart.click()
rehearsal.wait_for(lambda: state(active) == "passive", timeout=3, what="the restart")
verdict(state(active) == "passive", f"The restarted {active} server came back PASSIVE.")
before = rehearsal.peer("c1").get("replies")
rehearsal.wait_for(lambda: rehearsal.peer("c1").get("replies") > before + 10, timeout=3, what="replies")
verdict(rehearsal.peer("c1").get("replies") > before + 10, "The clients were answered again.")
verdict(rehearsal.peer("referee").data["max_active"] == 1, "The referee never saw two ACTIVE servers.")
assert rehearsal.peer("referee").data["max_active"] == 1 and not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * Two servers, one ACTIVE. The PASSIVE one listens to the ACTIVE one's heartbeats and takes over
#   only when they stop **and** clients come knocking.
# * A restarted server never takes its old place back by itself: failing back is a human decision.
# * Clients are simple: Lazy Pirates that alternate between two addresses.
#
# **Questions**
# 1. Cut only the state link (PUB/SUB) between two healthy servers, leaving the clients connected
#    to the primary server. Why does the backup server not go ACTIVE? What if the clients' network
#    to the primary server broke at the same time?
# 2. Why does a backup server that has never heard from the primary server refuse clients, even for
#    ever?
# 3. Halve the heartbeat. What happens to the failover time, and to the risk of a false failover on
#    a busy machine?
#
# <details><summary>Answers (open after you have guessed)</summary>
#
# 1. The backup server hears nothing, but no client asks it anything: the clients are still served
#    by the primary server. Silence alone moves nothing, so it stays PASSIVE. If the clients lost
#    the primary server too, they would turn to the backup server, which would then see both
#    conditions (a silent peer and a client) and take over: that is the real failover, as when the
#    primary server's whole machine is gone. But if the primary server is still alive and still
#    serves other clients that can reach it, both servers are now ACTIVE: split brain. Notebook
#    [19](19_unreliable_network.ipynb) runs all three cuts on real links.
# 2. It cannot know whether the primary server is alive. The primary server may be running and
#    serving clients, with the link between the two servers not up yet or broken. A backup server
#    that served anyway could be a second ACTIVE server from its very first request. In state
#    BACKUP it only moves when it hears the peer say ACTIVE (and then goes PASSIVE); until then,
#    starting the primary server or mending the link is an operator's job.
# 3. The silence the rule waits for is counted in heartbeats, so it halves, and the failover gets
#    faster (the clients' own timeout does not change, so not quite twice as fast). But a server
#    that stalls for a shorter time now looks dead: a busy machine, a long pause of the Python
#    process or a slow network can make the PASSIVE server take over from a live peer, which then
#    hears the peer say ACTIVE, and one of them stops on "dual actives".
#
# </details>

# %% [markdown]
# **Exercise.** A pair runs with `heartbeat=0.05` (50 ms) and the primary server is killed while
# clients keep asking. What is the shortest silence from the primary server, in seconds, after which
# the backup server may take over? The verdict of section 4 printed the silences it measured with a
# 100 ms heartbeat, and the rule counts silence in heartbeats. Put your prediction in `my_guess`, run
# that cell, then the check. The folded cell between them runs such a pair, kills the primary
# server and checks that the silence before the takeover was never shorter than the rule allows.

# %%
my_guess = None      # seconds of silence from the primary server before the backup takes over, e.g. 0.5

# %%
# FOLDED
with Lab("binarystar-exercise") as ex:
    hb = 0.05
    e = bstar.pair_endpoints(ex)
    for name in ("primary", "backup"):
        ex.start(name, bstar.server, side=name, heartbeat=hb, **e[name])
    ex.wait_for(lambda: ex.peer("primary").data.get("state") == "active"
                and ex.peer("backup").data.get("state") == "passive", timeout=5, what="the pair")
    ex.start("c", bstar.client, servers=[e["primary"]["frontend"], e["backup"]["frontend"]], timeout=0.03)
    ex.kill("primary")
    ex.wait_for(lambda: ex.peer("backup").data.get("failovers"), timeout=3, what="the failover")
    quiet = ex.peer("backup").data["failovers"][0][1]
answer = bstar.SILENT_BEATS * hb    # the backup's rule: the peer silent for SILENT_BEATS heartbeats
assert quiet >= answer, quiet

# %%
print(grade(my_guess, answer, within=0.005, unit="s"))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **0.1 s**: two heartbeats of 50 ms (`SILENT_BEATS = 2` in the module). Each time the backup
# server hears the primary server, it sets the primary's expiry to *now + 2 × heartbeat*; a client
# request that arrives before that is dropped, one that arrives after it makes the backup server
# ACTIVE. In section 4 (100 ms heartbeat) the takeovers came after a silence of a little over
# 0.2 s.
#
# The silence the folded cell measured (`quiet`) is longer than 0.1 s: the takeover also waits for
# a client to time out on the primary server (30 ms here) and ask the backup after the expiry.
# Counted from the kill, the wait is shorter than the silence: the primary's last heartbeat went out
# up to one heartbeat before the kill, so the survivor's own wait after the kill is between 1 and 2
# heartbeats. Then the clients need up to one round over both servers (two timeouts) to find it.
# That is why, in section 4, each failover stayed under 2 heartbeats plus one round of client
# switching (0.3 s there).
#
# **Why two heartbeats and a client, not faster?** One missed heartbeat is easily a hiccup: a
# busy machine, a slow network. Two in a row is a much stronger sign, and even then the backup
# acts only when a client confirms that the primary is out of reach for clients too. Shorter
# heartbeats, or fewer of them, mean a faster failover but a higher risk of taking a hiccup for a
# death (question 3).
#
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/bstarsrv.py` is the pair's state machine (`--primary` or `--backup`) and
# `examples/bstarcli.py` the client that fails over between them.
#
# ```sh
# python examples/bstarsrv.py --primary & python examples/bstarsrv.py --backup &
# python examples/bstarcli.py
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('bstarsrv')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [15 · Freelance](15_freelance.ipynb).
