"""Performance: how fast a PUSH/PULL pair goes, bare and inside the lab.

``bench_overhead`` answers one question: what do the lab's lifecycle and metrics cost on the message
path? It runs the same PUSH/PULL transfer over inproc twice, alternating, several rounds:

* bare: two threads on a plain ``zmq.Context()``, blocking ``send``/``recv``, no counters;
* lab: the same transfer as two lab roles - killable (``peer.running``, a 50 ms receive timeout),
  throttleable, and counting every message on both sides in ``peer.counters``.

and prints the median rate of each and the overhead, as a table.
"""
from __future__ import annotations

import statistics
import threading
import time

import zmq

from .lab import Lab


# ---- the bare loop ------------------------------------------------------------------------------
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




# ---- the same loop as lab roles -----------------------------------------------------------------
def bench_sender(peer, endpoint: str, messages: int, size: int = 1):
    """PUSH ``messages`` messages as fast as possible, counting each."""
    push = peer.socket(zmq.PUSH)
    push.sndtimeo = 50                # a send that waits more than 50 ms checks peer.running
    push.connect(endpoint)
    body = b"x" * size
    sent = peer.counter("sent")       # the hot-path idiom: one attribute increment per message
    push.send(b"go")                  # warm-up message
    for _ in range(messages):
        while True:
            try:
                push.send(body)
                break
            except zmq.Again:
                if not peer.running:
                    return
        sent.value += 1


def bench_receiver(peer, endpoint: str, messages: int):
    """PULL until ``messages`` arrived, counting each; killable within 50 ms; throttleable."""
    pull = peer.socket(zmq.PULL)
    pull.rcvtimeo = 50                # a recv that waits more than 50 ms checks peer.running
    pull.bind(endpoint)
    received = peer.counter("received")
    while True:                       # the warm-up message starts the clock
        try:
            pull.recv()
            break
        except zmq.Again:
            if not peer.running:
                return
    started = time.perf_counter()
    for _ in range(messages):
        while True:
            try:
                pull.recv()
                break
            except zmq.Again:
                if not peer.running:
                    return
        received.value += 1
        if peer.delay:
            peer.throttle()
    peer.data["rate"] = messages / (time.perf_counter() - started)


def lab_pushpull(messages: int, size: int = 1) -> float:
    """Messages per second through the same transfer run as two lab roles."""
    with Lab("bench-overhead") as lab:
        endpoint = lab.endpoint("bench")
        receiver = lab.start("receiver", bench_receiver, endpoint=endpoint, messages=messages)
        lab.start("sender", bench_sender, endpoint=endpoint, messages=messages, size=size)
        receiver._thread.join(120)     # not wait_done: its 5 ms polling would steal the GIL
        lab.check()
        return receiver.data["rate"]


def bench_overhead(messages: int = 200_000, rounds: int = 5) -> int:
    """Print bare vs lab rates (median of ``rounds``) and the overhead. Returns 1 if over 10%."""
    bare, lab = [], []
    for _ in range(rounds):
        bare.append(bare_pushpull(messages))
        lab.append(lab_pushpull(messages))
    b, l_ = statistics.median(bare), statistics.median(lab)
    overhead = (b - l_) / b * 100
    print(f"PUSH/PULL over inproc, 1-byte messages, {messages:,} per round, median of {rounds} rounds")
    print(f"{'loop':<34}{'msg/s (median)':>16}{'min':>12}{'max':>12}")
    print(f"{'bare pyzmq (blocking recv)':<34}{b:>16,.0f}{min(bare):>12,.0f}{max(bare):>12,.0f}")
    print(f"{'lab role (killable, counted)':<34}{l_:>16,.0f}{min(lab):>12,.0f}{max(lab):>12,.0f}")
    print(f"lab overhead: {overhead:.1f}% (target: under 10%) -> {'OK' if overhead < 10 else 'TOO SLOW'}")
    return 0 if overhead < 10 else 1
