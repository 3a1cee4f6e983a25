"""Clone pattern guarantees: every client ends with exactly the server's state, whatever kills,
restarts, late starts and dropped updates happen on the way (notebooks 06 and 07)."""
from __future__ import annotations

import pytest
import zmq

from zguide_py import Lab, Scenario
from zguide_py.patterns import clone as C


def _model2(lab: Lab, transport: str = "tcp", **server):
    eps = dict(snapshot=lab.endpoint("snapshot", transport), publisher=lab.endpoint("updates", transport))
    lab.start("server", C.clonesrv2, **eps, **server)
    return eps


def _model3(lab: Lab):
    eps = dict(snapshot=lab.endpoint("snapshot", "tcp"), publisher=lab.endpoint("updates", "tcp"),
               collector=lab.endpoint("collector", "tcp"))
    lab.start("server", C.clonesrv3, **eps)
    return eps


def _all_fired(scenario: Scenario):
    return lambda: all(s.fired_at is not None for s in scenario.steps)


def test_kvmsg_round_trip_uses_the_guide_framing():
    msg = C.KVMsg("key-001", 42, b"hello", properties={"from": "client1", "ttl": "30"})
    frames = msg.encode()
    assert len(frames) == 5
    assert frames[0] == b"key-001"
    assert frames[1] == (42).to_bytes(8, "big")          # int64, network byte order
    assert len(frames[2]) == 16                          # uuid
    assert frames[3] == b"from=client1\nttl=30\n"        # name=value lines
    assert frames[4] == b"hello"
    back = C.KVMsg.decode(frames)
    assert back == msg
    with pytest.raises(ValueError, match="5 frames"):
        C.KVMsg.decode(frames[:3])
    with pytest.raises(ValueError, match="8 bytes"):
        C.KVMsg.decode([frames[0], b"\x01", *frames[2:]])
    with pytest.raises(ValueError, match="name=value"):
        C.KVMsg.decode([*frames[:3], b"oops\n", frames[4]])


@pytest.mark.timeout(60)
def test_snapshot_by_hand_ends_with_kthxbai_carrying_the_version(lab):
    eps = _model2(lab, count=7, rate=1000, keys=5)
    lab.wait_for(lambda: lab.peer("server").data.get("done"), 5, "7 updates published")
    dealer = lab.socket(zmq.DEALER, rcvtimeo=2000)
    dealer.connect(eps["snapshot"])
    dealer.send(C.ICANHAZ)
    entries = []
    while True:
        msg = C.KVMsg.decode(dealer.recv_multipart())
        if msg.key == C.KTHXBAI:
            break
        entries.append(msg)
    assert msg.sequence == 7
    _, server_map = C.state_of(lab.peer("server"))
    assert {m.key: (m.sequence, m.body) for m in entries} == server_map
    assert max(m.sequence for m in entries) == 7


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [1, 2])
def test_model2_late_and_restarted_clients_converge(lab, seed):
    eps = _model2(lab, count=1500, rate=1000, keys=60, seed=seed)
    clients = ["client1", "client2"]
    for c in clients:
        lab.start(c, C.clonecli2, **eps)

    def start_late(lab):
        lab.start("late", C.clonecli2, **eps)

    sc = Scenario("kills", seed=seed).chaos(clients, kills=3, start=0.2, end=1.0, downtime=(0.1, 0.3))
    sc.at(0.6, start_late)
    everyone = clients + ["late"]
    lab.run(sc, seconds=20, until=lambda: _all_fired(sc)() and lab.peer("server").data.get("done")
            and C.caught_up(lab, "server", everyone))
    lab.check()
    assert C.caught_up(lab, "server", everyone), "clients did not reach the server's sequence"
    assert lab.peer("server").data["sequence"] == 1500
    assert C.same_state(lab, "server", everyone) == {c: True for c in everyone}
    assert lab.peer("server").get("snapshots") >= 1 + len(clients) + 3   # every start asked once
    # each snapshot a client took is an event with its facts as fields: keys and version
    snaps = lab.events_of("snapshot")
    assert len(snaps) >= len(everyone) + 3
    assert all(0 <= e.get("keys") <= 60 and 0 <= e.get("sequence") <= 1500 for e in snaps), snaps


@pytest.mark.timeout(60)
def test_model2_client_that_drops_updates_at_its_hwm_resyncs_and_converges(lab):
    # inproc: no kernel buffers, so the queue is just the two HWMs and drops come quickly
    eps = _model2(lab, transport="inproc", count=3000, rate=2000, keys=50, sndhwm=20)
    lab.start("slow", C.clonecli2, rcvhwm=20, **eps)
    lab.start("fast", C.clonecli2, **eps)
    sc = Scenario("slow client").at(0.2, "throttle", "slow", 0.003).at(0.9, "throttle", "slow", 0)
    lab.run(sc, seconds=20, until=lambda: _all_fired(sc)() and lab.peer("server").data.get("done")
            and C.caught_up(lab, "server", ["slow", "fast"]))
    lab.check()
    gaps = lab.events_of("gap", "slow")
    assert gaps, "the throttled client never saw a gap (nothing dropped?)"
    assert all(e.get("got") > e.get("expected") for e in gaps), gaps
    assert lab.peer("slow").get("resyncs") >= 1
    assert C.same_state(lab, "server", ["slow", "fast"]) == {"slow": True, "fast": True}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [3, 4])
def test_model3_clients_converge_after_seeded_kills_and_restarts(lab, seed):
    eps = _model3(lab)
    clients = ["client1", "client2", "client3"]
    for c in clients:
        lab.start(c, C.clonecli3, count=80, rate=80, keys=15, seed=seed, **eps)
    sc = Scenario("kills", seed=seed).chaos(clients, kills=4, start=0.2, end=1.2, downtime=(0.1, 0.4))
    lab.run(sc, seconds=20, until=lambda: _all_fired(sc)() and C.writes_settled(lab, "server", clients)
            and C.caught_up(lab, "server", clients))
    lab.check()
    assert C.writes_settled(lab, "server", clients)
    assert C.caught_up(lab, "server", clients)
    assert C.same_state(lab, "server", clients) == {c: True for c in clients}
    server = lab.peer("server").data
    every_sent = {u for c in clients for u in lab.peer(c).data["sent_uuids"]}
    assert len(server["sequenced"]) == server["sequence"]      # one number per update
    assert server["sequenced"] <= every_sent                   # the server invents nothing
    # the last start of every client pushed all its updates and every one was numbered
    for c in clients:
        assert len(lab.peer(c).data["life_uuids"]) == 80


@pytest.mark.timeout(60)
@pytest.mark.parametrize("client", ["clonecli2", "clonecli3"])
def test_client_that_missed_the_last_update_resyncs_on_hugz(lab, client):
    """A client that lost the newest update while the stream is quiet sees no gap; the server's
    HUGZ heartbeat carries the current sequence, so the client asks for a new snapshot."""
    eps = dict(snapshot=lab.endpoint("snapshot", "tcp"), publisher=lab.endpoint("updates", "tcp"))
    if client == "clonecli3":
        eps["collector"] = lab.endpoint("collector", "tcp")
    router = lab.socket(zmq.ROUTER)                   # a hand-made server: snapshot at 0...
    router.bind(eps["snapshot"])
    pub = lab.socket(zmq.PUB)
    pub.bind(eps["publisher"])
    if client == "clonecli3":
        pull = lab.socket(zmq.PULL)
        pull.bind(eps["collector"])
    extra = {"count": 0} if client == "clonecli3" else {}
    lab.start("client", getattr(C, client), **eps, **extra)
    assert router.poll(5000), "the client never asked for a snapshot"
    ident, request = router.recv_multipart()
    assert request == C.ICANHAZ
    router.send_multipart([ident, *C.KVMsg(C.KTHXBAI, 0, uuid=bytes(16)).encode()])
    lab.wait_for(lambda: lab.peer("client").get("snapshots") == 1, 5, "first snapshot")
    # ...then (update 1 was "lost") HUGZ says the state is at 1, until the client asks again
    asked = False
    for _ in range(100):
        C.send_hugz(pub, 1)
        if router.poll(50):
            ident, request = router.recv_multipart()
            asked = request == C.ICANHAZ
            break
    assert asked, "HUGZ ahead of the client did not make it ask for a new snapshot"
    assert lab.peer("client").get("resyncs") >= 1
    entry = C.KVMsg("k", 1, b"v")
    router.send_multipart([ident, *entry.encode()])
    router.send_multipart([ident, *C.KVMsg(C.KTHXBAI, 1, uuid=bytes(16)).encode()])
    lab.wait_for(lambda: lab.peer("client").data.get("sequence") == 1, 5, "the client at sequence 1")
    assert lab.peer("client").data["kvmap"]["k"].body == b"v"
    lab.check()


@pytest.mark.timeout(60)
def test_paused_server_and_writers_stop_through_lab_set(lab):
    """``lab.set(name, paused=True)`` (the notebooks' pause buttons) stops the updates of a model 2
    server and the writes of model 3 clients; snapshots are still answered; ``paused=False`` resumes."""
    eps = _model2(lab, rate=500, keys=20)
    lab.wait_for(lambda: lab.peer("server").get("published") >= 50, 5, "updates")
    lab.set("server", paused=True)
    paused_at = lab.wait_quiet(lambda: lab.peer("server").get("published"), quiet=0.2, timeout=5)
    lab.start("client", C.clonecli2, **eps)           # a snapshot is still answered while paused
    lab.wait_for(lambda: C.caught_up(lab, "server", ["client"]), 5, "the client to take a snapshot")
    assert lab.peer("server").get("published") == paused_at
    assert C.same_state(lab, "server", ["client"]) == {"client": True}
    lab.set("server", paused=False)
    lab.wait_for(lambda: lab.peer("client").get("applied") >= 20, 5, "updates again after resuming")
    assert lab.events_of("set", "server")[-1].fields == {"paused": False}

    eps3 = dict(snapshot=lab.endpoint("snapshot3", "tcp"), publisher=lab.endpoint("updates3", "tcp"),
                collector=lab.endpoint("collector3", "tcp"))
    lab.start("server3", C.clonesrv3, **eps3)
    lab.start("writer", C.clonecli3, count=10**6, rate=200, **eps3)
    lab.wait_for(lambda: lab.peer("writer").get("mine back") >= 10, 5, "the writer's updates back")
    lab.set("writer", paused=True)
    lab.wait_for(lambda: C.writes_settled(lab, "server3", ["writer"]), 5, "the writer to stop")
    sent = lab.wait_quiet(lambda: lab.peer("writer").get("sent"), quiet=0.2, timeout=5)
    assert lab.peer("writer").data["idle"] and lab.peer("server3").data["sequence"] == sent
    lab.set("writer", paused=False)
    lab.wait_for(lambda: lab.peer("writer").get("sent") > sent, 5, "writing again")
    lab.check()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("client", [C.clonecli2, C.clonecli3])
def test_a_gap_of_exactly_one_update_makes_the_client_resync(lab, client):
    """The smallest gap: updates 1 and 3 arrive, 2 is missing. The client must not apply 3; it asks
    for a new snapshot (issue 14: a client that ignores a gap of 1 passed every other test)."""
    router, pub = lab.socket(zmq.ROUTER), lab.socket(zmq.PUB)
    router.bind(lab.endpoint("snapshot"))
    pub.bind(lab.endpoint("updates"))
    extra = {"collector": lab.endpoint("collector"), "count": 0} if client is C.clonecli3 else {}
    peer = lab.start("client", client, snapshot=lab.endpoint("snapshot"), publisher=lab.endpoint("updates"),
                     timeout=5.0, **extra)

    def answer_snapshot(version: int) -> None:
        lab.wait_for(lambda: router.poll(0), 5, "a snapshot request")
        identity, request = router.recv_multipart()
        assert request == C.ICANHAZ
        router.send_multipart([identity, *C.KVMsg(C.KTHXBAI, version, uuid=b"").encode()])

    answer_snapshot(0)
    lab.wait_for(lambda: peer.get("snapshots") == 1, 5, "the first snapshot")

    def first_applied():                     # the subscription may take a moment: resend update 1
        pub.send_multipart(C.KVMsg("a", 1, b"one").encode())
        return peer.data.get("sequence") == 1
    lab.wait_for(first_applied, 5, "update 1 applied")
    pub.send_multipart(C.KVMsg("b", 3, b"three").encode())       # 2 is missing
    lab.wait_for(lambda: lab.events_of("gap", "client"), 5, "the gap noticed")
    assert lab.events_of("gap", "client")[0].fields == {"expected": 2, "got": 3}
    assert C.state_of(peer) == (1, {"a": (1, b"one")})             # 3 was not applied
    answer_snapshot(3)                                             # ... it asked again
    lab.wait_for(lambda: peer.get("snapshots") == 2 and peer.data.get("sequence") == 3, 5, "the resync")
