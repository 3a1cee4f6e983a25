"""What the lab costs on the message path: the same PUSH/PULL transfer as bare pyzmq and as two lab
roles (killable, throttleable, counted). Notebook 16 shows the roles; ``make bench`` judges the cost."""
from __future__ import annotations

import statistics
import threading
import time

import zmq

from ..lab import Lab
from ..peer import SLICE

#: The lab's kill slice in milliseconds: the roles' blocking sends and receives give up after it.
SLICE_MS = int(SLICE * 1000)


def bare_pushpull(messages: int, size: int = 1) -> float:
    """Messages per second through a plain pyzmq PUSH/PULL pair over inproc."""
    body = b"x" * size
    with zmq.Context() as ctx:
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://bare")
        push = ctx.socket(zmq.PUSH)
        push.connect("inproc://bare")

        def send():
            for _ in range(messages):
                push.send(body)

        sender = threading.Thread(target=send)
        push.send(b"go")
        pull.recv()                      # warm-up message: the clock starts when traffic flows
        started = time.perf_counter()
        sender.start()
        for _ in range(messages):
            pull.recv()
        elapsed = time.perf_counter() - started
        sender.join()
        push.close(linger=0)
        pull.close(linger=0)
    return messages / elapsed


def bench_sender(peer, endpoint: str, messages: int, size: int = 1):
    """PUSH ``messages`` messages as fast as possible, counting each."""
    push = peer.socket(zmq.PUSH, sndtimeo=SLICE_MS)    # a send gives up after one slice
    push.connect(endpoint)
    body = b"x" * size
    sent = peer.counter("sent")       # the hot-path idiom: one attribute increment per message
    if not peer.send(push, b"go"):    # warm-up message
        return
    for _ in range(messages):
        if not peer.running:          # killed: stop, even while there is room to send
            return
        while True:
            try:
                push.send(body)
                break
            except zmq.Again:         # the queue stayed full for a slice: killed meanwhile?
                if not peer.running:
                    return
        sent.value += 1


def bench_receiver(peer, endpoint: str, messages: int):
    """PULL until ``messages`` arrived, counting each; killable within one slice; throttleable."""
    pull = peer.socket(zmq.PULL, rcvtimeo=SLICE_MS)    # a recv gives up after one slice
    pull.bind(endpoint)
    received = peer.counter("received")
    if not peer.poll(pull):           # the warm-up message starts the clock
        return
    pull.recv()
    started = time.perf_counter()
    for _ in range(messages):
        if not peer.running:          # killed: stop, even while messages keep coming
            return
        while True:
            try:
                pull.recv()
                break
            except zmq.Again:         # no message for a slice: killed meanwhile?
                if not peer.running:
                    return
        received.value += 1
        if peer.delay:
            peer.throttle()
    peer.data["rate"] = messages / (time.perf_counter() - started)


def lab_pushpull(messages: int, size: int = 1) -> float:
    """Messages per second through the same transfer run as two lab roles."""
    finished = threading.Event()      # set by the receiver's thread: no polling that steals the GIL

    def receiver(peer, **params):
        try:
            bench_receiver(peer, **params)
        finally:
            finished.set()

    with Lab("bench-overhead") as lab:
        endpoint = lab.endpoint("bench")
        peer = lab.start("receiver", receiver, endpoint=endpoint, messages=messages)
        lab.start("sender", bench_sender, endpoint=endpoint, messages=messages, size=size)
        if not finished.wait(120):
            raise TimeoutError(f"the lab's receiver did not get {messages:,} messages within 120 s")
        lab.check()
        return peer.data["rate"]


def measure_overhead(messages: int = 200_000, rounds: int = 5) -> dict:
    """Bare and lab rates, ``rounds`` of each (interleaved), their medians and the lab's overhead in %."""
    bare, lab = [], []
    for _ in range(rounds):
        bare.append(bare_pushpull(messages))
        lab.append(lab_pushpull(messages))
    b, l_ = statistics.median(bare), statistics.median(lab)
    return {"messages": messages, "rounds": rounds, "bare": bare, "lab": lab, "bare_median": b,
            "lab_median": l_, "overhead_pct": (b - l_) / b * 100}


def overhead_table(result: dict) -> str:
    """The two loops' rates, as a table, and the overhead."""
    bare, lab = result["bare"], result["lab"]
    return "\n".join([
        f"PUSH/PULL over inproc, 1-byte messages, {result['messages']:,} per round, median of {result['rounds']} rounds",
        f"{'loop':<34}{'msg/s (median)':>16}{'min':>12}{'max':>12}",
        f"{'bare pyzmq (blocking recv)':<34}{result['bare_median']:>16,.0f}{min(bare):>12,.0f}{max(bare):>12,.0f}",
        f"{'lab role (killable, counted)':<34}{result['lab_median']:>16,.0f}{min(lab):>12,.0f}{max(lab):>12,.0f}",
        f"lab overhead: {result['overhead_pct']:.1f}%"])
