# Source of notebooks/02_publish_subscribe.ipynb - build with: python tools/nbbuild.py notebooks/src/02_publish_subscribe.py
# %% [markdown]
# # 02 · Publish-subscribe: one sender, any number of listeners
#
# *Where this sits: before this, [00 · Basics](00_basics.ipynb); next, [03 · Pipeline](03_pipeline.ipynb);
# in the guide, chapter 1, [Getting the Message Out](https://zguide.zeromq.org/docs/chapter1/); chapter 2,
# [Pub-Sub Message Envelopes](https://zguide.zeromq.org/docs/chapter2/). Words used here: [slow
# joiner](glossary.ipynb#Slow-joiner), [fair-queueing](glossary.ipynb#Fair-queueing),
# [HWM](glossary.ipynb#HWM) (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** one program produces a stream of updates (prices, weather readings, log lines) and
# any number of others want some of them. The producer should not know who listens, nor wait for
# anybody. A **PUB** socket sends every message to all the **SUB** sockets connected to it whose
# *subscription* matches; each subscriber picks what it wants by topic. Nothing goes back from the
# subscribers to the publisher except their subscriptions.
#
# ```mermaid
# flowchart LR
#     S1["subscriber 'weather.'<br/>SUB (connect)"] -- "weather.*" --> P["publisher<br/>PUB (bind)"]
#     S2["subscriber 'news'<br/>SUB (connect)"] -- "news*" --> P
#     S3["subscriber, no subscription<br/>SUB (connect)"] -. "nothing" .-> P
#     S1 -- "ready? (handshake)" --> R["publisher<br/>REP (bind)"]
# ```
#
# Arrows go from the socket that connects to the one that binds; the labels say what each
# subscriber receives. This notebook shows topic filtering, a subscriber fed by two publishers, and
# the two ways messages vanish: nobody is listening yet, or the listener joined a moment too late
# (the *slow joiner*), with the handshake that fixes the second.
#
# As in every notebook of this workbook, a `~` in front of a printed number marks a measurement: it
# changes from run to run. Everything else a cell prints comes out the same every time.

# %%
import time

import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import grade
from zguide_py.patterns import pubsub
from zguide_py.views import pubsub as pubsub_views
from zguide_py.widgets import Panel, adder

lab = Lab("pubsub")

# %% [markdown]
# ## 1. One call per cell
#
# A publisher binds, a subscriber connects and subscribes to the prefix `weather.`. Messages here
# have two frames: a topic, then the data. The subscription is matched against the first frame.

# %%
pub = lab.socket(zmq.PUB)
pub.bind("inproc://news")
print("the publisher is bound to", pub.last_endpoint)

# %%
sub = lab.socket(zmq.SUB)
sub.connect("inproc://news")
sub.subscribe(b"weather.")

# %% [markdown]
# The subscription has to travel to the publisher before it counts, and until it gets there the
# publisher sends weather to nobody. So we send a probe every 10 ms until one arrives (section 5
# comes back to this).

# %%
probes = 0
while not sub.poll(10):
    pub.send_multipart([b"weather.probe", b"are you there?"])
    probes += 1
    assert probes < 500, "the subscription never arrived"
print("a probe got through:", sub.recv_multipart())

# %%
pub.send_multipart([b"weather.paris", b"21 C"])
pub.send_multipart([b"sports.football", b"2-1"])
pub.send_multipart([b"weather.london", b"14 C"])

# %%
sub.recv_multipart()

# %%
sub.recv_multipart()

# %% [markdown]
# The football score never reached this subscriber: it did not ask for `sports.`. And a SUB socket
# that subscribes to nothing receives nothing at all:

# %%
deaf = lab.socket(zmq.SUB)
deaf.connect("inproc://news")
pub.send_multipart([b"weather.paris", b"22 C"])
verdict(not deaf.poll(200), "The deaf subscriber got nothing within 200 ms.")
print("the weather subscriber did:", sub.recv_multipart())

# %% [markdown]
# ## 2. The roles
#
# The publisher cycles through its topics and numbers the messages of each topic (0, 1, 2, ...), so a
# subscriber can tell exactly which ones it missed. The subscriber connects to one or more
# publishers, subscribes, and logs every message it gets. With `sync` set, both first take part in
# the handshake of section 5 (`say_hello` and `say_ready`, shown there); ignore that part for now.
# `peer.poll(sub)` is the lab's `sub.poll()`: True when a message waits, False once the lab kills
# the subscriber.

# %%
show_source(pubsub.publisher, pubsub.subscriber)

# %% [markdown]
# ## 3. Topic filtering is a prefix match
#
# One publisher sends 100 messages on each of five topics. Five subscribers listen: to everything
# (`""`), to `weather.`, to `weather.paris`, to `news`, and to nothing at all. All of them do the
# handshake first, so that none misses the start.

# %%
TOPICS = ["weather.london", "weather.paris", "sports.football", "news.world", "newsletter"]
LISTENERS = {"everything": [""], "weather": ["weather."], "paris": ["weather.paris"],
             "news": ["news"], "nothing": []}

endpoint, sync = lab.endpoint("topics", "tcp"), lab.endpoint("topics-sync", "tcp")
lab.start("publisher", pubsub.publisher, endpoint=endpoint, sync=sync, topics=TOPICS,
          count=100 * len(TOPICS), subscribers=len(LISTENERS))
for name, prefixes in LISTENERS.items():
    lab.start(name, pubsub.subscriber, endpoint=endpoint, topics=prefixes, sync=sync)
publisher = lab.peer("publisher")
lab.wait_for(lambda: publisher.data.get("done"), timeout=10, what="the publisher to send everything")


def expected(prefixes):
    """What a subscriber to these prefixes should get: every topic that starts with one of them."""
    return {t: n for t, n in publisher.data["sent"].items() if any(t.startswith(p) for p in prefixes)}


lab.wait_for(lambda: all(lab.peer(n).get("received") == sum(expected(p).values())
                         for n, p in LISTENERS.items()), timeout=10, what="every subscriber's messages")
for name, prefixes in LISTENERS.items():
    got = lab.peer(name).data["per_topic"]
    print(f"{name:<11} subscribed to {str(prefixes):<18} got {sum(got.values()):>3}:",
          ", ".join(f"{t} {n}" for t, n in sorted(got.items())) or "nothing")

# %%
pubsub_views.topics_figure(lab, LISTENERS, TOPICS)

# %%
exact = all(lab.peer(n).data["per_topic"] == expected(p) for n, p in LISTENERS.items())
verdict(exact, "Every subscriber got exactly the topics its prefixes match, all 100 of each.")
verdict(lab.peer("news").data["per_topic"].get("newsletter") == 100,
        "'news' also matched 'newsletter': a prefix of bytes, not a word.")
verdict(lab.peer("nothing").get("received") == 0, "The subscriber with no subscription received nothing.")
assert exact and lab.peer("nothing").get("received") == 0
for name in ["publisher", *LISTENERS]:
    lab.remove(name)

# %% [markdown]
# ## 4. One subscriber, two publishers: fair queuing
#
# A SUB socket may connect to many publishers. Their messages arrive interleaved; when several
# publishers have messages waiting, the subscriber takes **one from each in turn** (*fair queuing*),
# so a chatty publisher cannot starve a quiet one. To see the turn-taking we make the subscriber slow
# (2 ms per message), so that both publishers' 200 messages are waiting in its queues.

# %%
a, b = lab.endpoint("pubA"), lab.endpoint("pubB")
sync_a, sync_b = lab.endpoint("pubA-sync"), lab.endpoint("pubB-sync")
lab.start("pubA", pubsub.publisher, endpoint=a, sync=sync_a, topics=["tick"], count=200)
lab.start("pubB", pubsub.publisher, endpoint=b, sync=sync_b, topics=["tick"], count=200)
both = lab.start("both", pubsub.subscriber, endpoint=[a, b], topics=["tick"], sync=[sync_a, sync_b],
                 throttle=0.002)
lab.wait_for(lambda: both.get("received") == 400, timeout=10, what="400 messages")
arrivals = both.data["log"]
sources = [source for _, source, _, _ in arrivals]      # who sent each message, in arrival order

# %%
pubsub_views.arrivals_figure(sources, ["pubA", "pubB"])

# %%
sent_done = max(t for t, _, peer, _ in lab.events_of("done") if peer in ("pubA", "pubB"))   # all sent
start = next(i for i, entry in enumerate(arrivals) if entry[0] > sent_done)
end = min(max(i for i, s in enumerate(sources) if s == src) for src in ["pubA", "pubB"])
window = sources[start:end + 1]
in_order = all([seq for _, s, _, seq in arrivals if s == src] == list(range(200)) for src in ["pubA", "pubB"])
alternating = all(x != y for x, y in zip(window, window[1:]))
verdict(in_order, "All 400 messages arrived, each publisher's in its own order.")
verdict(alternating, f"While both had messages waiting (~{len(window)} arrivals), "
        "the subscriber took one from each in turn.")
assert in_order and alternating and len(window) > 100
for name in ["pubA", "pubB", "both"]:
    lab.remove(name)

# %% [markdown]
# ## 5. The slow joiner
#
# A publisher starts sending the moment it has bound. A subscriber is started at once, over TCP: as
# soon as the publisher has sent its first message. But connecting, greeting and sending the
# subscription upstream takes a few milliseconds, and everything published in the meantime goes
# nowhere. The subscriber never learns what it missed, unless, like ours, it checks sequence numbers.
#
# **The fix** is a handshake. The publisher first sends `!hello` on its PUB socket every 10 ms. A
# subscriber that *receives* a hello knows its subscription has reached the publisher, and says
# "ready" over a REQ socket to the publisher's REP socket. Only when every expected subscriber is
# ready does the publisher send its data. (A sleep before publishing, as in many examples, only makes
# the loss rarer.)

# %%
show_source(pubsub.say_hello, pubsub.say_ready)

# %%
COUNT = 1000


def run_once(handshake):
    """One publisher sending COUNT messages (one every ~0.1 ms), one subscriber; the lost numbers."""
    endpoint = lab.endpoint("stream", "tcp")
    sync = lab.endpoint("stream-sync", "tcp") if handshake else None
    pub = lab.start("publisher", pubsub.publisher, endpoint=endpoint, sync=sync, count=COUNT,
                    interval=0.0001)
    if not handshake:
        lab.wait_for(lambda: pub.get("sent") >= 1, timeout=5, what="the first message")
    joined = time.perf_counter()
    sub = lab.start("subscriber", pubsub.subscriber, endpoint=endpoint, sync=sync)
    lab.wait_for(lambda: sub.data.get("log"), timeout=5, what="a first message")
    join_ms = (time.perf_counter() - joined) * 1e3
    lab.wait_for(lambda: pub.data.get("done") and sub.data["log"][-1][3] == COUNT - 1, timeout=10,
                 what="the last message")
    missed = pubsub.lost(sub, "publisher", "", COUNT)
    lab.remove("publisher")
    lab.remove("subscriber")
    return missed, join_ms


missed_plain, join_plain = run_once(handshake=False)
missed_sync, join_sync = run_once(handshake=True)
print(f"without handshake: the first message reached the subscriber ~{join_plain:.1f} ms after it started;"
      f" it lost ~{len(missed_plain)} of {COUNT}")
print(f"with handshake:    lost {len(missed_sync)} of {COUNT}")

# %%
pubsub_views.slow_joiner_figure(missed_plain, missed_sync, COUNT)

# %%
verdict(missed_plain and missed_plain == list(range(len(missed_plain))),
        "Without the handshake messages were lost, all of them before the first one that arrived.")
verdict(missed_sync == [], "With the handshake, none was lost.")
assert missed_plain and missed_plain == list(range(len(missed_plain))) and missed_sync == []

# %% [markdown]
# ## 6. Nobody listening: the publisher drops
#
# PUB does not keep messages for subscribers that may come later. Here the publisher sends 500
# messages right after binding, with no subscriber anywhere, then waits for one subscriber's
# handshake and sends 10 more. It never blocked, and the subscriber's first message is number 500.

# %%
endpoint, sync = lab.endpoint("alone", "tcp"), lab.endpoint("alone-sync", "tcp")
alone = lab.start("publisher", pubsub.publisher, endpoint=endpoint, sync=sync, preamble=500, count=10)
lab.wait_for(lambda: alone.data.get("preamble_done"), timeout=5, what="500 messages into the void")
late = lab.start("latecomer", pubsub.subscriber, endpoint=endpoint, sync=sync)
lab.wait_for(lambda: late.get("received") == 10 and alone.data.get("done"), timeout=5,
             what="the 10 messages after the handshake")
numbers = [seq for *_, seq in late.data["log"]]
print("the publisher sent:", alone.get("sent"), "| the latecomer received:", numbers)
verdict(numbers == list(range(500, 510)),
        "The latecomer got none of the 500 sent before anyone listened: its first was number 500.")
assert alone.get("sent") == 510 and numbers == list(range(500, 510))
lab.remove("publisher")
lab.remove("latecomer")

# %% [markdown]
# ## 7. Watching the connection: socket monitor events
#
# A SUB socket never tells you whether it is connected: it just has messages or not. Its
# **monitor** does. `sock.get_monitor_socket()` returns a PAIR socket on which libzmq tells what
# happens to `sock`'s connections (a `zmq.Event`: connect delayed, connect retried, connected,
# handshake succeeded, disconnected...), and `zmq.utils.monitor.recv_monitor_message` decodes one
# such event. `watched_subscriber` polls its SUB and its monitor together and logs each event in
# the lab, on the same clock as the messages it counts. The scenario: the subscriber connects
# before anybody has bound; the publisher binds at 0.5 s, is killed at 1.2 s and restarted at 1.6 s.

# %%
show_source(pubsub.watched_subscriber)

# %%
watched = lab.endpoint("watched", "tcp")
restarts = Scenario("the publisher comes late, dies and comes back") \
    .at(0.0, "start", "watcher", pubsub.watched_subscriber, endpoint=watched) \
    .at(0.5, "start", "publisher", pubsub.publisher, endpoint=watched, interval=0.002) \
    .at(1.2, "kill", "publisher").at(1.6, "restart", "publisher")
report = lab.run(restarts, seconds=2.2)
pubsub_views.monitor_figure(report, "watcher", "publisher",
                            title="a subscriber's connection, as its socket monitor saw it")

# %%
seen = pubsub_views.monitor_events(report.events, "watcher")
story = pubsub_views.milestones(seen)
bound, restarted = (report.events_of(kind, "publisher")[0].t for kind in ("start", "restart"))
retries = sum(name == "CONNECT_RETRIED" and t < bound for t, name in seen)
connected = [t for t, name in seen if name == "CONNECTED"]
print("the monitor's story:", " -> ".join(story))
print(f"before the bind: ~{retries} connect retries; connected ~{(connected[0] - bound) * 1e3:.0f} ms after the bind, "
      f"again ~{(connected[1] - restarted) * 1e3:.0f} ms after the restart")
assert verdict(story == ["CONNECT_RETRIED", "CONNECTED", "HANDSHAKE_SUCCEEDED", "DISCONNECTED",
                         "CONNECT_RETRIED", "CONNECTED", "HANDSHAKE_SUCCEEDED"],
               "The monitor told the whole story in order: retries before the bind, connected and handshake, "
               "disconnected at the kill, retries, connected and handshake again after the restart.")
lab.remove("publisher")
lab.remove("watcher")

# %% [markdown]
# The data line only says "nothing" before 0.5 s and between the kill and the restart; the monitor
# says why: nobody to connect to, retried every 0.1 to 0.2 s (`reconnect_ivl`, 100 ms by default,
# plus a random part, so that many clients do not all come back at once). That is also why the
# subscriber connected a little *after* each bind: at its next retry. Monitors are for watching
# and logging; the pattern's own checks (sequence numbers, heartbeats) still decide what is lost.

# %% [markdown]
# ## 8. Play with it
#
# A lab of its own for you to play with. A publisher sends forever on three topics, about 300
# messages a second. Three subscribers listen to `weather.`, `sports.` and everything. The buttons
# add a subscriber (to everything), remove the last one added, and switch `sub1` between `weather.`
# and `sports.` (the subscriber restarts with its new topic). Each row's slider slows that subscriber
# down. The plot shows every subscriber's rate. This lab stays open after the notebook ends;
# re-running the cell starts it afresh.
#
# Things to try: throttle `sub3` to 0.01 s/msg. Its rate drops to 100/s at most, while the publisher
# and the others carry on: a slow subscriber slows nobody else. Its queue fills, and once it is full
# (the high-water mark, 1 000 messages by default) the publisher drops that subscriber's messages.

# %%
def extras(lab):
    """The subscribers the button added: extra1, extra2, ..."""
    return sorted((n for n in lab.peers if n.startswith("extra")), key=lambda n: int(n[5:]))


def remove_subscriber(lab):
    if extras(lab):
        lab.remove(extras(lab)[-1])


def switch_sub1(lab):
    """Restart sub1 with the other topic: lab.restart(name, **new_params)."""
    now = lab.peer("sub1").data["topics"]
    lab.restart("sub1", topics=["sports."] if now == ["weather."] else ["weather."])


def playground(name):
    """A publisher that never stops and three subscribers, in a lab of their own, under a panel."""
    play = Lab(name)
    live = play.endpoint("live", "tcp")
    play.start("publisher", pubsub.publisher, endpoint=live, interval=0.003,
               topics=["weather.london", "sports.football", "weather.paris"])
    for who, prefix in [("sub1", "weather."), ("sub2", "sports."), ("sub3", "")]:
        play.start(who, pubsub.subscriber, endpoint=live, topics=[prefix])
    buttons = {"add subscriber": adder("extra", pubsub.subscriber, endpoint=live, topics=[""]),
               "remove subscriber": remove_subscriber, "switch sub1's topic": switch_sub1}
    return play, Panel(play, counters=["received"], title="publish-subscribe: rates per subscriber",
                       actions=buttons)


play, panel = playground("pubsub-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has tried the buttons for you on a twin of this lab, so your panel is fresh (the code
# is folded: click the "..." to read it). What it saw: a subscriber added late gets the messages
# from then on and none from before; after the switch `sub1` gets sports only; a subscriber slowed
# to 20 ms a message falls behind while another keeps pace with the publisher; and removing a
# subscriber leaves the others receiving.

# %%
# FOLDED
rehearsal, twin = playground("pubsub-rehearsal")


def grows(name, by=10):
    """Wait (at most 5 s) until subscriber `name` has received `by` more messages."""
    before = rehearsal.peer(name).get("received")
    rehearsal.wait_for(lambda: rehearsal.peer(name).get("received") >= before + by, timeout=5,
                       what=f"{by} more messages at {name}")


grows("sub3", by=30)                                # the publisher has sent 10 or more on each topic
twin.action_buttons["add subscriber"].click()
grows("extra1")
first_seq = rehearsal.peer("extra1").data["log"][0][3]
verdict(first_seq > 0, "The subscriber added late received from then on, and none of what was sent before it joined.")

twin.action_buttons["switch sub1's topic"].click()
switched = len(rehearsal.peer("sub1").data["log"])
grows("sub1", by=20)
after = {topic for _, _, topic, _ in rehearsal.peer("sub1").data["log"][switched:]}
verdict(after == {"sports.football"}, "After the switch, sub1 received sports.football only: no more weather.")

twin.rows["sub3"].throttle.value = 0.02
sub3_before = rehearsal.peer("sub3").get("received")
grows("extra1", by=100)
got = rehearsal.peer("sub3").get("received") - sub3_before
verdict(got < 100, f"While extra1 received 100 messages, sub3 (slowed to 20 ms a message) took ~{got}: "
        "the publisher did not wait for the slow one.")

twin.action_buttons["remove subscriber"].click()
grows("sub2")
assert verdict("extra1" not in rehearsal.peers and not rehearsal.errors(),
               "After 'remove subscriber' extra1 was gone, and the others went on receiving.")
assert first_seq > 0 and after == {"sports.football"} and got < 100
rehearsal.close()

# %% [markdown]
# ## 9. What you saw, and questions
#
# * A subscription is a prefix of the first frame, matched byte by byte: `news` also catches
#   `newsletter`. No subscription, no messages.
# * A subscriber connected to several publishers takes one message from each in turn while both have
#   messages waiting; each publisher's own messages stay in order.
# * PUB never waits and never stores for later: with nobody subscribed, messages are dropped; a
#   subscriber that joins late misses what was sent before its subscription arrived.
# * A handshake (hello on the PUB socket, "ready" over REQ/REP) makes the start lossless.
# * A socket's monitor reports its connection's life (retried, connected, handshake, disconnected)
#   where the socket itself says nothing.
#
# **Questions**
# 1. The handshake needs the publisher to know how many subscribers to wait for. What would you do
#    if subscribers come and go all the time? (The Clone pattern of notebooks 06 and 07 is one
#    answer.)
# 2. Why must the subscriber wait for a *hello* before saying "ready", rather than say "ready" right
#    after `connect()` and `subscribe()`?
# 3. In section 4, what would the arrival order look like if the subscriber were fast?
#
# **Exercise.** A subscriber subscribes to *two* prefixes, `sports.` and `news.w`. The publisher sends
# 30 messages on each of the five topics of section 3. How many does the subscriber get? Put your
# number in `my_guess`, then run the three cells: the folded one runs exactly this, the last one
# compares.

# %%
my_guess = None      # messages received by the subscriber to "sports." and "news.w"

# %%
# FOLDED
with Lab("pubsub-exercise") as ex:
    ep, sy = ex.endpoint("pub", "tcp"), ex.endpoint("sync", "tcp")
    ex.start("publisher", pubsub.publisher, endpoint=ep, sync=sy, topics=TOPICS, count=30 * len(TOPICS))
    two = ex.start("two", pubsub.subscriber, endpoint=ep, topics=["sports.", "news.w"], sync=sy)
    ex.wait_for(lambda: ex.peer("publisher").data.get("done"), timeout=10, what="the publisher")
    answer = ex.wait_quiet(lambda: two.get("received"), quiet=0.3, timeout=5, what="the last message")
    assert answer == 60 and not ex.errors()

# %%
print(grade(my_guess, answer))

# %% [markdown]
# <details><summary>Answer (open it after you have guessed)</summary>
#
# **60.** A subscription is a prefix of the message's first frame, and a subscriber gets every
# message that matches *any* of its prefixes. `sports.` matches `sports.football` (30 messages) and
# `news.w` matches `news.world` (30 more). It does not match `newsletter`: the prefix compares byte
# by byte, and the fifth byte is `.` in one and `l` in the other. The weather topics match neither.
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/wuserver.py` publishes weather updates and `examples/wuclient.py` follows one zip
# code by prefix matching. The subscriber is shown here:
#
# ```sh
# python examples/wuserver.py &
# python examples/wuclient.py --zipcode 10001 --count 10
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('wuclient')

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
# Next: [03 · Pipeline](03_pipeline.ipynb).
