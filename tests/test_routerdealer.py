"""Router-dealer: envelopes, ROUTER_MANDATORY, and the asynchronous server under faults."""
from __future__ import annotations

import pytest
import zmq

from zguide_py import Scenario
from zguide_py.flow import Flow
from zguide_py.patterns import routerdealer as rd

pytestmark = pytest.mark.timeout(60)


def start_server(lab, workers=3, work=0.0, mandatory=False, flow=None, transport="inproc"):
    frontend, backend = lab.endpoint("fe", transport), lab.endpoint("be", transport)
    lab.start("server", rd.server_task, frontend=frontend, backend=backend, mandatory=mandatory, flow=flow)
    for i in range(workers):
        lab.start(f"worker{i + 1}", rd.server_worker, endpoint=backend, work=work, flow=flow)
    return frontend, backend


def done(lab, names):
    return lambda: all(lab.peer(n).data.get("done") for n in names)


# ---- envelopes, by hand ------------------------------------------------------------------------

def test_req_to_router_envelope_and_reply(lab):
    router = lab.socket(zmq.ROUTER)
    router.bind("inproc://env")
    req = lab.socket(zmq.REQ)
    req.connect("inproc://env")
    req.send(b"hello")
    assert router.poll(2000)
    identity, delimiter, body = router.recv_multipart()
    assert len(identity) == 5 and identity[0] == 0          # made up by the ROUTER
    assert delimiter == b"" and body == b"hello"
    router.send_multipart([identity, b"", b"world"])
    assert req.poll(2000)
    assert req.recv_multipart() == [b"world"]                # REQ strips the delimiter


def test_dealer_with_chosen_identity_has_no_delimiter(lab):
    router = lab.socket(zmq.ROUTER)
    router.bind("inproc://env2")
    dealer = lab.socket(zmq.DEALER, routing_id=b"client-A")
    dealer.connect("inproc://env2")
    dealer.send(b"hi")
    assert router.poll(2000)
    assert router.recv_multipart() == [b"client-A", b"hi"]
    router.send_multipart([b"client-A", b"back"])
    assert dealer.poll(2000)
    assert dealer.recv_multipart() == [b"back"]


# ---- ROUTER_MANDATORY ----------------------------------------------------------------------------

def test_router_drops_unroutable_silently_by_default(lab):
    router = lab.socket(zmq.ROUTER)
    router.bind("inproc://drop")
    dealer = lab.socket(zmq.DEALER, routing_id=b"A")
    dealer.connect("inproc://drop")
    router.send_multipart([b"nobody", b"lost"])              # no error at all
    dealer.send(b"ping")
    assert router.poll(2000)
    router.recv_multipart()
    router.send_multipart([b"A", b"pong"])
    assert dealer.poll(2000)
    assert dealer.recv_multipart() == [b"pong"]              # only the routable message arrived
    assert not dealer.poll(100)


def test_router_mandatory_raises_ehostunreach(lab):
    router = lab.socket(zmq.ROUTER)
    router.setsockopt(zmq.ROUTER_MANDATORY, 1)
    router.bind("inproc://mandatory")
    with pytest.raises(zmq.ZMQError) as info:
        router.send_multipart([b"nobody", b"lost"])
    assert info.value.errno == zmq.EHOSTUNREACH
    dealer = lab.socket(zmq.DEALER, routing_id=b"A")
    dealer.connect("inproc://mandatory")
    dealer.send(b"ping")
    assert router.poll(2000)
    router.recv_multipart()
    router.send_multipart([b"A", b"pong"])                   # a known identity is fine
    assert dealer.poll(2000) and dealer.recv_multipart() == [b"pong"]


# ---- the asynchronous server ---------------------------------------------------------------------

def test_every_reply_reaches_the_client_that_asked(lab):
    frontend, _ = start_server(lab, workers=3, work=0.002)
    lab.throttle("worker2", 0.01)                            # uneven workers: replies overtake
    clients = [f"client{i}" for i in range(1, 5)]
    for c in clients:
        lab.start(c, rd.client_task, endpoint=frontend, requests=40, window=5)
    lab.wait_for(done(lab, clients), 20, "all clients done")
    for c in clients:
        data = lab.peer(c).data
        assert sorted(data["answered"]) == list(range(40)), c
        assert data["misrouted"] == []
        assert lab.peer(c).get("lost") == 0
    server = lab.peer("server")
    # the server counts a reply just after sending it, so its count may lag the clients' a moment
    lab.wait_for(lambda: server.get("replies") == 160, 5, "the server to count 160 replies")
    assert server.get("requests") == server.get("replies") == 160
    worker_load = [lab.peer(f"worker{i}").get("requests") for i in (1, 2, 3)]
    assert sum(worker_load) == 160
    assert max(worker_load) - min(worker_load) <= 2           # DEALER deals round-robin
    lab.check()


@pytest.mark.parametrize("mandatory", [True, False])
def test_replies_for_a_dead_client(lab, mandatory):
    """Kill a client while its 4 requests are being worked on. With ROUTER_MANDATORY the server
    counts the replies it could not route; without it they vanish and count as sent."""
    frontend, _ = start_server(lab, workers=2, work=0.15, mandatory=mandatory)
    lab.start("client1", rd.client_task, endpoint=frontend, requests=6, window=2)
    sc = Scenario("client2 dies").at(0, "start", "client2", rd.client_task, endpoint=frontend,
                                     requests=4, window=4)
    sc.after(4, "client2", "requests", "kill", "client2")
    server = lab.peer("server")
    settled = lambda: (lab.peer("client1").data.get("done") and
                       server.get("replies") + server.get("unroutable") == server.get("requests") > 0)
    report = lab.run(sc, seconds=15, until=settled)
    assert settled(), report
    assert lab.peer("client2").state == "killed"
    assert sorted(lab.peer("client1").data["answered"]) == list(range(6))
    received = server.get("requests") - 6                    # client2's requests the server got
    assert 1 <= received <= 4
    if mandatory:
        assert server.get("unroutable") == received          # each one refused, none lost silently
        assert len(lab.events_of("unroutable", "server")) == received
    else:
        assert server.get("unroutable") == 0                 # dropped without a word...
        assert server.get("replies") == server.get("requests")   # ...and counted as sent
    lab.check()


def test_killed_worker_loses_its_requests_and_nothing_else_goes_wrong(lab):
    frontend, _ = start_server(lab, workers=3, work=0.01, transport="tcp")
    lab.throttle("worker2", 0.05)            # so that worker2 always holds a queue when it dies
    clients = ["client1", "client2"]
    for c in clients:
        lab.start(c, rd.client_task, endpoint=frontend, requests=60, window=4, timeout=0.5)
    sc = Scenario("worker dies").after(10, "worker2", "requests", "kill", "worker2")
    lab.run(sc, seconds=20, until=done(lab, clients))
    assert lab.peer("worker2").state == "killed"
    lost = sum(lab.peer(c).get("lost") for c in clients)
    answered = sum(lab.peer(c).get("replies") for c in clients)
    assert answered + lost == 120
    # what was lost had been dealt to worker2 and never answered by it
    held = lab.peer("worker2").get("requests") - lab.peer("worker2").get("replies")
    assert 1 <= lost and held <= lost
    assert all(not lab.peer(c).data["misrouted"] for c in clients)
    lab.check()


def test_flow_records_four_hops_per_request(lab):
    flow = Flow(lab)
    frontend, _ = start_server(lab, workers=2, work=0.005, flow=flow)
    clients = ["client1", "client2"]
    for c in clients:
        lab.start(c, rd.client_task, endpoint=frontend, requests=3, window=3, flow=flow)
    lab.wait_for(done(lab, clients), 10, "clients done")
    events = flow.events()
    assert len(events) == 24
    for e in events:
        if e.receiver == "server" and e.sender.startswith("client"):
            assert e.frames[0] == e.sender.encode() and len(e.frames) == 2   # identity prepended
        elif e.sender == "server" and e.receiver.startswith("worker"):
            assert len(e.frames) == 2                                       # passed on unchanged
        elif e.receiver == "server":
            assert len(e.frames) == 3 and e.frames[2] == e.sender.encode()  # envelope + reply
        else:
            assert e.receiver.startswith("client") and len(e.frames) == 2  # identity taken off
            assert e.frames[0].startswith(e.receiver.encode() + b":")
    assert set(flow.peers()) == {"client1", "client2", "server", "worker1", "worker2"}
    assert flow.figure(peers=["client1", "client2", "server", "worker1", "worker2"]).axes


def test_roles_are_listed_for_the_command_line():
    from zguide_py import patterns
    assert set(patterns.roles("routerdealer")) == {"client_task", "server_task", "server_worker"}


def test_the_answer_shown_in_notebook_04_passes_its_exercise_checks():
    """Notebook 04 leaves split_envelope for the reader and hides one answer in a <details> block.
    That answer must pass the notebook's own checks, and the empty stub must not."""
    import re
    from pathlib import Path

    source = (Path(__file__).parent.parent / "notebooks/src/04_router_dealer.py").read_text()
    answer = re.search(r"<details>.*?```python\n(.*?)# ```", source, re.S).group(1)
    answer = "\n".join(line[2:] for line in answer.splitlines())
    checks = re.search(r"^(checks = \[.*?^\])", source, re.S | re.M).group(1)
    stub = re.search(r"^(def split_envelope\(frames\):.*?return None)", source, re.S | re.M).group(1)
    for code, passes_all in ((answer, True), (stub, False)):
        space: dict = {}
        exec(code + "\n" + checks, space)
        results = [space["split_envelope"](frames) == expected for frames, expected in space["checks"]]
        assert len(results) >= 4 and sum(results) == (len(results) if passes_all else 0), results
