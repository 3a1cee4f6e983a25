"""Fuzz: the basic patterns' roles that read the network survive hostile input (issue 14).

Kept small: the subscriber, the pipeline worker and sink, and their parsers (plus the router-dealer
client's request parser). After each hostile batch a correct message must be handled correctly
within a bound, the role must still be running, and memory must stay bounded.
"""
from __future__ import annotations

import itertools
import struct

import pytest
import zmq
from fuzzkit import hostile, mutated, rss_mb
from hypothesis import given
from hypothesis import strategies as st

from zguide_py.patterns import pipeline, pubsub
from zguide_py.patterns.routerdealer import request_of

RSS_GROWTH_MB = 150
BOUND = 5.0

pytestmark = pytest.mark.fuzz

_probes = itertools.count()
NUMBERS = [b"0", b"1", b"-1", b"9" * 30, b"\xd9\xa3", b" 1", b"start"]


def send_all(sock: zmq.Socket, batch: list[list[bytes]]) -> None:
    for message in batch:
        assert sock.poll(int(BOUND * 1000), zmq.POLLOUT), "no room to send: is the role dead?"
        sock.send_multipart(message, zmq.NOBLOCK)


def served(lab, peer, condition, what: str):
    """Wait (at most BOUND s) for ``condition()``; fail at once if the role has died."""
    def check():
        assert peer.state == "running", f"{peer.name} is {peer.state}: {lab.errors().get(peer.name)}"
        return condition()
    return lab.wait_for(check, BOUND, what)


@pytest.mark.timeout(120)
def test_subscriber_survives_a_hostile_publisher(lab):
    pub = lab.socket(zmq.PUB)
    pub.bind(lab.endpoint("pub"))
    sub = lab.start("sub", pubsub.subscriber, endpoint=lab.endpoint("pub"), topics=[""], log=1000)
    start_rss = rss_mb()

    @given(batch=hostile(NUMBERS) | mutated([[b"t", b"1", b"src"], [pubsub.HELLO, b"src"]], NUMBERS))
    def check(batch):
        assert sub.state == "running"
        send_all(pub, batch)
        seq = next(_probes)

        def logged():                        # resent: the first may beat the subscription
            pub.send_multipart([b"probe", b"%d" % seq, b"src"])
            return any(e[1:] == ("src", "probe", seq) for e in list(sub.data.get("log", [])))
        served(lab, sub, logged, "the probe logged")
        assert len(sub.data["log"]) <= 1000 and rss_mb() - start_rss < RSS_GROWTH_MB

    check()


@pytest.mark.timeout(120)
def test_pipeline_worker_and_sink_survive_hostile_messages(lab):
    tasks = lab.socket(zmq.PUSH)
    tasks.bind(lab.endpoint("tasks"))
    results = lab.socket(zmq.PULL)
    results.bind(lab.endpoint("results"))
    worker = lab.start("worker", pipeline.worker, endpoint=lab.endpoint("tasks"), sink=lab.endpoint("results"),
                       max_work=0.01)
    to_sink = lab.socket(zmq.PUSH)
    to_sink.connect(lab.endpoint("sink"))
    sink = lab.start("sink", pipeline.sink, endpoint=lab.endpoint("sink"))
    start_rss = rss_mb()
    zero = struct.pack("!d", 0.0)
    tokens = [*NUMBERS, zero, struct.pack("!d", float("nan")), struct.pack("!d", 1e300), struct.pack("!d", -1.0)]

    @given(task_batch=hostile(tokens) | mutated([[b"0", b"1", zero]], tokens),
           sink_batch=hostile(tokens) | mutated([[b"start", b"7", b"3"], [b"7", b"1", b"w"]], tokens))
    def check(task_batch, sink_batch):
        assert worker.state == "running" and sink.state == "running"
        send_all(tasks, task_batch)
        send_all(to_sink, sink_batch)
        probe = next(_probes)
        tasks.send_multipart([b"5", b"%d" % probe, zero])

        def result():
            return results.poll(0) and results.recv_multipart() == [b"5", b"%d" % probe, b"worker"]
        served(lab, worker, result, "the probe task done")
        to_sink.send_multipart([b"start", b"123456", b"1000000"])
        to_sink.send_multipart([b"123456", b"%d" % probe, b"w"])
        served(lab, sink, lambda: lab.peer("sink").data["batches"].get(123456, {}).get("results", {}).get(probe)
               == "w", "the probe result at the sink")
        assert len(sink.data["batches"]) <= pipeline.MAX_BATCHES
        while results.poll(0):
            results.recv_multipart()
        assert rss_mb() - start_rss < RSS_GROWTH_MB

    check()


# ---- the parsers ------------------------------------------------------------------------------

FRAMES = st.lists(st.binary(max_size=10) | st.sampled_from(NUMBERS), min_size=1, max_size=4)


@given(frames=FRAMES)
def test_parse_data_is_strict(frames):
    parsed = pubsub.parse_data(frames)
    if parsed is not None:
        topic, seq, source = parsed
        assert [topic.encode(), b"%d" % seq, source.encode()] == [frames[0], b"%d" % int(frames[1]), frames[2]]
        assert frames[1].isdigit()


@given(frames=FRAMES | st.lists(st.binary(min_size=8, max_size=8), min_size=3, max_size=3))
def test_parse_task_and_result_never_raise(frames):
    task = pipeline.parse_task(frames)
    assert task is None or (len(frames) == 3 and 0 <= task[2] <= pipeline.MAX_WORK)
    result = pipeline.parse_result(frames)
    assert result is None or result[0] in ("start", "result")


@given(body=st.binary(max_size=30) | st.sampled_from([b"c:\xd9\xa3", "c:\u00b2".encode(), b"c:" + b"9" * 5000]))
def test_request_of_never_raises(body):
    name, number = request_of(body)
    assert number is None or number >= 0
