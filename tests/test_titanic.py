"""Titanic (9/TSP): requests persisted before the ticket; nothing accepted is lost across restarts."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time

import pytest
import zmq

from zguide_py import Scenario, procs
from zguide_py.patterns import majordomo as md
from zguide_py.patterns import titanic as ti

HB = 0.1
TITANIC = [*ti.SERVICES, "dispatcher"]


@pytest.fixture
def folder():
    path = tempfile.mkdtemp(prefix="titanic-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_all(lab, folder, workers=2):
    endpoint = lab.endpoint("broker", "tcp")
    lab.start("broker", md.broker, endpoint=endpoint, heartbeat=HB, liveness=3)
    for service in ti.SERVICES:
        lab.start(service, ti.titanic_service, broker=endpoint, folder=folder, service=service,
                  heartbeat=HB, liveness=3)
    lab.start("dispatcher", ti.dispatcher, broker=endpoint, folder=folder, timeout=0.3)
    for i in range(workers):
        lab.start(f"w{i + 1}", md.worker, broker=endpoint, service="echo", heartbeat=HB, liveness=3)
    lab.wait_for(lambda: len(lab.peer("broker").data["workers"]) == 3 + workers, 5, "workers")
    return endpoint


def call(req, service, *body):
    req.send_multipart([md.MDPC, service, *body])
    assert req.poll(3000), f"no answer from {service!r}"
    header, reply_service, *reply = req.recv_multipart()
    assert header == md.MDPC and reply_service == service
    return reply


@pytest.mark.timeout(60)
def test_services_and_status_codes(lab, folder):
    endpoint = start_all(lab, folder, workers=0)
    req = lab.socket(zmq.REQ)
    req.connect(endpoint)
    status, ticket = call(req, b"titanic.request", b"echo", b"hello")
    assert status == b"200" and re.fullmatch(rb"[0-9a-f]{32}", ticket)
    # persisted before the ticket was given
    assert os.path.exists(os.path.join(folder, ticket.decode() + ".req"))
    # nobody offers echo yet: pending
    assert call(req, b"titanic.reply", ticket) == [b"300"]
    lab.start("w1", md.worker, broker=endpoint, service="echo", heartbeat=HB)
    lab.wait_for(lambda: ti.stored(folder)["replies"] == 1, 5, "the reply to be stored")
    assert call(req, b"titanic.reply", ticket) == [b"200", b"hello"]
    assert call(req, b"titanic.reply", ticket) == [b"200", b"hello"]      # idempotent
    assert call(req, b"titanic.close", ticket) == [b"200"]
    assert ti.stored(folder) == {"requests": 0, "replies": 0}
    assert call(req, b"titanic.close", ticket) == [b"200"]                 # idempotent too
    assert call(req, b"titanic.reply", ticket) == [b"400"]                 # now unknown
    assert call(req, b"titanic.reply", b"not-a-ticket") == [b"400 needs [ticket]"]
    assert call(req, b"titanic.request", b"echo") == [b"400 needs [service, request...]"]   # no body
    lab.check()


@pytest.mark.timeout(60)
def test_accepted_requests_survive_broker_worker_and_titanic_restart(lab, folder):
    endpoint = start_all(lab, folder)
    n = 40
    lab.start("client", ti.client, broker=endpoint, service="echo", requests=n, interval=0.03,
              timeout=0.4)
    crash = Scenario("everything restarts", seed=3)
    crash.after(8, "client", "accepted", "kill", "broker")
    for w in ("w1", "w2"):
        crash.after(8, "client", "accepted", "kill", w)
    crash.at(0.9, "restart", "broker")
    for name in TITANIC:                          # Titanic itself dies too: only the disk remains
        crash.at(0.7, "kill", name)
        crash.at(1.2, "restart", name)
    for w in ("w1", "w2"):
        crash.at(1.5, "restart", w)
    crash.chaos(["w1", "w2"], kills=3, start=2.0, end=3.0, downtime=(0.1, 0.3))
    report = lab.run(crash, seconds=40, until=lambda: lab.peer("client").state == "done")
    fired = [s.label for s in report.steps if s.fired_at is not None and not s.error]
    assert {"kill broker", "kill w1", "kill w2", "restart broker", "restart dispatcher"} <= set(fired), report
    client = lab.peer("client")
    tickets, replies = client.data["tickets"], client.data["replies"]
    assert client.data.get("done"), client.snapshot()
    assert len(tickets) == n                                  # N accepted...
    assert set(replies) == set(tickets)                       # ...N replies, matched by ticket
    assert all(replies[t] == tickets[t] for t in tickets)     # each the echo of its own request
    assert client.data["unknown"] == []
    assert client.get("timeouts") >= 1                        # the broker really was down
    # the client's events name their ticket as a field: one accepted and one replied per ticket
    assert sorted(e.get("ticket") for e in lab.events_of("accepted", "client")) == sorted(tickets)
    assert sorted(e.get("ticket") for e in lab.events_of("replied", "client")) == sorted(tickets)
    # every accepted ticket was closed; what is left on disk are orphans (acks that got lost)
    left = {name[:32] for name in os.listdir(folder)}
    assert not left & set(tickets)
    names = set(os.listdir(folder))
    assert all(n[:32] + ".req" in names for n in names if n.endswith(".rep")), names   # no stray replies
    lab.check()


@pytest.mark.timeout(60)
def test_dispatcher_finds_requests_stored_before_it_started(lab, folder):
    """Requests on disk from an earlier run are delivered by a freshly started Titanic."""
    for i in range(5):
        ti.store_request(folder, [b"upper", f"old {i}".encode()])
    assert len(ti.pending(folder)) == 5
    endpoint = lab.endpoint("broker", "tcp")
    lab.start("broker", md.broker, endpoint=endpoint, heartbeat=HB)
    lab.start("dispatcher", ti.dispatcher, broker=endpoint, folder=folder)
    lab.start("u", md.worker, broker=endpoint, service="upper", heartbeat=HB)
    lab.wait_for(lambda: not ti.pending(folder), 10, "every stored request to be answered")
    replies = sorted(ti.read_record(folder, f)[1] for f in os.listdir(folder) if f.endswith(".rep"))
    assert replies == [f"OLD {i}".encode() for i in range(5)]
    lab.check()


def test_client_asks_again_until_titanic_close_is_acknowledged(lab):
    """A titanic.close that goes unanswered (the broker died, say) is retried: closing is idempotent,
    and a ticket that is never closed stays on disk as an orphan. A hand-made broker plays
    Titanic over the MDP client protocol and ignores the first close."""
    router = lab.socket(zmq.ROUTER)
    endpoint = lab.endpoint("fake-broker", "tcp")
    router.bind(endpoint)
    lab.start("client", ti.client, broker=endpoint, service="echo", requests=1, timeout=0.2, poll=0.01)
    ticket = "0123456789abcdef0123456789abcdef"
    closes = []
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    client = lab.peer("client")
    while client.alive:
        lab.wait_for(lambda: poller.poll(10) or not client.alive, 5, "a request from the client")
        if not client.alive:
            break
        identity, empty, header, service, *body = router.recv_multipart()
        assert empty == b"" and header == md.MDPC
        if service == b"titanic.request":
            assert body == [b"echo", b"echo 0"]
            answer = [ti.OK, ticket.encode()]
        elif service == b"titanic.reply":
            assert body == [ticket.encode()]
            answer = [ti.OK, b"echo 0"]
        else:
            assert service == b"titanic.close" and body == [ticket.encode()]
            closes.append(body)
            if len(closes) == 1:
                continue                             # lost: no answer to the first close
            answer = [ti.OK]
        router.send_multipart([identity, b"", md.MDPC, service, *answer])
    assert client.state == "done" and client.data["done"], client.data
    assert client.data["replies"] == {ticket: "echo 0"}
    assert len(closes) == 2 and client.get("close retries") == 1


# ---- the crash test: real processes, SIGKILLed at seeded points ------------------------------------
CRASH_REQUESTS = 30


@pytest.mark.timeout(90)
@pytest.mark.parametrize("seed", range(5))
def test_no_accepted_ticket_is_lost_when_processes_are_sigkilled(lab, folder, seed):
    """The broker, Titanic (its four processes at once: a crash of Titanic) and the echo worker
    run as processes of their own (``python -m zguide_py run ...``) and are SIGKILLed at seeded
    times while a client submits; each comes back after a seeded downtime. Every ticket the client
    was given is answered with the reply to its own request: 0 accepted tickets lost."""
    for role in (md.broker, md.worker, ti.titanic_service, ti.dispatcher):
        procs.endpoint_params(role)     # read each role's source once, here: ast.parse is not thread-safe
    endpoint = lab.endpoint("broker", "tcp")
    lab.start("broker", procs.process, target="majordomo.broker", endpoint=endpoint, heartbeat=HB, liveness=3)
    for service in ti.SERVICES:
        lab.start(service, procs.process, target="titanic.titanic_service", broker=endpoint, folder=folder,
                  service=service, heartbeat=HB, liveness=3)
    lab.start("dispatcher", procs.process, target="titanic.dispatcher", broker=endpoint, folder=folder,
              timeout=0.3, retry=0.1)
    lab.start("worker", procs.process, target="majordomo.worker", broker=endpoint, service="echo",
              heartbeat=HB, liveness=3, throttle=0.1)         # slower than the client: tickets pile up
    everyone = ["broker", *TITANIC, "worker"]
    lab.wait_for(lambda: all(lab.peer(n).data.get("up") for n in everyone), 30, "every process to start")
    lab.start("client", ti.client, broker=endpoint, service="echo", requests=CRASH_REQUESTS, interval=0.03,
              timeout=0.3, poll=0.02)
    crash = Scenario(f"SIGKILL titanic, broker and worker, seed {seed}", seed=seed)
    for group in (TITANIC, ["broker"], ["worker"]):
        t_kill, down = round(crash.rng.uniform(0.3, 1.0), 3), round(crash.rng.uniform(0.1, 0.6), 3)
        for name in group:
            crash.at(t_kill, "kill", name).at(t_kill + down, "restart", name)
    started = time.monotonic()
    report = lab.run(crash, seconds=30, until=lambda: lab.peer("client").state == "done")
    client = lab.peer("client")
    assert not report.errors and all(s.fired_at is not None and not s.error for s in report.steps), report
    kills = [s.fired_at for s in report.steps if s.label.startswith("kill")]
    assert len(kills) == 6 and max(kills) < report.duration
    assert client.data.get("done"), (client.snapshot(), lab.status())
    tickets, replies = client.data["tickets"], client.data["replies"]
    assert len(tickets) == CRASH_REQUESTS and set(replies) == set(tickets)        # 0 accepted tickets lost
    assert all(replies[t] == tickets[t] for t in tickets)
    assert client.data["unknown"] == [] and client.data["wrong"] == {} and client.data["refused"] == []
    assert all(lab.peer(n).data["history"][-1]["exit"] is None for n in everyone)  # all back, running
    assert all(len(lab.peer(n).data["history"]) == 2 for n in everyone)            # each killed once
    # not vacuous: tickets were open when Titanic died, and were answered after it came back
    accepted = {e.get("ticket"): e.t for e in report.events_of("accepted", "client")}
    replied = {e.get("ticket"): e.t for e in report.events_of("replied", "client")}
    died = min(e.t for e in report.events_of("kill") if e.peer in TITANIC)
    crossed = [t for t in accepted if accepted[t] < died < replied[t]]
    assert crossed, "no ticket was open when Titanic was killed"
    print(f"seed {seed}: {time.monotonic() - started:.1f} s, kills at {sorted(kills)}, "
          f"client retries {client.get('not accepted')}, tickets open at Titanic's crash {len(crossed)}")
