"""Fuzz: the request-reply brokers and their peers survive hostile input (issue 14).

Majordomo (broker, worker, client), Paranoid Pirate (queue, worker, client), the Simple Pirate
queue, the LRU broker and the Lazy Pirate server. Each test builds its lab and roles once; then
hypothesis sends batches of hostile messages (random frames, and almost-valid messages with a
frame dropped, junked, added, swapped, cut or repeated) from a raw socket of the right type.
After each batch a correct peer must be served correctly within a bound, the role must still be
running, and the process's memory must stay bounded over the whole test. The protocol parsers are
property-tested directly too. ``make test`` runs a few derandomized examples; ``make fuzz``
(ZGUIDE_FUZZ=fuzz) many random ones.
"""
from __future__ import annotations

import itertools
import time

import pytest
import zmq
from fuzzkit import hostile, mutated, rss_mb
from hypothesis import example, given
from hypothesis import strategies as st

from zguide_py.patterns import lazypirate as lp
from zguide_py.patterns import loadbalance as lb
from zguide_py.patterns import majordomo as md
from zguide_py.patterns import paranoidpirate as pp
from zguide_py.patterns import simplepirate as sp
from zguide_py.patterns import slowsub

RSS_GROWTH_MB = 150          # over a whole test, however many examples
BOUND = 5.0                  # seconds a correct peer may wait to be served after a batch
RETRY = 0.5                  # a probe's Lazy Pirate timeout (a request may die with a hostile "worker")
DELIVER_MS = 2000            # a hostile socket lingers this long when closed: its batch is delivered

pytestmark = pytest.mark.fuzz

_probes = itertools.count()


def batches(valid: list[list[bytes]], tokens: list[bytes]):
    """Hostile batches: random frames, almost-valid messages, and valid ones in any order (a valid
    message at the wrong moment, or with a value the parser must refuse, such as a READY whose
    service name is not UTF-8)."""
    return hostile(tokens) | mutated(valid, tokens) | st.lists(st.sampled_from(valid), min_size=1, max_size=8)


def send_all(sock: zmq.Socket, batch: list[list[bytes]], prefix: list[bytes] = ()) -> None:
    for message in batch:
        sock.send_multipart([*prefix, *message])


def hostile_peer(lab, socket_type: int, endpoint: str) -> zmq.Socket:
    sock = lab.socket(socket_type)
    sock.connect(endpoint)
    return sock


def lazy_probe(lab, endpoint: str, request: list[bytes], expect, bound: float = BOUND) -> list[bytes]:
    """A correct REQ client, Lazy Pirate style: send ``request``, and on no reply within RETRY
    close the socket and resend on a new one, for at most ``bound`` seconds. ``expect(reply)``
    must hold for the reply it gets."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        req = lab.socket(zmq.REQ)
        req.connect(endpoint)
        req.send_multipart(request)
        try:
            if req.poll(int(RETRY * 1000)):
                reply = req.recv_multipart()
                assert expect(reply), (request, reply)
                return reply
        finally:
            req.close(linger=0)
    raise AssertionError(f"a correct client was not served within {bound} s")


def still_running(lab, *names: str) -> None:
    for name in names:
        assert lab.peer(name).state == "running", (name, lab.peer(name).state, lab.errors())


def memory_bounded(start_mb: float, settle: float = 5.0) -> None:
    """Memory is not pinned: within ``settle`` seconds (the last batch's big frames may still be in
    flight, in pipes of sockets being torn down) RSS is back within RSS_GROWTH_MB of the start."""
    deadline = time.monotonic() + settle
    while (growth := rss_mb() - start_mb) >= RSS_GROWTH_MB and time.monotonic() < deadline:
        time.sleep(0.1)               # waiting for memory to be given back, not for a peer
    assert growth < RSS_GROWTH_MB, f"RSS grew {growth:.0f} MB"


# ---- Majordomo ----------------------------------------------------------------------------------

MD_TOKENS = [md.MDPC, md.MDPW, md.READY, md.REQUEST, md.REPLY, md.HEARTBEAT, md.DISCONNECT,
             b"echo", b"mmi.service", b"mmi.x", b"\xff", b"client"]
MD_AT_BROKER = [[b"", md.MDPC, b"echo", b"hi"], [b"", md.MDPC, b"mmi.service", b"echo"],
                [b"", md.MDPC, b"nobody", b"x", b"y"], [b"", md.MDPW, md.READY, b"echo"],
                [b"", md.MDPW, md.HEARTBEAT], [b"", md.MDPW, md.REPLY, b"client", b"", b"x"],
                [b"", md.MDPW, md.DISCONNECT], [b"", md.MDPW, md.READY, b"\xff"]]
MD_AT_WORKER = [[b"", md.MDPW, md.REQUEST, b"client", b"", b"x"], [b"", md.MDPW, md.HEARTBEAT],
                [b"", md.MDPW, md.DISCONNECT], [b"", md.MDPW, md.REQUEST, b"c", b"", b"a", b"b"]]
MD_AT_CLIENT = [[md.MDPC, b"echo", b"echo 0"], [md.MDPC, b"echo"], [md.MDPC, b"upper", b"x"]]
HB = 0.1


@pytest.mark.timeout(120)
def test_majordomo_broker_survives_hostile_clients_and_workers(lab):
    endpoint = lab.endpoint("broker", "tcp")
    lab.start("broker", md.broker, endpoint=endpoint, heartbeat=HB, liveness=3, request_expiry=1.0,
              max_services=100)
    lab.start("echo1", md.worker, broker=endpoint, service="echo", heartbeat=HB, liveness=3)
    lab.wait_for(lambda: "echo" in lab.peer("broker").data["workers"].values(), 5, "echo1 registered")
    start = rss_mb()

    @given(batch=batches(MD_AT_BROKER, MD_TOKENS))
    @example(batch=[[b"", md.MDPW, md.READY, b"\xff"]])           # issue 14: this one killed the broker
    @example(batch=[[b"", md.MDPC, f"nobody-{n}".encode(), b"x"] for n in range(300)])
    def check(batch):
        sock = hostile_peer(lab, zmq.DEALER, endpoint)
        send_all(sock, batch)
        sock.close(linger=DELIVER_MS)          # a hostile "worker" dies: the broker requeues what it held
        body = b"probe %d" % next(_probes)
        lazy_probe(lab, endpoint, [md.MDPC, b"echo", body], lambda r: r == [md.MDPC, b"echo", body])
        still_running(lab, "broker", "echo1")

    check()
    memory_bounded(start)
    # services that nobody offers were forgotten, and bounded meanwhile
    assert lab.peer("broker").get("malformed") > 0


def _md_worker_identity(router, identity):
    """Whatever arrives on the fake broker: the worker's (maybe new) identity, and its frames."""
    frames = router.recv_multipart()
    if frames[3:4] == [md.READY]:
        identity = frames[0]
    return identity, frames


@pytest.mark.timeout(120)
def test_majordomo_worker_survives_a_hostile_broker(lab):
    endpoint = lab.endpoint("fake-broker", "tcp")
    router = lab.socket(zmq.ROUTER)
    router.bind(endpoint)
    lab.start("w", md.worker, broker=endpoint, service="echo", heartbeat=HB, liveness=50)
    assert router.poll(5000)
    state = {"identity": router.recv_multipart()[0]}
    start = rss_mb()

    @given(batch=batches(MD_AT_WORKER, MD_TOKENS))
    def check(batch):
        send_all(router, batch, [state["identity"]])
        body = b"probe %d" % next(_probes)
        request = [md.MDPW, md.REQUEST, b"client", b"", body]
        router.send_multipart([state["identity"], b"", *request])
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            if not router.poll(100):
                continue
            state["identity"], frames = _md_worker_identity(router, state["identity"])
            if frames[3:4] == [md.READY]:     # told DISCONNECT: it came back on a new socket
                router.send_multipart([state["identity"], b"", *request])
            elif frames[1:] == [b"", md.MDPW, md.REPLY, b"client", b"", body]:
                break
        else:
            raise AssertionError("the worker did not answer a correct REQUEST in time")
        still_running(lab, "w")

    check()
    memory_bounded(start)
    assert lab.peer("w").get("malformed") > 0


def _serve_client(lab, router, name: str, counter: str, answer, bound: float = BOUND) -> None:
    """Answer every request of client ``name`` correctly until its ``counter`` grows."""
    before = lab.peer(name).get(counter)
    deadline = time.monotonic() + bound
    while lab.peer(name).get(counter) <= before:
        assert time.monotonic() < deadline, f"{name} was not served within {bound} s"
        if router.poll(50):
            router.send_multipart(answer(router.recv_multipart()))


@pytest.mark.timeout(120)
def test_majordomo_client_survives_a_hostile_broker(lab):
    endpoint = lab.endpoint("fake-broker", "tcp")
    router = lab.socket(zmq.ROUTER)
    router.bind(endpoint)
    lab.start("c", md.client, broker=endpoint, service="echo", requests=10**6, timeout=0.3, retries=3)
    start = rss_mb()
    echo = lambda frames: frames                                   # noqa: E731  [id, '', MDPC, service, body]

    @given(batch=batches(MD_AT_CLIENT, MD_TOKENS))
    def check(batch):
        assert router.poll(int(BOUND * 1000)), "the client sent nothing"
        identity, *_ = router.recv_multipart()
        send_all(router, batch, [identity, b""])                   # the first one is its "reply"
        _serve_client(lab, router, "c", "replies", echo)
        still_running(lab, "c")

    check()
    memory_bounded(start)
    replies = lab.peer("c").data["replies"]
    assert replies and all(request == reply for request, reply in replies)


# ---- Paranoid Pirate ----------------------------------------------------------------------------

PPP_TOKENS = [pp.PPP_READY, pp.PPP_HEARTBEAT, b"client", b""]
PPP_AT_QUEUE = [[pp.PPP_READY], [pp.PPP_HEARTBEAT], [b"client", b"", b"reply"], [b"a", b"b", b"", b"c", b"d"]]
PPP_AT_FRONTEND = [[b"", b"request"], [b"", b"a", b"b"], [b"request"]]


@pytest.mark.timeout(120)
def test_paranoid_queue_survives_hostile_clients_and_workers(lab):
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", pp.queue, frontend=frontend, backend=backend)
    for name in ("worker1", "worker2"):
        lab.start(name, pp.worker, endpoint=backend)
    lab.wait_for(lambda: len(lab.peer("queue").data["ready"]) == 2, 5, "2 workers ready")
    start = rss_mb()

    @given(front=batches(PPP_AT_FRONTEND, PPP_TOKENS),
           back=batches(PPP_AT_QUEUE, PPP_TOKENS))
    @example(front=[[b"one frame"], [b"another"]], back=[[pp.PPP_HEARTBEAT]])   # issue 14: the stall
    # issue 14: ten 10 MB frames kept +325 MB in the queue's event log; twenty must keep nothing
    @example(front=[[b"", b"a" * (10 * 2**20)]] * 3, back=[[b"x" * (10 * 2**20)]] * 20)
    def check(front, back):
        clients, workers = hostile_peer(lab, zmq.DEALER, frontend), hostile_peer(lab, zmq.DEALER, backend)
        send_all(clients, front)
        send_all(workers, back)
        workers.close(linger=DELIVER_MS)       # a hostile "worker" dies: the queue purges it in time
        body = b"probe %d" % next(_probes)
        lazy_probe(lab, frontend, [body], lambda r: r == [body])
        clients.close(linger=DELIVER_MS)
        still_running(lab, "queue", "worker1", "worker2")

    check()
    memory_bounded(start)
    # no silent stall: both real workers still serve
    for name in ("worker1", "worker2"):
        lab.wait_for(lambda n=name: n in {sp.worker_name(w) for w in lab.peer("queue").data["workers"]}, 3, name)


@pytest.mark.timeout(120)
def test_paranoid_worker_survives_a_hostile_queue(lab):
    endpoint = lab.endpoint("fake-queue", "tcp")
    router = lab.socket(zmq.ROUTER)
    router.bind(endpoint)
    lab.start("w", pp.worker, endpoint=endpoint, liveness=30)
    assert router.poll(5000)
    state = {"identity": router.recv_multipart()[0]}
    start = rss_mb()

    @given(batch=batches([[b"client", b"", b"x"], [pp.PPP_HEARTBEAT], [b"client", b""], [pp.PPP_READY]], PPP_TOKENS))
    @example(batch=[[b"a", b"b", b"", b"multi", b"part"], [b"client", b""], [b""]])   # 6/PPP allows the first
    def check(batch):
        send_all(router, batch, [state["identity"]])
        body = b"probe %d" % next(_probes)
        router.send_multipart([state["identity"], b"proxy", b"client", b"", body, b"part 2"])
        deadline = time.monotonic() + BOUND
        while time.monotonic() < deadline:
            if not router.poll(100):
                continue
            state["identity"], *frames = router.recv_multipart()
            if frames == [b"proxy", b"client", b"", body, b"part 2"]:
                break
            if frames == [pp.PPP_READY] and lab.peer("w").get("reconnects"):   # a new socket: ask again
                router.send_multipart([state["identity"], b"proxy", b"client", b"", body, b"part 2"])
        else:
            raise AssertionError("the worker did not answer a correct request in time")
        still_running(lab, "w")

    check()
    memory_bounded(start)


@pytest.mark.timeout(120)
def test_lazy_pirate_client_survives_a_hostile_server(lab):
    """The PPP client (Lazy Pirate): wrong, multi-part or empty replies are counted as mismatched
    and retried, never accepted and never fatal."""
    endpoint = lab.endpoint("fake-server", "tcp")
    router = lab.socket(zmq.ROUTER)
    router.bind(endpoint)
    lab.start("c", lp.client, endpoint=endpoint, requests=10**6, timeout=0.3, retries=3)
    start = rss_mb()

    @given(batch=batches([[b"c:0"], [b"c:1", b"c:1"], [b""]], [b"c:0", b"c:1", b""]))
    def check(batch):
        assert router.poll(int(BOUND * 1000)), "the client sent nothing"
        identity, *_ = router.recv_multipart()
        send_all(router, batch, [identity, b""])
        _serve_client(lab, router, "c", "replies", lambda frames: frames)
        still_running(lab, "c")

    check()
    memory_bounded(start)
    data = lab.peer("c").data
    assert all(n == 1 for n in data["answered"].values())


# ---- Simple Pirate queue, LRU broker, Lazy Pirate server -----------------------------------------

SIMPLE_AT_BACKEND = [[b"", sp.READY], [b"", b"client", b"", b"reply"], [b"", b"a", b"b", b"", b"c"]]


@pytest.mark.timeout(120)
def test_simple_pirate_queue_survives_hostile_clients_and_workers(lab):
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("queue", sp.queue, frontend=frontend, backend=backend)
    for name in ("worker1", "worker2"):
        lab.start(name, sp.worker, endpoint=backend)
    lab.wait_for(lambda: lab.peer("queue").get("ready") == 2, 5, "2 workers ready")
    start = rss_mb()

    @given(front=batches(PPP_AT_FRONTEND, PPP_TOKENS),
           back=batches(SIMPLE_AT_BACKEND, [sp.READY, b""]))
    @example(front=[[b"no delimiter"]], back=[[b"one frame"], [b""], [b"", b""]])
    def check(front, back):
        clients, workers = hostile_peer(lab, zmq.DEALER, frontend), hostile_peer(lab, zmq.DEALER, backend)
        send_all(clients, front)
        send_all(workers, back)
        workers.close(linger=DELIVER_MS)
        body = b"probe %d" % next(_probes)
        lazy_probe(lab, frontend, [body], lambda r: r == [body], bound=2 * BOUND)
        clients.close(linger=DELIVER_MS)
        still_running(lab, "queue", "worker1", "worker2")

    check()
    memory_bounded(start)


LB_AT_BACKEND = [[b"", lb.READY], [b"", b"client", b"", b"reply"], [b"", b"a", b"b", b"", b"c"]]


@pytest.mark.timeout(120)
def test_lru_broker_survives_hostile_clients_and_workers(lab):
    frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
    lab.start("broker", lb.lru_broker, frontend=frontend, backend=backend)
    for name in ("worker1", "worker2"):
        lab.start(name, lb.worker, endpoint=backend, work=0)
    lab.wait_for(lambda: lab.peer("broker").get("ready") == 2, 5, "2 workers ready")
    start = rss_mb()

    @given(front=batches(PPP_AT_FRONTEND, PPP_TOKENS),
           back=batches(LB_AT_BACKEND, [lb.READY, b""]))
    @example(front=[[b"no delimiter"]], back=[[b"one frame"], [b""], [b"", b""]])
    def check(front, back):
        clients, workers = hostile_peer(lab, zmq.DEALER, frontend), hostile_peer(lab, zmq.DEALER, backend)
        send_all(clients, front)
        send_all(workers, back)
        workers.close(linger=DELIVER_MS)
        body = b"probe %d" % next(_probes)
        lazy_probe(lab, frontend, [body], lambda r: len(r) == 1 and r[0].startswith(body + b" by worker"),
                   bound=2 * BOUND)
        clients.close(linger=DELIVER_MS)
        still_running(lab, "broker", "worker1", "worker2")

    check()
    memory_bounded(start)
    assert lab.peer("worker1").get("arrived_while_busy") == lab.peer("worker2").get("arrived_while_busy") == 0


@pytest.mark.timeout(120)
def test_lazy_pirate_server_survives_hostile_requests(lab):
    endpoint = lab.endpoint("server", "tcp")
    lab.start("server", lp.server, endpoint=endpoint)
    start = rss_mb()

    @given(batch=batches([[b"", b"request"], [b"", b"a", b"b"], [b"", b""]], [b"", b"x"]))
    def check(batch):
        sock = hostile_peer(lab, zmq.DEALER, endpoint)
        send_all(sock, batch)
        body = b"probe %d" % next(_probes)
        lazy_probe(lab, endpoint, [body], lambda r: r == [body])
        sock.close(linger=DELIVER_MS)
        still_running(lab, "server")

    check()
    memory_bounded(start)


# ---- the parsers, directly ---------------------------------------------------------------------

FRAMES = st.lists(st.one_of(st.sampled_from(MD_TOKENS + PPP_TOKENS), st.binary(max_size=300)), max_size=8)


@given(frames=FRAMES | st.lists(st.sampled_from(MD_TOKENS), max_size=7))
def test_majordomo_parsers_accept_mdp_or_say_why(frames):
    try:
        sender, header, what, rest = md.parse_at_broker(frames)
    except md.Malformed as why:
        assert str(why)
    else:
        assert frames[1] == b"" and header in (md.MDPC, md.MDPW)
        if header == md.MDPC:
            assert what.decode().isprintable() and rest
        elif what == md.READY:
            assert len(rest) == 1 and rest[0].decode().isprintable()
        elif what == md.REPLY:
            assert rest[0] and rest[1] == b"" and rest[2:]
        else:
            assert what == md.REQUEST or not rest
    try:
        command, rest = md.parse_at_worker(frames)
    except md.Malformed:
        pass
    else:
        assert command in (md.REQUEST, md.HEARTBEAT, md.DISCONNECT)
        assert command != md.REQUEST or (rest[0] and rest[1] == b"" and rest[2:])
    try:
        assert md.parse_reply(frames, b"echo") == frames[2:] and frames[2:]
    except md.Malformed:
        pass


@given(frames=FRAMES)
def test_envelope_parsers_split_exactly_or_refuse(frames):
    split = sp.split_envelope(frames)
    if split is not None:
        addresses, body = split
        assert addresses and body and all(addresses) and addresses + [b""] + body == frames
    request = pp.parse_request(frames)
    if request is not None:
        envelope, body = request
        assert body and envelope + body == frames and frames != [pp.PPP_READY]
    assert pp.what(frames) in ("ready", "heartbeat", "reply", None)
    assert lb.has_envelope(frames) == (split is not None)
    if frames:
        assert lb.worker_says(frames) in ("ready", "reply", None)
    assert slowsub.well_formed(frames[0] if frames else b"") in (True, False)
