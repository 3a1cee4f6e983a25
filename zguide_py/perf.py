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


# ---- sweeps over message sizes and transports (notebook 16, `make bench`) ----------------------
#: The message sizes of the seed talk's tables, 1 B to 8 MB.
SIZES = [1, 8, 64, 512, 4 << 10, 32 << 10, 128 << 10, 512 << 10, 2 << 20, 8 << 20]
#: From this size up, frames are sent and received without copying (copy=False on both sides):
#: below ~64 kB copying is cheaper than zero-copy's bookkeeping.
ZERO_COPY_FROM = 64 << 10

#: The seed talk's measurements (C# on clrzmq, Windows 8.1, i7-4702MQ): size -> value.
SEED_LOCALHOST_MSGS = {1: 4138129, 8: 4197820, 64: 2392897, 512: 819342, 4096: 150987, 32768: 16160,
                       131072: 5405, 524288: 1374, 2097152: 327, 8388608: 78}
SEED_LOCALHOST_MBIT = {1: 33, 8: 268, 64: 1225, 512: 3356, 4096: 4947, 32768: 4236, 131072: 5667,
                       524288: 5762, 2097152: 5486, 8388608: 5234}
SEED_LOCALHOST_LATENCY_US = {8: 41.24, 64: 42.55, 512: 52.48, 4096: 89.03, 32768: 275.2, 131072: 1265.0,
                             524288: 1888.3, 2097152: 5531.4, 8388608: 25366.2}
SEED_REMOTE_MSGS = {1: 3562066, 8: 1176237, 64: 178276.2, 512: 22323.69, 4096: 2841.988, 32768: 359.1445,
                    131072: 86.9327, 524288: 22.3024, 2097152: 5.752958, 8388608: 1.544604}
SEED_REMOTE_MBIT = {1: 28.50, 8: 75.28, 64: 91.28, 512: 91.44, 4096: 93.13, 32768: 94.15, 131072: 91.16,
                    524288: 93.54, 2097152: 96.52, 8388608: 103.66}
SEED_REMOTE_LATENCY_US = {1: 399.9, 8: 404.5, 64: 377.4, 512: 562.9, 4096: 1073.4, 32768: 3668.6,
                          131072: 12305.7, 524288: 47084.2, 2097152: 186710.4, 8388608: 742378.3}


def human_size(size: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def _endpoint(transport: str, tmpdir: str, name: str) -> str:
    if transport == "inproc":
        return f"inproc://{name}"
    if transport == "ipc":
        return f"ipc://{tmpdir}/{name}"
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    raise ValueError(f"unknown transport {transport!r}: use inproc, ipc or tcp")


def _budget_count(size: int, seconds: float, assumed_rate: float) -> int:
    """How many messages of ``size`` fit in about ``seconds`` (at least 5)."""
    bytes_per_s = 1.5e9
    rate = min(assumed_rate, bytes_per_s / max(size, 1))
    return max(5, int(rate * seconds))


def throughput(transport: str = "tcp", size: int = 1, count: int | None = None,
               seconds: float = 0.25) -> dict:
    """Messages/s and Mbit/s of a PUSH -> PULL stream of ``count`` messages of ``size`` bytes,
    sender and receiver in two threads of one process (like libzmq's local_thr/remote_thr).
    Without ``count``, a short trial run sizes the real run to last about ``seconds``."""
    if size < 1:
        raise ValueError(f"message size must be at least 1 byte, not {size!r}")
    if count is None:
        trial = _throughput(transport, size, _budget_count(size, 0.02, 600_000))
        count = max(5, int(trial["msgs_per_s"] * seconds))
    return _throughput(transport, size, count)


def _throughput(transport: str, size: int, count: int) -> dict:
    import tempfile
    zero_copy = size >= ZERO_COPY_FROM
    body = b"x" * size
    with tempfile.TemporaryDirectory(prefix="zguide-perf-") as tmp, zmq.Context() as ctx:
        pull = ctx.socket(zmq.PULL)
        pull.rcvtimeo = 10_000
        pull.bind(_endpoint(transport, tmp, "thr"))
        endpoint = pull.last_endpoint.decode()
        push = ctx.socket(zmq.PUSH)
        push.sndtimeo = 10_000
        push.connect(endpoint)

        def send():
            push.send(b"go")
            for _ in range(count):
                push.send(body, copy=not zero_copy)

        sender = threading.Thread(target=send, daemon=True)
        started = time.perf_counter()       # from the first send: a queue filled early can't flatter us
        sender.start()
        pull.recv()
        for _ in range(count):
            pull.recv(copy=not zero_copy)
        elapsed = time.perf_counter() - started
        sender.join(10)
        push.close(linger=0)
        pull.close(linger=0)
    rate = count / elapsed
    return {"transport": transport, "size": size, "count": count, "msgs_per_s": rate,
            "mbit_per_s": rate * size * 8 / 1e6, "zero_copy": zero_copy}


def latency(transport: str = "tcp", size: int = 1, roundtrips: int | None = None,
            seconds: float = 0.25) -> dict:
    """One-way latency in µs (half the mean round trip) of REQ <-> REP ping-pong with ``size``-byte
    messages, like libzmq's local_lat/remote_lat."""
    if size < 1:
        raise ValueError(f"message size must be at least 1 byte, not {size!r}")
    if roundtrips is None:
        trial = _latency(transport, size, _budget_count(size * 2, 0.02, 15_000))
        roundtrips = max(5, int(seconds / (trial["latency_us"] * 2e-6)))
    return _latency(transport, size, roundtrips)


def _latency(transport: str, size: int, roundtrips: int) -> dict:
    import tempfile
    zero_copy = size >= ZERO_COPY_FROM
    body = b"x" * size
    with tempfile.TemporaryDirectory(prefix="zguide-perf-") as tmp, zmq.Context() as ctx:
        rep = ctx.socket(zmq.REP)
        rep.rcvtimeo = 10_000
        rep.bind(_endpoint(transport, tmp, "lat"))
        endpoint = rep.last_endpoint.decode()
        req = ctx.socket(zmq.REQ)
        req.rcvtimeo = 10_000
        req.connect(endpoint)

        def echo():
            for _ in range(roundtrips + 1):
                rep.send(rep.recv(copy=False), copy=not zero_copy)

        server = threading.Thread(target=echo, daemon=True)
        server.start()
        req.send(b"warm-up")
        req.recv()
        started = time.perf_counter()
        for _ in range(roundtrips):
            req.send(body, copy=not zero_copy)
            req.recv(copy=False)
        elapsed = time.perf_counter() - started
        server.join(10)
        req.close(linger=0)
        rep.close(linger=0)
    return {"transport": transport, "size": size, "roundtrips": roundtrips,
            "latency_us": elapsed / roundtrips / 2 * 1e6, "zero_copy": zero_copy}


def batched_records(records: int = 200_000, per_frame: int = 1000, record_size: int = 8,
                    transport: str = "inproc") -> dict:
    """Records/s when ``per_frame`` small records are packed into each frame (1 = one per message)."""
    if per_frame < 1:
        raise ValueError("per_frame must be at least 1")
    frames = max(20, records // per_frame)
    result = throughput(transport, record_size * per_frame, count=frames)
    return {"per_frame": per_frame, "records_per_s": result["msgs_per_s"] * per_frame,
            "frames_per_s": result["msgs_per_s"]}


def sweep(transports=("inproc", "ipc", "tcp"), sizes=SIZES, seconds: float = 0.2) -> list[dict]:
    """Throughput and latency for every transport and size: a list of rows."""
    rows = []
    for transport in transports:
        for size in sizes:
            thr = throughput(transport, size, seconds=seconds)
            lat = latency(transport, size, seconds=seconds)
            rows.append({**thr, "latency_us": lat["latency_us"], "roundtrips": lat["roundtrips"]})
    return rows


def sweep_table(rows: list[dict], seed: bool = True) -> str:
    """The sweep as a text table, with the seed talk's localhost figures beside the tcp rows."""
    head = f"{'transport':<10}{'size':>8}{'msg/s':>14}{'Mbit/s':>10}{'latency µs':>12}"
    if seed:
        head += f"   {'talk msg/s':>11}{'talk Mbit/s':>12}{'talk µs':>9}"
    lines = [head]
    for r in rows:
        line = (f"{r['transport']:<10}{human_size(r['size']):>8}{r['msgs_per_s']:>14,.0f}"
                f"{r['mbit_per_s']:>10,.0f}{r['latency_us']:>12,.1f}")
        if seed and r["transport"] == "tcp":
            s = r["size"]
            lat = SEED_LOCALHOST_LATENCY_US.get(s)
            line += (f"   {SEED_LOCALHOST_MSGS.get(s, 0):>11,.0f}{SEED_LOCALHOST_MBIT.get(s, 0):>12,.0f}"
                     f"{lat if lat is not None else float('nan'):>9,.1f}")
        lines.append(line)
    return "\n".join(lines)
