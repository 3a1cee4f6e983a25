"""One bench: measure one point (a size, copying or not) on one transport, for Python and for C alike.

:class:`PointBench` holds what every bench shares: the message count sized to the time asked for
(:func:`calibrated`), the checks, the endpoints and the result's shape. A bench only says how to make
one run of ``count`` messages (:meth:`PointBench.run`): :class:`Bench` with pyzmq, here and in its far
side, and :class:`~zguide_py.perf.cbaseline.CBench` with the C program ``zperf``.
"""
from __future__ import annotations

import shutil
import tempfile
from typing import Callable

import zmq

from .common import TIMEOUT_MS, check, data_socket, human_size, mode_name
from .farside import RemotePeer, ThreadPeer
from .loops import ping, recv_stream

MIN_THR, MAX_THR = 4, 20_000_000
MIN_LAT, MAX_LAT = 3, 2_000_000


def calibrated(measure: Callable[[int], dict], first_count: int, seconds: float, lo: int, hi: int) -> dict:
    """Run ``measure(count)`` (a dict with ``elapsed_s``) with growing counts (at most 8x a step)
    until a run lasts at least half of ``seconds``, and return that run. The early, short runs only
    size the next one: they are cheap and say little (queues that filled before the clock started
    drain in a burst, a slow start looks slow)."""
    count = max(lo, min(hi, first_count))
    for _ in range(12):
        run = measure(count)
        if run["elapsed_s"] >= seconds * 0.5 or count >= hi:
            return run
        count = max(lo, min(hi, count * 8, int(count * seconds / max(run["elapsed_s"], 1e-6))))
    return run


def first_count(kind: str, size: int, seconds: float, guess: float | None = None) -> int:
    """The first run's count. From ``guess`` (msg/s for "thr", one-way µs for "lat": the previous
    size's figure in a sweep) it should last about 60% of ``seconds``; without one, ~10 ms at a
    pessimistic rate."""
    if kind == "thr":
        return int(guess * seconds * 0.6) if guess else int(min(50_000, 100e6 / size) * 0.01)
    if guess:
        return int(seconds * 0.6 / (2 * guess * 1e-6))
    return int(0.01 / (2 * (50e-6 + size / 100e6)))


class PointBench:
    """Measures points on one transport. Subclasses implement :meth:`run`; use them with ``with``."""

    transport: str
    processes: bool

    def __init__(self, transport: str):
        check(transport, 1)
        self.transport = transport
        self._tmp: str | None = None
        self._n = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def run(self, kind: str, size: int, count: int, zero_copy: bool) -> dict:
        """One run: ``kind`` "thr" -> ``{"msgs_per_s"}``, "lat" -> ``{"latency_us"}``."""
        raise NotImplementedError

    def new_endpoint(self) -> str:
        """A fresh endpoint on this bench's transport (ipc: a file in a folder of its own)."""
        self._n += 1
        if self.transport == "inproc":
            return f"inproc://perf-{self._n}"
        if self.transport == "ipc":
            if self._tmp is None:
                self._tmp = tempfile.mkdtemp(prefix="zguide-perf-")
            return f"ipc://{self._tmp}/{self._n}"
        return "tcp://127.0.0.1:*"

    def _timed(self, kind: str, size: int, count: int, zero_copy: bool) -> dict:
        r = self.run(kind, size, count, zero_copy)
        if kind == "thr":
            return {"count": count, "msgs_per_s": r["msgs_per_s"], "elapsed_s": (count - 1) / r["msgs_per_s"]}
        return {"roundtrips": count, "latency_us": r["latency_us"], "elapsed_s": r["latency_us"] * 2e-6 * count}

    def _measure(self, kind: str, size: int, zero_copy: bool, count: int | None, seconds: float,
                 guess: float | None) -> dict:
        check(self.transport, size)
        if count is not None:
            if count < (2 if kind == "thr" else 1):
                raise ValueError("count must be at least 2: the clock starts at the first message"
                                 if kind == "thr" else "count must be at least 1 round trip")
            return self._timed(kind, size, count, zero_copy)
        lo, hi = (MIN_THR, MAX_THR) if kind == "thr" else (MIN_LAT, MAX_LAT)
        return calibrated(lambda n: self._timed(kind, size, n, zero_copy), first_count(kind, size, seconds, guess),
                          seconds, lo, hi)

    def throughput(self, size: int, zero_copy: bool = False, count: int | None = None,
                   seconds: float = 0.25, guess: float | None = None) -> dict:
        """Messages/s and Mbit/s of ``count`` messages (default: as many as fit in ``seconds``;
        ``guess``, a rate in msg/s, saves the trial runs that find it)."""
        r = self._measure("thr", size, zero_copy, count, seconds, guess)
        return {"transport": self.transport, "processes": self.processes, "size": size,
                "mode": mode_name(zero_copy), "count": r["count"], "msgs_per_s": r["msgs_per_s"],
                "mbit_per_s": r["msgs_per_s"] * size * 8 / 1e6}

    def latency(self, size: int, zero_copy: bool = False, count: int | None = None,
                seconds: float = 0.25, guess: float | None = None) -> dict:
        """One-way latency in µs: half the mean of ``count`` REQ/REP round trips (``guess``: in µs)."""
        r = self._measure("lat", size, zero_copy, count, seconds, guess)
        return {"transport": self.transport, "processes": self.processes, "size": size,
                "mode": mode_name(zero_copy), "roundtrips": r["roundtrips"], "latency_us": r["latency_us"]}

    def close(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


class Bench(PointBench):
    """Python (pyzmq): this side (the receiver that counts, the pinger that times) runs here; the far
    side is a :class:`ThreadPeer` (inproc) or a :class:`RemotePeer` child process (ipc, tcp).
    ``with Bench("tcp") as b: b.throughput(4096, zero_copy=True)``."""

    def __init__(self, transport: str, processes: bool | None = None):
        super().__init__(transport)
        if processes is None:
            processes = transport != "inproc"
        if processes and transport == "inproc":
            raise ValueError("inproc connects threads of one process: it cannot cross processes")
        self.processes = processes
        self.ctx = zmq.Context()
        try:
            self.peer = RemotePeer(self.ctx) if processes else ThreadPeer(self.ctx)
        except BaseException:
            self.ctx.destroy(linger=0)
            raise

    def run(self, kind: str, size: int, count: int, zero_copy: bool) -> dict:
        what = f"{'throughput' if kind == 'thr' else 'latency'} {self.transport} {human_size(size)}"
        sock = data_socket(self.ctx, zmq.PULL if kind == "thr" else zmq.REQ, size)
        try:
            if kind == "thr":
                sock.bind(self.new_endpoint())
                self.peer.send(op="push", endpoint=sock.last_endpoint.decode(), size=size, count=count,
                               zero_copy=zero_copy)
            else:
                self.peer.send(op="echo", endpoint=self.new_endpoint(), size=size, count=count,
                               zero_copy=zero_copy)
                sock.connect(self.peer.recv()["endpoint"])
            try:
                if kind == "thr":
                    result = {"msgs_per_s": recv_stream(sock, count, zero_copy)}
                else:
                    result = {"latency_us": ping(sock, b"x" * size, count, zero_copy)}
            except zmq.Again:
                raise TimeoutError(f"{what}: no {'message' if kind == 'thr' else 'reply'} for "
                                   f"{TIMEOUT_MS / 1000:.0f} s") from None
            self.peer.recv()
        finally:
            sock.close()
        return result

    def close(self) -> None:
        """Stop the far side (the child process is asked to quit, then killed, always reaped)."""
        try:
            self.peer.close()
        finally:
            self.ctx.destroy(linger=0)
            super().close()


def throughput(transport: str = "tcp", size: int = 1, count: int | None = None, zero_copy: bool = False,
               seconds: float = 0.25, processes: bool | None = None) -> dict:
    """One throughput measurement (two threads for inproc, two processes for ipc and tcp)."""
    check(transport, size)
    with Bench(transport, processes) as bench:
        return bench.throughput(size, zero_copy, count, seconds)


def latency(transport: str = "tcp", size: int = 1, roundtrips: int | None = None, zero_copy: bool = False,
            seconds: float = 0.25, processes: bool | None = None) -> dict:
    """One latency measurement (two threads for inproc, two processes for ipc and tcp)."""
    check(transport, size)
    with Bench(transport, processes) as bench:
        return bench.latency(size, zero_copy, roundtrips, seconds)
