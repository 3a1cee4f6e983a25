"""Slow-subscriber guarantees (notebook 08): drops at the HWM are counted exactly as sequence gaps;
no HWM means no drops but a growing queue; the suicidal snail dies within a stated bound.

The snail's bound, stated: it checks every message it reads, so it dies at the first message it
reads after falling behind. "Fallen behind" means, by age: the oldest message not yet read has
become older than ``max_age`` - that moment is the message's publish time + ``max_age``, and the
snail dies at most one processing delay (its throttle) plus one 50 ms poll slice later (we allow
0.25 s more for two shared cores). By gap: it dies on the very message that follows the first
dropped one; it processes no message past a gap.
"""
from __future__ import annotations

import random
import time

import pytest
import zmq

from zguide_py import Scenario
from zguide_py.patterns import slowsub as S
from zguide_py.views.slowsub import behind_series, rss_mb

SMALL_TCP_BUFFER = 8192    # keep the queue in ZeroMQ, where the HWMs govern it


def _fired(sc):
    return lambda: all(s.fired_at is not None for s in sc.steps)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [11, 12])
def test_every_drop_is_counted_exactly_as_a_gap(seed, lab):
    ep = lab.endpoint("pub", "tcp")
    lab.start("slow", S.subscriber, endpoint=ep, rcvhwm=100, rcvbuf=SMALL_TCP_BUFFER)
    lab.start("steady", S.subscriber, endpoint=ep, rcvhwm=1000, rcvbuf=SMALL_TCP_BUFFER)
    # the default sndhwm (1000) on the publisher: a short stall of the machine must not make
    # the steady subscriber lose anything
    lab.start("pub", S.publisher, endpoint=ep, rate=2000, count=5000, sndhwm=1000,
              sndbuf=SMALL_TCP_BUFFER, subscribers=2)
    rng = random.Random(seed)      # a seeded schedule: slower and faster, never keeping up
    sc = Scenario("throttles", seed=seed)
    t = 0.2
    while t < 1.8:
        sc.at(round(t, 3), "throttle", "slow", rng.choice([0.002, 0.004, 0.006, 0.01]))
        t += rng.uniform(0.15, 0.4)
    sc.at(round(t, 3), "throttle", "slow", 0)
    done = lambda: all(lab.peer(n).data.get("complete") for n in ("slow", "steady"))
    lab.run(sc, seconds=30, until=lambda: _fired(sc)() and done())
    lab.check()
    assert done(), "the subscribers never saw the end marker"
    published = lab.peer("pub").data["published"]
    assert published == 5000
    slow = lab.peer("slow").data["checker"]
    assert slow.lost > 0, "no message was dropped: the throttle did not make the queue overflow"
    assert slow.lost == published - slow.received                     # exact, no estimate
    assert slow.lost == sum(b - a for a, b in lab.peer("slow").data["gaps_at"])
    assert slow.gaps == len(lab.peer("slow").data["gaps_at"]) >= 1
    assert slow.duplicates == 0
    steady = lab.peer("steady").data["checker"]
    assert (steady.received, steady.lost) == (published, 0)          # the others are unharmed


@pytest.mark.timeout(60)
def test_without_an_hwm_nothing_is_dropped_the_queue_just_grows(lab):
    ep = lab.endpoint("pub", "tcp")
    lab.start("sub", S.subscriber, endpoint=ep, rcvhwm=100, rcvbuf=SMALL_TCP_BUFFER)
    lab.start("pub", S.publisher, endpoint=ep, rate=2000, count=3000, sndhwm=0,
              sndbuf=SMALL_TCP_BUFFER)
    sc = Scenario("slow for a while").at(0.2, "throttle", "sub", 0.003).at(1.0, "throttle", "sub", 0)
    lab.run(sc, seconds=30, until=lambda: _fired(sc)() and lab.peer("sub").data.get("complete"))
    lab.check()
    behind = behind_series(lab, "pub", "sub")[1]
    checker = lab.peer("sub").data["checker"]
    assert (checker.received, checker.lost) == (3000, 0)
    assert max(behind) > 600           # far more than both HWMs' 100 + 100 were queued


@pytest.mark.timeout(60)
def test_a_huge_hwm_costs_the_publisher_memory(lab):
    growth = {}
    for hwm in (1000, 0):              # the bounded one first: freed memory is not reused
        ep = lab.endpoint(f"pub{hwm}", "tcp")
        before = rss_mb()
        lab.start(f"sub{hwm}", S.subscriber, endpoint=ep, rcvhwm=100, rcvbuf=SMALL_TCP_BUFFER)
        lab.throttle(f"sub{hwm}", 0.01)
        lab.start(f"pub{hwm}", S.publisher, endpoint=ep, rate=None, count=50_000, size=1000,
                  sndhwm=hwm, sndbuf=SMALL_TCP_BUFFER)
        lab.wait_for(lambda name=f"pub{hwm}": lab.peer(name).data.get("published"), 20, "50,000 published")
        growth[hwm] = rss_mb() - before
        lab.remove(f"pub{hwm}")
        lab.remove(f"sub{hwm}")
    assert growth[0] > 25, growth           # 50,000 x 1 kB queued: about 50 MB, part in TCP buffers
    assert growth[1000] < 15, growth


@pytest.mark.timeout(60)
@pytest.mark.parametrize("delay", [0.004, 0.02])
def test_the_snail_dies_by_age_within_the_stated_bound(delay, lab):
    max_age = 0.3
    ep = lab.endpoint("pub", "tcp")
    lab.start("healthy", S.subscriber, endpoint=ep, rcvbuf=SMALL_TCP_BUFFER)
    lab.start("snail", S.snail, endpoint=ep, rcvbuf=SMALL_TCP_BUFFER, max_age=max_age, max_gap=0)
    lab.start("pub", S.publisher, endpoint=ep, rate=1000, sndbuf=SMALL_TCP_BUFFER, subscribers=2)
    sc = Scenario("snail falls behind").at(0.5, "throttle", "snail", delay)
    lab.run(sc, seconds=20, until=lambda: _fired(sc)() and not lab.peer("snail").alive)
    seen_dead = time.time()            # the test's own clock: the snail's thread had ended by now
    lab.check()
    snail = lab.peer("snail")
    assert snail.state == "done"
    death = snail.data["death"]
    assert death["reason"] == "too old", death
    # it was not behind before: every earlier message was read younger than max_age
    assert death["oldest_before"] <= max_age
    # it fell behind when the fatal message (publisher's time stamp) turned max_age old, and
    # died at most one processing delay + one poll later (+ margin for a busy machine) ...
    fell_behind = death["at"] - death["age"] + max_age
    assert 0 <= death["at"] - fell_behind <= delay + 0.05 + 0.25, death
    # ... which the test sees from outside too: the thread had ended by then (+ 0.1 s for the
    # test's own 5 ms polling on a busy machine)
    assert seen_dead - fell_behind <= delay + 0.05 + 0.25 + 0.1, (seen_dead - fell_behind, death)
    # it died only after it was slowed down, and said why
    throttled_at = lab.events_of("throttle", "snail")[0][0]
    suicide = lab.events_of("suicide", "snail")
    assert len(suicide) == 1 and suicide[0][0] > throttled_at
    assert suicide[0].get("reason") == "too old" and suicide[0].get("seq") == death["seq"]
    assert lab.peer("healthy").data["checker"].lost == 0


@pytest.mark.timeout(60)
def test_the_snail_dies_on_the_first_message_after_a_gap(lab):
    ep = lab.endpoint("pub", "tcp")
    lab.start("snail", S.snail, endpoint=ep, rcvhwm=50, rcvbuf=4096, max_gap=0, max_age=None)
    lab.start("pub", S.publisher, endpoint=ep, rate=2000, sndhwm=50, sndbuf=4096)
    sc = Scenario("snail drops").at(0.3, "throttle", "snail", 0.002)
    lab.run(sc, seconds=20, until=lambda: _fired(sc)() and not lab.peer("snail").alive)
    lab.check()
    death = lab.peer("snail").data["death"]
    checker = lab.peer("snail").data["checker"]
    assert death["reason"] == "gap" and death["gap"] >= 1
    # messages 0 .. seq-gap-1 all arrived in order, then the fatal one: nothing read past a gap
    assert death["received"] == checker.received == death["seq"] - death["gap"] + 1
    assert (checker.gaps, checker.lost) == (1, death["gap"])


@pytest.mark.timeout(30)
def test_messages_lost_after_the_last_one_received_are_counted_exactly(lab):
    """The tail: a subscriber that receives 0..9 of 15 messages learns from the end marker that
    5 more were published: exactly 5 lost (not 4), one gap (10, 15). Malformed frames on the way
    (short, unknown kind, an end marker of the wrong size) are counted, never fatal."""
    ep = lab.endpoint("pub")
    pub = lab.socket(zmq.XPUB)
    pub.bind(ep)
    lab.start("sub", S.subscriber, endpoint=ep)
    assert pub.poll(3000) and pub.recv()[:1] == b"\x01"          # subscribed: nothing is lost
    epoch = b"EPCH"
    for junk in (b"", b"D", b"X" * 40, S.END.pack(b"E", epoch, 15) + b"!"):
        pub.send(junk)
    for seq in range(10):
        pub.send(S.DATA.pack(b"D", epoch, seq, time.time()))
    pub.send(S.END.pack(b"E", epoch, 15))
    sub = lab.peer("sub")
    lab.wait_for(lambda: sub.data.get("complete"), 3, "the end marker")
    checker = sub.data["checker"]
    assert (checker.received, checker.lost, checker.gaps) == (10, 5, 1)
    assert sub.data["gaps_at"] == [(10, 15)]
    assert sub.get("lost") == 5 and sub.get("malformed") == 4
    assert sub.state == "running"
    lab.check()
