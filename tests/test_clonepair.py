"""Clone models 4-6 (notebook 25): a subtree's client gets only its subtree; ephemeral values expire
from every copy; a pair of servers loses no update when the primary dies mid-stream, and every client
ends with the surviving server's map; malformed frames are counted, never fatal."""
from __future__ import annotations

import pytest
import zmq

from zguide_py import Lab, procs
from zguide_py.patterns import clonepair as cp
from zguide_py.patterns.clone import ICANHAZ, KTHXBAI, KVMsg


def _single(lab: Lab, **server):
    eps = {n: lab.endpoint(n, "tcp") for n in ("snapshot", "publisher", "collector")}
    lab.start("server", cp.clonesrv5, **eps, **server)
    return eps, {n: [e] for n, e in eps.items()}


def _writer(lab: Lab, collector: str) -> zmq.Socket:
    """A hand-held publisher to a collector, once the collector's subscription has reached it."""
    xpub = lab.socket(zmq.XPUB, xpub_verbose=1)
    xpub.connect(collector)
    assert xpub.poll(5000), "the collector never subscribed"
    assert xpub.recv() == b"\x01"
    return xpub


def _snapshot(lab: Lab, endpoint: str, subtree: bytes = b"") -> tuple[dict[str, KVMsg], KVMsg]:
    dealer = lab.socket(zmq.DEALER, rcvtimeo=3000)
    dealer.connect(endpoint)
    dealer.send_multipart([ICANHAZ, subtree])
    entries = {}
    while (msg := KVMsg.decode(dealer.recv_multipart())).key != KTHXBAI:
        entries[msg.key] = msg
    dealer.close()
    return entries, msg


def _start_pair(lab: Lab, **server):
    servers, clients = cp.pair_endpoints(lab)
    for side in ("primary", "backup"):
        lab.start(side, cp.clonesrv6, side=side, **servers[side], **server)
    lab.wait_for(lambda: lab.peer("primary").data.get("state") == "active"
                 and lab.peer("backup").data.get("state") == "passive" and lab.peer("backup").get("synced"),
                 10, "the pair, with the backup in sync")
    return servers, clients


# ---- checks of one message -----------------------------------------------------------------------

def test_ttl_must_be_a_number_of_seconds():
    assert cp.ttl_of(KVMsg("k", body=b"v")) is None
    assert cp.ttl_of(KVMsg("k", body=b"v", properties={"ttl": "2.5"})) == 2.5
    for bad in ("abc", "-1", "0", "nan", "inf", "1e9", ""):
        assert cp.problem(KVMsg("k", body=b"v", properties={"ttl": bad}), {}) is not None, bad
    assert cp.problem(KVMsg("k", body=b"v", properties={"ttl": "30"}), {}) is None


# ---- model 4: subtrees ---------------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_a_subtree_client_gets_only_its_subtree_in_snapshot_and_updates(lab):
    eps, cl = _single(lab, hugz=0.1)
    for name, subtree in (("red", "/red/"), ("blue", "/blue/")):
        lab.start(name, cp.clonecli6, subtree=subtree, count=40, rate=200, keys=8, seed=1, **cl)
    lab.start("reader", cp.clonecli6, subtree="/red/", **cl)            # follows from the start
    lab.wait_for(lambda: cp.settled(lab, "server", ["red", "blue"]), 10, "the writers done")
    lab.start("late", cp.clonecli6, subtree="/red/", **cl)              # a snapshot of the subtree only
    everything = cp.keys_of(lab.peer("server"))
    red = cp.keys_of(lab.peer("server"), "/red/")
    assert red and len(red) < len(everything)
    for name in ("reader", "late", "red"):
        lab.wait_for(lambda n=name: cp.keys_of(lab.peer(n)) == red, 5, f"{name} holds the red subtree")
        assert lab.peer(name).get("not mine") == 0          # the publisher filtered: no blue key came
    assert lab.peer("blue").get("not mine") == 0 and set(cp.keys_of(lab.peer("blue"))) == {
        k for k in everything if k.startswith("/blue/")}
    entries, end = _snapshot(lab, eps["snapshot"], b"/blue/")
    assert set(entries) == {k for k in everything if k.startswith("/blue/")}
    assert end.body == b"/blue/" and end.sequence == lab.peer("server").data["sequence"]   # 12/CHP's KTHXBAI
    assert not lab.errors()


# ---- model 5: ephemeral values ------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_ephemeral_values_expire_from_the_server_and_every_client(lab):
    eps, cl = _single(lab, hugz=0.1)
    lab.start("reader", cp.clonecli6, **cl)
    lab.start("red", cp.clonecli6, subtree="/red/", **cl)
    lab.start("lasting", cp.clonecli6, subtree="/red/", count=10, rate=200, keys=4, seed=2, **cl)
    lab.wait_for(lambda: cp.settled(lab, "server", ["lasting"]), 10, "the lasting writes")
    lab.start("ephemeral", cp.clonecli6, subtree="/red/tmp-", count=30, rate=300, keys=6, ttl=0.3, seed=2, **cl)
    lab.wait_for(lambda: any(k.startswith("/red/tmp-") for k in cp.keys_of(lab.peer("reader"))), 5,
                 "an ephemeral key at the reader")
    lab.wait_for(lambda: lab.peer("ephemeral").data.get("idle"), 5, "the ephemeral writes")
    lab.wait_for(lambda: not lab.peer("server").data["hashmap"].expires, 5, "every ephemeral key expired")
    server = cp.keys_of(lab.peer("server"))
    assert server and not any(k.startswith("/red/tmp-") for k in server)
    for name in ("reader", "red", "lasting", "ephemeral"):
        subtree = lab.peer(name).params.get("subtree", "")
        lab.wait_for(lambda n=name, s=subtree: cp.keys_of(lab.peer(n)) == cp.keys_of(lab.peer("server"), s),
                     5, f"{name} without the expired keys")
    expired = lab.peer("server").get("expired")
    assert 1 <= expired <= 6 and lab.peer("reader").get("deleted") == expired
    assert not lab.errors()


@pytest.mark.timeout(60)
def test_an_empty_body_deletes_and_an_empty_uuid_is_taken(lab):
    """12/CHP: an empty value deletes the key; the guide's C kvmsg sends an empty uuid frame."""
    eps, cl = _single(lab, hugz=0.1)
    lab.start("reader", cp.clonecli6, **cl)
    lab.wait_for(lambda: lab.peer("reader").get("snapshots"), 5, "the reader's snapshot")
    pub = _writer(lab, eps["collector"])
    KVMsg("a", body=b"1", uuid=b"").send(pub)
    KVMsg("b", body=b"2", uuid=b"").send(pub)
    lab.wait_for(lambda: cp.keys_of(lab.peer("reader")) == {"a": (1, b"1"), "b": (2, b"2")}, 5, "both keys")
    KVMsg("a", body=b"").send(pub)
    lab.wait_for(lambda: cp.keys_of(lab.peer("reader")) == {"b": (2, b"2")}, 5, "a deleted")
    assert cp.keys_of(lab.peer("server")) == {"b": (2, b"2")} and lab.peer("reader").get("deleted") == 1
    assert lab.peer("server").get("malformed") == 0


@pytest.mark.timeout(60)
def test_malformed_frames_are_counted_and_the_server_goes_on(lab):
    eps, cl = _single(lab, hugz=0.1)
    pub = _writer(lab, eps["collector"])
    junk = [[b"one frame"], [b"k", b"\x00" * 3, b"", b"", b"v"], [b"k", b"\x00" * 8, b"x" * 5, b"", b"v"],
            [b"\xff", b"\x00" * 8, b"", b"", b"v"], [b"k", b"\x00" * 8, b"", b"noequals", b"v"],
            KVMsg("k", body=b"v", properties={"ttl": "soon"}).encode(), KVMsg("HUGZ", body=b"v").encode(),
            KVMsg("k", body=b"v" * 40_000).encode()]
    for frames in junk:
        pub.send_multipart(frames)
    dealer = lab.socket(zmq.DEALER)
    dealer.connect(eps["snapshot"])
    for frames in ([b"nope"], [ICANHAZ, b"\xff"], [ICANHAZ, b"a", b"b"], [ICANHAZ, b"x" * 300]):
        dealer.send_multipart(frames)
    lab.wait_for(lambda: lab.peer("server").get("malformed") == len(junk) + 4, 5, "every bad message counted")
    lab.start("writer", cp.clonecli6, count=10, rate=200, seed=3, **cl)
    lab.wait_for(lambda: cp.settled(lab, "server", ["writer"]), 5, "a good client served")
    assert lab.peer("server").alive and cp.same_maps(lab, "server", ["writer"]) == {"writer": True}


# ---- model 6: the pair ------------------------------------------------------------------------------------

@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", range(5))
def test_primary_killed_mid_stream_no_update_lost_and_every_map_equals_the_backups(lab, seed):
    import random
    rng = random.Random(seed)
    servers, cl = _start_pair(lab)
    clients = [f"c{i}" for i in range(1, 2 + rng.randrange(3))]
    for name in clients:
        lab.start(name, cp.clonecli6, count=60, rate=rng.choice([30, 40, 60]), keys=12, seed=seed, **cl)
    kill_after = rng.randrange(20, 60 * len(clients) // 2)
    lab.wait_for(lambda: sum(lab.peer(c).get("sent") for c in clients) >= kill_after, 10, "the stream")
    lab.kill("primary")
    lab.wait_for(lambda: cp.settled(lab, "backup", clients), 20, "every update numbered, every client level")
    backup = lab.peer("backup")
    assert cp.same_maps(lab, "backup", clients) == {c: True for c in clients}
    assert cp.lost_updates(lab, "backup", clients) == set()
    assert cp.numbered_twice(lab, "backup") == []
    assert [s for s, _u in backup.data["hashmap"].history] == list(range(1, backup.data["sequence"] + 1))
    assert len(backup.data["takeovers"]) == 1 and backup.get("pending numbered") > 0
    assert all(len(lab.peer(c).data["failovers"]) == 1 and lab.peer(c).data["server"] == 1 for c in clients)
    assert not lab.errors()


@pytest.mark.timeout(120)
def test_a_restarted_server_comes_back_passive_in_sync_and_takes_over_next_time(lab):
    servers, cl = _start_pair(lab)
    clients = ["c1", "c2"]
    for name in clients:
        lab.start(name, cp.clonecli6, count=10**6, rate=30, keys=12, seed=4, **cl)
    lab.wait_for(lambda: lab.peer("c1").get("sent") > 10, 5, "the stream")
    lab.kill("primary")
    lab.wait_for(lambda: lab.peer("backup").data.get("state") == "active", 5, "the backup takes over")
    lab.restart("primary")
    lab.wait_for(lambda: lab.peer("primary").data.get("state") == "passive" and lab.peer("primary").get("synced"),
                 5, "the primary back, passive, in sync")
    lab.wait_for(lambda: lab.peer("primary").get("mirrored") > 10, 5, "the primary follows the backup")
    lab.kill("backup")
    lab.wait_for(lambda: lab.peer("primary").data.get("state") == "active", 5, "the primary takes over")
    lab.wait_for(lambda: all(lab.peer(c).data["server"] == 0 and lab.peer(c).get("failovers") == 2 for c in clients),
                 5, "both clients back on the primary")
    for name in clients:
        lab.set(name, paused=True)
    lab.wait_for(lambda: cp.settled(lab, "primary", clients, uuids=False)
                 and cp.same_maps(lab, "primary", clients) == {c: True for c in clients}, 5, "the same maps")
    assert cp.numbered_twice(lab, "primary") == [] and not lab.errors()


@pytest.mark.timeout(60)
def test_a_passive_server_holds_updates_and_an_active_one_takes_empty_uuids(lab):
    servers, cl = _start_pair(lab)
    lab.start("reader", cp.clonecli6, **cl)
    lab.wait_for(lambda: lab.peer("reader").get("snapshots"), 5, "the reader's snapshot")
    to_both = [_writer(lab, c) for c in cl["collector"]]
    for sock in to_both:
        KVMsg("plain", body=b"x", uuid=b"").send(sock)        # a guide client's update with no uuid
    lab.wait_for(lambda: "plain" in cp.keys_of(lab.peer("reader")), 5, "the update with no uuid")
    lab.wait_for(lambda: cp.keys_of(lab.peer("backup")) == cp.keys_of(lab.peer("primary")), 5, "the backup mirrors it")
    # the primary's copy and the client's own update reach the backup on two sockets, in either order
    lab.wait_for(lambda: lab.peer("backup").get("no uuid") == 1, 5, "the backup sees the client's update")
    assert not lab.peer("backup").data["pending"]
    for frames in ([b"junk"], [b"k", b"\x00" * 8, b"\x01", b"", b"v"]):
        for sock in to_both:
            sock.send_multipart(frames)
    dealer = lab.socket(zmq.DEALER)
    dealer.connect(cl["snapshot"][0])
    dealer.send_multipart([ICANHAZ, b"\xff"])                   # not a subtree: counted, not a client request
    lab.wait_for(lambda: lab.peer("backup").get("malformed") == 2 and lab.peer("primary").get("malformed") == 3,
                 5, "both servers count the junk")
    assert lab.peer("backup").data["state"] == "passive" and lab.peer("primary").data["state"] == "active"
    KVMsg("after", body=b"y").send(to_both[0])
    KVMsg("after", body=b"y").send(to_both[1])
    lab.wait_for(lambda: "after" in cp.keys_of(lab.peer("reader")), 5, "still serving")
    lab.wait_for(lambda: cp.keys_of(lab.peer("backup")) == cp.keys_of(lab.peer("primary")), 5, "the backup mirrors it")
    assert not lab.errors()


def test_the_command_line_takes_12chp_heartbeats():
    from zguide_py.rolecall import resolve
    call = resolve("clonepair.server", ["side=primary"], binds=[f"{n}={5550 + i}" for i, n in enumerate(
        ("snapshot", "publisher", "collector", "statepub"))], connects=["peer_statepub=5560", "peer_snapshot=5561",
                                                                           "peer_publisher=5562"])
    assert (call.params["heartbeat"], call.params["hugz"]) == (1.0, 1.0)
    client = resolve("clonepair.client", [], connects=[f"{n}={p}" for n, p in (("snapshot", 5556), ("snapshot", 5566),
                     ("publisher", 5557), ("publisher", 5567), ("collector", 5558), ("collector", 5568))])
    assert client.params["snapshot"] == ["tcp://127.0.0.1:5556", "tcp://127.0.0.1:5566"]
    assert client.params["server_ttl"] == 5.0 > 3 * call.params["hugz"]


@pytest.mark.timeout(120)
def test_the_pair_as_processes_from_the_cli(lab):
    """``python -m zguide_py run clonepair.server`` twice; clients in the lab; a real SIGKILL."""
    servers, cl = cp.pair_endpoints(lab)
    for side in ("primary", "backup"):
        lab.start(side, procs.process, target="clonepair.server", side=side, **servers[side])
    says = lambda side: (lab.peer(side).data.get("status") or {}).get("says", "")   # noqa: E731
    lab.wait_for(lambda: says("primary").startswith("active") and says("backup").startswith("passive"),
                 60, "the pair as processes")
    clients = ["c1", "c2"]
    for name in clients:
        lab.start(name, cp.clonecli6, count=40, rate=40, keys=10, seed=5, **cl)
    lab.wait_for(lambda: lab.peer("c1").get("sent") >= 15, 10, "the stream")
    lab.kill("primary")                                              # SIGKILL
    lab.wait_for(lambda: all(lab.peer(c).data.get("idle") and lab.peer(c).data["server"] == 1 for c in clients),
                 20, "the clients on the backup")
    expected = lambda: {k: (m.sequence, m.body) for k, m in _snapshot(lab, cl["snapshot"][1])[0].items()}  # noqa: E731
    lab.wait_for(lambda: all(cp.keys_of(lab.peer(c)) == expected() for c in clients), 10, "the backup's map")
    sent = {u for c in clients for u in lab.peer(c).data["sent_uuids"]}
    assert len(sent) == 80 and {m.uuid for m in _snapshot(lab, cl["snapshot"][1])[0].values()} <= sent
    assert all(lab.peer(c).data["sequence"] == 80 for c in clients)             # each update numbered once
    lab.wait_for(lambda: lab.peer("backup").get("sequence") == 80, 5, "the backup's status line at 80")
    assert lab.peer("backup").get("pending numbered") > 0
