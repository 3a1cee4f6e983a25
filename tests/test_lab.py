"""Lifecycle of the lab: kill latency, re-run safety, close, errors, bad input."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

import pytest
import zmq

from zguide_py import Lab, LabError, PeerFailed, UnknownPeer
from zguide_py.patterns import basics, reqrep


def idle_role(peer, endpoint: str):
    """Binds a socket and polls until killed."""
    sock = peer.socket(zmq.PULL)
    sock.bind(endpoint)
    while peer.running:
        if sock.poll(50):
            sock.recv()
            peer.count("received")


def raising_role(peer, after: int = 0):
    peer.count("before")
    raise ValueError(f"boom after {after}")


def blocking_role(peer, endpoint: str):
    """A badly written role: blocks in recv() with no timeout."""
    sock = peer.socket(zmq.PULL)
    sock.bind(endpoint)
    sock.recv()



def test_kill_takes_effect_within_200ms(lab):
    lab.start("idle", idle_role, endpoint=lab.endpoint("idle"))
    lab.wait_for(lambda: lab.peer("idle").state == "running", 10)
    for _ in range(5):
        started = time.monotonic()
        lab.kill("idle")
        elapsed = time.monotonic() - started
        assert not lab.peer("idle").alive
        assert lab.peer("idle").state == "killed"
        assert elapsed < 0.2, f"kill took {elapsed:.3f} s"
        lab.restart("idle")


def test_kill_closes_sockets_and_drops_queued_messages(lab):
    ep = lab.endpoint("q", "tcp")
    lab.start("puller", basics.puller, endpoint=ep)
    lab.throttle("puller", 0.01)
    lab.start("pusher", basics.pusher, endpoint=ep, count=500)
    lab.wait_for(lambda: lab.peer("pusher").get("sent") == 500, 5, "all sent")
    lab.kill("puller")
    assert lab.peer("puller").open_sockets() == 0
    received = lab.peer("puller").get("received")
    assert received < 500                 # what was queued for the dead puller is gone


def test_restart_rebinds_the_same_endpoint_and_keeps_counting(lab):
    ep = lab.endpoint("echo", "tcp")
    lab.start("server", reqrep.echo_server, endpoint=ep)
    lab.start("c1", reqrep.client, endpoint=ep, requests=5, timeout=2)
    lab.wait_done("c1")
    lab.restart("server")
    assert lab.peer("server").starts == 2
    lab.start("c2", reqrep.client, endpoint=ep, requests=5, timeout=2)
    lab.wait_done("c2")
    assert lab.peer("c2").data["answered"] == list(range(5))
    # the server counts a reply after sending it, so its count can trail the client by a moment
    lab.wait_for(lambda: lab.peer("server").get("replies") == 10, 5, "the server to count 10 replies")
    assert lab.peer("server").starts == 2


def test_recreating_a_lab_with_the_same_name_keeps_the_thread_count():
    def make():
        lab = Lab("rerun")
        ep = lab.endpoint("echo")          # the same inproc name every time
        lab.start("server", reqrep.echo_server, endpoint=ep)
        lab.start("client", reqrep.client, endpoint=ep, requests=3)
        lab.wait_done("client")
        return lab
    first = make()
    count = threading.active_count()
    second = make()                        # as if the cell were re-run
    try:
        assert first.closed
        assert threading.active_count() == count
        assert second.peer("client").data["answered"] == [0, 1, 2]
    finally:
        second.close()


def test_close_leaves_no_thread_and_no_open_socket():
    lab = Lab("close-test")
    for i in range(3):
        lab.start(f"idle{i}", idle_role, endpoint=lab.endpoint(f"idle{i}"))
    own = lab.socket(zmq.PUSH)
    own.connect(lab.endpoint("idle0"))
    from zguide_py.widgets import Panel
    Panel(lab)
    lab.wait_for(lambda: all(p.state == "running" for p in lab.peers.values()), 10)
    assert lab.open_sockets() == 4
    lab.close()
    assert lab.threads() == []
    assert not [t for t in threading.enumerate() if t.name.startswith("zguide:close-test:")]
    assert lab.open_sockets() == 0
    assert lab.ctx.closed
    lab.close()                            # idempotent
    with pytest.raises(LabError, match="closed"):
        lab.start("late", idle_role, endpoint="inproc://late")


def test_context_manager_closes():
    with Lab("ctx-manager") as lab:
        lab.start("idle", idle_role, endpoint=lab.endpoint("idle"))
    assert lab.closed and lab.threads() == []


def test_a_role_that_raises_shows_its_error_and_others_keep_running(lab):
    lab.start("idle", idle_role, endpoint=lab.endpoint("idle"))
    lab.start("bad", raising_role, after=3)
    lab.wait_done("bad", 10)
    peer = lab.peer("bad")
    assert peer.state == "failed"
    assert "ValueError: boom after 3" in peer.error
    assert "raising_role" in peer.error                       # the traceback, not just the message
    assert lab.errors() == {"bad": peer.error}
    assert "failed" in repr(lab.status()) and "boom after 3" in repr(lab.status())
    assert lab.events_of("failed", "bad")[0][3] == "ValueError: boom after 3"
    with pytest.raises(PeerFailed, match="boom after 3"):
        lab.check()
    with pytest.raises(PeerFailed, match="boom after 3"):   # a wait stops at once on a failure
        lab.wait_for(lambda: False, timeout=5)
    assert lab.peer("idle").state == "running"
    report = lab.run(seconds=0.1)
    assert "boom after 3" in repr(report) and "bad" in report.errors


def test_bad_input_gets_clear_errors(lab):
    lab.start("idle", idle_role, endpoint=lab.endpoint("idle"))
    with pytest.raises(UnknownPeer, match=rf"no peer 'ghost' in lab '{lab.name}' \(peers: idle\)"):
        lab.kill("ghost")
    with pytest.raises(LabError, match="between 0 and 5.0"):
        lab.throttle("idle", -0.5)
    with pytest.raises(LabError, match="number of seconds"):
        lab.throttle("idle", "fast")
    with pytest.raises(LabError, match="already running"):
        lab.start("idle", idle_role, endpoint="inproc://other")
    with pytest.raises(LabError, match="must be a function"):
        lab.start("x", "not a function")
    with pytest.raises(LabError, match="unknown transport 'pgm'"):
        lab.endpoint("x", "pgm")
    with pytest.raises(LabError, match="bad endpoint name"):
        lab.endpoint("a b")
    assert lab.peer("idle").state == "running" and lab.peer("idle").delay == 0


def test_bad_endpoint_in_a_role_fails_that_peer_only(lab):
    lab.start("server", reqrep.echo_server, endpoint="tcp://not-an-endpoint")
    lab.wait_done("server", 10)
    assert lab.peer("server").state == "failed"
    assert "Invalid argument" in lab.peer("server").error


def test_a_stuck_role_is_reported_and_close_still_finishes():
    lab = Lab("stuck")
    lab.start("blocker", blocking_role, endpoint=lab.endpoint("b"))
    lab.wait_for(lambda: lab.peer("blocker").state == "running", 10)
    with pytest.raises(LabError, match=r"did not stop within 1.0 s: it is blocked in .*recv.*in blocking_role"):
        lab.kill("blocker")
    assert lab.peer("blocker").state == "stuck"
    lab.close()                            # term() wakes the blocked recv with ETERM
    assert lab.threads() == []


def test_throttle_slows_a_peer(lab):
    ep = lab.endpoint("echo")
    lab.start("server", reqrep.echo_server, endpoint=ep)
    lab.throttle("server", 0.05)
    lab.start("client", reqrep.client, endpoint=ep, requests=4)
    started = time.monotonic()
    lab.wait_done("client", 5)
    assert time.monotonic() - started >= 4 * 0.05
    assert lab.peer("client").data["answered"] == [0, 1, 2, 3]


def test_process_exit_closes_live_labs(tmp_path):
    """At exit, a live lab is closed properly: its roles see the stop and end their loops (a daemon
    thread that is simply dropped at exit would never get to write its last line)."""
    marker = tmp_path / "ended"
    code = textwrap.dedent(f"""
        from zguide_py import Lab

        def role(peer):
            while peer.running:
                peer.sleep(0.01)
            open({str(marker)!r}, "w").write(peer.lab.name + " closed at exit")

        lab = Lab("exit")
        lab.start("loop", role)
        print("started", flush=True)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout
    assert marker.read_text() == "exit closed at exit"


def test_a_kill_during_throttle_stops_the_role_before_it_replies(lab):
    ep = lab.endpoint("echo", "tcp")
    lab.start("server", reqrep.echo_server, endpoint=ep)
    lab.throttle("server", 2.0)                       # the server "works" 2 s on each request
    lab.start("client", reqrep.client, endpoint=ep, requests=1, timeout=1.0)
    lab.wait_for(lambda: lab.peer("server").get("requests") == 1, 5, "the request to arrive")
    lab.kill("server")                                # mid-request, as a crash would
    assert lab.peer("server").state == "killed" and lab.peer("server").get("replies") == 0
    lab.wait_done("client", 5)
    assert lab.peer("client").data["stuck_on"] == 0 and lab.peer("client").get("replies") == 0


def test_restart_with_new_parameters(lab):
    ep = lab.endpoint("echo")
    lab.start("server", reqrep.echo_server, endpoint=ep)
    lab.start("client", reqrep.client, endpoint=ep, requests=2)
    lab.wait_done("client")
    lab.restart("client", requests=3)
    lab.wait_done("client")
    assert lab.peer("client").params["requests"] == 3 and lab.peer("client").get("replies") == 5
    with pytest.raises(LabError, match="cannot restart 'client'"):
        lab.restart("client", colour="blue")
    assert lab.peer("client").params == {"endpoint": ep, "requests": 3}


def test_tcp_endpoints_are_fresh_loopback_ports_outside_the_ephemeral_range(lab):
    from zguide_py.lab import _ephemeral_low
    ports = [int(lab.endpoint(f"e{i}", "tcp").rsplit(":", 1)[1]) for i in range(50)]
    assert len(set(ports)) == 50
    assert all(1024 <= p < _ephemeral_low() for p in ports)
    assert all(lab.endpoint("x", "tcp").startswith("tcp://127.0.0.1:") for _ in range(3))


def test_start_with_a_throttle_paces_the_role_from_its_first_message():
    """throttle= is set before the thread runs, so even the first messages are paced (a
    throttle() call after start() can come after a fast role has already sent thousands)."""
    lab = Lab("test-start-throttle")
    try:
        ep = lab.endpoint("paced", "inproc")
        lab.start("puller", basics.puller, endpoint=ep)
        pusher = lab.start("pusher", basics.pusher, endpoint=ep, count=10**6, throttle=0.05)
        assert pusher.delay == 0.05
        lab.wait_for(lambda: pusher.get("sent") >= 1, 5, "the first message")
        assert pusher.get("sent") <= 20       # unthrottled it would be thousands by now
        assert ("throttle", "pusher", 0.05) in [e[1:4] for e in lab.events]
        with pytest.raises(LabError, match="between 0 and"):
            lab.start("bad", basics.puller, endpoint=lab.endpoint("other"), throttle=-1)
        assert "bad" not in lab.peers and lab.peer("pusher").state == "running"
    finally:
        lab.close()


def test_start_and_restart_return_a_peer_that_is_already_running(lab):
    """A cell that prints a peer's state right after start() or restart() must see "running",
    not a state that depends on whether the new thread has been scheduled yet."""
    ep = lab.endpoint("echo")
    for attempt in range(20):
        peer = lab.start(f"server{attempt}", reqrep.echo_server, endpoint=f"{ep}-{attempt}")
        assert peer.state == "running"
    lab.kill("server0")
    assert lab.peer("server0").state == "killed"
    for _ in range(20):
        assert lab.restart("server0").state == "running"


def late_data_role(peer, go: threading.Event):
    """Fills in peer.data only once told to, as a role does a moment after start() returns."""
    go.wait(5)
    peer.data["workers"] = ["w1"]
    while peer.running:
        time.sleep(0.01)


def test_wait_for_treats_data_that_is_not_there_yet_as_not_yet(lab):
    """The CI failure of notebook 12: wait_for(lambda: peer.data["workers"]) ran before the
    broker's thread had put "workers" in its data, and the KeyError escaped."""
    go = threading.Event()
    peer = lab.start("late", late_data_role, go=go)
    assert "workers" not in peer.data
    threading.Timer(0.1, go.set).start()
    assert lab.wait_for(lambda: peer.data["workers"], 5, "the workers") == ["w1"]
    # A key that never comes still ends the wait at the bound, and the error names it.
    with pytest.raises(TimeoutError, match=r"the typo not met within 0.2 s.*KeyError\('wokers'\)"):
        lab.wait_for(lambda: peer.data["wokers"], 0.2, "the typo")
    with pytest.raises(TimeoutError, match=r"IndexError"):
        lab.wait_for(lambda: peer.data["workers"][5], 0.2, "a sixth worker")
    # Other errors are real bugs in the condition and are not swallowed.
    with pytest.raises(ZeroDivisionError):
        lab.wait_for(lambda: 1 / 0, 5)


def counting_role(peer, upto: int, go: threading.Event):
    """Counts to ``upto``, one every 10 ms, once told to, then idles until killed."""
    go.wait(5)
    for _ in range(upto):
        peer.count("n")
        if not peer.sleep(0.01):
            return
    while peer.running:
        peer.sleep(0.01)


def test_wait_quiet_returns_the_count_once_it_stops_changing(lab):
    go = threading.Event()
    peer = lab.start("counter", counting_role, upto=30, go=go)
    threading.Timer(0.05, go.set).start()
    t0 = time.monotonic()
    assert lab.wait_quiet(lambda: peer.get("n"), quiet=0.2, timeout=10, what="the count to settle") == 30
    assert time.monotonic() - t0 >= 0.2 + 0.3 * 0.5       # it waited through the counting, and then some
    lab.restart("counter", upto=10**6, go=go)            # a count that keeps going never settles
    with pytest.raises(TimeoutError, match="the endless count not met within 0.5 s"):
        lab.wait_quiet(lambda: lab.peer("counter").get("n"), quiet=0.2, timeout=0.5, what="the endless count")


def test_controls_after_close_raise_a_clear_error():
    lab = Lab("closed-controls")
    lab.start("idle", idle_role, endpoint=lab.endpoint("idle"))
    lab.close()
    for control in (lambda: lab.kill("idle"), lambda: lab.throttle("idle", 0.1), lambda: lab.remove("idle"),
                    lambda: lab.restart("idle"), lambda: lab.start("x", idle_role, endpoint="inproc://x"),
                    lambda: lab.wait_for(lambda: True), lambda: lab.wait_done("idle"),
                    lambda: lab.endpoint("late", "ipc"), lambda: lab.set("idle", paused=True),
                    lambda: lab.socket(zmq.PUSH), lambda: lab.run(seconds=0.1)):
        with pytest.raises(LabError, match="closed-controls' is closed"):
            control()


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), 10**400, -0.1, "fast", None, 1 + 1j])
def test_throttle_takes_only_real_seconds_in_range(lab, value):
    lab.start("idle", idle_role, endpoint=lab.endpoint("idle"))
    with pytest.raises(LabError, match="throttle for 'idle' must be"):
        lab.throttle("idle", value)
    with pytest.raises(LabError, match="throttle for 'other' must be"):
        lab.start("other", idle_role, endpoint=lab.endpoint("other"), throttle=value)
    assert lab.peer("idle").delay == 0 and "other" not in lab.peers


def test_start_checks_the_roles_parameters_before_it_starts(lab):
    with pytest.raises(LabError, match="cannot start 'idle' with .*endpont"):
        lab.start("idle", idle_role, endpont="inproc://typo")
    with pytest.raises(LabError, match="cannot start 'idle'.*missing a required argument: 'endpoint'"):
        lab.start("idle", idle_role)
    assert "idle" not in lab.peers


@pytest.mark.parametrize("name", ["a/b", "", "  ", "tab\there", "back\\slash", 7, None])
def test_names_are_checked_once_for_labs_and_peers(lab, name):
    with pytest.raises(LabError, match="needs a non-empty printable name"):
        Lab(name)
    with pytest.raises(LabError, match="needs a non-empty printable name"):
        lab.start(name, idle_role, endpoint=lab.endpoint("idle"))


def test_close_names_a_peer_stuck_outside_zeromq_and_still_ends_the_context():
    release = threading.Event()

    def stuck_role(peer, endpoint):
        sock = peer.socket(zmq.PULL)
        sock.bind(endpoint)
        peer.data["in"] = True
        release.wait(30)            # not a peer.poll or peer.sleep: a kill cannot reach it

    lab = Lab("stuck-close")
    try:
        lab.start("sleeper", stuck_role, endpoint=lab.endpoint("s"))
        lab.wait_for(lambda: lab.peer("sleeper").data["in"], 10)
        with pytest.warns(RuntimeWarning, match=r"peer 'sleeper' did not stop: it is blocked in "
                                                r"release.wait\(30\) \(test_lab.py:\d+, in stuck_role\)"):
            lab.close()
        assert lab.ctx.closed                       # the context ended all the same
        assert lab.events_of("stuck", "sleeper")[-1].fields["where"].startswith("release.wait(30)")
    finally:
        release.set()
    lab.peer("sleeper")._thread.join(10)
    assert not lab.threads()
