"""Proxies for pub-sub (notebook 23): subscriptions travel upstream through XSUB/XPUB, the steerable
proxy pauses (nothing goes through), resumes (nothing lost) and ends on TERMINATE or a kill, Espresso
sees both directions, the last value cache gives a late joiner the cached value of every topic first,
and odd frames from downstream kill none of them."""
from __future__ import annotations

import pytest

from zguide_py.patterns import proxies
from zguide_py.patterns.proxies import TOPICS, steer

PREFIXES = ["weather.", "sport."]


def forwarding(lab, transport="inproc", capture=False, **proxy):
    """A steerable proxy between a publisher and nobody yet: its endpoints (frontend, backend, capture)."""
    front, back = lab.endpoint("front", transport), lab.endpoint("back", transport)
    cap = lab.endpoint("capture") if capture else None
    if capture:
        lab.start("espresso", proxies.espresso, endpoint=cap)      # before the bind: it misses nothing
    lab.start("proxy", proxies.steerable_proxy, frontend=front, backend=back, capture=cap, **proxy)
    lab.start("publisher", proxies.publisher, endpoint=front, interval=0.005)
    return front, back, cap


def grows(lab, name, counter, by=10, timeout=5.0):
    peer = lab.peer(name)
    before = peer.get(counter)
    lab.wait_for(lambda: peer.get(counter) >= before + by, timeout=timeout, what=f"{by} more {counter} at {name}")


def heard(lab) -> list[bytes]:
    return [frame for _, frame in lab.peer("publisher").data["heard"]]


# ---- XSUB/XPUB: subscriptions upstream ------------------------------------------------------------

@pytest.mark.timeout(30)
def test_subscriptions_travel_upstream_and_duplicates_are_hidden(lab):
    _, back, _ = forwarding(lab)
    lab.start("sub1", proxies.subscriber, endpoint=back, topics=["weather."])
    lab.wait_for(lambda: heard(lab) == [b"\x01weather."], what="sub1's subscription at the publisher")
    grows(lab, "sub1", "received")
    lab.start("sub2", proxies.subscriber, endpoint=back, topics=["weather."])
    lab.start("sub3", proxies.subscriber, endpoint=back, topics=["sport."])
    lab.wait_for(lambda: b"\x01sport." in heard(lab), what="sub3's subscription")
    grows(lab, "sub2", "received")
    lab.kill("sub3")
    lab.wait_for(lambda: b"\x00sport." in heard(lab), what="sub3's unsubscription")
    lab.kill("sub1")                                      # sub2 still wants weather: nothing goes up
    grows(lab, "sub2", "received", by=20)
    assert heard(lab) == [b"\x01weather.", b"\x01sport.", b"\x00sport."]
    assert set(lab.peer("sub2").data["last"]) == {"weather.london", "weather.paris"}
    assert lab.peer("sub2").get("lost") == 0
    lab.check()


@pytest.mark.timeout(30)
def test_espresso_captures_both_ways(lab):
    _, back, _ = forwarding(lab, capture=True)
    lab.start("sub1", proxies.subscriber, endpoint=back, topics=["sport.tennis"])
    grows(lab, "sub1", "received", by=5)
    lab.kill("sub1")
    espresso = lab.peer("espresso")
    lab.wait_for(lambda: espresso.get("unsubscribe") == 1, what="the unsubscription captured")
    captured = espresso.data["captured"]
    kinds = [kind for _, kind, _ in captured]
    assert kinds[0] == "subscribe" and captured[0][2] == [b"\x01sport.tennis"]   # nothing before it
    assert {tuple(f[:1]) for _, k, f in captured if k == "data"} == {(b"sport.tennis",)}
    assert kinds.count("data") >= 5 and espresso.get("other") == 0


# ---- the steerable proxy -------------------------------------------------------------------------

def test_the_probe_finds_which_word_pauses():
    forwarded = proxies.probe_pause()
    assert forwarded in ({"PAUSE": 0, "RESUME": 2}, {"PAUSE": 1, "RESUME": 0})
    words = proxies.steering_words()
    assert {words["PAUSE"], words["RESUME"]} == {b"PAUSE", b"RESUME"}
    assert words["PAUSE"] == (b"PAUSE" if forwarded["PAUSE"] == 0 else b"RESUME")


@pytest.mark.timeout(40)
def test_a_paused_proxy_lets_nothing_through_and_resuming_loses_nothing(lab):
    _, back, _ = forwarding(lab)
    sub = lab.start("sub1", proxies.subscriber, endpoint=back)
    proxy = lab.peer("proxy")
    grows(lab, "sub1", "received", by=20)
    steer("PAUSE")(lab)
    lab.wait_for(lambda: lab.events_of("steer", "proxy"), what="the PAUSE sent")
    held = lab.wait_quiet(lambda: sub.get("received"), quiet=0.2, what="the last messages before the pause")
    grows(lab, "publisher", "sent", by=60)                # the publisher goes on meanwhile
    assert sub.get("received") == held, "a message got through a paused proxy"
    assert proxy.data["state"] == "paused" and proxy.alive
    steer("RESUME")(lab)
    lab.wait_for(lambda: sub.get("received") >= held + 60, what="the held messages after RESUME")
    pause, resume = lab.wait_for(lambda: len(steps := lab.events_of("steer", "proxy")) == 2 and steps)
    assert resume.get("down_before") == pause.get("down_after")     # the proxy's own counters agree
    assert sub.get("lost") == 0 and sub.get("repeats") == 0        # held, then delivered, in order
    lab.check()


@pytest.mark.timeout(30)
def test_terminate_ends_the_proxy_and_a_restart_serves_again(lab):
    _, back, _ = forwarding(lab, transport="tcp")
    lab.start("sub1", proxies.subscriber, endpoint=back)
    grows(lab, "sub1", "received")
    steer("TERMINATE")(lab)
    proxy = lab.wait_done("proxy", timeout=3)
    assert proxy.state == "done" and proxy.data["proxy"] == "returned after TERMINATE"
    assert not [t for t in lab.threads() if t.name.endswith(":proxy")]
    lab.restart("proxy")                                  # over tcp both ends reconnect by themselves
    grows(lab, "sub1", "received", timeout=10)
    assert lab.peer("proxy").data["state"] == "active"    # the old TERMINATE is not replayed


@pytest.mark.timeout(30)
def test_a_kill_ends_the_proxy_thread_within_the_bound(lab):
    _, back, _ = forwarding(lab)
    lab.start("sub1", proxies.subscriber, endpoint=back)
    grows(lab, "sub1", "received")
    steer("PAUSE")(lab)                                   # even while paused
    lab.wait_for(lambda: lab.events_of("steer", "proxy"))
    lab.kill("proxy")                                     # raises if not stopped within the bound
    assert lab.peer("proxy").state == "killed"
    assert not [t for t in lab.threads() if t.name.endswith(":proxy")]


@pytest.mark.timeout(30)
def test_an_unknown_word_is_refused_and_never_reaches_the_proxy(lab):
    _, back, _ = forwarding(lab)
    lab.start("sub1", proxies.subscriber, endpoint=back)
    steer("HELLO")(lab)
    lab.wait_for(lambda: lab.peer("proxy").get("refused") == 1, what="the refusal")
    grows(lab, "sub1", "received")
    assert lab.peer("proxy").alive and not lab.events_of("steer")


@pytest.mark.timeout(30)
def test_a_paused_proxy_resumes_by_itself_after_max_pause(lab):
    _, back, _ = forwarding(lab, max_pause=0.3)
    lab.start("sub1", proxies.subscriber, endpoint=back)
    steer("PAUSE")(lab)
    lab.wait_for(lambda: len(lab.events_of("steer", "proxy")) == 2, what="the resume by itself")
    assert lab.events_of("steer", "proxy")[1].get("why") == "paused for 0.3 s"
    grows(lab, "sub1", "received")


@pytest.mark.timeout(30)
def test_odd_frames_from_downstream_kill_neither_proxy_nor_publisher(lab):
    _, back, _ = forwarding(lab, capture=True)
    lab.start("sub1", proxies.subscriber, endpoint=back, topics=["weather."])
    grows(lab, "sub1", "received")
    lab.start("rogue", proxies.rogue, endpoint=back, frames=[b"", b"\x02odd", b"hello", b"\x01"], rounds=3)
    lab.wait_for(lambda: lab.peer("publisher").get("malformed") == 9, what="nine odd frames counted")
    lab.wait_for(lambda: lab.peer("espresso").get("other") == 9, what="the same nine captured")
    grows(lab, "sub1", "received", by=20)                 # the proxy and the publisher go on
    assert lab.peer("proxy").alive and lab.peer("publisher").alive
    assert b"\x01" in heard(lab)                          # a bare \x01 is a subscription to everything
    lab.check()


# ---- the last value cache ------------------------------------------------------------------------

def cache_with_quiet_publisher(lab, transport="inproc", verbose=True, rounds=3):
    front, back = lab.endpoint("cache-in", transport), lab.endpoint("cache-out", transport)
    lab.start("lvc", proxies.lvcache, frontend=front, backend=back, verbose=verbose)
    pub = lab.start("publisher", proxies.publisher, endpoint=front, interval=0.002, rounds=rounds, subscribers=1)
    lab.wait_for(lambda: pub.data.get("done"), what="the publisher's rounds")
    lab.wait_for(lambda: lab.peer("lvc").get("forwarded") == rounds * len(TOPICS), what="every update cached")
    return back, dict(pub.data["last"])


@pytest.mark.timeout(30)
@pytest.mark.parametrize("transport", ["inproc", "tcp"])
def test_a_late_joiners_first_message_is_the_cached_value_of_every_topic(lab, transport):
    back, last = cache_with_quiet_publisher(lab, transport)
    late = lab.start("late1", proxies.subscriber, endpoint=back, topics=PREFIXES)
    lab.wait_for(lambda: len(late.data["first"]) == len(TOPICS), what="a value for every topic")
    assert {topic: seq for topic, (seq, _) in late.data["first"].items()} == last == {t: 2 for t in TOPICS}
    other = lab.start("late2", proxies.subscriber, endpoint=back, topics=["weather.london"])
    lab.wait_for(lambda: other.data["first"], what="late2's value")
    assert other.data["first"]["weather.london"][0] == 2
    lab.wait_for(lambda: late.get("repeats") == 1, what="the replay to late1 too")   # it goes to every subscriber
    assert lab.peer("lvc").get("replayed") == 5
    lab.check()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("verbose", [True, False])
def test_without_xpub_verbose_a_second_late_joiner_is_hidden_from_the_cache(lab, verbose):
    back, _ = cache_with_quiet_publisher(lab, verbose=verbose)
    served = 0
    for n in (1, 2, 3):
        joiner = lab.start(f"late{n}", proxies.subscriber, endpoint=back, topics=PREFIXES)
        try:
            lab.wait_for(lambda j=joiner: len(j.data["first"]) == len(TOPICS), timeout=5 if verbose or n == 1 else 1)
            served += 1
        except TimeoutError:
            assert not verbose and not joiner.data["first"]
    assert lab.peer("lvc").get("subscriptions") == (6 if verbose else 2)
    assert served == (3 if verbose else 1)


@pytest.mark.timeout(30)
def test_odd_frames_do_not_kill_the_cache(lab):
    back, last = cache_with_quiet_publisher(lab)
    lab.start("rogue", proxies.rogue, endpoint=back, frames=[b"", b"\x02odd", b"\x01a", b"hi"], rounds=2)
    lab.wait_for(lambda: lab.peer("lvc").get("malformed") == 6, what="six odd frames counted")
    late = lab.start("late1", proxies.subscriber, endpoint=back, topics=PREFIXES)
    lab.wait_for(lambda: len(late.data["first"]) == len(TOPICS), what="the cache still serves")
    assert {topic: seq for topic, (seq, _) in late.data["first"].items()} == last
    lab.check()
