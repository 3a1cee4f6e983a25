"""Beating the per-message cost (pack records into frames), and the GIL's cost (the far side as a
thread or as a process): notebook 16's sections 6 and 7."""
from __future__ import annotations

import threading
import time

import zmq

from .bench import MIN_THR, Bench
from .common import TIMEOUT_MS, check, data_socket


def batched_records(records: int = 400_000, per_frame: int = 1000, record_size: int = 64,
                    transport: str = "inproc") -> dict:
    """Logical records per second when ``per_frame`` records of ``record_size`` bytes travel in one
    frame. The sender really packs record objects (``b"".join``), the receiver really slices each frame
    back into records (``memoryview``), so the packing costs are in the figure. Two threads, PUSH/PULL,
    counted at the receiver from the first frame's arrival."""
    if per_frame < 1:
        raise ValueError("per_frame must be at least 1")
    check(transport, record_size)
    frames = max(MIN_THR, records // per_frame)
    batch = [b"r" * record_size] * per_frame
    with Bench(transport, processes=False) as bench:
        pull = data_socket(bench.ctx, zmq.PULL, record_size * per_frame)
        push = data_socket(bench.ctx, zmq.PUSH, record_size * per_frame, linger=TIMEOUT_MS)
        try:
            pull.bind(bench.new_endpoint())
            push.connect(pull.last_endpoint.decode())

            def sender():
                join = b"".join
                try:
                    for _ in range(frames):
                        push.send(join(batch))
                except zmq.Again:
                    pass                        # the receiver's own timeout reports it

            thread = threading.Thread(target=sender, name="perf-batch-sender", daemon=True)
            thread.start()
            got = 0
            try:
                for i in range(frames):
                    view = memoryview(pull.recv())
                    unpacked = [view[j:j + record_size] for j in range(0, len(view), record_size)]
                    if i == 0:
                        started = time.perf_counter()    # the clock starts at the first frame
                    else:
                        got += len(unpacked)
            except zmq.Again:
                raise TimeoutError(f"batching: no frame for {TIMEOUT_MS / 1000:.0f} s") from None
            took = time.perf_counter() - started
            thread.join(TIMEOUT_MS / 1000 + 5)
        finally:
            pull.close()
            push.close()
    if got != (frames - 1) * per_frame:
        raise RuntimeError(f"batching: {got} records unpacked, {(frames - 1) * per_frame} expected")
    return {"transport": transport, "per_frame": per_frame, "record_size": record_size,
            "records": frames * per_frame, "records_per_s": got / took, "frames_per_s": (frames - 1) / took,
            "mbit_per_s": got * record_size * 8 / took / 1e6}


def threads_vs_processes(transport: str = "tcp", sizes=(1, 64, 512), seconds: float = 0.05,
                         repeats: int = 3) -> list[dict]:
    """The same copying PUSH/PULL stream with the far side as a thread of this process (one GIL)
    and as a child process (a GIL each): the best of ``repeats`` runs of each, interleaved."""
    rows = []
    with Bench(transport, processes=False) as threads, Bench(transport, processes=True) as procs:
        for size in sizes:
            best = {"threads": 0.0, "processes": 0.0}
            for _ in range(repeats):
                for name, bench in (("threads", threads), ("processes", procs)):
                    rate = bench.throughput(size, seconds=seconds, guess=best[name] or None)["msgs_per_s"]
                    best[name] = max(best[name], rate)
            rows.append({"size": size, **best})
    return rows
