# Source of notebooks/23_proxies.ipynb - build with: python tools/nbbuild.py notebooks/src/23_proxies.py
# %% [markdown]
# # 23 · Proxies: XSUB/XPUB, a steerable proxy, Espresso, a last value cache
#
# *Where this sits: before this, [22 · Threads that share nothing](22_threads.ipynb); next, [24 ·
# zmq.asyncio](24_asyncio.ipynb); in the guide, chapter 2, [The Dynamic Discovery Problem](https://zguide.zeromq.org/docs/chapter2/)
# (the XSUB/XPUB proxy); chapter 5, [Pub-Sub Tracing (Espresso Pattern) and Last Value
# Caching](https://zguide.zeromq.org/docs/chapter5/). Words used here: [proxy](glossary.ipynb#Proxy),
# [frame](glossary.ipynb#Frame), [slow joiner](glossary.ipynb#Slow-joiner), [HWM](glossary.ipynb#HWM),
# [snapshot](glossary.ipynb#Snapshot) (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** in notebook 02 every subscriber connected straight to its publisher. With many
# publishers and subscribers that come and go, everybody has to know everybody's address. A **proxy** in
# the middle gives them one stable address: publishers connect to its *frontend*, subscribers to its
# *backend*. A naive proxy (a SUB that subscribes to everything, a PUB that sends it on) makes every
# publisher send everything to the proxy, wanted or not. The raw socket types **XSUB** and **XPUB**
# fix that: a subscription is itself a message, and they carry it *upstream*, so a publisher two hops
# away still sends only what somebody downstream asked for.
#
# ```mermaid
# flowchart BT
#     P["publisher<br/>XPUB (connect)"] -- "data down,<br/>subscriptions up" --> F
#     S1["subscriber<br/>'weather.'<br/>SUB (connect)"] --> B
#     S2["subscriber<br/>'sport.'<br/>SUB (connect)"] --> B
#     E["Espresso<br/>SUB (connect)"] -- "a copy of<br/>everything" --> T
#     N["steering peer<br/>PAIR (connect)"] -- "PAUSE, RESUME,<br/>TERMINATE" --> K
#     subgraph proxy["proxy: zmq.proxy_steerable, in a thread of its own"]
#         F["frontend<br/>XSUB (bind)"]
#         B["backend<br/>XPUB (bind)"]
#         T["capture<br/>PUB (bind)"]
#         K["control<br/>PAIR (bind)"]
#     end
# ```
#
# Arrows go from the socket that connects to the one that binds. Inside the proxy, data goes from the
# frontend to the backend, on to the subscribers; subscription frames go the other way, up to the
# publisher. Four things are measured here: the
# subscription frames themselves (section 1); a proxy forwarding them while Espresso, a capture socket,
# shows everything that passes (section 3); pyzmq's *steerable* proxy paused, resumed and terminated
# (section 4); and the **last value cache**, which gives a subscriber that joins late the current value
# of every topic at once (section 5).
#
# As in every notebook of this workbook, a `~` in front of a printed number marks a measurement: it
# changes from run to run. Everything else a cell prints comes out the same every time.

# %%
import zmq

from zguide_py import Lab, Scenario, live_labs, show_example, show_source, verdict
from zguide_py.exercise import grade
from zguide_py.patterns import proxies
from zguide_py.views import proxies as proxy_views
from zguide_py.widgets import Panel, adder

lab = Lab("proxies")

# %% [markdown]
# ## 1. A subscription is a message: one call per cell
#
# An XPUB is a PUB that also hands over what arrives from its subscribers. A SUB connects and
# subscribes to `weather.`:

# %%
hub = lab.socket(zmq.XPUB, rcvtimeo=2000)     # a recv never waits more than 2 s
hub.bind("inproc://hub")
sub1 = lab.socket(zmq.SUB)
sub1.connect("inproc://hub")
sub1.subscribe(b"weather.")

# %%
hub.recv()

# %% [markdown]
# The subscription arrived as a one-frame message: the byte `\x01` (subscribe), then the prefix. A
# second subscriber to the *same* prefix changes nothing upstream: the XPUB already sends `weather.`
# messages, so it keeps the duplicate to itself.

# %%
sub2 = lab.socket(zmq.SUB)
sub2.connect("inproc://hub")
sub2.subscribe(b"weather.")
hub.poll(200)          # wait at most 200 ms: 0 means nothing came

# %% [markdown]
# When one of the two leaves, nothing comes either; when the last one leaves, the XPUB says so with a
# `\x00` (unsubscribe) frame:

# %%
sub1.unsubscribe(b"weather.")
hub.poll(200)

# %%
sub2.unsubscribe(b"weather.")
hub.recv()

# %% [markdown]
# `XPUB_VERBOSE` turns the hiding off: every subscription comes through, duplicates too. (A last value
# cache needs this, section 5.)

# %%
hub.xpub_verbose = 1
sub1.subscribe(b"sport.")
sub2.subscribe(b"sport.")
[hub.recv(), hub.recv()]

# %% [markdown]
# An XSUB is a SUB that subscribes by *sending* that frame itself. And it sends anything else it is
# given upstream as it is: whoever reads an XPUB must check each frame before acting on it.

# %%
raw = lab.socket(zmq.XSUB)
raw.connect("inproc://hub")
raw.send(b"\x01news.")
raw.send(b"hello")
[hub.recv(), hub.recv()]

# %% [markdown]
# ## 2. The roles
#
# * The **publisher** is an XPUB, so that it can show which subscription frames reach it: it publishes
#   `[topic, sequence number]`, cycling through four topics, and between two messages it reads what
#   came up from downstream. A frame that is neither `\x01prefix` nor `\x00prefix` is counted as
#   malformed, and the publisher carries on.
# * The **steerable proxy** binds an XSUB frontend and an XPUB backend, and runs
#   `zmq.proxy_steerable(frontend, backend, capture, control)` in a thread of its own: a C loop that
#   forwards in both directions and gives the GIL back while it runs. That thread owns the four
#   sockets until the proxy returns. The peer itself steers it over a PAIR pipe: it sends the words the
#   notebook gives it (`proxies.steer("PAUSE")` is a panel button), asks `STATISTICS` twenty times a
#   second for the proxy's counters, and sends `TERMINATE` when the lab kills it.
# * **Espresso** is a SUB on the proxy's capture socket: the proxy copies every message it forwards,
#   either way, to that socket. The capture socket is a PUB, which never blocks: a capture socket that
#   could block (PUSH, PAIR) would stall the proxy whenever its listener is slow or gone.

# %%
show_source(proxies.publisher, proxies.steerable_proxy, proxies.espresso)

# %% [markdown]
# ## 3. Subscriptions travel upstream, and Espresso sees both ways
#
# Espresso connects first (so it misses nothing), then the proxy binds. The scripted run:
#
# * a publisher starts at once, four topics, a message every 5 ms: with nobody subscribed anywhere;
# * `sub1` subscribes to `weather.` at 0.4 s, `sub2` to `weather.` too at 0.8 s, `sub3` to `sport.` at 1.2 s;
# * `sub3` is killed at 1.7 s, `sub1` at 2.0 s;
# * at 2.3 s a **rogue** XSUB connects to the backend and sends three frames no SUB would send
#   (`''`, `'\x02odd'`, `'hello'`).

# %%
FRONT, BACK, CAPTURE = "inproc://frontend", "inproc://backend", "inproc://capture"
lab.start("espresso", proxies.espresso, endpoint=CAPTURE)      # connected before the proxy binds
lab.start("proxy", proxies.steerable_proxy, frontend=FRONT, backend=BACK, capture=CAPTURE)
comings_and_goings = Scenario("subscribers come and go") \
    .at(0.0, "start", "publisher", proxies.publisher, endpoint=FRONT, interval=0.005) \
    .at(0.4, "start", "sub1", proxies.subscriber, endpoint=BACK, topics=["weather."]) \
    .at(0.8, "start", "sub2", proxies.subscriber, endpoint=BACK, topics=["weather."]) \
    .at(1.2, "start", "sub3", proxies.subscriber, endpoint=BACK, topics=["sport."]) \
    .at(1.7, "kill", "sub3").at(2.0, "kill", "sub1") \
    .at(2.3, "start", "rogue", proxies.rogue, endpoint=BACK)
report = lab.run(comings_and_goings, seconds=2.7)
report

# %% [markdown]
# What reached the publisher, two hops away from the subscribers, and what the capture socket saw:

# %%
heard = [frame for _, frame in lab.peer("publisher").data["heard"]]
print("the publisher heard:", heard)
espresso = lab.peer("espresso")
captured = espresso.data["captured"]
print("Espresso captured:", {kind: espresso.get(kind) for kind in ("subscribe", "unsubscribe", "other")},
      f"and ~{espresso.get('data')} data messages")

# %%
proxy_views.forwarding_figure(captured, report.start, ["weather.", "sport."],
                              title="what the proxy forwarded, as Espresso saw it")

# %% [markdown]
# The capture socket, around each frame that was not data (the first two data messages after each; its
# times and sequence numbers change from run to run):

# %%
# NBVAL_IGNORE_OUTPUT
proxy_views.around_subscriptions(captured, report.start)

# %%
def first_capture(frame):
    return next(t for t, kind, frames in captured if frames == [frame])


def data_before(t, prefix):
    return sum(1 for when, kind, frames in captured if kind == "data" and when < t and frames[0].startswith(prefix))


lab.wait_for(lambda: lab.peer("publisher").get("malformed") == 3 and espresso.get("other") == 3, timeout=5,
             what="the rogue's frames at the publisher")
sport_after = sum(1 for when, kind, frames in captured if kind == "data" and frames[0].startswith(b"sport.")
                  and when > first_capture(b"\x00sport."))
verdict(heard == [b"\x01weather.", b"\x01sport.", b"\x00sport."],
        "Three subscribers came and two left, and the publisher heard exactly three frames: weather. on once "
        "(sub2's duplicate was hidden), sport. on and off; sub1's leaving was hidden too, as sub2 still wanted weather.")
verdict(data_before(first_capture(b"\x01weather."), b"") == 0
        and data_before(first_capture(b"\x01sport."), b"sport.") == 0,
        "No data crossed the proxy before somebody subscribed to it: the publisher filtered at the source.")
print(f"sport. messages still captured after the unsubscription went up: ~{sport_after} (in flight)")
verdict(lab.peer("publisher").get("malformed") == 3 and espresso.get("other") == 3,
        "The rogue's three odd frames went up through the proxy untouched; the publisher counted them as "
        "malformed and carried on.")
sub2_before = lab.peer("sub2").get("received")
lab.wait_for(lambda: lab.peer("sub2").get("received") >= sub2_before + 10, timeout=5, what="more weather")
verdict(lab.peer("proxy").alive, "The proxy still forwards to sub2 after the rogue's frames.")
assert heard == [b"\x01weather.", b"\x01sport.", b"\x00sport."] and espresso.get("other") == 3
assert not report.errors
for name in list(lab.peers):
    lab.remove(name)

# %% [markdown]
# **Reading the figure.** Each line counts the data messages of one prefix's topics that the proxy
# forwarded. For 0.4 s nothing moves at all, although the publisher is sending: with no subscription
# anywhere, its XPUB drops everything at the source. After `'\x01weather.'` the weather line climbs;
# sub2's identical subscription at 0.8 s adds no frame upstream. The sport line climbs only between
# `'\x01sport.'` and `'\x00sport.'`. Killing sub1 changed nothing upstream, since sub2 still wanted
# the weather. The rogue's odd frames crossed the proxy like any other message: the proxy forwards
# frames, it does not read them; the publisher, which does read them, checks them.
#
# A plain forwarder (SUB subscribed to everything, PUB) would have made the publisher send all four
# topics to the proxy all the time, and the proxy filter them for the subscribers.

# %% [markdown]
# ## 4. The steerable proxy: PAUSE, RESUME, TERMINATE
#
# `zmq.proxy_steerable` listens on its control socket for four words: `PAUSE` (stop forwarding),
# `RESUME`, `TERMINATE` (return) and `STATISTICS` (answer with eight counters). A proxy that only knew
# `zmq.proxy` could never be stopped: it returns only when its context ends.
#
# Before trusting the words, measure them. `probe_pause` builds a tiny proxy between two PAIR pipes,
# sends `PAUSE`, then one message, then asks `STATISTICS` whether the message went through; then the
# same with `RESUME`:

# %%
forwarded = proxies.probe_pause()
print("libzmq", zmq.zmq_version(), "| messages that went through after each word:", forwarded)
verdict(forwarded == {"PAUSE": 0, "RESUME": 2}, "PAUSE held the message, and RESUME let both through.",
        "PAUSE let the message through, and RESUME held the next one: this libzmq has the two words swapped.")
print("so, to pause and to resume, the proxy role sends:",
      {word: proxies.steering_words()[word].decode() for word in ("PAUSE", "RESUME")})

# %% [markdown]
# The libzmq that pyzmq 27 bundles, 4.3.5, shipped a rewrite of the steerable proxy with `PAUSE` and
# `RESUME` mixed up (libzmq pull request 4600 fixed it a few days after the release); it also answers
# every word with an empty frame, where earlier versions answered only `STATISTICS`. So the role sends
# whichever word the probe found to pause, and skips empty answers. A library is code like yours:
# measure what it does.
#
# The run: a publisher sends a message every 4 ms to one subscriber of everything through the proxy;
# at 0.6 s the notebook says PAUSE, at 1.4 s RESUME, at 2.0 s TERMINATE. The role frames each word
# with two `STATISTICS` requests (before and after it), so the proxy's own counters say what it
# forwarded while paused.

# %%
lab.start("proxy", proxies.steerable_proxy, frontend="inproc://front-b", backend="inproc://back-b")
lab.start("sub1", proxies.subscriber, endpoint="inproc://back-b")
lab.start("publisher", proxies.publisher, endpoint="inproc://front-b", interval=0.004)
sub = lab.peer("sub1")
lab.wait_for(lambda: sub.get("received") >= 20, timeout=5, what="the first messages through")
steering = Scenario("pause, resume, terminate") \
    .at(0.6, proxies.steer("PAUSE")).at(1.4, proxies.steer("RESUME")).at(2.0, proxies.steer("TERMINATE"))
report = lab.run(steering, seconds=2.5)
report

# %%
proxy_views.steering_figure(report, [("publisher", "sent"), ("sub1", "received")],
                            title="a steered proxy: paused, resumed, terminated")

# %%
steps = {e.get("command"): e for e in report.events_of("steer", "proxy")}
paused_at, resumed_at = (report.start + steps[w].t for w in ("PAUSE", "RESUME"))
through = steps["PAUSE"].get("down_after") // 2        # messages (two frames each) it forwarded before
times, received = lab.sampler.values("sub1", "received", since=paused_at)
while_paused = [n for t, n in zip(times, received) if t < resumed_at]
verdict(steps["RESUME"].get("down_before") == steps["PAUSE"].get("down_after"),
        "While paused the proxy forwarded nothing: its own STATISTICS, asked just after PAUSE and just "
        "before RESUME, count the same frames.")
verdict(len(while_paused) >= 3 and max(while_paused) <= through,
        "Until RESUME the subscriber never had more than the messages the proxy forwarded before PAUSE.")
verdict(sub.get("lost") == 0, "The messages sent during the pause were held, not dropped: after RESUME "
        "they all arrived, in order, with no gap in any topic.")
final = lab.wait_quiet(lambda: sub.get("received"), quiet=0.3, timeout=5, what="the last messages")
sent_now = lab.peer("publisher").get("sent")
lab.wait_for(lambda: lab.peer("publisher").get("sent") >= sent_now + 50, timeout=5, what="50 more published")
verdict(lab.peer("proxy").state == "done" and lab.peer("proxy").data["proxy"] == "returned after TERMINATE"
        and sub.get("received") == final,
        "TERMINATE made zmq.proxy_steerable return: the proxy's peer is done, and nothing arrived after, "
        "though the publisher went on.")
started_at = lab.events_of("start", "proxy")[-1].t
cpu_paused = steps["RESUME"].get("cpu") - steps["PAUSE"].get("cpu")
print(f"CPU of the proxy's thread: ~{steps['PAUSE'].get('cpu'):.3f} s in the ~{paused_at - started_at:.2f} s it "
      f"forwarded before the pause, ~{cpu_paused:.3f} s in the ~{resumed_at - paused_at:.2f} s it was paused")
assert steps["RESUME"].get("down_before") == steps["PAUSE"].get("down_after") and sub.get("lost") == 0
assert max(while_paused) <= through and sub.get("received") == final and not report.errors
for name in list(lab.peers):
    lab.remove(name)

# %% [markdown]
# **Reading the figure.** The publisher never stops: PUB does not know about the pause. The subscriber's
# line drops to zero for the pause, then jumps: the messages held meanwhile (in the XSUB's queue, up to
# its [HWM](glossary.ipynb#HWM)) all come through at once, and none is lost. A pause longer than the
# queues can hold would lose the overflow, silently, as any PUB does. After TERMINATE the proxy is gone.
#
# The CPU line is the other surprise: while paused *with messages waiting*, the proxy of libzmq 4.3.5
# spins. Its loop wakes up for a waiting message it is not allowed to move, again and again, and a pause
# can cost a whole core, far more than forwarding did. So the playground below resumes by itself after
# 20 s.

# %% [markdown]
# ## 5. The last value cache
#
# A subscriber that joins late hears about a topic only at its next update. For a price that changes
# every millisecond that is fine; for a sensor that reports once a minute, the newcomer waits a minute.
# A **last value cache** (LVC) stands where the proxy stood and remembers the newest message of each
# topic. When a subscription `\x01prefix` reaches its XPUB, it sends the cached message of every topic
# that starts with that prefix, at once. It is the [snapshot](glossary.ipynb#Snapshot) of notebook 06
# without a snapshot protocol: the subscription is the request.
#
# ```mermaid
# flowchart BT
#     P["publisher<br/>XPUB (connect)"] -- "updates" --> I
#     L1["late joiner<br/>SUB (connect)"] -- "subscribes:<br/>\x01weather." --> O
#     L2["another subscriber<br/>SUB (connect)"] --> O
#     subgraph lvc["last value cache: one thread, a Poller loop"]
#         I["frontend<br/>SUB (bind), every topic"]
#         C[("the newest message<br/>of each topic")]
#         O["backend<br/>XPUB (bind), XPUB_VERBOSE"]
#     end
# ```
#
# Two consequences follow from sending through an XPUB. A cached message goes to *every* subscriber of
# its topic, so those already there receive it again: a value must be safe to receive twice. And without
# `XPUB_VERBOSE` the second subscriber to a prefix is hidden, as in section 1, so it gets nothing from
# the cache.

# %%
show_source(proxies.lvcache)

# %% [markdown]
# The run: the publisher connects to both an LVC and a plain proxy (the steerable one, never steered).
# It waits until a subscription has reached it (an XPUB knows when somebody listens, which here avoids
# the [slow joiner](glossary.ipynb#Slow-joiner)), sends three rounds of its four topics and goes quiet.
# Then two late joiners subscribe to `weather.` and `sport.`: `late1` through the cache, `late2` through
# the plain proxy.

# %%
lab.start("lvc", proxies.lvcache, frontend="inproc://lvc-in", backend="inproc://lvc-out")
lab.start("plain", proxies.steerable_proxy, frontend="inproc://plain-in", backend="inproc://plain-out")
publisher = lab.start("publisher", proxies.publisher, endpoint=["inproc://lvc-in", "inproc://plain-in"],
                      interval=0.002, rounds=3, subscribers=1)
lab.wait_for(lambda: publisher.data.get("done"), timeout=5, what="the publisher's three rounds")
lab.wait_for(lambda: lab.peer("lvc").get("forwarded") == 12, timeout=5, what="the last update in the cache")
last = dict(publisher.data["last"])
print("the publisher's last values, then it went quiet:", last)

late1 = lab.start("late1", proxies.subscriber, endpoint="inproc://lvc-out", topics=["weather.", "sport."])
late2 = lab.start("late2", proxies.subscriber, endpoint="inproc://plain-out", topics=["weather.", "sport."])
lab.wait_for(lambda: len(late1.data["first"]) == 4, timeout=5, what="late1's four topics")
lab.run(seconds=0.5)                       # half a second more for late2
print("late1, through the cache, first heard:", ", ".join(
    f"{topic} seq {seq} after ~{wait * 1000:.1f} ms" for topic, (seq, wait) in sorted(late1.data["first"].items())))
print("late2, through the plain proxy, first heard:", late2.data["first"] or "nothing")

# %%
firsts = {topic: seq for topic, (seq, _) in late1.data["first"].items()}
verdict(firsts == last, "The late joiner's first message on every topic was the cached value: the last one "
        "published (seq 2), for all four topics, without waiting for an update.")
verdict(not late2.data["first"], "Through the plain proxy, the other late joiner heard nothing in 0.5 s: "
        "the publisher had nothing new to say.")
late3 = lab.start("late3", proxies.subscriber, endpoint="inproc://lvc-out", topics=["weather."])
lab.wait_for(lambda: len(late3.data["first"]) == 2 and late1.get("repeats") == 2, timeout=5,
             what="late3's values, and late1's repeats")
verdict(late1.get("repeats") == 2, "When late3 subscribed to weather., late1 received the two weather values "
        "again: a cached message goes to every subscriber of its topic.")
assert firsts == last == {t: 2 for t in proxies.TOPICS} and not late2.data["first"]
for name in list(lab.peers):
    lab.remove(name)

# %% [markdown]
# ### Why the cache needs `XPUB_VERBOSE`, measured
#
# Three late joiners, one after another, each subscribing to `weather.` and `sport.`, to a cache with
# `XPUB_VERBOSE` on, then to one with it off. Each joiner waits for the four cached values (with the
# option off, a second at most once the first joiner is served: the publisher is quiet, so nothing
# else would come).

# %%
def late_joiners(verbose, joiners=3):
    """Subscription messages the cache's XPUB saw, and how many joiners got every cached value."""
    with Lab("proxies-verbose") as run:
        run.start("lvc", proxies.lvcache, frontend="inproc://in", backend="inproc://out", verbose=verbose)
        run.start("publisher", proxies.publisher, endpoint="inproc://in", interval=0.002, rounds=2, subscribers=1)
        run.wait_for(lambda: run.peer("lvc").get("forwarded") == 8, timeout=5, what="the cache filled")
        served = 0
        for n in range(1, joiners + 1):
            joiner = run.start(f"joiner{n}", proxies.subscriber, endpoint="inproc://out", topics=["weather.", "sport."])
            try:
                run.wait_for(lambda: len(joiner.data["first"]) == 4, timeout=5 if verbose or n == 1 else 1)
                served += 1
            except TimeoutError:
                pass
        return run.peer("lvc").get("subscriptions"), served


for verbose in (True, False):
    seen, served = late_joiners(verbose)
    print(f"XPUB_VERBOSE {'on ' if verbose else 'off'}: the cache saw {seen} subscription messages from "
          f"3 joiners x 2 prefixes; {served} of 3 joiners got the cached values")
    if verbose:
        seen_on, served_on = seen, served
verdict(seen_on == 6 and served_on == 3 and seen == 2 and served == 1,
        "With XPUB_VERBOSE every joiner's subscriptions reached the cache and every joiner got the cached "
        "values; without it only the first joiner's did, and the other two waited for nothing.")
assert (seen_on, served_on, seen, served) == (6, 3, 2, 1)

# %% [markdown]
# ## 6. Play with it
#
# A lab of its own for you, over tcp: a publisher that never stops (a message every 0.25 s, so each of
# its four topics is updated once a second) connected to a steerable proxy with Espresso listening, and
# to a last value cache; `sub1` subscribes to `weather.` through the proxy. The buttons:
#
# * **PAUSE**, **RESUME**, **TERMINATE** steer the proxy. Watch `sub1`'s line go flat, then catch up.
#   The proxy resumes by itself after 20 s (a paused proxy spins a core, section 4). After TERMINATE its
#   row says `done`: its **restart** button starts a new proxy, and the others reconnect by themselves.
#   What the publisher sent in between is gone: `sub1`'s `lost` counter shows the gap.
# * **add subscriber (via the proxy)** and **add late joiner (via the cache)** add subscribers to both
#   prefixes. Each row says how long it waited for its first value of each topic: up to a second through
#   the proxy, a few milliseconds through the cache.
#
# Espresso's row counts what the proxy forwarded, by kind: an added subscriber shows there as a new
# `subscribe`, unless its prefixes were already wanted. This lab stays open after the notebook ends;
# re-running the cell starts it afresh.

# %%
def playground(name):
    """A publisher, a steerable proxy with Espresso, a last value cache and a subscriber, under a panel."""
    play = Lab(name, sample_interval=0.5)          # the live plot: rates over half a second
    front, back, capture, cache_in, cache_out = (play.endpoint(n, "tcp") for n in
                                                 ("frontend", "backend", "capture", "cache-in", "cache-out"))
    play.start("espresso", proxies.espresso, endpoint=capture)
    play.start("proxy", proxies.steerable_proxy, frontend=front, backend=back, capture=capture, max_pause=20)
    play.start("cache", proxies.lvcache, frontend=cache_in, backend=cache_out)
    play.start("publisher", proxies.publisher, endpoint=[front, cache_in], interval=0.25)
    play.start("sub1", proxies.subscriber, endpoint=back, topics=["weather."])
    both = ["weather.", "sport."]
    buttons = {word: proxies.steer(word) for word in ("PAUSE", "RESUME", "TERMINATE")}
    buttons["add subscriber (via the proxy)"] = adder("sub", proxies.subscriber, endpoint=back, topics=both)
    buttons["add late joiner (via the cache)"] = adder("late", proxies.subscriber, endpoint=cache_out, topics=both)
    return play, Panel(play, counters=["sent", "received"], max_throttle=1.0, actions=buttons,
                       title="proxies: steer the proxy, add subscribers and late joiners")


play, panel = playground("proxies-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried these buttons for you on a twin of this lab, so your panel is fresh (the code is
# folded). What it saw: PAUSE stopped `sub1`'s messages while the publisher went on, RESUME brought them
# back; a late joiner through the cache had the value of every topic at once; TERMINATE ended the proxy,
# and its restart button brought `sub1`'s messages back.

# %%
# FOLDED
rehearsal, twin = playground("proxies-rehearsal")
sub1, proxy, publisher = (rehearsal.peer(n) for n in ("sub1", "proxy", "publisher"))


def more(peer, counter, by, what):
    """Wait (at most 10 s) until ``peer``'s ``counter`` has grown by ``by``."""
    before = peer.get(counter)
    rehearsal.wait_for(lambda: peer.get(counter) >= before + by, timeout=10, what=what)


more(sub1, "received", 2, "sub1's first messages")
twin.action_buttons["PAUSE"].click()
rehearsal.wait_for(lambda: rehearsal.events_of("steer", "proxy"), timeout=5, what="PAUSE sent")
held = rehearsal.wait_quiet(lambda: sub1.get("received"), quiet=0.6, timeout=5, what="sub1 quiet")
more(publisher, "sent", 4, "four more messages published")
verdict(sub1.get("received") == held and proxy.data["state"] == "paused",
        "While the proxy was paused, sub1 received nothing, though the publisher went on.")
twin.action_buttons["RESUME"].click()
more(sub1, "received", 2, "sub1's messages after RESUME")
lost_over_pause = sub1.get("lost")
verdict(lost_over_pause == 0, "After RESUME the held messages arrived, none lost.")

twin.action_buttons["add late joiner (via the cache)"].click()
late = rehearsal.peer("late1")
rehearsal.wait_for(lambda: len(late.data["first"]) == 4, timeout=5, what="the late joiner's four topics")
slowest = max(wait for _, wait in late.data["first"].values())
verdict(slowest < 0.5, f"The late joiner had the value of all four topics within ~{slowest * 1000:.0f} ms, "
        "where the publisher takes a second to update them all.")

twin.action_buttons["TERMINATE"].click()
rehearsal.wait_done("proxy", timeout=5)
verdict(proxy.state == "done", "TERMINATE ended the proxy.")
twin.rows["proxy"].restart.click()
more(sub1, "received", 2, "sub1's messages through the restarted proxy")
verdict(proxy.state == "running", "After a restart the subscriber and the publisher reconnected by themselves, "
        "and messages flowed again.")
assert not rehearsal.errors() and lost_over_pause == 0 and slowest < 0.5
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * A subscription is a one-frame message, `\x01prefix` or `\x00prefix`. XSUB and XPUB let a proxy
#   carry it upstream, so publishers filter at the source however many hops away they are.
# * An XPUB passes only the first subscription to a prefix and the last unsubscription, unless
#   `XPUB_VERBOSE` (and `XPUB_VERBOSER` for unsubscriptions) says otherwise.
# * `zmq.proxy_steerable` forwards in C, copies everything to a capture socket if you give it one
#   (Espresso), and obeys PAUSE, RESUME, TERMINATE and STATISTICS. A pause holds messages in the queues
#   (up to the HWM), and in libzmq 4.3.5 it spins while they wait; the two pause words are swapped there.
# * A last value cache answers each subscription with the newest message of each matching topic: late
#   joiners start with the current state. It needs `XPUB_VERBOSE`, and its answers reach every
#   subscriber of the topic, not only the newcomer.
# * Anything may come up an XPUB from an XSUB: check each frame, count the odd ones, carry on.
#
# **Questions**
# 1. The LVC replays a value to every subscriber of its topic. How would you send it to the newcomer
#    only? (Look up `ZMQ_XPUB_MANUAL` and `ZMQ_XPUB_WELCOME_MSG`; or think of the Clone pattern.)
# 2. A proxy is paused for 10 s while a publisher sends 1 000 messages a second. With the default HWM of
#    1 000 on each side of each pipe, roughly how many arrive after RESUME, and where were the others lost?
# 3. Why is the capture socket a PUB here, and not a PUSH? What would a slow Espresso do to the proxy
#    with a PUSH?
#
# **Exercise.** Three subscribers connect to the proxy of section 3: two to `weather.` and one to
# `weather.london`. How many subscription frames does the publisher hear? Put your number in
# `my_guess`, run that cell, then the check (the experiment in between is folded away).

# %%
my_guess = None      # subscription frames the publisher hears

# %%
# FOLDED
with Lab("proxies-exercise") as ex:
    ex.start("proxy", proxies.steerable_proxy, frontend="inproc://f", backend="inproc://b")
    ex.start("publisher", proxies.publisher, endpoint="inproc://f", interval=0.01)
    for n, prefix in enumerate(["weather.", "weather.", "weather.london"], 1):
        ex.start(f"sub{n}", proxies.subscriber, endpoint="inproc://b", topics=[prefix])
    ex.wait_for(lambda: all(ex.peer(f"sub{n}").get("received") for n in (1, 2, 3)), timeout=5, what="data")
    answer = ex.wait_quiet(lambda: ex.peer("publisher").get("subscribe"), quiet=0.3, timeout=5)
    assert answer == 2 and not ex.errors()

# %%
print(grade(my_guess, answer))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **2**: `'\x01weather.'` and `'\x01weather.london'`. The XPUB hides a subscription only when it is the
# *same* prefix as one it already passed: the second `weather.` adds nothing. `weather.london` is a
# different prefix, even though `weather.` already covers its messages, and it must go up: when both
# `weather.` subscribers leave, the publisher must still send London's weather to the third one.
#
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/espresso.py` is the XSUB/XPUB proxy with a capture socket whose listener prints every
# frame that passes, both ways. `examples/lvcache.py` is the last value cache. Both work with the
# workbook's publisher and subscriber:
#
# ```sh
# python examples/lvcache.py &
# python -m zguide_py run proxies.publisher --connect tcp://127.0.0.1:5557 rounds=3 interval=0.1 subscribers=1
# python -m zguide_py run proxies.subscriber --connect tcp://127.0.0.1:5558 "topics=['weather.']"
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('lvcache')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [24 · zmq.asyncio: the same patterns with `async def`](24_asyncio.ipynb).
