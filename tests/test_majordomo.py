"""Majordomo (7/MDP + 8/MMI): wire format frame by frame, MMI answers, dead workers removed."""
from __future__ import annotations

import time

import pytest
import zmq

from zguide_py.patterns import majordomo as md
from zguide_py.views import majordomo as views

HB = 0.1
LIVENESS = 3


def recv_skipping_heartbeats(sock, timeout=2.0):
    """Next non-HEARTBEAT message on a raw worker or broker socket (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sock.poll(50):
            frames = sock.recv_multipart()
            if frames[-1] == md.HEARTBEAT and md.MDPW in frames and len(frames) <= 4:
                continue
            return frames
    raise TimeoutError("no message")


def start_broker(lab, **params):
    endpoint = lab.endpoint("broker", "tcp")
    lab.start("broker", md.broker, endpoint=endpoint, heartbeat=HB, liveness=LIVENESS, **params)
    return endpoint


def registered(lab):
    return lab.peer("broker").data.get("workers", {})


@pytest.mark.timeout(60)
def test_mmi_answers_200_404_501(lab):
    endpoint = start_broker(lab)
    lab.start("echo1", md.worker, broker=endpoint, service="echo", heartbeat=HB, liveness=LIVENESS)
    lab.wait_for(lambda: "echo" in registered(lab).values(), 3, "echo worker to register")
    req = lab.socket(zmq.REQ, rcvtimeo=2000)
    req.connect(endpoint)
    answers = {}
    for service, body in [(b"mmi.service", b"echo"), (b"mmi.service", b"no-such-service"),
                          (b"mmi.unheard-of", b"x")]:
        req.send_multipart([md.MDPC, service, body])
        header, reply_service, code = req.recv_multipart()
        assert header == md.MDPC and reply_service == service
        answers[(service, body)] = code
    assert answers[(b"mmi.service", b"echo")] == b"200"
    assert answers[(b"mmi.service", b"no-such-service")] == b"404"
    assert answers[(b"mmi.unheard-of", b"x")] == b"501"


@pytest.mark.timeout(60)
def test_worker_wire_format_frame_by_frame(lab):
    """Our worker against a raw ROUTER standing in for a broker: READY, HEARTBEAT, REPLY, DISCONNECT."""
    endpoint = lab.endpoint("fake-broker", "tcp")
    router = lab.socket(zmq.ROUTER)
    router.bind(endpoint)
    lab.start("w", md.worker, broker=endpoint, service="upper", heartbeat=HB, liveness=20)
    assert router.poll(3000)
    identity, empty, header, command, service = router.recv_multipart()
    assert (empty, header, command, service) == (b"", b"MDPW01", b"\x01", b"upper")
    # an idle worker heartbeats: exactly 4 frames with the identity
    assert router.poll(3000)
    assert router.recv_multipart() == [identity, b"", b"MDPW01", b"\x04"]
    # a REQUEST is answered by a REPLY carrying the same client address and envelope
    router.send_multipart([identity, b"", b"MDPW01", b"\x02", b"client-7", b"", b"hello", b"world"])
    reply = recv_skipping_heartbeats(router)
    assert reply == [identity, b"", b"MDPW01", b"\x03", b"client-7", b"", b"HELLO", b"WORLD"]
    # DISCONNECT: the worker must reconnect on a new socket and say READY again
    router.send_multipart([identity, b"", b"MDPW01", b"\x05"])
    again = recv_skipping_heartbeats(router)
    assert again[1:] == [b"", b"MDPW01", b"\x01", b"upper"]
    assert again[0] != identity
    lab.check()


@pytest.mark.timeout(60)
def test_client_wire_format_frame_by_frame(lab):
    """Our client against a raw ROUTER: REQUEST frames in, REPLY frames out."""
    endpoint = lab.endpoint("fake-broker", "tcp")
    router = lab.socket(zmq.ROUTER)
    router.bind(endpoint)
    lab.start("c", md.client, broker=endpoint, service="echo", requests=2, timeout=2.0)
    for n in range(2):
        assert router.poll(3000)
        identity, empty, header, service, body = router.recv_multipart()
        assert (empty, header, service, body) == (b"", b"MDPC01", b"echo", f"echo {n}".encode())
        router.send_multipart([identity, b"", b"MDPC01", b"echo", body])
    lab.wait_done("c", 5)
    assert lab.peer("c").data["replies"] == [("echo 0", "echo 0"), ("echo 1", "echo 1")]
    lab.check()


@pytest.mark.timeout(60)
def test_broker_wire_format_with_raw_worker_and_client(lab):
    """Raw sockets on both sides of our broker: the frames are exactly those of 7/MDP."""
    endpoint = start_broker(lab)
    worker = lab.socket(zmq.DEALER)
    worker.connect(endpoint)
    worker.send_multipart([b"", b"MDPW01", b"\x01", b"echo"])
    lab.wait_for(lambda: "echo" in registered(lab).values(), 3, "raw worker to register")
    client = lab.socket(zmq.DEALER)      # asynchronous client: it writes the empty frame itself
    client.connect(endpoint)
    client.send_multipart([b"", b"MDPC01", b"echo", b"ping", b"two frames"])
    request = recv_skipping_heartbeats(worker)
    assert len(request) == 7
    empty, header, command, address, delimiter, *body = request
    assert (empty, header, command, delimiter) == (b"", b"MDPW01", b"\x02", b"")
    assert body == [b"ping", b"two frames"]
    worker.send_multipart([b"", b"MDPW01", b"\x03", address, b"", b"pong", b"!"])
    assert client.poll(2000)
    assert client.recv_multipart() == [b"", b"MDPC01", b"echo", b"pong", b"!"]
    # the broker heartbeats an idle worker: [b"", MDPW01, 0x04]
    assert worker.poll(2000)
    assert worker.recv_multipart() == [b"", b"MDPW01", b"\x04"]
    # a worker may not register in the mmi. namespace: the broker disconnects it
    bad = lab.socket(zmq.DEALER)
    bad.connect(endpoint)
    bad.send_multipart([b"", b"MDPW01", b"\x01", b"mmi.service"])
    assert bad.poll(2000)
    assert bad.recv_multipart() == [b"", b"MDPW01", b"\x05"]
    lab.check()


@pytest.mark.timeout(60)
def test_silent_worker_is_removed_in_bounded_time(lab):
    """A worker that registers and then never heartbeats is forgotten within liveness heartbeats."""
    endpoint = start_broker(lab)
    silent = lab.socket(zmq.DEALER)
    silent.connect(endpoint)
    silent.send_multipart([b"", b"MDPW01", b"\x01", b"echo"])
    lab.wait_for(lambda: "echo" in registered(lab).values(), 3, "silent worker to register")
    registered_at = time.monotonic()
    lab.wait_for(lambda: "echo" not in registered(lab).values(), 3, "silent worker to be removed")
    took = time.monotonic() - registered_at
    bound = HB * LIVENESS + HB + 0.5              # expiry + one heartbeat tick + a wide margin
    assert took <= bound, f"removed after {took:.2f} s, bound {bound:.2f} s"
    assert lab.peer("broker").data["removed"][-1][1] == "silent"
    # and MMI now says nobody offers echo
    req = lab.socket(zmq.REQ, rcvtimeo=2000)
    req.connect(endpoint)
    req.send_multipart([b"MDPC01", b"mmi.service", b"echo"])
    assert req.recv_multipart() == [b"MDPC01", b"mmi.service", b"404"]


@pytest.mark.timeout(60)
def test_killed_worker_is_removed_and_replaced_nothing_lost(lab):
    endpoint = start_broker(lab)
    params = dict(broker=endpoint, heartbeat=HB, liveness=LIVENESS)
    lab.start("echo1", md.worker, service="echo", **params)
    lab.start("echo2", md.worker, service="echo", **params)
    lab.start("upper1", md.worker, service="upper", **params)
    lab.wait_for(lambda: len(registered(lab)) == 3, 3, "workers to register")
    lab.start("c_echo", md.client, broker=endpoint, service="echo", requests=150, interval=0.01,
              timeout=1.0, retries=5)
    lab.start("c_upper", md.client, broker=endpoint, service="upper", requests=150, interval=0.01,
              timeout=1.0, retries=5)
    lab.wait_for(lambda: lab.peer("c_echo").get("replies") >= 20, 10, "traffic")
    killed_at = lab.now()
    lab.kill("echo1")
    lab.wait_for(lambda: not any(md.worker_name(k) == "echo1" for k in registered(lab)), 3, "echo1 removed")
    removed_after = lab.now() - killed_at
    assert removed_after <= HB * LIVENESS + HB + 0.5
    # the broker's event says which worker and why, as fields; the view reads them
    (removal,) = [e for e in lab.events_of("worker removed", "broker") if md.worker_name(e.get("worker")) == "echo1"]
    assert removal.get("why") == "silent" and removal.get("worker").startswith("echo1.")
    assert 0 < views.removal_delay(lab.events_of(), "echo1") <= removed_after + 0.05
    ready = [e for e in lab.events_of("worker ready", "broker") if md.worker_name(e.get("worker")) == "upper1"]
    assert [e.get("service") for e in ready] == ["upper"]
    lab.kill("echo2")                              # no echo worker at all for a moment...
    lab.start("echo3", md.worker, service="echo", **params)   # ...then a replacement
    lab.wait_done("c_echo", 30)
    lab.wait_done("c_upper", 30)
    for name in ("c_echo", "c_upper"):
        data = lab.peer(name).data
        assert data.get("done") and not data["failed"], (name, data.get("failed"))
        assert len(data["replies"]) == 150           # every reply was checked by the client
    assert lab.peer("echo3").get("requests") > 0
    # routing by name: the upper worker served only "upper" clients (its replies are upper-case,
    # the echo client checks that its replies are not), and served them all
    # (the worker counts a request after sending its reply: wait for its count to catch up)
    lab.wait_for(lambda: lab.peer("upper1").get("requests") >= 150, 5, "upper1 to count 150 requests")
    lab.check()


@pytest.mark.timeout(60)
def test_frozen_worker_request_goes_to_another_worker(lab):
    """A worker stuck on one request stops heartbeating: the broker gives that request to another."""
    endpoint = start_broker(lab)
    params = dict(broker=endpoint, service="echo", heartbeat=HB, liveness=LIVENESS)
    lab.start("slow", md.worker, **params)
    lab.wait_for(lambda: len(registered(lab)) == 1, 3, "slow worker to register")
    lab.throttle("slow", 2.0)                      # the next request takes it 2 s
    lab.start("c", md.client, broker=endpoint, service="echo", requests=5, timeout=3.0, retries=1)
    lab.wait_for(lambda: lab.peer("broker").get("to echo") >= 1, 3, "request to reach the slow worker")
    lab.start("fast", md.worker, **params)
    lab.wait_done("c", 10)
    data = lab.peer("c").data
    assert data.get("done") and not data["failed"] and lab.peer("c").get("retries") == 0
    assert lab.peer("broker").get("requeued") >= 1
    lab.check()


@pytest.mark.timeout(60)
def test_workers_reregister_after_broker_restart(lab):
    endpoint = start_broker(lab)
    lab.start("echo1", md.worker, broker=endpoint, service="echo", heartbeat=HB, liveness=LIVENESS)
    lab.wait_for(lambda: len(registered(lab)) == 1, 3, "worker to register")
    lab.kill("broker")
    lab.restart("broker")
    lab.wait_for(lambda: len(registered(lab)) == 1, 5, "worker to register again")
    lab.start("c", md.client, broker=endpoint, service="echo", requests=10, timeout=1.0)
    lab.wait_done("c", 10)
    assert not lab.peer("c").data["failed"]
    lab.check()


def test_roles_are_listed():
    assert {"broker", "worker", "client", "mmi_lookup"} <= set(md.ROLES)


def test_worker_name_reads_our_routing_ids():
    assert md.worker_name(b"echo1.1.2") == "echo1" and md.worker_name("c_echo.2.7") == "c_echo"


@pytest.mark.timeout(60)
def test_bench_reports_a_rate_through_the_broker():
    """tools/bench_majordomo.py (make bench's Majordomo table): a short run measures a real rate."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "tools" / "bench_majordomo.py"
    spec = importlib.util.spec_from_file_location("bench_majordomo", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.echo_rate(clients=2, transport="inproc", seconds=0.3) > 50
    assert callable(bench.report)


def silent_for(sock, seconds):
    """Nothing at all arrives on ``sock`` for ``seconds`` (heartbeats included)."""
    return not sock.poll(int(seconds * 1000))


@pytest.mark.timeout(30)
def test_worker_that_says_disconnect_is_forgotten_at_once_and_sent_nothing_more(lab):
    """7/MDP: 'When the broker receives DISCONNECT from a worker it MUST send no further commands
    to that worker.' A raw worker registers, says DISCONNECT; the broker removes it (why: said
    DISCONNECT), sends it no heartbeat and no request, and MMI says nobody offers the service."""
    endpoint = start_broker(lab)
    worker = lab.socket(zmq.DEALER)
    worker.connect(endpoint)
    worker.send_multipart([b"", md.MDPW, md.READY, b"echo"])
    lab.wait_for(lambda: "echo" in registered(lab).values(), 3, "raw worker to register")
    assert worker.poll(2000) and worker.recv_multipart() == [b"", md.MDPW, md.HEARTBEAT]
    worker.send_multipart([b"", md.MDPW, md.DISCONNECT])
    lab.wait_for(lambda: not registered(lab), 2, "the worker to be forgotten")
    assert lab.peer("broker").data["removed"][-1][1] == "said DISCONNECT"
    while worker.poll(0):                         # a heartbeat may have crossed our DISCONNECT
        assert worker.recv_multipart() == [b"", md.MDPW, md.HEARTBEAT]
    client = lab.socket(zmq.DEALER)
    client.connect(endpoint)
    client.send_multipart([b"", md.MDPC, b"echo", b"anyone?"])
    assert silent_for(worker, HB * LIVENESS * 2), "the broker still talks to a worker that left"
    client.send_multipart([b"", md.MDPC, b"mmi.service", b"echo"])
    assert client.poll(2000) and client.recv_multipart() == [b"", md.MDPC, b"mmi.service", b"404"]
    lab.check()


@pytest.mark.timeout(30)
def test_broker_survives_the_messages_that_crashed_it_and_disconnects_bad_workers(lab):
    endpoint = start_broker(lab)
    lab.start("echo1", md.worker, broker=endpoint, service="echo", heartbeat=HB, liveness=LIVENESS)
    lab.wait_for(lambda: "echo" in registered(lab).values(), 3, "echo1 to register")
    bad = lab.socket(zmq.DEALER)
    bad.connect(endpoint)
    for frames in ([b"", b"MDPW01", b"\x01", b"\xff"],        # READY, service name not UTF-8
                   [b"", b"MDPW01", b"\x01"],                 # READY without a service
                   [b"", b"MDPW01", b"\x09"],                 # unknown command
                   [b"", b"MDPX01", b"echo", b"x"],           # wrong header
                   [b"", b"MDPC01", b"echo"],                 # a request with no body
                   [b"", b"MDPC01", b"\xfe\xff", b"x"],       # service name not UTF-8
                   [b"no delimiter"], [b""], [b"", b""]):
        bad.send_multipart(frames)
    lab.wait_for(lambda: lab.peer("broker").get("malformed") == 9, 3, "9 malformed messages counted")
    kinds = [e.get("why") for e in lab.events_of("malformed", "broker")]
    assert len(kinds) == 9 and all(kinds)
    # a registered worker that sends a malformed message is disconnected (and comes back)
    raw = lab.socket(zmq.DEALER)
    raw.connect(endpoint)
    raw.send_multipart([b"", md.MDPW, md.READY, b"upper"])
    lab.wait_for(lambda: "upper" in registered(lab).values(), 3, "raw upper worker")
    raw.send_multipart([b"", md.MDPW, md.REPLY, b"no-delimiter"])
    assert recv_skipping_heartbeats(raw) == [b"", md.MDPW, md.DISCONNECT]
    lab.wait_for(lambda: "upper" not in registered(lab).values(), 2, "the bad worker to be removed")
    assert lab.peer("broker").data["removed"][-1][1] == "malformed"
    # and the broker still serves a correct client
    lab.start("c", md.client, broker=endpoint, service="echo", requests=3, timeout=1.0)
    lab.wait_done("c", 5)
    assert lab.peer("c").data["replies"] == [(f"echo {n}", f"echo {n}") for n in range(3)]
    assert lab.peer("broker").state == "running"
    lab.check()


@pytest.mark.timeout(30)
def test_services_nobody_offers_are_forgotten_and_bounded(lab):
    """Requests for names no worker offers expire after ``request_expiry``, and then the name is
    forgotten; no more than ``max_services`` names are kept meanwhile (the rest are refused)."""
    endpoint = start_broker(lab, request_expiry=0.3, max_services=50)
    client = lab.socket(zmq.DEALER)
    client.connect(endpoint)
    for n in range(200):
        client.send_multipart([b"", md.MDPC, f"nobody-{n}".encode(), b"hello?"])
    broker = lab.peer("broker")
    lab.wait_for(lambda: broker.get("requests") == 200, 3, "200 requests read")
    assert broker.get("refused") == 150
    lab.wait_for(lambda: broker.get("expired") == 50, 0.3 + 2 * HB + 1.0, "the 50 queued requests to expire")
    # forgotten: 50 new names are accepted again
    for n in range(50):
        client.send_multipart([b"", md.MDPC, f"again-{n}".encode(), b"hello?"])
    lab.wait_for(lambda: broker.get("requests") == 250, 3, "50 more requests read")
    assert broker.get("refused") == 150
    lab.check()
