"""Freelance, three models: every request answered while at least one server lives."""
from __future__ import annotations

import random

import pytest
import zmq

from zguide_py import Scenario
from zguide_py.patterns import freelance as fl

SERVERS = ("s1", "s2", "s3")
MODELS = {
    "sequential": (fl.server_rep, fl.client_sequential, {"timeout": 0.1, "rounds": 2}),
    "shotgun": (fl.server_rep, fl.client_shotgun, {"timeout": 0.5}),
    "router": (fl.server_router, fl.client_router, {"timeout": 3.0}),
}


def one_always_alive(seed: int, steps: int = 10) -> tuple[Scenario, list[tuple[float, str, str]]]:
    """A seeded schedule of kills and restarts that never leaves all servers dead."""
    rng = random.Random(seed)
    scenario = Scenario(f"kills, one server always alive (seed {seed})", seed=seed)
    alive, t, plan = set(SERVERS), 0.2, []
    for _ in range(steps):
        dead = sorted(set(SERVERS) - alive)
        if len(alive) > 1 and (not dead or rng.random() < 0.6):
            victim = rng.choice(sorted(alive))
            alive.discard(victim)
            plan.append((round(t, 3), "kill", victim))
        else:
            back = rng.choice(dead)
            alive.add(back)
            plan.append((round(t, 3), "restart", back))
        t += rng.uniform(0.12, 0.3)
    for at, action, name in plan:
        scenario.at(at, action, name)
    return scenario, plan


def check_plan(plan):
    alive = set(SERVERS)
    for _t, action, name in plan:
        (alive.discard if action == "kill" else alive.add)(name)
        assert alive, "the schedule must keep one server alive"


@pytest.mark.timeout(90)
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("seed", [11, 12])
def test_every_request_answered_while_one_server_lives(lab, model, seed):
    server, client, params = MODELS[model]
    endpoints = [lab.endpoint(name, "tcp") for name in SERVERS]
    for name, endpoint in zip(SERVERS, endpoints):
        lab.start(name, server, endpoint=endpoint)
    scenario, plan = one_always_alive(seed)
    check_plan(plan)
    n = 300
    lab.start("client", client, servers=endpoints, requests=n, interval=0.005, **params)
    report = lab.run(scenario, seconds=60, until=lambda: lab.peer("client").state == "done")
    c = lab.peer("client")
    assert c.data.get("done"), c.snapshot()
    assert c.get("failed") == 0 and c.get("replies") == n, c.snapshot()
    kills = [s for s in report.steps if s.label.startswith("kill") and s.fired_at is not None]
    assert len(kills) >= 3, report                   # the faults really happened during the run
    lab.check()


@pytest.mark.timeout(60)
def test_shotgun_drops_late_duplicates_from_a_restarted_server(lab):
    endpoints = [lab.endpoint(name, "tcp") for name in SERVERS]
    for name, endpoint in zip(SERVERS, endpoints):
        lab.start(name, fl.server_rep, endpoint=endpoint)
    lab.kill("s3")                                   # s3's copies queue up in the client
    lab.start("client", fl.client_shotgun, servers=endpoints, requests=200, interval=0.002)
    lab.wait_for(lambda: lab.peer("client").get("replies") >= 100, 10, "100 replies")
    lab.restart("s3")                                # s3 answers its backlog: all too late
    lab.wait_done("client", 20)
    c = lab.peer("client")
    assert c.get("replies") == 200 and c.get("failed") == 0
    assert c.get("late duplicates") >= 100
    assert lab.peer("s3").get("requests") >= 100


@pytest.mark.timeout(60)
def test_router_server_speaks_flp(lab):
    """10/FLP on the wire: the server's identity is its endpoint; PING -> PONG; control frame echoed."""
    endpoint = lab.endpoint("s1", "tcp")
    lab.start("s1", fl.server_router, endpoint=endpoint)
    client = lab.socket(zmq.ROUTER, router_mandatory=1)
    client.connect(endpoint)
    lab.wait_for(lambda: _try_send(client, [endpoint.encode(), b"PING"]), 5, "the connection")
    assert client.poll(2000)
    assert client.recv_multipart() == [endpoint.encode(), b"PONG"]
    client.send_multipart([endpoint.encode(), b"42", b"hello", b"world"])
    assert client.poll(2000)
    assert client.recv_multipart() == [endpoint.encode(), b"42", b"hello", b"world"]
    client.send_multipart([endpoint.encode(), b"not FLP"])     # one frame, not PING: counted, dropped
    lab.wait_for(lambda: lab.peer("s1").get("malformed") == 1, 5, "the malformed message counted")
    event = lab.events_of("malformed", "s1")[0]
    assert event.get("frames") == [b"not FLP"] and "PING" in event.get("why")
    client.send_multipart([endpoint.encode(), b"PING"])        # and the server goes on serving
    assert client.poll(2000)
    assert client.recv_multipart() == [endpoint.encode(), b"PONG"]


def _try_send(sock, frames) -> bool:
    try:
        sock.send_multipart(frames, flags=zmq.NOBLOCK)
        return True
    except zmq.ZMQError:
        return False


@pytest.mark.timeout(60)
def test_router_client_fails_cleanly_when_every_server_is_dead(lab):
    endpoints = [lab.endpoint(name, "tcp") for name in SERVERS]
    lab.start("client", fl.client_router, servers=endpoints, requests=2, timeout=0.3)
    lab.wait_done("client", 5)
    assert lab.peer("client").get("failed") == 2 and lab.peer("client").data.get("done")
    assert [e.get("request") for e in lab.events_of("failed", "client")] == [0, 1]


@pytest.mark.timeout(60)
def test_sequential_client_moves_on_from_a_dead_first_server(lab):
    """Model 1: the first server is dead for the whole run; every request must still be answered,
    by the next server (issue 14: a client that never moved on passed every other test)."""
    dead, live = lab.endpoint("s1", "tcp"), lab.endpoint("s2", "tcp")   # nobody ever binds s1
    lab.start("s2", fl.server_rep, endpoint=live)
    client = lab.start("client", fl.client_sequential, servers=[dead, live], requests=5, timeout=0.1, rounds=2)
    lab.wait_done("client", 20)
    assert client.get("replies") == 5 and client.get("failed") == 0
    assert lab.peer("s2").get("requests") == 5                 # the next server answered them all
    assert client.get("switches") == 1                          # one timeout on s1, then it stays
    assert client.data["server"] == live
