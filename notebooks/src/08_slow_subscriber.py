# Source of notebooks/08_slow_subscriber.ipynb - build with: python tools/nbbuild.py notebooks/src/08_slow_subscriber.py
# %% [markdown]
# # 08 · The slow subscriber: queue, drop, or die
#
# *Where this sits: before this, [02 · Publish-subscribe](02_publish_subscribe.ipynb); next, [09 · Lazy
# Pirate](09_lazy_pirate.ipynb); in the guide, chapter 5, [Slow Subscriber Detection (Suicidal Snail
# Pattern)](https://zguide.zeromq.org/docs/chapter5/). Words used here: [HWM](glossary.ipynb#HWM),
# [sequence number](glossary.ipynb#Sequence-number) (all in the [glossary](glossary.ipynb)).*
#
# **The problem:** a publisher sends 1 000 messages a second; one of its subscribers can only
# handle 250. PUB never waits for anyone, so the difference has to go somewhere. Between the two
# programs there are three queues: the publisher's queue for that subscriber (bounded by the
# publisher's **send high-water mark**, `sndhwm`), the operating system's TCP buffers, and the
# subscriber's own queue (its **receive high-water mark**, `rcvhwm`). When they are full, something
# has to give. There are three answers, and each is a choice you make:
#
# 1. **Queue on the publisher**: no limit (`sndhwm=0`). Nothing is lost, but the publisher's memory
#    grows for as long as the subscriber is slow.
# 2. **Drop at the high-water mark** (ZeroMQ's default): the publisher throws away that
#    subscriber's messages while its queue is full. Everybody else carries on.
# 3. **The suicidal snail**: the subscriber notices that it has fallen behind, says why, and stops,
#    so that someone fixes it, rather than go on with old or incomplete data.
#
# ```mermaid
# flowchart LR
#     P["publisher<br/>XPUB (bind)<br/>sndhwm per subscriber"] -- "every message" --> S1["steady<br/>SUB (connect)<br/>rcvhwm"]
#     P -- "as many as fit in its queues" --> S2["slow, or snail<br/>SUB (connect)<br/>rcvhwm"]
# ```
#
# Arrows follow the messages, from the publisher to its subscribers; the publisher binds, the
# subscribers connect. Every message carries a sequence
# number and the time it was published, so a subscriber can tell exactly what it lost and how late
# it is.
#
# How many messages get lost, and when, depends on the machine and the moment: such measured numbers
# are printed after a `~` and will be different when you run the notebook again. Numbers without a
# `~` are the same in every run.

# %%
import zmq

from zguide_py import Lab, Scenario, live_labs, show_source, show_example, verdict
from zguide_py.exercise import passed
from zguide_py.patterns import slowsub
from zguide_py.views import slowsub as slowsub_views
from zguide_py.widgets import Panel
from zguide_py.plots import bars_figure

lab = Lab("slow-subscriber", sample_interval=0.05)
SMALL = 8192     # TCP buffer size (bytes) for our sockets: keep the queue where the HWMs govern it

# %% [markdown]
# ## 1. The roles
#
# The publisher is an XPUB socket: a PUB that also receives the subscriptions, so it waits until its
# subscribers are there before it sends message 0 (nothing is lost to a slow joiner; every loss we
# count happens at a high-water mark). It sends numbered, time-stamped messages at a steady rate and
# never blocks. When it has sent `count` messages it repeats an end marker with the count, so the
# subscriber can also count losses after its last message.
#
# The subscriber checks each sequence number with a `SeqChecker`: a jump from 41 to 45 is a gap of
# 3 lost messages, counted exactly. It also measures each message's age. With `max_gap` or
# `max_age` set it is a suicidal snail. Its throttle (the panel's slider) makes it slow. The
# bookkeeping (the `SeqChecker`, the list of gaps, the counters, a restarted publisher's new epoch, the
# end marker) lives in its `Tally`, so the loop shows only the pattern. A frame that is neither a data
# message nor an end marker (`well_formed`) is counted as malformed and skipped. `peer.poll(sub)` waits for
# a message, and returns False once the lab kills the subscriber.

# %%
show_source(slowsub.publisher, slowsub.subscriber)

# %% [markdown]
# ## 2. Drop at the high-water mark
#
# The publisher sends 5 000 messages at 2 000 a second, with ZeroMQ's default `sndhwm=1000`. Two
# subscribers: `steady` keeps up (with the default `rcvhwm=1000`: room for a hiccup of half a
# second); `slow`, with `rcvhwm=100`, is throttled to 5 ms a message (200 a second) from 0.4 s to
# 1.6 s, then released. With our small TCP buffers the queues between the publisher and `slow` hold
# about 1 000 + 100 + a few hundred messages; in those 1.2 s it falls over 2 000 messages behind.

# %%
ep = lab.endpoint("drop", "tcp")
lab.start("steady", slowsub.subscriber, endpoint=ep, rcvhwm=1000, rcvbuf=SMALL)
lab.start("slow", slowsub.subscriber, endpoint=ep, rcvhwm=100, rcvbuf=SMALL)
lab.start("publisher", slowsub.publisher, endpoint=ep, rate=2000, count=5000, sndhwm=1000,
          sndbuf=SMALL, subscribers=2)
slow_for_a_while = Scenario("slow for a while").at(0.4, "throttle", "slow", 0.005) \
    .at(1.6, "throttle", "slow", 0)
print(slow_for_a_while.describe())
report = lab.run(slow_for_a_while, seconds=15,
                 until=lambda: all(lab.peer(n).data.get("complete") for n in ["steady", "slow"]))
print(f"run took ~{report.duration:.1f} s")
times, waiting, dropped = slowsub_views.queue_series(lab, report, "publisher", "slow")
first = next(i for i, d in enumerate(dropped) if d > 0)
print(f"the publisher began to drop slow's messages at ~{times[first]:.2f} s, "
      f"with ~{waiting[first]:,} waiting in the queues")
print(f"the most waiting at any one time: ~{max(waiting):,}")

# %%
slowsub_views.queue_figure(lab, report, "publisher", ["steady", "slow"],
                           title="drop at the HWM: the slow subscriber's queue fills, then it loses messages")

# %% [markdown]
# Top: while `slow` is throttled (shaded), messages pile up in its queues, 1 800 more every second
# (2 000 in, 200 out). Bottom: once the publisher's queue for `slow` counts as full, the publisher
# drops `slow`'s messages (solid line), and the top line stops its steep climb. It does not stop at
# one sharp level, though: in some runs it still creeps up by a few hundred messages after the first
# drop, in others it sinks slowly. Two reasons. The TCP buffers are measured in bytes, not
# messages. And ZeroMQ's queue learns that room was freed only in batches: the reading side reports
# every 500 messages it has taken (half the HWM of 1 000). So the publisher may drop while part of
# the queue is in fact empty, and then let a whole batch in at once when the report arrives.
#
# `slow` itself only finds out about a loss when it reads the first message after a hole, after it
# has worked through everything queued in front of it (dotted line): the news of a loss is as late
# as the queue is long. Released, `slow` drains its queue and is back with the stream. `steady`
# never notices a thing: its lines stay at 0. (Both panels are worked out after the run, from the
# exact list of gaps that `slow` found.)

# %%
published = lab.peer("publisher").data["published"]
slow = lab.peer("slow").data["checker"]
steady = lab.peer("steady").data["checker"]
gaps = lab.peer("slow").data["gaps_at"]
print(f"published {published}; slow received ~{slow.received}, lost ~{slow.lost} in ~{slow.gaps} gaps")
verdict(slow.lost > 0, "slow lost messages.")
verdict(slow.lost == published - slow.received, "It lost exactly what was published and it did not receive.")
verdict(slow.lost == sum(b - a for a, b in gaps), "Every loss was found as a gap in the sequence numbers.")
verdict((steady.received, steady.lost) == (published, 0), f"steady received all {published} and lost none.")
assert slow.lost > 0 and slow.lost == published - slow.received == sum(b - a for a, b in gaps)
assert (steady.received, steady.lost) == (published, 0)
for name in ["publisher", "steady", "slow"]:
    lab.remove(name)

# %% [markdown]
# ## 3. Queue on the publisher: what a huge HWM costs
#
# Now a subscriber that takes 10 ms a message, and a publisher that sends 50 000 messages of 1 kB
# as fast as it can. Twice: with `sndhwm=1000`, then with `sndhwm=0` (no limit). We measure this
# process's resident memory (`VmRSS` in `/proc/self/status`) before and right after the publisher
# has sent everything. (Here publisher and subscriber are threads of one process; in real life the
# growth is in the publisher's process.)

# %%
growth = {}
for hwm in [1000, 0]:
    ep = lab.endpoint(f"memory{hwm}", "tcp")
    before = slowsub_views.rss_mb()
    lab.start(f"sub{hwm}", slowsub.subscriber, endpoint=ep, rcvhwm=100, rcvbuf=SMALL, throttle=0.01)
    pub = lab.start(f"pub{hwm}", slowsub.publisher, endpoint=ep, rate=None, count=50_000, size=1000,
                    sndhwm=hwm, sndbuf=SMALL)
    lab.wait_for(lambda pub=pub: pub.data.get("published"), timeout=20, what="50,000 messages sent")
    growth[hwm] = slowsub_views.rss_mb() - before
    received = lab.peer(f"sub{hwm}").get("received")
    print(f"sndhwm={hwm:<5} memory grew by ~{growth[hwm]:.0f} MB; the subscriber has read ~{received}")
    lab.remove(f"pub{hwm}")
    lab.remove(f"sub{hwm}")

# %%
fig = bars_figure({"sndhwm=1000\n(drops)": round(growth[1000], 1), "sndhwm=0\n(no limit)": round(growth[0], 1)},
                  title="memory growth: 50,000 x 1 kB messages for a slow subscriber",
                  ylabel="resident memory growth (MB)", xlabel="publisher's send high-water mark")
fig.axes[0].set_ylim(top=max(growth.values()) * 1.15)
fig

# %%
verdict(growth[0] > 35, "With no limit, the publisher's queue held nearly all 50 MB of messages: "
        "memory grew by more than 35 MB.")
verdict(growth[1000] < 15, "With sndhwm=1000, memory stayed nearly flat: it grew by less than 15 MB.")
assert growth[0] > 35 and growth[1000] < 15

# %% [markdown]
# With no limit nothing was lost, yet: the 50 000 messages wait in the publisher's queue, and the
# subscriber would need over 8 minutes to read them. A publisher with many subscribers and no limit
# can be brought down by its slowest one. Killing the publisher dropped the queue (linger 0).
#
# ## 4. The suicidal snail
#
# A publisher sends 1 000 messages a second to `steady` and to `snail`. The snail gives itself two
# rules: no message may be older than 0.3 s when it reads it (`max_age=0.3`), and no message may be
# missing (`max_gap=0`). At 0.5 s it is throttled to 4 ms a message: it falls behind by 750 messages
# a second, and the messages it reads grow older and older.

# %%
ep = lab.endpoint("snail", "tcp")
lab.start("steady", slowsub.subscriber, endpoint=ep, rcvbuf=SMALL)
lab.start("snail", slowsub.snail, endpoint=ep, rcvbuf=SMALL, max_age=0.3, max_gap=0)
lab.start("publisher", slowsub.publisher, endpoint=ep, rate=1000, sndbuf=SMALL, subscribers=2)
snail_run = Scenario("the snail slows down").at(0.5, "throttle", "snail", 0.004)


def snail_dead_for_a_while():
    """The snail's role has returned, and 0.3 s have passed since (so the plot shows the others go on)."""
    deaths = lab.events_of("suicide", "snail")
    return lab.peer("snail").state == "done" and deaths and lab.now() - deaths[0].t > 0.3


report = lab.run(snail_run, seconds=10, until=snail_dead_for_a_while)
print(f"the snail is {lab.peer('snail').state}; steady is {lab.peer('steady').state}")
suicide = report.events_of("suicide", "snail")[0]
print("its last words (event 'suicide'):", slowsub_views.last_words(suicide))

# %%
slowsub_views.age_figure(lab, report, ["steady", "snail"], 0.3,
                         title="the suicidal snail: its messages grow old; it dies at the first one past 0.3 s")

# %% [markdown]
# The age of the messages `steady` reads stays near zero (its line lies along the bottom). The
# snail's climbs from the moment it is
# throttled, because every message waits behind more and more others; it dies at the first message
# older than its limit. It could also have died by its gap rule, but its queues (1 000 + 1 000
# messages plus the TCP buffers) are deep enough that age comes first here.
#
# **The bound.** The snail checks every message it reads. It *falls behind* when the oldest message
# waiting for it turns 0.3 s old; that message is the very next one it reads, at most one
# processing step (its 4 ms throttle) plus one 50 ms poll slice later. So it dies within ~54 ms of falling
# behind, and its fatal message is at most that much older than the limit. (`tests/test_slowsub.py`
# checks this bound, allowing a busy machine 0.25 s more, and checks the gap rule: the snail dies on
# the first message after a hole, having processed nothing past it.)

# %%
death = lab.peer("snail").data["death"]
print(f"the fatal message: number ~{death['seq']}, ~{death['age']:.4f} s old, "
      f"after ~{death['received']} messages read")
assert death["reason"] == "too old" and death["oldest_before"] <= 0.3 < death["age"] <= 0.3 + 0.304
assert report.events_of("suicide", "snail")[0].t > report.events_of("throttle", "snail")[0].t
assert lab.peer("steady").data["checker"].lost == 0
print("The snail died by its age rule, and only after it was slowed down.")
print("Every message it read before the fatal one was younger than 0.3 s: it was not behind until then.")
print(f"Its fatal message was ~{(death['age'] - 0.3) * 1e3:.0f} ms past the limit "
      "(the bound: one 4 ms step plus one 50 ms poll, on a machine that is not busy).")
print("steady lost nothing.")
for name in ["publisher", "steady", "snail"]:
    lab.remove(name)

# %% [markdown]
# Why die? A subscriber that silently serves data that is seconds old, or has holes in it, does
# more harm than one that stops and says so. The snail's death is loud and has a reason; a
# supervisor (or you) can restart it, give it a faster machine, or split its work.

# %% [markdown]
# ## 5. Keep only the newest: `conflate`
#
# A fourth answer, for data where only the latest value counts: a sensor reading, a price, a
# position. A socket with `conflate=1` (`ZMQ_CONFLATE`) keeps **one** message in its queue, and
# each new one replaces the one waiting; it ignores the high-water marks. A slow reader skips what
# it had no time for, and what it reads is fresh. Two subscribers read one sensor that publishes
# 1 000 readings a second, both slowed to 20 ms a reading (50 a second): `queued` with the default
# queue, `conflated` with `conflate=True`, which the role passes to its socket
# (`peer.socket(zmq.SUB, ..., conflate=int(conflate))`). Its `SeqChecker` counts what it skipped as lost.

# %%
ep = lab.endpoint("sensor", "tcp")
for name, conflate in [("queued", False), ("conflated", True)]:
    lab.start(name, slowsub.subscriber, endpoint=ep, rcvbuf=SMALL, conflate=conflate, throttle=0.02)
lab.start("publisher", slowsub.publisher, endpoint=ep, rate=1000, sndbuf=SMALL, subscribers=2)
report = lab.run(Scenario("two slow readers of one sensor"), seconds=10,
                 until=lambda: lab.peer("publisher").get("sent") >= 1800)          # about 2 s
slowsub_views.age_figure(lab, report, ["queued", "conflated"], None,
                         title="read at 50 a second: queued falls behind, conflated stays fresh")

# %%
sent = lab.peer("publisher").get("sent")
queued, conflated = lab.peer("queued"), lab.peer("conflated")
for reader in (queued, conflated):
    print(f"{reader.name:<9} read ~{reader.get('received')} readings, the last one number ~{reader.get('last_seq')} "
          f"(~{sent} published), skipped ~{reader.get('lost')}; the oldest it read: ~{reader.data['max_age_seen']:.3f} s")
assert verdict(queued.get("lost") == 0 and queued.data["max_age_seen"] > 1.0,
               "queued skipped nothing, and by the end the reading in its hands was over 1 s old.")
assert verdict(conflated.get("last_seq") > 5 * conflated.get("received") and conflated.data["max_age_seen"] < 0.5,
               "conflated skipped most readings, and none it read was older than 0.5 s.")
for name in ["publisher", "queued", "conflated"]:
    lab.remove(name)

# %% [markdown]
# **Its limits.** `conflate` keeps one *frame*, not one message: a message of several frames is cut
# to one of them, so it is for single-frame messages only (a topic in a frame of its own breaks it:
# put topic and value in one frame). It works only on PUSH, PULL, PUB, SUB and DEALER sockets
# (libzmq's `zmq_setsockopt` page); any other socket accepts the option and does nothing with it.
# And over `inproc` only the connecting socket's setting counts (a PULL that *binds* with
# `conflate=1` gets every message), so the receivers below connect. Three readings each, sent to a
# receiver with `conflate=1`:

# %%
def what_waits(receiver_type, sender_type, messages, name):
    """Send `messages` (lists of frames) over inproc to a socket with conflate=1: what waits there."""
    sender = lab.socket(sender_type)
    sender.bind(lab.endpoint(name))
    receiver = lab.socket(receiver_type, conflate=1)
    receiver.connect(lab.endpoint(name))
    for frames in messages:
        sender.send_multipart(frames)
    found = []
    while receiver.poll(50):
        found.append(receiver.recv_multipart())
    sender.close()
    receiver.close()
    return found


readings = [[f"reading {n}".encode()] for n in range(3)]
tagged = [[b"sensor.1", *reading] for reading in readings]          # a topic frame, then the reading
one_frame = what_waits(zmq.PULL, zmq.PUSH, readings, "one")
two_frames = what_waits(zmq.PULL, zmq.PUSH, tagged, "two")
pair = what_waits(zmq.PAIR, zmq.PAIR, readings, "pair")
print("PULL, one frame each: ", one_frame)
print("PULL, two frames each:", two_frames)
print("PAIR, one frame each: ", pair)
assert verdict(one_frame == [[b"reading 2"]], "PULL, one frame each: only the newest reading waited.")
assert verdict(two_frames == [[b"reading 2"]], "PULL, two frames each: the newest message waited, "
               "without its first frame.")
assert verdict(pair == readings, "PAIR: all 3 waited: the option was accepted and did nothing.")

# %% [markdown]
# ## 6. Play with it
#
# A lab of its own for you: a publisher sends 1 000 messages a second, for ever, with `sndhwm=100`
# (small, so that losses come quickly), to a `subscriber` (`rcvhwm=100`) and a `snail`
# (`rcvhwm=1000`; it dies when a message is older than 0.5 s; here it tolerates gaps, because with
# such small queues a busy machine can make anyone lose a message now and then). Move the sliders
# to slow them down: the subscriber's `lost` count starts to climb once its queues are full; the
# snail dies (its state becomes `done`, with `suicide=1`). Restart it with its button. *no HWM*
# starts a new publisher with `sndhwm=0`: slow the subscriber again and it loses nothing, while its
# `age_ms` (the age of the last message it read, in ms) grows without bound. *HWM 100* puts the
# limit back. *memory* shows this process's memory on the panel's message line. In the rows,
# `last_seq` is the number of the last message read. This lab stays open after the notebook ends;
# re-running the cell starts it afresh.

# %%
def new_publisher(lab, sndhwm):
    """Replace the publisher by one with another send high-water mark, on the same endpoint."""
    endpoint = lab.peer("publisher").params["endpoint"]
    lab.remove("publisher")
    lab.start("publisher", slowsub.publisher, endpoint=endpoint, rate=1000, sndhwm=sndhwm, sndbuf=SMALL,
              subscribers=sum(lab.peer(n).alive for n in ["subscriber", "snail"]), wait=2.0)
    return f"a new publisher, sndhwm={sndhwm}"


def playground(name):
    """A publisher, a subscriber and a snail, in a lab of their own, under a panel."""
    play = Lab(name, sample_interval=0.25)      # rates over a quarter second: drops come in bursts
    ep = play.endpoint("live", "tcp")
    play.start("subscriber", slowsub.subscriber, endpoint=ep, rcvhwm=100, rcvbuf=SMALL)
    play.start("snail", slowsub.snail, endpoint=ep, rcvhwm=1000, rcvbuf=SMALL, max_age=0.5, max_gap=None)
    play.start("publisher", slowsub.publisher, endpoint=ep, rate=1000, sndhwm=100, sndbuf=SMALL,
               subscribers=2, wait=2.0)
    return play, Panel(play, counters=["sent", "received", "lost"], max_throttle=0.01,
                       title="slow subscriber: throttle, watch the losses, kill the snail",
                       actions={"no HWM": lambda lab: new_publisher(lab, 0),
                                "HWM 100": lambda lab: new_publisher(lab, 100),
                                "memory": lambda lab: f"this process's memory: {slowsub_views.rss_mb():.0f} MB"})


play, panel = playground("slow-subscriber-play")

# %%
# NBVAL_IGNORE_OUTPUT
panel

# %% [markdown]
# The notebook has moved these sliders and clicked these buttons for you on a twin of this lab, so
# your panel is fresh (the code is folded). Slowed to 5 ms a message, the subscriber lost messages
# at the high-water mark, and released it caught up; the snail, slowed, died of old age, and
# restarted it read again; with no HWM, the slowed subscriber fell over 700 messages behind and lost
# none of them.

# %%
# FOLDED
rehearsal, twin = playground("slow-subscriber-rehearsal")
subscriber, snail = rehearsal.peer("subscriber"), rehearsal.peer("snail")


def behind():
    """Messages published after the one the subscriber read last (queued, or already dropped)."""
    return rehearsal.peer("publisher").get("sent") - 1 - subscriber.get("last_seq")


rehearsal.wait_for(lambda: subscriber.get("received") > 100, timeout=5, what="the stream to flow")
lost_before = subscriber.get("lost")
twin.rows["subscriber"].throttle.value = 0.005
rehearsal.wait_for(lambda: subscriber.get("lost") > lost_before, timeout=10, what="a loss at the HWM")
verdict(subscriber.get("lost") > lost_before, "Slowed to 5 ms a message, the subscriber lost messages at the HWM.")
twin.rows["subscriber"].throttle.value = 0
verdict(rehearsal.wait_for(lambda: behind() < 50, timeout=10, what="the subscriber to catch up"),
        "Released, it caught up with the stream.")

twin.rows["snail"].throttle.value = 0.005
rehearsal.wait_for(lambda: snail.state == "done", timeout=10, what="the snail to die")
verdict(snail.data["death"]["reason"] == "too old", "Slowed too, the snail died: a message was too old.")
twin.rows["snail"].throttle.value = 0
twin.rows["snail"].restart.click()
received = snail.get("received")
rehearsal.wait_for(lambda: snail.get("received") > received + 100, timeout=5, what="the snail to receive again")
verdict(snail.state == "running", "Restarted, the snail reads the stream again.")

twin.action_buttons["no HWM"].click()
rehearsal.wait_for(lambda: subscriber.data["checker"].received > 100, timeout=10, what="the new publisher's messages")
lost_before = subscriber.get("lost")
twin.rows["subscriber"].throttle.value = 0.005
rehearsal.wait_for(lambda: behind() > 700, timeout=10, what="700 messages queued")
no_loss = subscriber.get("lost") == lost_before
verdict(no_loss, "With no HWM and the subscriber slowed, over 700 messages queued up, and none was lost.")
assert no_loss and not rehearsal.errors()      # the snail may die again meanwhile: a busy machine
rehearsal.close()

# %% [markdown]
# ## 7. What you saw, and questions
#
# * A slow subscriber does not slow the publisher down, nor the other subscribers: PUB never waits.
# * With a high-water mark, the slow subscriber loses whole runs of messages once its queues are
#   full; numbered messages make every loss visible and exactly countable.
# * Without one, nothing is lost but the publisher's memory pays for every message the subscriber
#   has not read yet: 50 000 messages of 1 kB cost about 50 MB.
# * The suicidal snail trades silent staleness for a loud, explained death, within one message of
#   falling behind.
# * `conflate=1` keeps only the newest message: a slow reader skips, but never reads old news. For
#   single-frame messages, on PUSH, PULL, PUB, SUB and DEALER only.
#
# **Questions**
# 1. In section 2 the queues in front of `slow` held roughly 1 000 to 1 500 messages when the first
#    ones were dropped (an HWM of 1 000 on the publisher, 100 on the subscriber, small TCP buffers).
#    With ZeroMQ's default HWMs (1 000 on each side) and normal TCP buffers, how long would a
#    subscriber at half the publisher's rate take to lose its first message, at 1 000 messages a
#    second?
# 2. The snail's age rule needs the publisher's clock and the subscriber's clock to agree. What
#    happens if they run on two machines whose clocks differ by a second? Which rule has no such
#    problem?
# 3. When is dropping the right answer, and when is the snail? Think of stock prices, and of a
#    replica of a database.
#
# **Exercise.** Section 2's slow subscriber recorded every gap as `(expected, got)`: it expected
# message `expected` and got `got`. Write `from_gaps(gaps)`, which returns the number of messages
# lost and the longest run of consecutive losses, then run the check: it tries your function on a
# few small lists and on section 2's real one, against the subscriber's own `SeqChecker`.

# %%
def from_gaps(gaps):
    """(messages lost, longest run of lost messages) from a list of (expected, got) gaps."""
    # your turn: return (total lost, longest run), then run the check below
    return None


# %%
print(passed([
    from_gaps([]) == (0, 0),                            # no gap, no loss
    from_gaps([(5, 6)]) == (1, 1),                      # expected 5, got 6: message 5 is lost
    from_gaps([(3, 10), (12, 14)]) == (9, 7),
    from_gaps(gaps) == (slow.lost, slow.largest_gap),   # section 2's run, by its SeqChecker
]))

# %% [markdown]
# <details><summary>One answer (open it after you have tried)</summary>
#
# ```python
# def from_gaps(gaps):
#     runs = [got - expected for expected, got in gaps]
#     return sum(runs), max(runs, default=0)
# ```
#
# A gap `(expected, got)` means messages `expected` up to `got - 1` never arrived: `got - expected`
# of them in one run. Their sum is what the `SeqChecker` counted as lost.
# </details>

# %% [markdown]
# ## The pattern without the lab
#
# `examples/suisnailpub.py` publishes numbered, time-stamped messages and `examples/suisnail.py` is
# the suicidal snail: it exits (status 3) at its first gap or stale message.
#
# ```sh
# python examples/suisnailpub.py &
# python examples/suisnail.py --delay 0.01    # too slow: it kills itself
# ```
#
# Every script is plain pyzmq, with no import of `zguide_py`: copy it into your own code.
# [`examples/README.md`](../examples/README.md) lists them all.

# %%
show_example('suisnail')

# %% [markdown]
# ## Teardown

# %%
lab.close()
print("threads left:", len(lab.threads()), "| sockets left open:", lab.open_sockets())
assert not lab.threads() and lab.open_sockets() == 0
print("labs still open:", live_labs(), "(your playground: play.close() ends it)")
assert live_labs() == [play.name]

# %% [markdown]
# Next: [09 · Lazy Pirate](09_lazy_pirate.ipynb).
