"""Fuzz Titanic (issue 14, item 2): hostile bodies for its three services, hostile tickets in the
dispatcher's inbox, hostile replies to its client, and damaged files in its folder. After every
batch a correct 9/TSP exchange is served within a bound, every role is still running, and memory
stays bounded. The parsers and the record format are property-tested directly too."""
from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
import uuid

import pytest
import zmq
from fuzzkit import hostile, mutated, rss_mb
from hypothesis import given
from hypothesis import strategies as st

from zguide_py.patterns import majordomo as md
from zguide_py.patterns import titanic as ti

HB = 0.1
RSS_GROWTH_MB = 150
TICKET = b"0123456789abcdef0123456789abcdef"
TOKENS = [b"echo", TICKET, b"titanic.request", b"titanic.reply", b"200", b"300", b"400", b"500",
          b"500 later", md.MDPC, b"mmi.service"]
VALID_BODIES = [[b"echo", b"hello"], [TICKET], [b"upper", b"a", b"b"]]
TITANIC = [*ti.SERVICES, "dispatcher"]


@pytest.fixture
def folder():
    path = tempfile.mkdtemp(prefix="titanic-fuzz-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start(lab, folder):
    endpoint = lab.endpoint("broker", "tcp")
    lab.start("broker", md.broker, endpoint=endpoint, heartbeat=HB, liveness=3)
    for service in ti.SERVICES:
        lab.start(service, ti.titanic_service, broker=endpoint, folder=folder, service=service, heartbeat=HB)
    lab.start("dispatcher", ti.dispatcher, broker=endpoint, folder=folder, timeout=0.3, retry=0.1, patience=1.0)
    lab.start("w-echo", md.worker, broker=endpoint, service="echo", heartbeat=HB)
    lab.wait_for(lambda: len(lab.peer("broker").data["workers"]) == 4, 5, "workers")
    return endpoint


class Hand:
    """A correct 9/TSP client in the test thread (REQ over MDP)."""

    def __init__(self, lab, endpoint):
        self.lab, self.endpoint, self.req = lab, endpoint, None

    def call(self, service: bytes, *body: bytes) -> list[bytes] | None:
        if self.req is None:
            self.req = self.lab.socket(zmq.REQ)
            self.req.connect(self.endpoint)
        self.req.send_multipart([md.MDPC, service, *body])
        if not self.req.poll(1000):             # a lost answer: a fresh socket, ask again
            self.req.close(linger=0)
            self.req = None
            return None
        header, reply_service, *reply = self.req.recv_multipart()
        assert header == md.MDPC and reply_service == service
        return reply

    def ticket(self, body: bytes, timeout: float = 10.0) -> bytes:
        """A ticket for an echo of ``body``. A lost answer is asked again, as a 9/TSP client does:
        the lost one's ticket may then exist too, never collected (Titanic is at least once)."""
        return self.lab.wait_for(lambda: (self.call(b"titanic.request", b"echo", body) or [None, None])[1],
                                 timeout, "a ticket")

    def served(self, body: bytes, timeout: float = 10.0) -> None:
        """Request, collect and close one ticket; the reply must be the echo of ``body``."""
        ticket = self.ticket(body, timeout)
        reply = self.lab.wait_for(lambda: (r := self.call(b"titanic.reply", ticket)) and r[0] == b"200" and r,
                                  timeout, "the reply")
        assert reply == [b"200", body]
        assert self.lab.wait_for(lambda: self.call(b"titanic.close", ticket), timeout, "the close") == [b"200"]


def all_running(lab, names) -> None:
    lab.check()
    assert all(lab.peer(n).state == "running" for n in names), {n: lab.peer(n).state for n in names}


def forget_everything(folder: str) -> None:
    """What titanic.close does for every ticket, so many big examples do not fill the disk."""
    for name in os.listdir(folder):
        if name.endswith(".req"):
            for suffix in (".req", ".rep"):
                try:
                    os.remove(os.path.join(folder, name[:-4] + suffix))
                except FileNotFoundError:
                    pass


# ---- the parsers and the record format ------------------------------------------------------------
@pytest.mark.fuzz
@given(batch=hostile(TOKENS) | mutated(VALID_BODIES, TOKENS))
def test_the_parsers_take_anything(batch):
    for frames in batch:
        ticket = ti.parse_ticket(frames)
        assert ticket is None or (len(ticket) == 32 and ticket.isalnum())
        assert ti.parse_status(frames[0]) in (None, b"200", b"300", b"400", b"500")
        why = ti.check_request(frames)
        assert why is None or isinstance(why, str)
        assert ti.with_why(b"400", repr(frames)).startswith(b"400 ")
        assert ti.parse_status(ti.with_why(b"400", repr(frames))) == b"400"


@pytest.mark.fuzz
@given(frames=st.lists(st.binary(max_size=300), max_size=20), junk=st.binary(max_size=200),
       cut=st.integers(0, 10**6), flip=st.integers(0, 10**6), bit=st.integers(0, 7))
def test_a_record_reads_back_whole_and_any_damage_is_detected(frames, junk, cut, flip, bit):
    data = ti.encode(frames)
    assert ti.decode(data) == frames
    flipped = bytearray(data)
    flipped[flip % len(data)] ^= 1 << bit
    for damaged in (data[: cut % len(data)], bytes(flipped), data + (junk or b"x"), junk):
        with pytest.raises(ti.Damaged):
            ti.decode(damaged)


# ---- the three services ----------------------------------------------------------------------------
@pytest.mark.fuzz
@pytest.mark.timeout(120)
def test_the_titanic_services_survive_hostile_bodies(lab, folder):
    endpoint = start(lab, folder)
    hand = Hand(lab, endpoint)
    raw = lab.socket(zmq.DEALER)
    raw.connect(endpoint)
    base = rss_mb()

    @given(batch=hostile(TOKENS) | mutated(VALID_BODIES, TOKENS),
           services=st.lists(st.sampled_from(ti.SERVICES), min_size=8, max_size=8))
    def survives(batch, services):
        for body, service in zip(batch, services):
            raw.send_multipart([b"", md.MDPC, service.encode(), *body])
        hand.served(f"after {len(batch)}".encode())
        all_running(lab, ["broker", *TITANIC])
        while raw.poll(0):
            raw.recv_multipart()
        forget_everything(folder)
        assert rss_mb() - base < RSS_GROWTH_MB

    survives()
    assert not ti.pending(folder)


# ---- the dispatcher's inbox and the folder ---------------------------------------------------------
@pytest.mark.fuzz
@pytest.mark.timeout(120)
def test_the_dispatcher_inbox_survives_hostile_messages(lab, folder):
    endpoint = start(lab, folder)
    hand = Hand(lab, endpoint)
    push = lab.socket(zmq.PUSH)
    push.connect(ti.inbox_endpoint(folder))
    base = rss_mb()

    @given(batch=hostile(TOKENS) | mutated([[TICKET], [uuid.uuid4().hex.encode()]], TOKENS))
    def survives(batch):
        for frames in batch:
            push.send_multipart(frames)
        hand.served(b"inbox")
        all_running(lab, TITANIC)
        assert rss_mb() - base < RSS_GROWTH_MB

    survives()


def damaged_records() -> st.SearchStrategy[bytes]:
    """What a damaged file may hold: random bytes, or a valid record cut short, with a bit
    flipped, or with junk after it."""
    record = st.lists(st.binary(max_size=40), min_size=2, max_size=4).map(lambda f: ti.encode([b"echo", *f[1:]]))

    def cut(data_and_n):
        data, n = data_and_n
        return data[: n % len(data)]

    def flip(data_and_n):
        data, n = data_and_n
        return data[: n % len(data)] + bytes([data[n % len(data)] ^ 0x10]) + data[n % len(data) + 1:]

    pairs = st.tuples(record, st.integers(0, 10**6))
    return st.one_of(st.binary(max_size=200), pairs.map(cut), pairs.map(flip),
                     st.tuples(record, st.binary(min_size=1, max_size=8)).map(lambda p: p[0] + p[1]),
                     st.just(b"TSP\x01" + struct.pack("!II", 2, 4) + b"echo" + struct.pack("!I", 100) + bytes(10)))


@pytest.mark.fuzz
@pytest.mark.timeout(120)
def test_damaged_store_files_are_quarantined_and_the_dispatcher_keeps_serving(lab, folder):
    endpoint = start(lab, folder)
    hand = Hand(lab, endpoint)
    push = lab.socket(zmq.PUSH)
    push.connect(ti.inbox_endpoint(folder))
    base = rss_mb()

    @given(data=damaged_records(), as_reply=st.booleans())
    def survives(data, as_reply):
        if as_reply:                           # a damaged .rep: 500 now, the request runs again
            ticket = hand.ticket(b"damaged reply")
            lab.wait_for(lambda: os.path.exists(os.path.join(folder, ticket.decode() + ".rep")), 5, "the reply")
            with open(os.path.join(folder, ticket.decode() + ".rep"), "wb") as f:
                f.write(data)
            assert hand.call(b"titanic.reply", ticket)[0].startswith(b"500 ")
            assert lab.wait_for(lambda: (r := hand.call(b"titanic.reply", ticket))[0] == b"200" and r, 5,
                                "the request to run again") == [b"200", b"damaged reply"]
        else:                                  # a damaged .req, handed over as titanic.request would
            ticket = uuid.uuid4().hex.encode()
            with open(os.path.join(folder, ticket.decode() + ".req"), "wb") as f:
                f.write(data)
            push.send(ticket)
            lab.wait_for(lambda: not os.path.exists(os.path.join(folder, ticket.decode() + ".req")), 5,
                         "the damaged request to be quarantined")
            assert hand.call(b"titanic.reply", ticket)[0].startswith(b"400 request damaged on disk")
        assert hand.call(b"titanic.close", ticket) == [b"200"]
        hand.served(b"after damage")
        all_running(lab, TITANIC)
        assert rss_mb() - base < RSS_GROWTH_MB

    survives()
    quarantined = os.listdir(os.path.join(folder, ti.QUARANTINE))
    assert quarantined and lab.peer("dispatcher").get("quarantined") + lab.peer("titanic.reply").get(
        "quarantined") == len(quarantined)
    # a restart finds damage left on disk (no inbox this time): the scan moves it aside, and serves
    damaged = [f"{i}" * 32 + ".req" for i in range(5)]
    for i, name in enumerate(damaged):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(b"\x00" * i)
    lab.restart("dispatcher")
    hand.served(b"after restart")
    assert not set(damaged) & set(os.listdir(folder))      # all moved aside (a lost answer's ticket may stay)
    aside = os.listdir(os.path.join(folder, ti.QUARANTINE))
    assert all(any(n.startswith(name + ".") for n in aside) for name in damaged), aside
    all_running(lab, TITANIC)


# ---- the client ------------------------------------------------------------------------------------
class FakeTitanic:
    """Plays the broker and Titanic for the client on a ROUTER: answers each request with the next
    hostile message queued, if any, else correctly (tickets it issued answer with the echo)."""

    def __init__(self, lab):
        self.lab, self.router = lab, lab.socket(zmq.ROUTER)
        self.endpoint = lab.endpoint("fake-broker", "tcp")
        self.router.bind(self.endpoint)
        self.hostile: list[list[bytes]] = []
        self.issued: dict[bytes, bytes] = {}

    def answer(self, service: bytes, body: list[bytes]) -> list[bytes]:
        if service == b"titanic.request" and len(body) == 2:
            ticket = uuid.uuid4().hex.encode()
            self.issued[ticket] = body[1]
            return [b"200", ticket]
        if service == b"titanic.reply" and body and body[0] in self.issued:
            return [b"200", self.issued[body[0]]]
        return [b"200"] if service == b"titanic.close" else [b"400"]

    def serve_until(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what} not within {timeout} s"
            self.lab.check()
            if not self.router.poll(10):
                continue
            identity, _empty, _header, service, *body = self.router.recv_multipart()
            reply = self.hostile.pop(0) if self.hostile else [md.MDPC, service, *self.answer(service, body)]
            self.router.send_multipart([identity, b"", *reply])


@pytest.mark.fuzz
@pytest.mark.timeout(120)
def test_the_client_survives_hostile_replies(lab):
    fake = FakeTitanic(lab)
    lab.start("client", ti.client, broker=fake.endpoint, service="echo", requests=10**6, interval=0.001,
              timeout=0.2, poll=0.005)
    client = lab.peer("client")
    base = rss_mb()
    valid = [[md.MDPC, b"titanic.request", b"200", TICKET], [md.MDPC, b"titanic.reply", b"200", b"echo 1"],
             [md.MDPC, b"titanic.reply", b"300"], [md.MDPC, b"titanic.close", b"200"]]

    @given(batch=hostile(TOKENS) | mutated(valid, TOKENS))
    def survives(batch):
        fake.hostile.extend(batch)
        fake.serve_until(lambda: not fake.hostile, 10, "the hostile replies to go out")
        replies = client.get("replies")
        fake.serve_until(lambda: client.get("replies") >= replies + 2, 10, "two correct replies after them")
        assert client.state == "running"
        assert rss_mb() - base < RSS_GROWTH_MB

    survives()
    right = {t: r for t, r in client.data["replies"].items()}
    assert all(fake.issued[t.encode()] == r.encode() for t, r in right.items())
