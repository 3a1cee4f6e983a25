"""The lab's killable I/O (peer.poll, peer.send), structured events, and explicit inputs."""
from __future__ import annotations

import time

import pytest
import zmq

from zguide_py import Event, Lab, LabError
from zguide_py.events import Fields
from zguide_py.peer import KILL_TIMEOUT, SLICE


def test_poll_is_true_when_ready_false_on_timeout(lab):
    seen = {}

    def role(peer, endpoint):
        pull = peer.socket(zmq.PULL)
        pull.bind(endpoint)
        started = time.monotonic()
        seen["timeout"] = peer.poll(pull, 0.12)
        seen["waited"] = time.monotonic() - started
        seen["zero"] = peer.poll(pull, 0)
        peer.data["waiting"] = True
        seen["ready"] = peer.poll(pull, 10)
        seen["message"] = pull.recv()

    ep = lab.endpoint("in")
    lab.start("puller", role, endpoint=ep)
    lab.wait_for(lambda: lab.peer("puller").data["waiting"], 10)
    push = lab.socket(zmq.PUSH)
    push.connect(ep)
    push.send(b"hello")
    lab.wait_done("puller")
    assert seen["timeout"] is False and seen["zero"] is False
    assert seen["waited"] >= 0.12
    assert seen["ready"] is True and seen["message"] == b"hello"


def test_poll_on_a_poller_gives_the_ready_sockets(lab):
    seen = {}

    def role(peer, a, b):
        sa, sb = peer.socket(zmq.PULL), peer.socket(zmq.PULL)
        sa.bind(a)
        sb.bind(b)
        poller = zmq.Poller()
        poller.register(sa, zmq.POLLIN)
        poller.register(sb, zmq.POLLIN)
        seen["idle"] = peer.poll(poller, 0.05)
        peer.data["waiting"] = True
        events = peer.poll(poller, 10)
        seen["ready"] = [sock is sb for sock in events]

    a, b = lab.endpoint("a"), lab.endpoint("b")
    lab.start("both", role, a=a, b=b)
    lab.wait_for(lambda: lab.peer("both").data["waiting"], 10)
    push = lab.socket(zmq.PUSH)
    push.connect(b)
    push.send(b"x")
    lab.wait_done("both")
    assert seen["idle"] == {}
    assert seen["ready"] == [True]


def test_a_kill_ends_a_forever_poll_and_a_blocked_send_within_a_slice_or_so(lab):
    def waiter(peer, endpoint):
        pull = peer.socket(zmq.PULL)
        pull.bind(endpoint)
        peer.data["result"] = "waiting"
        peer.data["result"] = peer.poll(pull)         # no timeout: as long as the peer runs

    def sender(peer, endpoint):
        dealer = peer.socket(zmq.DEALER, immediate=1)   # connected to nobody: send would block
        dealer.connect(endpoint)
        peer.data["result"] = "sending"
        peer.data["result"] = peer.send(dealer, [b"a", b"b"])

    lab.start("waiter", waiter, endpoint=lab.endpoint("w"))
    lab.start("sender", sender, endpoint=lab.endpoint("nobody", "tcp"))
    for name in ("waiter", "sender"):
        lab.wait_for(lambda n=name: lab.peer(n).data["result"] in ("waiting", "sending"), 10)
        started = time.monotonic()
        lab.kill(name)
        assert time.monotonic() - started < KILL_TIMEOUT
        assert lab.peer(name).state == "killed"
        assert lab.peer(name).data["result"] is False


def test_send_waits_for_room_then_sends_or_gives_up_at_its_timeout(lab):
    seen = {}

    def role(peer, endpoint):
        push = peer.socket(zmq.PUSH, sndhwm=1, immediate=1)   # no queue before a connection
        push.connect(endpoint)
        started = time.monotonic()
        seen["lonely"] = peer.send(push, b"x", timeout=0.1)   # no puller yet: no room at all
        seen["waited"] = time.monotonic() - started
        peer.data["ready"] = True
        seen["later"] = peer.send(push, [b"late"], timeout=10)

    ep = lab.endpoint("room", "tcp")
    lab.start("pusher", role, endpoint=ep)
    lab.wait_for(lambda: lab.peer("pusher").data["ready"], 10)
    pull = lab.socket(zmq.PULL)
    pull.bind(ep)
    assert pull.poll(10_000) and pull.recv() == b"late"
    lab.wait_done("pusher")
    assert seen["lonely"] is False and seen["waited"] >= 0.1 and seen["later"] is True


def test_slice_is_the_kill_contract():
    assert 0 < SLICE < KILL_TIMEOUT and Lab.KILL_TIMEOUT == KILL_TIMEOUT


def test_sockets_start_with_linger_zero(lab):
    assert lab.socket(zmq.PUSH).linger == 0
    assert lab.ctx.getsockopt(zmq.LINGER) == 0


def test_events_carry_fields_that_views_read_as_data(lab):
    def role(peer):
        peer.log("served", seq=17, worker="w1")
        peer.log("plain", "a detail")
        peer.log("both", "why", seq=3)

    lab.start("p", role)
    lab.wait_done("p")
    served = lab.events_of("served", "p")[0]
    assert isinstance(served, Event) and served.fields == {"seq": 17, "worker": "w1"}
    assert served.get("seq") == 17 and str(served.detail) == "seq=17 worker=w1"
    t, kind, peer, detail = served                    # still a 4-tuple
    assert (kind, peer) == ("served", "p") and detail["worker"] == "w1"
    plain = lab.events_of("plain")[0]
    assert plain.detail == "a detail" and plain.fields == {} and plain.get("seq", 0) == 0
    assert lab.events_of("both")[0].fields == Fields(note="why", seq=3)


def test_record_can_back_date_an_event(lab):
    event = lab.record("seen", "child", at=0.25, pid=42)
    assert event.t == 0.25 and event.fields == {"pid": 42} and lab.events[-1] is event
    assert event.shifted(0.25).t == 0


def test_set_tells_a_running_role_and_records_it(lab):
    def role(peer):
        while peer.running:
            peer.data["seen"] = peer.inputs.get("paused", False)
            peer.sleep(0.01)

    lab.start("writer", role)
    lab.wait_for(lambda: lab.peer("writer").data["seen"] is False, 10)
    lab.set("writer", paused=True)
    lab.wait_for(lambda: lab.peer("writer").data["seen"] is True, 10)
    assert lab.events_of("set", "writer")[-1].fields == {"paused": True}
    with pytest.raises(LabError, match="needs at least one input"):
        lab.set("writer")
    with pytest.raises(KeyError, match="no peer 'ghost'"):
        lab.set("ghost", paused=True)
    lab.close()
    with pytest.raises(LabError, match="is closed"):
        lab.set("writer", paused=False)


def test_start_next_numbers_after_the_highest(lab):
    def idle(peer):
        while peer.running:
            peer.sleep(0.05)

    names = [lab.start_next("worker", idle).name for _ in range(2)]
    lab.start("worker9", idle)
    names.append(lab.start_next("worker", idle).name)
    assert names == ["worker1", "worker2", "worker10"]


def test_events_are_bounded_in_bytes_not_only_in_count(lab):
    """A role that logs what a hostile peer sent (ten 10 MB frames) must not keep it all."""
    from fuzzkit import rss_mb
    big = b"\xa5" * (10 * 2**20)
    before = rss_mb()
    for i in range(10):
        lab.record("malformed", "queue", frames=[big, big[:3]], text="x" * 10**6, seq=i)
        lab.record("malformed", "queue", big)
    del big
    grown = rss_mb() - before
    event = lab.events_of("malformed")[0]
    assert event.fields["frames"][0] == b"\xa5" * 64 + b"..." and event.fields["frames"][1] == b"\xa5" * 3
    assert len(event.fields["text"]) == 203 and event.fields["seq"] == 0
    assert lab.events_of("malformed")[1].detail == b"\xa5" * 64 + b"..."
    assert grown < 20, f"the event log kept {grown:.0f} MB"
    many = lab.record("list", "queue", items=list(range(100)))
    assert many.fields["items"] == [0, 1, 2, 3, 4, 5, 6, 7, "... 92 more"]
