# Source of notebooks/14_binary_star.ipynb - build with: python tools/nbbuild.py notebooks/src/14_binary_star.py
# %% [markdown]
# # 14 · Binary Star: a primary and a backup, never two masters
#
# *Where this sits: before this, [09 · Lazy Pirate](09_lazy_pirate.ipynb); next, [15 ·
# Freelance](15_freelance.ipynb); in the guide, chapter 4, [High-Availability Pair (Binary Star
# Pattern)](https://zguide.zeromq.org/docs/chapter4/). Words used here: [split
# brain](glossary.ipynb#Split-brain), [partition](glossary.ipynb#Partition),
# [heartbeat](glossary.ipynb#Heartbeat) (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** a broker (or any server) is a single point of failure. The classic answer is a
# *pair*: a primary that serves and a backup that takes over when the primary dies. The hard part
# is not the takeover, it is **not taking over when you should not**. If the backup merely loses
# contact with a healthy primary and starts serving too, two servers each think they are the master
# (*split brain*) and clients get two different versions of the truth.
#
# **Binary Star** solves it with two small rules: the servers tell each other their state every
# heartbeat (PUB/SUB), and the backup takes over only when **the primary has been silent for two
# heartbeats *and* a client turns up at the backup**. A client only turns to the backup when it too
# has given up on the primary, so silence caused by a broken link between two healthy servers does
# not cause a takeover.
#
# ```mermaid
# flowchart LR
#     C["2 clients<br/>REQ (connect)"] -- "requests" --> P["primary<br/>ROUTER (bind, tcp)"]
#     C -. "after a timeout" .-> B["backup<br/>ROUTER (bind, tcp)"]
#     PS["primary's SUB (connect)"] -- "connects; receives the backup's state every heartbeat" --> BP["backup's PUB (bind)"]
#     BS["backup's SUB (connect)"] -- "connects; receives the primary's state every heartbeat" --> PP["primary's PUB (bind)"]
# ```
#
# As everywhere in this workbook, an arrow goes from the socket that connects to the one that binds.
# On the state links the data flows the other way: each server's PUB sends its state to the other
# server's SUB.
#
# A number printed after a `~` is a measurement that changes from run to run; everything else a
# cell prints is the same on every run.
#
# Each server has a small finite-state machine:
#
# ```mermaid
# stateDiagram-v2
#     [*] --> primary: started as primary
#     [*] --> backup: started as backup
#     primary --> active: hears peer backup
#     primary --> passive: hears peer active
#     primary --> active: a client asks after alone_after s without a word from the peer (off by default)
#     backup --> passive: hears peer active
#     passive --> active: a client asks after 2 silent heartbeats (failover), or the peer restarted
#     active --> [*]: killed
#     passive --> [*]: killed
# ```

# %%
import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import grade
from zguide_py.patterns import binarystar as bstar
from zguide_py.views import binarystar as bstar_view
from zguide_py.widgets import Panel

lab = Lab("binarystar")

# %% [markdown]
# ## 1. The state machine
#
# A pure function: the current state, an event (what the peer says it is, or a client request),
# and whether the peer has been silent for two heartbeats, give the next state and whether to
# answer the client. Two actives or two passives is impossible by design; if it happens anyway the
# server stops rather than serve a split brain.
#
# One difference from the guide: there, a freshly started primary that has not heard its backup
# serves clients after two heartbeats. On a busy machine a *restarted* primary can miss the
# active backup's first heartbeats and so go active beside it: a split brain that this notebook's
# checks caught. Here a server that has never heard its peer does not serve (a lone primary can be
# allowed to, after `alone_after` seconds).

# %%
show_source(bstar.next_state)

# %%
for state, event, silent in [(bstar.PRIMARY, bstar.PEER_BACKUP, False),
                             (bstar.BACKUP, bstar.PEER_ACTIVE, False),
                             (bstar.PASSIVE, bstar.CLIENT_REQUEST, False),
                             (bstar.PASSIVE, bstar.CLIENT_REQUEST, True),
                             (bstar.BACKUP, bstar.CLIENT_REQUEST, True)]:
    new, accept = bstar.next_state(state, event, silent)
    print(f"{bstar.STATE_NAMES[state]:>8} + {bstar.EVENT_NAMES[event]:<15}"
          f" ({'peer silent' if silent else 'peer heard':<11}) -> {bstar.STATE_NAMES[new]:<8}"
          f" {'answers the client' if accept else 'no answer'}")

# %% [markdown]
# ## 2. A pair, by hand
#
# Heartbeat 100 ms. Both servers bind over TCP (they will be killed and restarted, and TCP
# reconnects by itself). Within a few heartbeats the primary is active and the backup passive.

# %%
HB = 0.1
ep = bstar.pair_endpoints(lab)
for name in ("primary", "backup"):
    lab.start(name, bstar.server, side=name, heartbeat=HB, **ep[name])
settled = lambda: {n: lab.peer(n).data.get("state") for n in ("primary", "backup")}
lab.wait_for(lambda: settled() == {"primary": "active", "backup": "passive"}, timeout=5, what="the pair")
print(settled())

# %% [markdown]
# A request sent straight to the **passive backup** gets no answer while the primary lives. It is
# dropped, and the backup stays passive:

# %%
to_backup = lab.socket(zmq.REQ)
to_backup.connect(ep["backup"]["frontend"])
to_backup.send(b"are you the master?")
verdict(not to_backup.poll(500) and lab.peer("backup").data["state"] == "passive",
        "No answer within 0.5 s, and the backup is still passive.")
to_backup.close()

# %% [markdown]
# ## 3. The roles
#
# The server polls its client socket and its state SUB; the peer's state is processed first (fresh
# news about the peer before any client request), and its own state goes out every heartbeat. The
# client is a Lazy Pirate over two servers: after a timeout (50 ms here) it closes the socket and
# resends the same request to the other server.

# %%
show_source(bstar.server, bstar.client)

# %% [markdown]
# ## 4. A scripted run: kill the primary, restart it, kill the backup
#
# Two clients send continuously. A referee thread samples both servers' states every 2 ms.
#
# * 1.0 s: the **primary is killed**. Clients time out and switch to the backup; the backup refuses
#   them until the primary has been silent for 2 heartbeats, then takes over.
# * 2.0 s: the primary **restarts**. It hears an active backup and goes **passive**: no failing back.
# * 3.0 s: the **backup is killed**: the same failover, the other way round.
# * 4.0 s: the backup restarts, and goes passive.

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
    print(f"  at ~{event.t - t0:.2f} s  {event.peer:<8} -> {bstar_view.describe_change(event)}")

# %%
# each server's states, from the fields of its "state" events: {name: [(start, end, state)]}
timeline = bstar_view.state_timeline(lab, since=t0, until=t_end)
bstar_view.states_figure(report, timeline, t0)

# %% [markdown]
# The green bars never overlap: at every moment at most one server is active. After each kill
# there is a short stretch with no active server at all (no bar is green): the failover. The
# survivor declares its peer dead 2 heartbeats after the **last** heartbeat it heard from it, and
# that heartbeat went out up to 1 heartbeat before the kill. So, counted from the kill, the failover
# takes between 1 and 2 heartbeats (0.1 to 0.2 s here), plus the wait until the next client request
# reaches the survivor (a client tries the other server after 50 ms without a reply, so a round over
# both servers takes up to 100 ms). The verdict prints both numbers:
# the failover time from the kill, and the silence the survivor had heard when it took over (always
# at least 2 heartbeats).
#
# **Verdict.**

# %%
overlaps = bstar_view.active_overlaps(timeline)
referee = lab.peer("referee").data
gaps = bstar_view.no_active_gaps(timeline, t0, t_end)
kills = [t for t, kind, _p, _d in lab.events_of("kill", since=t0)]
failovers = sorted(f for name in ("primary", "backup") for f in lab.peer(name).data.get("failovers", []))
bound = 2 * HB + 2 * 0.05 + 0.15          # 2 silent heartbeats + one round of client switching + margin
verdict(overlaps == [], "Never two active servers, by their state changes.")
verdict(referee["max_active"] == 1, "Never two active servers, by the referee's samples.")
print(f"(the referee looked ~{referee['samples']} times)")
verdict(len(gaps) == 2 and all(abs(g[0] - k) < 0.1 for g, k in zip(gaps, kills)),
        "The only stretches with no active server came right after the 2 kills.")
for (g_start, g_end), (t_active, quiet) in zip(gaps, failovers):
    print(f"  failover took ~{g_end - g_start:.3f} s after the kill; the dead peer had been silent "
          f"~{quiet:.3f} s when the takeover happened")
verdict(all(quiet >= 2 * HB for _t, quiet in failovers),
        "Each takeover waited until the dead peer had been silent for 2 heartbeats.")
verdict(all(g_end - g_start <= bound for g_start, g_end in gaps),
        "Each failover completed within 2 heartbeats and one round of client switching.")
verdict([s for _a, _b, s in timeline["primary"]][-2:] == ["passive", "active"]
        and timeline["backup"][-1][2] == "passive",
        "Each restarted server came back passive, and stayed so until its peer died.")
assert overlaps == [] and referee["max_active"] == 1 and len(gaps) == 2 and len(failovers) == 2
assert all(quiet >= 2 * HB for _t, quiet in failovers) and all(b - a <= bound for a, b in gaps)

# %%
for name in ("c1", "c2"):
    c = lab.peer(name)
    worst = max(c.latencies["request"])
    print(f"{name}: ~{c.get('replies')} replies, ~{c.get('switches')} switches, "
          f"slowest request ~{worst * 1e3:.0f} ms (the one caught in a failover)")
assert verdict(all(lab.peer(n).state == "running" for n in ("c1", "c2")), "The clients never gave up.")

# %% [markdown]
# **Why "2 heartbeats + a client request" and not faster?** The backup cannot tell a dead primary
# from a slow link; it waits for 2 heartbeats of silence before believing it, and even then only
# acts when a client confirms that the primary is unreachable for clients too. That silence started
# with the primary's last heartbeat, before the kill, so the survivor's own wait, counted from the
# kill, is between 1 and 2 heartbeats; then the clients need up to one round over both servers
# (100 ms) to find it. That is why the failover above stays under 2 heartbeats plus one round of
# client switching (0.3 s here) with some to spare. Shorter heartbeats mean faster failover but a
# higher risk of mistaking a hiccup for a death.
#
# ## 5. Play with it
#
# A pair of your own, with two clients and the referee (it has no row: it is not part of the
# pattern). Each server's row says its state: primary, backup, active or passive. Kill whichever
# server is active and watch the other take over; restart it and it comes back passive. Kill both and
# the clients keep switching, unanswered, until one comes back. Slow a server down with its slider:
# does the other take over? (Why not?) This lab stays open after the notebook ends; re-running the
# cell starts it afresh.

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
    return play, Panel(play, counters=["replies"], title="Binary Star: primary, backup, two clients")


play, panel = playground("binarystar-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried this on a twin of your pair, so your panel is fresh (the code is folded).
# What it saw: after the active server was killed the other one took over, the restarted server came
# back passive, the clients were answered again, and the referee never saw two active servers.

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
verdict(state(other) == "active", f"With the active {active} killed, the {other} took over.")
twin.rows[active].restart.click()
rehearsal.wait_for(lambda: state(active) == "passive", timeout=3, what="the restart")
verdict(state(active) == "passive", f"The restarted {active} came back passive.")
before = rehearsal.peer("c1").get("replies")
rehearsal.wait_for(lambda: rehearsal.peer("c1").get("replies") > before + 10, timeout=3, what="replies")
verdict(rehearsal.peer("c1").get("replies") > before + 10, "The clients were answered again.")
verdict(rehearsal.peer("referee").data["max_active"] == 1, "The referee never saw two active servers.")
assert rehearsal.peer("referee").data["max_active"] == 1 and not rehearsal.errors()
rehearsal.close()

# %% [markdown]
# ## 6. What you saw, and questions
#
# * Two servers, one active. The passive one watches the active one's heartbeats and takes over only
#   when they stop **and** clients come knocking.
# * A restarted server never takes its old role back by itself: failing back is a human decision.
# * Clients are simple: Lazy Pirates that alternate between two addresses.
#
# **Questions**
# 1. Cut only the state link (PUB/SUB) between two healthy servers, leaving clients connected to the
#    primary. Why does the backup not go active? What if the clients' network to the primary broke
#    at the same time?
# 2. Why does a backup that has never heard from its primary refuse clients, even for ever?
# 3. Halve the heartbeat. What happens to the failover time, and to the risk of a false failover on
#    a busy machine?
#
# **Exercise.** A pair runs with `heartbeat=0.05` (50 ms) and the primary is killed while clients keep
# asking. What is the shortest silence, in seconds, after which the backup can take over? Put your
# prediction in `my_guess`, run that cell, then the check. The folded cell between them runs such a
# pair, kills the primary and checks that the silence before the takeover was never shorter than the
# rule allows.

# %%
my_guess = None      # seconds of silence from the primary before the backup takes over, e.g. 0.5

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
answer = 2 * hb                     # the backup's rule: the peer silent for two heartbeats
assert quiet >= answer, quiet

# %%
print(grade(my_guess, answer, within=0.005, unit="s"))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **0.1 s**: two heartbeats of 50 ms. Each time the backup hears the primary it sets the primary's
# expiry to *now + 2 × heartbeat*; a client request that arrives before that is dropped, one that
# arrives after it makes the backup active. The silence the folded cell measured (`quiet`) is
# longer than that: the primary's last heartbeat came up to one heartbeat before the kill, and the
# takeover waits for a client to time out on the primary (30 ms here) and ask the backup after the
# expiry. Halving the heartbeat halves the minimum, and makes a false failover on a busy machine more
# likely (question 3).
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
