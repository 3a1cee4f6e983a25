"""Publish-subscribe guarantees: prefix filtering, fair queuing, slow-joiner loss and its fix."""
from __future__ import annotations

import pytest

from zguide_py.patterns import pubsub

TOPICS = ["weather.london", "weather.paris", "sports.football", "news.world", "newsletter"]


def _wait_last(lab, sub, count, source="publisher"):
    lab.wait_for(lambda: any(s == source and seq == count - 1 for _, s, _, seq in sub.data.get("log", [])[-5:]),
                 timeout=10, what=f"message {count - 1}")


@pytest.mark.timeout(60)
def test_prefix_filtering_and_no_subscription(lab):
    listeners = {"all": [""], "weather": ["weather."], "paris": ["weather.paris"], "news": ["news"],
                 "two": ["sports.", "news.w"], "nothing": []}
    ep, sync = lab.endpoint("pub", "tcp"), lab.endpoint("sync", "tcp")
    pub = lab.start("publisher", pubsub.publisher, endpoint=ep, sync=sync, topics=TOPICS, count=50 * len(TOPICS),
                    subscribers=len(listeners))
    for name, prefixes in listeners.items():
        lab.start(name, pubsub.subscriber, endpoint=ep, topics=prefixes, sync=sync)
    lab.wait_for(lambda: pub.data.get("done"), timeout=10)
    assert pub.data["sent"] == {t: 50 for t in TOPICS}

    def expected(prefixes):
        return {t: 50 for t in TOPICS if any(t.startswith(p) for p in prefixes)}

    lab.wait_for(lambda: all(lab.peer(n).get("received") == sum(expected(p).values()) for n, p in listeners.items()),
                 timeout=10, what="every subscriber's share")
    for name, prefixes in listeners.items():
        assert lab.peer(name).data["per_topic"] == expected(prefixes), name
    assert lab.peer("news").data["per_topic"]["newsletter"] == 50       # a byte prefix, not a word
    assert lab.peer("nothing").get("received") == 0 and lab.peer("nothing").data["log"] == []
    lab.check()


@pytest.mark.timeout(60)
def test_two_publishers_are_fair_queued(lab):
    a, b, sa, sb = (lab.endpoint(n) for n in ("a", "b", "sa", "sb"))
    lab.start("pubA", pubsub.publisher, endpoint=a, sync=sa, topics=["tick"], count=150)
    lab.start("pubB", pubsub.publisher, endpoint=b, sync=sb, topics=["tick"], count=150)
    sub = lab.start("sub", pubsub.subscriber, endpoint=[a, b], topics=["tick"], sync=[sa, sb], throttle=0.002)
    lab.wait_for(lambda: sub.get("received") == 300, timeout=15)
    log = sub.data["log"]
    for src in ("pubA", "pubB"):
        assert [seq for _, s, _, seq in log if s == src] == list(range(150))   # each stream in order
    done = max(t for t, _, p, _ in lab.events_of("done") if p in ("pubA", "pubB"))
    sources = [s for _, s, _, _ in log]
    start = next(i for i, e in enumerate(log) if e[0] > done)
    end = min(max(i for i, s in enumerate(sources) if s == src) for src in ("pubA", "pubB"))
    window = sources[start:end + 1]
    assert len(window) > 100
    assert all(x != y for x, y in zip(window, window[1:])), "not one from each in turn"


def _slow_joiner(lab, handshake: bool, count: int = 1000):
    ep = lab.endpoint("stream", "tcp")
    sync = lab.endpoint("stream-sync", "tcp") if handshake else None
    pub = lab.start("publisher", pubsub.publisher, endpoint=ep, sync=sync, count=count, interval=0.0001)
    if not handshake:   # the subscriber starts as soon as the publisher is sending
        lab.wait_for(lambda: pub.get("sent") >= 1, timeout=5)
    sub = lab.start("subscriber", pubsub.subscriber, endpoint=ep, sync=sync)
    lab.wait_for(lambda: pub.data.get("done"), timeout=10)
    _wait_last(lab, sub, count)
    missed = pubsub.lost(sub, "publisher", "", count)
    assert sub.get("received") == count - len(missed)
    lab.remove("publisher")
    lab.remove("subscriber")
    return missed


@pytest.mark.timeout(60)
def test_slow_joiner_loses_without_handshake(lab):
    for _ in range(3):
        missed = _slow_joiner(lab, handshake=False)
        assert len(missed) > 0
        assert missed == list(range(len(missed)))      # only the start is lost


@pytest.mark.timeout(60)
def test_handshake_loses_nothing(lab):
    for _ in range(3):
        assert _slow_joiner(lab, handshake=True) == []


@pytest.mark.timeout(60)
def test_publisher_without_subscriber_drops(lab):
    ep, sync = lab.endpoint("pub", "tcp"), lab.endpoint("sync", "tcp")
    pub = lab.start("publisher", pubsub.publisher, endpoint=ep, sync=sync, preamble=300, count=5)
    lab.wait_for(lambda: pub.data.get("preamble_done"), timeout=5)
    assert pub.get("sent") == 300                     # PUB never blocked with nobody there
    sub = lab.start("late", pubsub.subscriber, endpoint=ep, sync=sync)
    lab.wait_for(lambda: sub.get("received") == 5, timeout=5)
    assert [seq for *_, seq in sub.data["log"]] == [300, 301, 302, 303, 304]


@pytest.mark.timeout(60)
def test_restart_with_new_topics_changes_what_a_subscriber_gets(lab):
    ep = lab.endpoint("live", "tcp")
    lab.start("publisher", pubsub.publisher, endpoint=ep, topics=["weather.x", "sports.y"], interval=0.002)
    sub = lab.start("sub", pubsub.subscriber, endpoint=ep, topics=["weather."])
    lab.wait_for(lambda: sub.data["per_topic"].get("weather.x", 0) >= 5, timeout=5)
    assert "sports.y" not in sub.data["per_topic"]
    lab.restart("sub", topics=["sports."])
    lab.wait_for(lambda: sub.data["per_topic"].get("sports.y", 0) >= 5, timeout=5)
    assert sub.data["topics"] == ["sports."] and sub.starts == 2
    lab.check()
