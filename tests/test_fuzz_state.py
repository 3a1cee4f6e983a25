"""Fuzz: Clone, Binary Star and Freelance roles survive hostile input (issue 14).

Each test builds its lab and roles once, then hypothesis sends batches of hostile messages (random
frames, and almost-valid messages with a frame dropped, junked, added, swapped, cut or repeated)
from a raw socket of the right type. After each batch a correct peer must be served correctly
within a bound, the role must still be running, and the process's memory must stay bounded.
The parsers are property-tested directly too. ``make test`` runs a few derandomized examples;
``make fuzz`` (ZGUIDE_FUZZ=fuzz) many random ones.
"""
from __future__ import annotations

import itertools
import struct

import pytest
import zmq
from fuzzkit import hostile, mutated, rss_mb
from hypothesis import given
from hypothesis import strategies as st

from zguide_py.patterns import binarystar as bstar
from zguide_py.patterns import clone, clonepair
from zguide_py.patterns import freelance as fl
from zguide_py.patterns.clone import HUGZ, ICANHAZ, KTHXBAI, KVMsg

RSS_GROWTH_MB = 150          # over a whole test, however many examples
BOUND = 5.0                  # seconds a correct peer may wait to be served after a batch

pytestmark = pytest.mark.fuzz

_probes = itertools.count()


def kv(key: str, seq: int = 0, body: bytes = b"v", uuid: bytes = bytes(16), **props) -> list[bytes]:
    return KVMsg(key, seq, body, uuid, props).encode()


KV_TOKENS = [ICANHAZ, KTHXBAI.encode(), HUGZ.encode(), b"key-001", struct.pack("!q", 1),
             struct.pack("!q", -1), struct.pack("!q", 2**62), bytes(16), b"from=x\n", b"noequals\n"]
VALID_KV = [kv("key-001"), kv("key-002", body=b"x" * 100, a="1"), kv(KTHXBAI, 5), kv(HUGZ, 7),
            kv("key-003", uuid=b""), [ICANHAZ], [ICANHAZ, b""]]
KV_BATCHES = hostile(KV_TOKENS) | mutated(VALID_KV, KV_TOKENS)


def served(lab, peer, condition, what: str):
    """Wait (at most BOUND s) for ``condition()``; fail at once if the role under test has died,
    so a failing example is quick to report (and hypothesis quick to shrink)."""
    def check():
        assert peer.state == "running", f"{peer.name} is {peer.state}: {lab.errors().get(peer.name)}"
        return condition()
    return lab.wait_for(check, BOUND, what)


def send_all(sock: zmq.Socket, batch: list[list[bytes]], prefix: list[bytes] = ()) -> None:
    """Send a batch, never blocking for long (a PUSH or DEALER whose peer died would wait forever)."""
    for message in batch:
        assert sock.poll(int(BOUND * 1000), zmq.POLLOUT), "no room to send: is the role dead?"
        sock.send_multipart([*prefix, *message], zmq.NOBLOCK)


def snapshot(dealer: zmq.Socket, timeout: float = BOUND) -> tuple[dict[str, KVMsg], int]:
    """Ask for a snapshot from the test (a correct client): {key: msg}, version."""
    dealer.send(ICANHAZ)
    kvmap = {}
    while dealer.poll(int(timeout * 1000)):
        msg = KVMsg.decode(dealer.recv_multipart())
        if msg.key == KTHXBAI:
            return kvmap, msg.sequence
        kvmap[msg.key] = msg
    raise TimeoutError("no snapshot")


# ---- Clone: the model 3 server (collector, snapshot ROUTER) -----------------------------------------

@pytest.mark.timeout(120)
def test_clone_server3_survives_hostile_updates_and_snapshot_requests(lab):
    ep = {n: lab.endpoint(n) for n in ("snapshot", "publisher", "collector")}
    server = lab.start("server", clone.clonesrv3, heartbeat=None, **ep)
    push = lab.socket(zmq.PUSH)
    push.connect(ep["collector"])
    junk = lab.socket(zmq.DEALER)
    junk.connect(ep["snapshot"])
    good = lab.socket(zmq.DEALER)
    good.connect(ep["snapshot"])
    start_rss = rss_mb()

    @given(batch=KV_BATCHES)
    def check(batch):
        assert server.state == "running"            # a dead role fails the next example at once
        send_all(push, batch)
        send_all(junk, batch)
        key, body = f"probe-{next(_probes)}", b"%d" % next(_probes)
        push.send_multipart(kv(key, body=body))           # a correct client's update...
        kvmap, version = {}, 0

        def probe_served():
            nonlocal kvmap, version
            kvmap, version = snapshot(good, timeout=1.0)
            return key in kvmap
        served(lab, server, probe_served, "the probe update in a snapshot")   # ... numbered and served
        assert kvmap[key].body == body and version == server.data["sequence"]
        assert not set(kvmap) & {KTHXBAI, HUGZ, ""}                    # no protocol key became state
        assert server.state == "running"
        while junk.poll(0):                                            # answers to junk requests
            junk.recv_multipart()
        assert rss_mb() - start_rss < RSS_GROWTH_MB

    check()
    assert server.get("malformed") > 0
    assert all(len(str(e.get("frames"))) < 2000 for e in lab.events_of("malformed", "server"))


# ---- Clone: a client fed by a hostile publisher ---------------------------------------------------------

class FakeCloneServer:
    """The test's Clone server, by hand: answers snapshots correctly (with an empty uuid frame in
    KTHXBAI, as the guide's C kvmsg sends), publishes whatever the test says on its PUB."""

    def __init__(self, lab):
        self.router = lab.socket(zmq.ROUTER)
        self.router.bind(lab.endpoint("fake-snapshot"))
        self.pub = lab.socket(zmq.PUB)
        self.pub.bind(lab.endpoint("fake-publisher"))
        self.kvmap: dict[str, KVMsg] = {}
        self.version = 0

    def answer(self) -> None:
        while self.router.poll(0):
            identity, *_ = self.router.recv_multipart()
            for msg in self.kvmap.values():
                self.router.send_multipart([identity, *msg.encode()])
            self.router.send_multipart([identity, KTHXBAI.encode(), struct.pack("!q", self.version),
                                        b"", b"", b""])

    def update(self, key: str, body: bytes) -> None:
        """A correct update, far ahead of anything a hostile message could have made the client
        apply, so the client sees a gap and takes a fresh snapshot."""
        self.version += 1000
        self.kvmap[key] = KVMsg(key, self.version, body)
        self.pub.send_multipart(self.kvmap[key].encode())

    def hugz(self) -> None:
        self.pub.send_multipart(KVMsg(HUGZ, self.version, uuid=b"").encode())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("role", [clone.clonecli2, clone.clonecli3])
def test_clone_client_survives_a_hostile_publisher(lab, role):
    fake = FakeCloneServer(lab)
    params = {"collector": lab.endpoint("fake-collector"), "count": 0} if role is clone.clonecli3 else {}
    client = lab.start("client", role, snapshot=lab.endpoint("fake-snapshot"),
                       publisher=lab.endpoint("fake-publisher"), timeout=0.5, **params)
    start_rss = rss_mb()

    @given(batch=KV_BATCHES)
    def check(batch):
        assert client.state == "running"
        fake.answer()
        send_all(fake.pub, batch)
        key, body = f"probe-{next(_probes)}", b"%d" % next(_probes)
        fake.update(key, body)

        def caught_up():
            fake.answer()
            fake.hugz()
            return client.data.get("sequence") == fake.version
        served(lab, client, caught_up, "the client to follow the correct server")
        assert clone.state_of(client)[1] == {k: (m.sequence, m.body) for k, m in fake.kvmap.items()}
        assert client.state == "running"
        assert rss_mb() - start_rss < RSS_GROWTH_MB

    check()


def test_clone_client_takes_kthxbai_with_an_empty_uuid_and_skips_junk_in_a_snapshot(lab):
    fake = FakeCloneServer(lab)
    fake.kvmap["a"] = KVMsg("a", 3, b"A", uuid=b"")                     # C kvmsg: empty uuid frame
    client = lab.start("client", clone.clonecli2, snapshot=lab.endpoint("fake-snapshot"),
                       publisher=lab.endpoint("fake-publisher"), timeout=0.5)
    fake.version = 3
    lab.wait_for(lambda: fake.router.poll(0), BOUND, "the snapshot request")
    identity, request = fake.router.recv_multipart()
    assert request == ICANHAZ
    for junk in ([b"x"], kv("b")[:4], [b"\xff", *kv("c")[1:]], kv(HUGZ, 1)[:3] + [b"p", b""]):
        fake.router.send_multipart([identity, *junk])
    fake.router.send_multipart([identity, *fake.kvmap["a"].encode()])
    fake.router.send_multipart([identity, KTHXBAI.encode(), struct.pack("!q", 3), b"", b"", b""])
    lab.wait_for(lambda: client.data.get("sequence") == 3, BOUND, "the snapshot taken")
    assert clone.state_of(client)[1] == {"a": (3, b"A")} and client.get("malformed") == 4
    assert client.state == "running" and client.get("snapshots") == 1


# ---- Binary Star: the state channel and the frontend ---------------------------------------------------

def not_dual_active(batch):
    """Drop [b"3"] ("I am active") from a batch sent to an active server: that is not malformed
    but the protocol's fatal error (dual actives), where the guide's server stops by design."""
    return [m for m in batch if m != [b"3"]] or [[b"x"]]


@pytest.mark.timeout(120)
def test_binary_star_survives_hostile_state_messages_and_requests(lab):
    ep = {"frontend": lab.endpoint("frontend"), "statepub": lab.endpoint("primary-state"),
          "peer_statepub": lab.endpoint("backup-state")}
    fake_backup = lab.socket(zmq.PUB)
    fake_backup.bind(ep["peer_statepub"])
    primary = lab.start("primary", bstar.server, side="primary", heartbeat=0.05, **ep)
    junk = lab.socket(zmq.DEALER)
    junk.connect(ep["frontend"])

    def active():
        fake_backup.send(b"2")                          # the backup is alive and says so
        return primary.data.get("state") == "active"
    lab.wait_for(active, BOUND, "the primary to go active")
    start_rss = rss_mb()
    states = st.sampled_from([b"1", b"2", b"3", b"4", b" 3", b"3\n", b"+2", b"\xd9\xa3"])

    @given(state_batch=(hostile([b"1", b"2", b"4", b"99"]) | st.lists(st.lists(states, min_size=1,
                        max_size=3), min_size=1, max_size=8)).map(not_dual_active),
           front_batch=hostile([b"", b"hi"]) | mutated([[b"", b"hi"], [b"", b"a", b"b"]]))
    def check(state_batch, front_batch):
        assert primary.state == "running"
        send_all(fake_backup, state_batch)
        send_all(junk, front_batch)
        fake_backup.send(b"2")
        req = lab.socket(zmq.REQ)
        req.connect(ep["frontend"])
        body = b"probe %d" % next(_probes)
        req.send(body)
        served(lab, primary, lambda: req.poll(0), "a correct client served")
        assert req.recv_multipart() == [body]
        req.close(0)
        assert primary.state == "running" and primary.data["state"] == "active"
        while junk.poll(0):
            junk.recv_multipart()
        assert rss_mb() - start_rss < RSS_GROWTH_MB

    check()
    assert primary.get("malformed") > 0


# ---- Freelance: the model 3 server and client ------------------------------------------------------------

FLP_TOKENS = [fl.PING, fl.PONG, b"1", b"body"]


@pytest.mark.timeout(120)
def test_freelance_router_server_survives_hostile_clients(lab):
    endpoint = lab.endpoint("s1", "tcp")
    server = lab.start("s1", fl.server_router, endpoint=endpoint)
    client = lab.socket(zmq.ROUTER, router_mandatory=1)
    client.connect(endpoint)
    lab.wait_for(lambda: _try_send(client, [endpoint.encode(), fl.PING]), BOUND, "the connection")
    assert client.poll(5000) and client.recv_multipart() == [endpoint.encode(), fl.PONG]
    start_rss = rss_mb()

    @given(batch=hostile(FLP_TOKENS) | mutated([[fl.PING], [b"7", b"body"]], FLP_TOKENS))
    def check(batch):
        assert server.state == "running"
        send_all(client, batch, prefix=[endpoint.encode()])
        control = b"%d" % next(_probes)
        client.send_multipart([endpoint.encode(), control, b"probe"])
        def answered():                              # replies to the batch first, then the probe's
            return client.poll(0) and client.recv_multipart() == [endpoint.encode(), control, b"probe"]
        served(lab, server, answered, "a correct request answered")
        assert server.state == "running"
        assert rss_mb() - start_rss < RSS_GROWTH_MB

    check()


def _try_send(sock, frames) -> bool:
    try:
        sock.send_multipart(frames, flags=zmq.NOBLOCK)
        return True
    except zmq.ZMQError:
        return False


@pytest.mark.timeout(120)
def test_freelance_router_client_survives_a_hostile_server(lab):
    endpoint = lab.endpoint("fake", "tcp")
    fake = lab.socket(zmq.ROUTER, routing_id=endpoint.encode())
    fake.bind(endpoint)
    client = lab.start("client", fl.client_router, servers=[endpoint], requests=10**6, timeout=3.0,
                       ping_interval=0.05, server_ttl=1.0, retry=0.5)
    start_rss = rss_mb()

    def serve(until, junk):
        """Answer pings and requests (after the junk, once) until ``until()``."""
        junk = list(junk)

        def step():
            while fake.poll(0):
                identity, *frames = fake.recv_multipart()
                if frames == [fl.PING]:
                    fake.send_multipart([identity, fl.PONG])
                    continue
                for message in junk:
                    fake.send_multipart([identity, *message])
                junk.clear()
                fake.send_multipart([identity, *frames])
            return until()
        served(lab, client, step, "the client served")

    @given(batch=hostile(FLP_TOKENS) | mutated([[fl.PONG], [b"1", b"0"]], FLP_TOKENS))
    def check(batch):
        assert client.state == "running"
        target = client.get("replies") + 2
        serve(lambda: client.get("replies") >= target, batch)
        assert client.state == "running" and client.get("failed") == 0
        assert rss_mb() - start_rss < RSS_GROWTH_MB

    check()


# ---- the parsers, directly ------------------------------------------------------------------------------

@given(frames=st.lists(st.binary(max_size=40) | st.sampled_from(KV_TOKENS), max_size=7))
def test_kvmsg_decode_raises_only_value_error(frames):
    try:
        msg = KVMsg.decode(frames)
    except ValueError:
        return
    assert len(frames) == 5 and msg.sequence >= 0 and len(msg.uuid) in (0, 16)
    assert KVMsg.decode(msg.encode()) == msg                     # what it took, it can say again


@given(key=st.text(max_size=300) | st.sampled_from(["k1", KTHXBAI, HUGZ, ""]),
       size=st.integers(0, 2 * clone.MAX_BODY), full=st.booleans())
def test_update_problem_bounds_what_a_server_stores(key, size, full):
    kvmap = {f"k{i}": None for i in range(3)}
    body = b"x" * size
    why = clone.update_problem(KVMsg(key, body=body), kvmap, max_keys=3 if full else 10)
    ok = (key not in ("", KTHXBAI, HUGZ) and len(key.encode()) <= clone.MAX_KEY
          and len(body) <= clone.MAX_BODY and (not full or key in kvmap))
    assert (why is None) == ok


@given(frames=st.lists(st.binary(max_size=6) | st.sampled_from([b"1", b"2", b"3", b"4", b" 3"]),
                       min_size=1, max_size=3))
def test_parse_state_takes_exactly_one_digit_frame(frames):
    event = bstar.parse_state(frames)
    assert event == (int(frames[0]) if len(frames) == 1 and frames[0] in (b"1", b"2", b"3", b"4") else None)


@given(frames=st.lists(st.binary(max_size=6), min_size=1, max_size=5))
def test_frontend_request_needs_an_envelope_and_a_body(frames):
    assert bstar.is_request(frames) == (len(frames) >= 3 and b"" in frames[1:-1])


@given(frames=st.lists(st.binary(max_size=6), min_size=1, max_size=5))
def test_shotgun_reply_parser(frames):
    parsed = fl.parse_reply(frames)
    assert parsed is None or (frames[0] == b"" and [b"", parsed[0], *parsed[1]] == frames)


# ---- Clone model 6: one server of the reliable pair, on all four of its inputs -----------------------

STATES = [[b"1"], [b"2"], [b"3"], [b"4"]]       # a real peer's states: they move the state machine


@pytest.mark.timeout(180)
def test_clone_server6_survives_hostile_input_on_every_socket(lab):
    """A primary of a Clone pair, its backup played by the test: junk on the state channel (any
    message but a real state), on the stream it follows when passive, on its collector and on its
    snapshot ROUTER. After each batch a correct client's update is numbered and in its snapshot."""
    servers, _clients = clonepair.pair_endpoints(lab)
    ep = servers["primary"]
    server = lab.start("primary", clonepair.clonesrv6, side="primary", alone_after=0.0, **ep)
    state = lab.socket(zmq.PUB)                  # the backup's state channel and stream, bound by the test
    state.bind(ep["peer_statepub"])
    stream = lab.socket(zmq.PUB)
    stream.bind(ep["peer_publisher"])
    collector = lab.socket(zmq.PUB)             # what clients publish updates to
    collector.connect(ep["collector"])
    junk, good = lab.socket(zmq.DEALER), lab.socket(zmq.DEALER)
    for sock in (junk, good):
        sock.connect(ep["snapshot"])
    start_rss = rss_mb()

    @given(batch=KV_BATCHES)
    def check(batch):
        assert server.state == "running"
        send_all(state, [m for m in batch if m not in STATES] or [[b"x"]])
        send_all(stream, batch)
        send_all(collector, batch)
        send_all(junk, batch)
        key, body = f"probe-{next(_probes)}", b"%d" % next(_probes)
        update = kv(key, body=body, uuid=next(_probes).to_bytes(16, "big"))
        kvmap: dict = {}

        def probe_served():
            nonlocal kvmap
            collector.send_multipart(update)           # again until it lands (a PUB drops while joining)
            good.send_multipart([ICANHAZ, b""])
            kvmap = {}
            while good.poll(1000):
                msg = KVMsg.decode(good.recv_multipart())
                if msg.key == KTHXBAI:
                    return key in kvmap
                kvmap[msg.key] = msg
            return False
        served(lab, server, probe_served, "the probe update in a snapshot")
        assert kvmap[key].body == body and server.data["state"] == "active"
        assert not set(kvmap) & {KTHXBAI, HUGZ, ""}
        while junk.poll(0):
            junk.recv_multipart()
        assert rss_mb() - start_rss < RSS_GROWTH_MB

    check()
    assert server.get("malformed") > 0 and server.get("duplicates") >= 0
    assert all(len(str(e.get("frames"))) < 2000 for e in lab.events_of("malformed", "primary"))
