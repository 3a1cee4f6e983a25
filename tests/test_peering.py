"""Inter-broker routing (notebook 26): peered brokers lend a request to the cloud only when they have no
free worker at home, every request is answered exactly once while brokers die and come back, a
throttled or dead cluster is lent less or nothing, a silent peer counts as having no room, malformed
frames kill no role, and the roles run as processes from the command line.

Every wait is bounded (lab.wait_for, a poll with a timeout); faults follow seeded scenarios."""
from __future__ import annotations

import subprocess
import sys

import pytest
import zmq

from prockit import Procs
from zguide_py import Scenario
from zguide_py.patterns import peering as pr
from zguide_py.rolecall import describe_endpoints
from zguide_py.views import peering as pv

pytestmark = pytest.mark.timeout(60)


def cloud_decisions(lab):
    return [e for e in pr.routes(lab.events_of()) if e.get("to") == "cloud"]


def test_a_request_with_no_free_worker_at_home_goes_to_a_peer_and_back(lab):
    clusters = pv.start_clusters(lab, {"dc1": 0, "dc2": 2})
    clients = pv.start_clients(lab, clusters, {"dc1": 2}, requests=20)
    lab.wait_for(lambda: all(lab.peer(c).data.get("done") for c in clients), 20, "20 requests each")
    tally = pr.tally(lab, clients)
    assert tally.ok and tally.requests == 40 and tally.served_in == {"dc2": 40}
    assert tally.duplicates == tally.mismatched == 0
    lent = cloud_decisions(lab)
    assert len(lent) >= 40 and all(e.peer == "dc1" and e.get("via") == "dc2" and e.get("local") == 0 for e in lent)
    assert all(e.get("to") == "local" for e in pr.routes(lab.events_of(peer="dc2")))
    monitor = lab.peer("monitor")
    lab.wait_for(lambda: monitor.get("dc1.cloud") >= 40 and monitor.get("dc2.local") >= 40, 5, "the monitor's count")
    assert monitor.get("violations") == 0 and monitor.get("malformed") == 0
    assert lab.peer("dc2").get("lent") == lab.peer("dc2").get("from_peers") >= 40


def test_requests_stay_home_while_a_local_worker_is_free(lab):
    """One client waiting for each reply never finds dc1's two workers busy: nothing is lent."""
    clusters = pv.start_clusters(lab, {"dc1": 2, "dc2": 3}, monitor=False)
    pv.start_clients(lab, clusters, {"dc1": 1}, requests=30)
    lab.wait_done("dc1-client1", 20)
    assert pr.tally(lab, ["dc1-client1"]).served_in == {"dc1": 30}
    assert not cloud_decisions(lab) and len(pr.routes(lab.events_of(peer="dc1"))) == 30


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_request_is_answered_exactly_once_while_brokers_die(lab, seed):
    """Seeded crashes of dc2's and dc3's brokers under load: every client's request is answered exactly
    once, none abandoned, none answered by another's reply; every loan was made with no free worker
    at home, by the brokers' logs and by the monitor's count."""
    clusters = pv.start_clusters(lab, {"dc1": 1, "dc2": 2, "dc3": 2}, work=0.005)
    clients = pv.start_clients(lab, clusters, {"dc1": 3, "dc2": 1, "dc3": 1}, requests=None, timeout=0.3)
    chaos = Scenario("brokers crash", seed=seed).chaos(["dc2", "dc3"], kills=2, start=0.3, end=1.2,
                                                        downtime=(0.2, 0.5))
    report = lab.run(chaos, seconds=2.0)
    assert len(report.events_of("kill")) == 2 and len(report.events_of("restart")) == 2
    pv.stop_clients(lab, clusters)
    tally = pr.tally(lab, clients)
    assert tally.ok and tally.requests > 50 and tally.abandoned == tally.mismatched == 0, tally
    lent = cloud_decisions(lab)
    assert lent and all(e.get("local") == 0 for e in lent)
    assert lab.peer("monitor").get("violations") == 0 and not lab.errors()


def test_a_throttled_cluster_is_lent_less(lab):
    clusters = pv.start_clusters(lab, {"dc1": 1, "dc2": 2, "dc3": 2})
    for w in clusters.workers["dc2"]:
        lab.throttle(w, 0.05)
    pv.start_clients(lab, clusters, {"dc1": 3}, requests=None, timeout=1.0)
    lab.wait_for(lambda: len(cloud_decisions(lab)) >= 150, 20, "150 loans")
    lent = pv.lent(lab.events_of())
    assert lent[("dc1", "dc3")] > 2 * lent[("dc1", "dc2")] > 0, lent


def test_a_dead_broker_is_lent_nothing_and_a_restarted_one_learns_its_workers_again(lab):
    clusters = pv.start_clusters(lab, {"dc1": 1, "dc2": 2, "dc3": 2})
    pv.start_clients(lab, clusters, {"dc1": 3}, requests=None, timeout=0.3)
    lab.wait_for(lambda: pv.lent(lab.events_of())[("dc1", "dc3")] >= 10, 10, "loans to dc3")
    lab.kill("dc3")
    lab.wait_for(lambda: lab.events_of("peer_silent", "dc1"), 5, "dc1 to find dc3 silent")
    since = lab.now()
    lab.wait_for(lambda: sum(pv.lent(lab.events_of(since=since)).values()) >= 20, 10, "20 more loans")
    assert set(peer for _, peer in pv.lent(lab.events_of(since=since))) == {"dc2"}
    ready = lab.peer("dc3").get("ready")
    lab.restart("dc3")
    lab.wait_for(lambda: lab.peer("dc3").get("ready") == ready + 2, 5, "both workers' READY again")
    since = lab.now()
    lab.wait_for(lambda: pv.lent(lab.events_of(since=since))[("dc1", "dc3")] >= 5, 10, "loans to dc3 again")


def fake_peer(lab, name: bytes):
    """A peer broker played by the test: a ROUTER on a cloud endpoint, a PUB on a state endpoint."""
    cloud, state = lab.endpoint(f"{name.decode()}-cloud", "tcp"), lab.endpoint(f"{name.decode()}-state", "tcp")
    router = lab.socket(zmq.ROUTER, routing_id=name, router_mandatory=1)
    router.bind(cloud)
    pub = lab.socket(zmq.PUB)
    pub.bind(state)
    return cloud, state, router, pub


def test_a_silent_peer_counts_as_having_no_free_worker(lab):
    """A raw pyzmq peer says it has 5 free workers and answers a lent request, then falls silent:
    after 3 state intervals dc1 lends it nothing more, and a request waits at home until the peer
    speaks again."""
    cloud, state, router, pub = fake_peer(lab, b"ghost")
    ep = {k: lab.endpoint(f"dc1-{k}", "tcp") for k in pv.ENDPOINTS}
    lab.start("dc1", pr.broker, **ep, peer_clouds=[cloud], peer_states=[state], state_interval=0.05)

    def heard():
        pub.send_multipart([b"ghost", b"5"])
        return lab.events_of("peer_up", "dc1")
    lab.wait_for(heard, 5, "dc1 to hear the ghost")
    lab.start("c1", pr.client, endpoint=ep["frontend"], requests=1, timeout=5.0, retries=1)
    assert router.poll(5000), "dc1 lent nothing to a peer with 5 free workers"
    assert router.recv_multipart() == [b"dc1", b"c1", b"", b"c1:0"]
    router.send_multipart([b"dc1", b"c1", b"", b"c1:0 by ghost-worker"])
    assert lab.wait_done("c1", 5).data["answered"] == {0: "ghost-worker"}
    lab.wait_for(lambda: lab.events_of("peer_silent", "dc1"), 5, "dc1 to find the ghost silent")
    lab.start("c2", pr.client, endpoint=ep["frontend"], requests=1, timeout=5.0, retries=1)
    assert not router.poll(500), "dc1 lent a request to a silent peer"
    pub.send_multipart([b"ghost", b"1"])                   # back: the waiting request goes out
    assert router.poll(5000) and router.recv_multipart() == [b"dc1", b"c2", b"", b"c2:0"]
    # the broker logs a decision just after it sent the request: wait for the log, not only the send
    lab.wait_for(lambda: len(cloud_decisions(lab)) >= 2, 5, "dc1 to log its second lend")
    assert [e.get("local") for e in cloud_decisions(lab)] == [0, 0]


def test_a_client_takes_one_answer_a_request_and_counts_duplicates_and_mismatches(lab):
    """A broker played by the test answers request 0 twice, then sends a reply to nobody's request, a
    reply of another client, and a frame that is no reply at all, then answers request 1."""
    frontend = lab.endpoint("frontend", "tcp")
    router = lab.socket(zmq.ROUTER)
    router.bind(frontend)
    lab.start("c", pr.client, endpoint=frontend, requests=2, timeout=5.0)
    assert router.poll(5000)
    ident, _, body = router.recv_multipart()
    assert body == b"c:0"
    for reply in (b"c:0 by w1", b"c:0 by w2"):
        router.send_multipart([ident, b"", reply])
    assert router.poll(5000)
    assert router.recv_multipart()[2] == b"c:1"
    for junk in ([b"", b"c:7 by w1"], [b"", b"other:1 by w1"], [b"c:1 by w1"], [b"", b"c:x by w1"]):
        router.send_multipart([ident, *junk])
    router.send_multipart([ident, b"", b"c:1 by w3"])
    client = lab.wait_done("c", 10)
    assert client.data["answered"] == {0: "w1", 1: "w3"}
    assert client.get("duplicates") == 1 and client.get("mismatched") == 4 and client.get("abandoned") == 0


def test_malformed_frames_kill_no_role(lab):
    """Junk on each of a broker's sockets (its clients', its workers', a peer's request, a peer's
    reply, a peer's state), and junk to a worker and to the monitor: each is counted, and every
    role goes on serving."""
    cloud, state, router, pub = fake_peer(lab, b"evil")
    ep = {k: lab.endpoint(f"dc1-{k}", "tcp") for k in pv.ENDPOINTS}
    monitor = lab.endpoint("monitor", "tcp")
    lab.start("monitor", pr.monitor, endpoint=monitor)
    lab.start("dc1", pr.broker, **ep, peer_clouds=[cloud], peer_states=[state], monitor=monitor)
    lab.start("dc1-worker1", pr.worker, endpoint=ep["backend"])
    broker = lab.peer("dc1")
    lab.wait_for(lambda: broker.get("ready") == 1, 5, "the worker's READY")
    for target, frames_list in ((ep["frontend"], [[b"no delimiter"], [b""], [b"x", b""]]),
                                (ep["backend"], [[b"junk"], [b"", b"NOT", b"READY"]]),
                                (ep["cloud"], [[b"junk"], [b"", b""]])):
        dealer = lab.socket(zmq.DEALER)
        dealer.connect(target)
        for frames in frames_list:
            dealer.send_multipart(frames)
    lab.wait_for(lambda: broker.get("malformed") == 7, 5, "7 malformed messages counted")

    def heard():                                           # a SUB joins late: speak until heard
        pub.send_multipart([b"evil", b"0"])
        return lab.events_of("peer_up", "dc1")
    lab.wait_for(heard, 5, "dc1 to hear its peer")
    for frames in ([b"evil", b"lots"], [b"evil"], [b"evil", b"-1"], [b"dc1", b"3"], [b"", b"1"]):
        pub.send_multipart(frames)

    def reply_junk():                                      # a peer's reply that is no reply
        try:
            router.send_multipart([b"dc1", b"junk"], zmq.NOBLOCK)
        except zmq.ZMQError:
            return False                                   # not connected yet: nothing was sent
        return True
    lab.wait_for(reply_junk, 5, "a connection from dc1's cloudbe")
    lab.wait_for(lambda: broker.get("malformed") == 13, 5, "13 malformed messages counted")
    # junk straight to the worker (from a broker played by the test), and to the monitor
    backend = lab.endpoint("fake-backend", "tcp")
    fake_broker = lab.socket(zmq.ROUTER, router_mandatory=1)
    fake_broker.bind(backend)
    lab.start("w2", pr.worker, endpoint=backend)
    assert fake_broker.poll(5000) and fake_broker.recv_multipart() == [b"w2", b"", b"READY"]
    fake_broker.send_multipart([b"w2", b"junk"])
    fake_broker.send_multipart([b"w2", b"", b"client", b"", b"hello"])
    assert fake_broker.poll(5000) and fake_broker.recv_multipart() == [b"w2", b"", b"client", b"", b"hello by w2"]
    assert lab.peer("w2").get("malformed") == 1
    push = lab.socket(zmq.PUSH)
    push.connect(monitor)
    for frames in ([b"x"], [b"dc9", b"route", b"nowhere", b"w", b"0", b"0", b"r"],
                   [b"dc9", b"route", b"cloud", b"w", b"a", b"0", b"r"]):
        push.send_multipart(frames)
    lab.wait_for(lambda: lab.peer("monitor").get("malformed") == 3, 5, "the monitor to count 3 malformed")
    # and everyone still serves: a request through dc1 to its worker
    lab.start("dc1-client1", pr.client, endpoint=ep["frontend"], requests=3, timeout=5.0)
    lab.wait_done("dc1-client1", 10)
    assert pr.tally(lab, ["dc1-client1"]).ok and broker.state == "running"
    assert lab.peer("monitor").get("dc1.local") == 3 and lab.peer("monitor").get("violations") == 0
    assert not lab.errors()


def test_the_command_line_knows_what_each_role_binds_and_connects():
    assert describe_endpoints(pr.broker) == "binds frontend, backend, cloud, state; connects peer_clouds, peer_states, monitor"
    assert describe_endpoints(pr.worker) == describe_endpoints(pr.client) == "connects endpoint"
    assert describe_endpoints(pr.monitor) == "binds endpoint"


@pytest.mark.timeout(90)
def test_brokers_and_a_worker_as_processes_lend_and_answer(lab, tmp_path):
    """dc1 and dc2 as broker processes (``python -m zguide_py run peering.broker``) and dc2's worker as
    a process; a client and the monitor in the lab: dc1, with no worker, lends every request to dc2."""
    ep = {n: {k: lab.endpoint(f"{n}-{k}", "tcp") for k in pv.ENDPOINTS} for n in ("dc1", "dc2")}
    monitor = lab.endpoint("monitor", "tcp")
    lab.start("monitor", pr.monitor, endpoint=monitor)
    cli = [sys.executable, "-m", "zguide_py", "run"]
    with Procs(tmp_path) as procs:
        for me, other in (("dc1", "dc2"), ("dc2", "dc1")):
            binds = [a for k in pv.ENDPOINTS for a in ("--bind", f"{k}={ep[me][k]}")]
            procs.start(me, [*cli, "peering.broker", "--name", me, *binds, "--connect", f"peer_clouds={ep[other]['cloud']}",
                             "--connect", f"peer_states={ep[other]['state']}", "--connect", f"monitor={monitor}",
                             "--every", "0.2"])
        worker = procs.start("worker", [*cli, "peering.worker", "--connect", ep["dc2"]["backend"], "--name", "dc2-worker1",
                                        "work=0.001", "--every", "0.2"])
        worker.wait_line(r"dc2-worker1 running.*ready=1")
        lab.start("dc1-client1", pr.client, endpoint=ep["dc1"]["frontend"], requests=20, timeout=2.0)
        lab.wait_done("dc1-client1", 30)
        tally = pr.tally(lab, ["dc1-client1"])
        assert tally.ok and tally.served_in == {"dc2": 20}, tally
        lab.wait_for(lambda: lab.peer("monitor").get("dc1.cloud") >= 20 and lab.peer("monitor").get("dc2.local") >= 20,
                     10, "the monitor to hear both brokers")
        assert lab.peer("monitor").get("violations") == 0
        for proc in procs.all:
            assert proc.interrupt() == 0, proc.text()
        assert "to_cloud=20" in procs.all[0].text() and "from_peers=20" in procs.all[1].text()


def test_a_broker_refuses_a_state_interval_of_zero():
    out = subprocess.run([sys.executable, "-m", "zguide_py", "run", "peering.broker", "--name", "dc1",
                          *(a for k in pv.ENDPOINTS for a in ("--bind", f"{k}=tcp://127.0.0.1:1")), "state_interval=0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "state_interval" in out.stderr, out.stderr
