"""Socket options and monitors that change or show delivery (issue 18, item 3): a subscriber with
``conflate`` reads only fresh values; ``watched_subscriber`` logs its socket's connection events
(retried before the bind, connected and handshake, disconnected at a kill, back after a restart),
survives a malformed message and closes its monitor socket; the figure that draws them."""
from __future__ import annotations

import pytest
import zmq

from zguide_py import Scenario
from zguide_py.events import Event, make_detail
from zguide_py.patterns import pubsub, slowsub
from zguide_py.views import pubsub as pubsub_views

SMALL = 8192
STORY = ["CONNECT_RETRIED", "CONNECTED", "HANDSHAKE_SUCCEEDED", "DISCONNECTED",
         "CONNECT_RETRIED", "CONNECTED", "HANDSHAKE_SUCCEEDED"]


def _story(lab, since=0.0):
    return pubsub_views.milestones(pubsub_views.monitor_events(lab.events_of("monitor", since=since), "watcher"))


@pytest.mark.timeout(60)
def test_a_conflating_subscriber_reads_only_fresh_values_where_a_queued_one_falls_behind(lab):
    ep = lab.endpoint("sensor", "tcp")
    for name, conflate in [("queued", False), ("conflated", True)]:
        lab.start(name, slowsub.subscriber, endpoint=ep, rcvbuf=SMALL, conflate=conflate, throttle=0.02)
    pub = lab.start("publisher", slowsub.publisher, endpoint=ep, rate=1000, sndbuf=SMALL, subscribers=2)
    lab.wait_for(lambda: pub.get("sent") >= 1500, timeout=20, what="1.5 s of readings")
    queued, conflated = lab.peer("queued"), lab.peer("conflated")
    assert queued.get("lost") == 0 and queued.get("last_seq") == queued.get("received") - 1
    assert queued.data["max_age_seen"] > 0.8                      # reading ever older news
    assert conflated.data["max_age_seen"] < 0.5                   # always the newest value
    assert conflated.get("last_seq") > 5 * conflated.get("received")   # it skipped most of them
    assert conflated.get("lost") == conflated.get("last_seq") + 1 - conflated.get("received")
    lab.check()


def test_conflate_keeps_one_frame_and_only_on_some_socket_types(lab):
    def what_waits(receiver_type, sender_type, messages, name):
        sender = lab.socket(sender_type)
        sender.bind(f"inproc://{name}")
        receiver = lab.socket(receiver_type, conflate=1)
        receiver.connect(f"inproc://{name}")
        for frames in messages:
            sender.send_multipart(frames)
        found = []
        while receiver.poll(50):
            found.append(receiver.recv_multipart())
        return found

    readings = [[b"reading %d" % n] for n in range(3)]
    assert what_waits(zmq.PULL, zmq.PUSH, readings, "one") == [[b"reading 2"]]
    assert what_waits(zmq.PULL, zmq.PUSH, [[b"topic", *r] for r in readings], "two") == [[b"reading 2"]]
    assert what_waits(zmq.PAIR, zmq.PAIR, readings, "pair") == readings     # accepted, and ignored


@pytest.mark.timeout(60)
def test_the_monitor_tells_a_connections_whole_life_in_order(lab):
    ep = lab.endpoint("watched", "tcp")
    restarts = Scenario("late, dead, back") \
        .at(0.0, "start", "watcher", pubsub.watched_subscriber, endpoint=ep) \
        .at(0.4, "start", "publisher", pubsub.publisher, endpoint=ep, interval=0.002) \
        .at(0.9, "kill", "publisher").at(1.2, "restart", "publisher")
    report = lab.run(restarts, seconds=10, until=lambda: _story(lab) == STORY)
    assert _story(lab) == STORY
    seen = pubsub_views.monitor_events(report.events, "watcher")
    bound, killed, restarted = (report.events_of(k, "publisher")[0].t for k in ("start", "kill", "restart"))
    first = {name: next(t for t, n in seen if n == name) for name in ("CONNECTED", "DISCONNECTED")}
    assert any(n == "CONNECT_RETRIED" and t < bound for t, n in seen)      # retried before anybody bound
    assert bound < first["CONNECTED"] < killed < first["DISCONNECTED"] < restarted
    assert all(e.get("endpoint") == ep for e in report.events_of("monitor", "watcher"))
    # data flows again after the restart: the subscriber reconnected by itself
    received = lab.peer("watcher").get("received")
    lab.wait_for(lambda: lab.peer("watcher").get("received") > received + 20, timeout=5, what="data after the restart")
    lab.check()


@pytest.mark.timeout(30)
def test_the_watched_subscriber_survives_a_malformed_message_and_closes_its_monitor(lab, monkeypatch):
    monitors = []
    real = zmq.Socket.get_monitor_socket

    def keep(sock, *args, **kwargs):
        monitors.append(real(sock, *args, **kwargs))
        return monitors[-1]

    monkeypatch.setattr(zmq.Socket, "get_monitor_socket", keep)
    ep = lab.endpoint("watched", "tcp")
    watcher = lab.start("watcher", pubsub.watched_subscriber, endpoint=ep)
    pub = lab.socket(zmq.PUB)
    pub.bind(ep)
    lab.wait_for(lambda: "HANDSHAKE_SUCCEEDED" in _story(lab), timeout=5, what="the handshake")

    def sent_until_received(frames, counter, n):
        def got():
            pub.send_multipart(frames)
            return watcher.get(counter) >= n
        lab.wait_for(got, timeout=5, what=f"{counter} >= {n}")      # the subscription may still travel

    sent_until_received([b"only", b"two frames"], "malformed", 1)
    sent_until_received([b"", b"7", b"publisher"], "received", 1)
    assert watcher.state == "running" and lab.peer("watcher").get("received") >= 1
    assert len(monitors) == 1 and not monitors[0].closed
    lab.kill("watcher")
    assert monitors[0].closed                                   # the role closed its monitor socket
    assert watcher.state == "killed" and watcher.open_sockets() == 0
    lab.check()


def test_milestones_say_each_run_of_retries_once_and_drop_the_attempts_details():
    monitor = [(0.0, "CONNECT_DELAYED"), (0.0, "CLOSED"), (0.0, "CONNECT_RETRIED"), (0.1, "CONNECT_DELAYED"),
               (0.1, "CLOSED"), (0.1, "CONNECT_RETRIED"), (0.2, "CONNECT_DELAYED"), (0.2, "CONNECTED"),
               (0.2, "HANDSHAKE_SUCCEEDED"), (0.5, "DISCONNECTED"), (0.5, "CONNECT_RETRIED")]
    assert pubsub_views.milestones(monitor) == STORY[:5]
    assert pubsub_views.milestones([]) == []


def test_monitor_events_pick_one_peers_monitor_events_in_time_order():
    def monitor(t, peer, name):
        return Event(t, "monitor", peer, make_detail(fields={"event": name, "endpoint": "tcp://127.0.0.1:1"}))
    events = [monitor(0.3, "watcher", "CONNECTED"), Event(0.1, "kill", "watcher", ""),
              monitor(0.2, "other", "CLOSED"), monitor(0.1, "watcher", "CONNECT_RETRIED")]
    assert pubsub_views.monitor_events(events, "watcher") == [(0.1, "CONNECT_RETRIED"), (0.3, "CONNECTED")]


@pytest.mark.timeout(60)
def test_the_monitor_figure_has_a_row_per_kind_and_the_rate_below_on_one_time_axis(lab):
    ep = lab.endpoint("watched", "tcp")
    restarts = Scenario("late, dead, back") \
        .at(0.0, "start", "watcher", pubsub.watched_subscriber, endpoint=ep) \
        .at(0.3, "start", "publisher", pubsub.publisher, endpoint=ep, interval=0.002) \
        .at(0.7, "kill", "publisher").at(0.9, "restart", "publisher")
    report = lab.run(restarts, seconds=1.3)
    fig = pubsub_views.monitor_figure(report, "watcher", "publisher", title="t")
    events_ax, rate_ax = fig.axes
    rows = [t.get_text() for t in events_ax.get_yticklabels()]
    assert rows[0] == "publisher (scenario)" and {"connected", "handshake succeeded", "disconnected"} <= set(rows)
    assert rate_ax.get_xlabel() == "time since start of run (s)" and rate_ax.get_ylabel() == "messages per second"
    assert events_ax.get_ylabel() and events_ax.get_shared_x_axes().joined(events_ax, rate_ax)
    assert rate_ax.get_xlim() == (0, report.duration)


@pytest.mark.timeout(30)
def test_immediate_queues_only_on_complete_connections(lab):
    """What notebook 00 shows: with immediate=1 nothing waits for an address where nobody listens."""
    def taken(pull, quiet_ms):
        n = 0
        while pull.poll(quiet_ms):              # until nothing has come for quiet_ms
            pull.recv()
            n += 1
        return n

    def deal(immediate):
        up, later = lab.endpoint("up", "tcp"), lab.endpoint("later", "tcp")
        pull_up = lab.socket(zmq.PULL)
        pull_up.bind(up)
        push = lab.socket(zmq.PUSH, immediate=immediate)
        push.connect(later)
        push.connect(up)
        assert push.poll(2000, zmq.POLLOUT)
        for n in range(10):
            push.send(b"%d" % n)
        got_up = taken(pull_up, 300)
        pull_later = lab.socket(zmq.PULL)
        pull_later.bind(later)
        return got_up, taken(pull_later, 600)

    assert deal(0) == (5, 5)
    assert deal(1) == (10, 0)
    lonely = lab.socket(zmq.PUSH, immediate=1)
    lonely.connect(lab.endpoint("nobody", "tcp"))
    with pytest.raises(zmq.Again):
        lonely.send(b"anybody there?", zmq.NOBLOCK)
