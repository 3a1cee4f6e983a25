"""Titanic's store (issue 14): records checked on read, damaged files quarantined and answered,
durable renames (the folder is fsynced), bounded waiting for missing services, no self-chaining,
no folder polling, and a client that reads 500 from titanic.reply as "ask again later"."""
from __future__ import annotations

import os
import shutil
import stat
import struct
import tempfile

import pytest
import zmq

from zguide_py.patterns import majordomo as md
from zguide_py.patterns import titanic as ti

HB = 0.1


@pytest.fixture
def folder():
    path = tempfile.mkdtemp(prefix="titanic-store-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start(lab, folder, workers=("echo",), **dispatcher):
    """A broker, Titanic's three services, the dispatcher and one worker per service named."""
    endpoint = lab.endpoint("broker", "tcp")
    lab.start("broker", md.broker, endpoint=endpoint, heartbeat=HB, liveness=3)
    for service in ti.SERVICES:
        lab.start(service, ti.titanic_service, broker=endpoint, folder=folder, service=service, heartbeat=HB)
    lab.start("dispatcher", ti.dispatcher, broker=endpoint, folder=folder, **{"timeout": 0.3, **dispatcher})
    for service in workers:
        lab.start(f"w-{service}", md.worker, broker=endpoint, service=service, heartbeat=HB)
    lab.wait_for(lambda: len(lab.peer("broker").data["workers"]) == 3 + len(workers), 5, "workers")
    return endpoint


class Hand:
    """A hand-driven 9/TSP client (REQ over MDP) in the test thread."""

    def __init__(self, lab, endpoint):
        self.lab, self.req = lab, lab.socket(zmq.REQ)
        self.req.connect(endpoint)

    def call(self, service: bytes, *body: bytes) -> list[bytes]:
        self.req.send_multipart([md.MDPC, service, *body])
        assert self.req.poll(3000), f"no answer from {service!r}"
        header, reply_service, *reply = self.req.recv_multipart()
        assert header == md.MDPC and reply_service == service
        return reply

    def reply(self, ticket: bytes, timeout: float = 5.0) -> list[bytes]:
        """titanic.reply until it is not 300 (pending) or 500 (ask again later)."""
        def ready():
            answer = self.call(b"titanic.reply", ticket)
            return answer if ti.parse_status(answer[0]) not in (ti.PENDING, ti.ERROR) else None
        return self.lab.wait_for(ready, timeout, f"a reply for {ticket!r}")


def quarantined(folder: str) -> list[str]:
    aside = os.path.join(folder, ti.QUARANTINE)
    return sorted(os.listdir(aside)) if os.path.isdir(aside) else []


# ---- records --------------------------------------------------------------------------------------
def test_a_record_carries_a_version_and_lengths_and_is_checked_on_read():
    frames = [b"echo", b"", b"x" * 1000]
    data = ti.encode(frames)
    assert data[:4] == b"TSP\x01" and ti.decode(data) == frames
    claims_100_holds_10 = b"TSP\x01" + struct.pack("!II", 1, 100) + b"0123456789"
    cases = {
        b"": "shorter", b"ab": "shorter", b"abc": "shorter",
        claims_100_holds_10: "frame 0 claims 100 bytes but holds 10",
        b"XYZ\x01" + data[4:]: "no TSP header",
        b"TSP\x02" + data[4:]: "version 2",
        data + b"!": "after the last frame",
        data[:-1]: "no room for the checksum",
        data[:-10] + bytes([data[-10] ^ 1]) + data[-9:]: "checksum does not match",
        b"TSP\x01" + struct.pack("!I", 10**6) + bytes(8): "claims 1000000 frames",
        b"TSP\x01" + struct.pack("!I", 3) + struct.pack("!I", 1) + b"a" + bytes(4): "missing",
    }
    for damaged, why in cases.items():
        with pytest.raises(ti.Damaged, match=why):
            ti.decode(damaged)


def test_the_folder_is_fsynced_after_each_rename(folder, monkeypatch):
    """Catches "Titanic's os.fsync removed": the file is fsynced before the rename and the folder
    after it, for a stored request, a stored reply and a quarantined file alike."""
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        calls.append(("fsync", "dir" if stat.S_ISDIR(info.st_mode) else "file", info.st_ino))
        real_fsync(fd)

    def replace(src, dst, **kw):
        real_replace(src, dst, **kw)
        calls.append(("rename", os.path.dirname(os.path.abspath(dst))))

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    folder_ino = os.stat(folder).st_ino
    status, ticket = ti.store_request(folder, [b"echo", b"hi"])
    assert status == ti.OK
    assert calls == [("fsync", "file", os.stat(os.path.join(folder, ticket.decode() + ".req")).st_ino),
                     ("rename", folder), ("fsync", "dir", folder_ino)], calls
    calls.clear()
    assert ti.answer(folder, ticket.decode(), [ti.OK, b"hi"])
    assert [c[:2] for c in calls] == [("fsync", "file"), ("rename", folder), ("fsync", "dir")]
    assert calls[2][2] == folder_ino
    calls.clear()
    with open(os.path.join(folder, "0" * 32 + ".req"), "wb") as f:
        f.write(b"ab")
    assert ti.take_request(None, folder, "0" * 32) is None          # damaged: quarantined, answered 400
    aside_ino = os.stat(os.path.join(folder, ti.QUARANTINE)).st_ino
    assert [c[:2] for c in calls[:3]] == [("fsync", "file"), ("rename", folder), ("fsync", "dir")]   # the 400
    assert calls[3:] == [("rename", os.path.join(folder, ti.QUARANTINE)), ("fsync", "dir", folder_ino),
                         ("fsync", "dir", aside_ino)], calls
    assert ti.read_reply(folder, "0" * 32)[0].startswith(b"400 request damaged on disk")


# ---- damaged files: quarantined, answered, and nobody dies ------------------------------------------
def write_raw(folder: str, name: str, data: bytes) -> None:
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


@pytest.mark.timeout(60)
def test_damaged_requests_are_quarantined_and_answered_and_the_dispatcher_lives(lab, folder):
    """A 0- or 2-byte .req and a frame that claims 100 bytes but holds 10 killed the dispatcher
    at every start. Now each is moved aside, logged and answered 400; the good one is served."""
    bad = {"a" * 32: b"", "b" * 32: b"ab",
           "c" * 32: b"TSP\x01" + struct.pack("!II", 2, 4) + b"echo" + struct.pack("!I", 100) + b"0123456789",
           "d" * 32: ti.encode([b"titanic.request", b"echo", b"chain"])}         # a stored self-chain
    for ticket, data in bad.items():
        write_raw(folder, ticket + ".req", data)
    write_raw(folder, "junk.req", b"x")                                    # not even a ticket name
    good = ti.store_request(folder, [b"echo", b"good"])[1]
    endpoint = start(lab, folder)
    hand = Hand(lab, endpoint)
    assert hand.reply(good) == [b"200", b"good"]
    for ticket in bad:
        status = hand.call(b"titanic.reply", ticket.encode())[0]
        assert status.startswith(b"400 request damaged on disk"), status
    events = {e.get("ticket"): e.get("why") for e in lab.events_of("quarantined", "dispatcher")}
    assert set(events) == {*bad, "junk"}
    assert "frame 1 claims 100 bytes but holds 10" in events["c" * 32]
    assert "own services" in events["d" * 32]
    assert len(quarantined(folder)) == 5 and not ti.pending(folder)
    assert lab.peer("dispatcher").get("quarantined") == 5
    # a new damaged request while it runs, then a restart with one more on disk: it carries on
    write_raw(folder, "e" * 32 + ".req", b"TSP")
    lab.restart("dispatcher")
    second = hand.call(b"titanic.request", b"echo", b"after")[1]
    assert hand.reply(second) == [b"200", b"after"]
    assert hand.call(b"titanic.reply", b"e" * 32)[0].startswith(b"400 request damaged")
    assert lab.peer("dispatcher").state == "running" and len(quarantined(folder)) == 6
    lab.check()


@pytest.mark.timeout(60)
def test_a_damaged_reply_is_quarantined_answered_500_and_the_request_runs_again(lab, folder):
    """A 3-byte .rep killed titanic.reply. Now it answers 500 (ask again later, per 9/TSP), moves
    the file aside and hands the ticket back to the dispatcher, which runs the request again."""
    endpoint = start(lab, folder)
    hand = Hand(lab, endpoint)
    ticket = hand.call(b"titanic.request", b"echo", b"again")[1]
    assert hand.reply(ticket) == [b"200", b"again"]
    served = lab.peer("w-echo").get("requests")
    for damage in (b"abc", ti.encode([b"200", b"again"])[:-2], ti.encode([b"not a status"])):
        write_raw(folder, ticket.decode() + ".rep", damage)
        status = hand.call(b"titanic.reply", ticket)[0]
        assert status.startswith(b"500 "), status
        assert hand.reply(ticket) == [b"200", b"again"]                   # run again, stored again
    assert lab.peer("w-echo").get("requests") == served + 3
    assert lab.peer("titanic.reply").state == "running"
    assert [e.get("ticket") for e in lab.events_of("quarantined", "titanic.reply")] == [ticket.decode()] * 3
    assert len(quarantined(folder)) == 3
    lab.check()


# ---- bounded waiting, no chains, no polling ---------------------------------------------------------
@pytest.mark.timeout(60)
def test_tickets_for_a_service_that_never_appears_are_closed_with_a_reply_that_says_so(lab, folder):
    endpoint = start(lab, folder, retry=0.1, patience=0.6)
    hand = Hand(lab, endpoint)
    tickets = [hand.call(b"titanic.request", b"nosuch", f"{i}".encode())[1] for i in range(30)]
    assert hand.call(b"titanic.reply", tickets[0]) == [b"300"]
    for ticket in tickets:
        [status] = hand.reply(ticket, timeout=5)
        assert status == b"400 service 'nosuch' did not appear within 0.6 s"
    # asked about once per service and retry, not once per ticket every 50 ms
    mmi = lab.peer("broker").get("mmi")
    assert 3 <= mmi <= 15, mmi
    expired = [e.get("ticket") for e in lab.events_of("expired", "dispatcher")]
    asked = {t.decode() for t in tickets}
    assert len(expired) == 30 and set(expired) == asked, (len(expired), asked - set(expired), set(expired) - asked)
    # a service that appears in time is served
    ticket = hand.call(b"titanic.request", b"upper", b"late")[1]
    lab.start("w-upper", md.worker, broker=endpoint, service="upper", heartbeat=HB)
    assert hand.reply(ticket) == [b"200", b"LATE"]
    lab.check()


@pytest.mark.timeout(60)
def test_requests_for_titanic_services_are_refused(lab, folder):
    """One request addressed to titanic.request chained itself into 339 files in 15 s."""
    endpoint = start(lab, folder)
    hand = Hand(lab, endpoint)
    for service in (b"titanic.request", b"titanic.reply", b"titanic.close", b"titanic.anything"):
        [status] = hand.call(b"titanic.request", service, b"echo", b"x")
        assert status == b"400 Titanic does not queue requests for its own services"
    assert ti.stored(folder) == {"requests": 0, "replies": 0}
    assert lab.peer("titanic.request").get("refused") == 4
    for body in ([b"echo"], [b"", b"x"], [b"\xff", b"x"], [b"a" * 256, b"x"]):
        assert hand.call(b"titanic.request", *body)[0].startswith(b"400 ")
    assert ti.store_request(folder, []) == [b"400 needs [service, request...]"]   # (the broker drops it)
    for service in (b"titanic.reply", b"titanic.close"):
        for body in ([b"x"], [b"0" * 31], [b"0" * 32, b"more"], [b"\xff" * 32]):
            assert hand.call(service, *body) == [b"400 needs [ticket]"]
    assert os.listdir(folder) == []
    lab.check()


@pytest.mark.timeout(60)
def test_the_dispatcher_learns_new_tickets_from_titanic_request_not_by_listing_the_folder(lab, folder, monkeypatch):
    listed = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": listed.append(path) or real_listdir(path))
    endpoint = start(lab, folder)
    hand = Hand(lab, endpoint)
    lab.wait_for(lambda: folder in listed, 5, "the scan at start")
    for i in range(20):
        ticket = hand.call(b"titanic.request", b"echo", f"{i}".encode())[1]
        assert hand.reply(ticket, timeout=2) == [b"200", f"{i}".encode()]
    assert listed.count(folder) == 1, "the dispatcher lists the folder once, when it starts"
    # its inbox takes only tickets, and only those of stored requests
    push = lab.socket(zmq.PUSH)
    push.connect(ti.inbox_endpoint(folder))
    for frames in ([b"x"], [b"0" * 32], [b"0" * 32, b"1"], [b""], [b"\xff" * 32]):
        push.send_multipart(frames)
    ticket = hand.call(b"titanic.request", b"echo", b"still")[1]
    assert hand.reply(ticket, timeout=2) == [b"200", b"still"]
    assert lab.peer("dispatcher").get("malformed") == 4 and lab.peer("dispatcher").state == "running"
    lab.check()


# ---- the client: 500 means ask again later -------------------------------------------------------------
def fake_titanic(lab, answers):
    """Play the broker and Titanic for one client (requests=1): ``answers[service]`` is a list of
    replies to give in turn (the last one repeats). Returns what the client asked, in order."""
    router = lab.socket(zmq.ROUTER)
    endpoint = lab.endpoint("fake-broker", "tcp")
    router.bind(endpoint)
    lab.start("client", ti.client, broker=endpoint, service="echo", requests=1, timeout=0.3, poll=0.01)
    client, asked = lab.peer("client"), []
    while client.alive:
        if not router.poll(10):
            lab.check()
            continue
        identity, _empty, _header, service, *body = router.recv_multipart()
        asked.append(service)
        queue = answers[service]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        router.send_multipart([identity, b"", md.MDPC, service, *answer])
    return client, asked


def test_the_client_reads_500_from_titanic_reply_as_ask_again_later(lab):
    ticket = b"0123456789abcdef0123456789abcdef"
    client, asked = fake_titanic(lab, {
        b"titanic.request": [[b"200", ticket]],
        b"titanic.reply": [[b"500"], [b"500 disk busy"], [b"300"], [b"200", b"echo 0"]],
        b"titanic.close": [[b"200"]]})
    assert client.state == "done" and client.data["done"], client.data
    assert client.data["replies"] == {ticket.decode(): "echo 0"} and client.data["unknown"] == []
    assert asked.count(b"titanic.reply") == 4


def test_the_client_retries_a_malformed_answer_and_counts_a_400_as_an_unknown_ticket(lab):
    ticket = b"0123456789abcdef0123456789abcdef"
    client, _ = fake_titanic(lab, {
        b"titanic.request": [[b"not a status"], [b"200"], [b"200", b"short"], [b"200", ticket]],
        b"titanic.reply": [[b"400 service 'echo' did not appear within 60 s"]],
        b"titanic.close": [[b"200"]]})
    assert client.data["done"] and client.data["unknown"] == [ticket.decode()] and not client.data["replies"]
    assert client.get("not accepted") == 3 and client.get("malformed") == 1


def test_the_client_keeps_a_wrong_reply_aside_and_goes_on(lab):
    ticket = b"0123456789abcdef0123456789abcdef"
    client, asked = fake_titanic(lab, {
        b"titanic.request": [[b"200", ticket]],
        b"titanic.reply": [[b"200", b"not echo 0"]],
        b"titanic.close": [[b"200"]]})
    assert client.data["done"] and client.data["wrong"] == {ticket.decode(): [b"not echo 0"]}
    assert not client.data["replies"] and client.get("wrong reply") == 1 and asked[-1] == b"titanic.close"


def test_no_ticket_when_the_dispatcher_cannot_be_told(folder):
    """A dispatcher far behind (its inbox full) must not be handed a ticket it will never hear of:
    the request is taken back and the client told 500, ask again later."""
    assert ti.store_request(folder, [b"echo", b"x"], tell=lambda ticket: False) == [
        b"500 the dispatcher is busy, try again later"]
    assert os.listdir(folder) == []
    told = []
    status, ticket = ti.store_request(folder, [b"echo", b"x"], tell=lambda t: told.append(t) or True)
    assert status == ti.OK and told == [ticket.decode()] and ti.stored(folder)["requests"] == 1
