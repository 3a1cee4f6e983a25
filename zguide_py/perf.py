"""Performance: throughput and latency from 1 B to 8 MB, measured the way libzmq's perf tools do.

Two measurements, as in libzmq's ``local_thr``/``remote_thr`` and ``local_lat``/``remote_lat``:

* **throughput** - a PUSH socket sends ``count`` messages back to back to a PULL socket. The receiver
  counts: its clock starts when the first message arrives and stops at the last one, so connecting
  and queueing never flatter the figure. Result: messages/s and Mbit/s.
* **latency** - a REQ socket and a REP echo play ping-pong, one message in flight. One warm-up round
  trip (it connects), then ``count`` timed round trips; one-way latency = round trip / 2, in µs.

The two sides run as two threads of one process over ``inproc``, and as **two processes** over
``ipc`` and ``tcp`` (loopback): the far side is a child process (``python -m zguide_py.perf peer``)
driven over a small control socket, because the threads of one Python process share one GIL.
Every size is measured with copying sends (``copy=True``) and zero-copy sends (``copy=False`` on both
sides; pyzmq itself still copies frames under ``zmq.COPY_THRESHOLD``, 64 kB).

The **native C baseline** is a small program of this project, ``tools/perf_c/zperf.c``, built with
the system ``cc`` against the system libzmq into ``build/perf_c/``; it runs the same four loops, in
two processes (or two threads for inproc), so every Python row has a C row beside it.

Message counts are chosen per size: a short trial run sizes the real one to last about ``seconds``.

    python -m zguide_py perf --transport tcp --sizes 1,64,4k,512k,8M --json perf.json
    python -m zguide_py bench              # the sweep against C, the batching demo, the targets

``bench_overhead`` (below the sweep) answers another question: what do the lab's roles cost on the
message path, bare pyzmq against the same loop as two lab roles.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import queue
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

import zmq

from .lab import Lab

#: The message sizes of the seed talk's tables, 1 B to 8 MB.
SIZES = [1, 8, 64, 512, 4 << 10, 32 << 10, 128 << 10, 512 << 10, 2 << 20, 8 << 20]
TRANSPORTS = ("inproc", "ipc", "tcp")
#: "copy": send(copy=True)/recv(copy=True); "zero-copy": send(copy=False)/recv(copy=False).
MODES = ("copy", "zero-copy")
#: The largest message the command line accepts.
MAX_SIZE = 64 << 20
#: A send or receive that waits longer than this fails the measurement (a dead peer, not a slow one).
TIMEOUT_MS = 10_000

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

ROOT = Path(__file__).resolve().parent.parent
C_SOURCE = ROOT / "tools" / "perf_c" / "zperf.c"
C_BUILD_DIR = ROOT / "build" / "perf_c"


# ---- sizes -------------------------------------------------------------------------------------
def human_size(size: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def parse_size(text: str) -> int:
    """``"64"``, ``"4k"``, ``"4kB"``, ``"8M"``, ``"8 MB"`` -> bytes (k = 1024, M = 1024²)."""
    t = text.strip().replace(" ", "")
    scale = 1
    for suffix, factor in (("kB", 1 << 10), ("KB", 1 << 10), ("k", 1 << 10), ("K", 1 << 10),
                           ("MB", 1 << 20), ("M", 1 << 20), ("m", 1 << 20), ("B", 1)):
        if t.endswith(suffix):
            t, scale = t[: -len(suffix)], factor
            break
    if not t.isdigit():
        raise ValueError(f"bad message size {text!r}: use bytes or a k/M suffix, like 64, 4k, 8M")
    size = int(t) * scale
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"message size {text!r} is out of range: 1 B to {human_size(MAX_SIZE)}")
    return size


def hwm_for(size: int) -> int:
    """High-water mark for a size: 1000 messages (libzmq's default), but at most ~64 MB queued per
    socket, so that copying 8 MB messages cannot pile up gigabytes on a shared machine."""
    return max(4, min(1000, (64 << 20) // size))


def _check(transport: str, size: int) -> None:
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}: use inproc, ipc or tcp")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"message size must be at least 1 byte, not {size!r}")


def _mode(zero_copy: bool) -> str:
    return "zero-copy" if zero_copy else "copy"


# ---- the measuring loops: the same code in a thread, in the child process and in the notebook ----
def recv_stream(pull: zmq.Socket, count: int, zero_copy: bool) -> float:
    """local_thr: receive ``count`` messages; messages/s from the first arrival to the last."""
    copy = not zero_copy
    recv = pull.recv
    recv(copy=copy)                     # the clock starts when traffic arrives
    started = time.perf_counter()
    for _ in range(count - 1):
        recv(copy=copy)
    return (count - 1) / (time.perf_counter() - started)


def send_stream(push: zmq.Socket, body: bytes, count: int, zero_copy: bool) -> None:
    """remote_thr: send ``count`` messages back to back."""
    copy = not zero_copy
    send = push.send
    for _ in range(count):
        send(body, copy=copy)


def echo(rep: zmq.Socket, count: int, zero_copy: bool) -> None:
    """local_lat: send every request straight back (one warm-up + ``count``)."""
    copy = not zero_copy
    for _ in range(count + 1):
        rep.send(rep.recv(copy=copy), copy=copy)


def ping(req: zmq.Socket, body: bytes, count: int, zero_copy: bool) -> float:
    """remote_lat: one warm-up round trip, then ``count`` timed ones; returns one-way µs."""
    copy = not zero_copy
    req.send(body, copy=copy)
    req.recv(copy=copy)
    started = time.perf_counter()
    for _ in range(count):
        req.send(body, copy=copy)
        req.recv(copy=copy)
    return (time.perf_counter() - started) / count / 2 * 1e6


def _data_socket(ctx: zmq.Context, kind: int, size: int, linger: int = 0) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.linger = linger
    sock.rcvtimeo = sock.sndtimeo = TIMEOUT_MS
    sock.sndhwm = sock.rcvhwm = hwm_for(size)
    return sock


def _do_op(ctx: zmq.Context, cmd: dict, reply) -> zmq.Socket | None:
    """The far side of one measurement: ``push`` (remote_thr) or ``echo`` (local_lat). ``reply`` gets
    the echo's endpoint first (it binds), then ``{"ok": True}`` or ``{"error": ...}``.

    On success the socket is returned still open, and the caller closes it only when the next command
    comes, once the measuring side has everything: closing a socket while messages are still queued
    can lose them (seen over ipc with libzmq 4.3), and the receiver would wait for them forever."""
    size, count, zero_copy = cmd["size"], cmd["count"], cmd["zero_copy"]
    body = b"x" * size
    sock = _data_socket(ctx, zmq.PUSH if cmd["op"] == "push" else zmq.REP, size)
    try:
        if cmd["op"] == "push":
            sock.connect(cmd["endpoint"])
            send_stream(sock, body, count, zero_copy)
        elif cmd["op"] == "echo":
            sock.bind(cmd["endpoint"])
            reply({"endpoint": sock.last_endpoint.decode()})
            echo(sock, count, zero_copy)
        else:
            raise ValueError(f"unknown operation {cmd['op']!r}")
        reply({"ok": True})
        return sock
    except zmq.Again:
        reply({"error": f"{cmd['op']}: no progress for {TIMEOUT_MS / 1000:.0f} s (is the other side gone?)"})
    except Exception as exc:            # reported to the measuring side, which raises it
        reply({"error": f"{cmd['op']}: {exc!r}"})
    sock.close()
    return None


class ThreadPeer:
    """The far side as a thread of this process (inproc, or ipc/tcp when comparing with threads)."""

    processes = False

    def __init__(self, ctx: zmq.Context):
        self.ctx = ctx
        self.replies: queue.Queue = queue.Queue()
        self.threads: list[threading.Thread] = []
        self.held: list[zmq.Socket] = []

    def _run(self, cmd: dict) -> None:
        sock = _do_op(self.ctx, cmd, self.replies.put)
        if sock is not None:
            self.held.append(sock)

    def _release(self) -> None:
        """Close the last operation's socket: its thread has finished, the measuring side has all."""
        for thread in self.threads:
            thread.join(TIMEOUT_MS / 1000 + 5)
        self.threads = [t for t in self.threads if t.is_alive()]
        while self.held:
            self.held.pop().close()

    def send(self, **cmd) -> None:
        self._release()
        thread = threading.Thread(target=self._run, args=(cmd,), name=f"perf-{cmd['op']}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def recv(self, timeout: float = 30.0) -> dict:
        try:
            msg = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the perf peer thread did not answer within {timeout:.0f} s") from None
        if "error" in msg:
            raise RuntimeError(f"perf peer: {msg['error']}")
        return msg

    def close(self) -> None:
        self._release()


def _reap(proc: subprocess.Popen) -> None:
    """Make sure a child is gone (asking nicely is the caller's job): kill, wait, close its pipes."""
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


class RemotePeer:
    """The far side as a child process: ``python -m zguide_py.perf peer <control endpoint>``.

    The child connects a PAIR control socket back to us and runs one operation per command. It
    is killed and reaped by ``close()`` (or ``with``), when this object is garbage collected, and at
    interpreter exit; and it exits by itself if its parent goes away.
    """

    processes = True

    def __init__(self, ctx: zmq.Context, start_timeout: float = 30.0):
        self.ctl = ctx.socket(zmq.PAIR)
        self.ctl.linger = 0
        self.ctl.bind("tcp://127.0.0.1:*")
        endpoint = self.ctl.last_endpoint.decode()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "zguide_py.perf", "peer", endpoint],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, env=env)
        self._finalizer = weakref.finalize(self, _reap, self.proc)
        try:
            self.pid = self.recv(start_timeout)["ready"]
        except BaseException:
            self.close()
            raise

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read()[-2000:].decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def send(self, **cmd) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"perf peer process exited with status {self.proc.returncode}: "
                               f"{self._stderr_tail()}")
        self.ctl.send_json(cmd)

    def recv(self, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while not self.ctl.poll(100):
            if self.proc.poll() is not None:
                raise RuntimeError(f"perf peer process exited with status {self.proc.returncode}: "
                                   f"{self._stderr_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the perf peer process did not answer within {timeout:.0f} s")
        msg = self.ctl.recv_json()
        if "error" in msg:
            raise RuntimeError(f"perf peer: {msg['error']}")
        return msg

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """Ask the child to quit, wait up to 3 s, then kill it; always reaps it."""
        if self.proc.poll() is None:
            try:
                self.ctl.send_json({"op": "quit"}, zmq.NOBLOCK)
                self.proc.wait(3)
            except (zmq.ZMQError, subprocess.TimeoutExpired):
                pass
        self._finalizer()               # kill if still alive, and wait: no zombie
        self.ctl.close(linger=0)
        self._stderr.close()


def _peer_main(control: str) -> int:
    """The child process's loop: one command at a time from the parent, until "quit" or orphaned."""
    parent = os.getppid()
    ctx = zmq.Context()
    ctl = ctx.socket(zmq.PAIR)
    ctl.linger = 0
    ctl.connect(control)
    ctl.send_json({"ready": os.getpid()})
    held = None                                 # the last operation's socket, closed by the next one
    try:
        while True:
            if not ctl.poll(500):
                if os.getppid() != parent:      # the parent died without telling us
                    return 1
                continue
            cmd = ctl.recv_json()
            if held is not None:
                held.close()
                held = None
            if cmd.get("op") == "quit":
                return 0
            held = _do_op(ctx, cmd, ctl.send_json)
    finally:
        ctx.destroy(linger=0)


# ---- one transport's measuring session --------------------------------------------------------
MIN_THR, MAX_THR = 4, 20_000_000
MIN_LAT, MAX_LAT = 3, 2_000_000


def _calibrated(measure, first_count: int, seconds: float, lo: int, hi: int) -> dict:
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


def _first_thr_count(size: int, seconds: float, guess: float | None = None) -> int:
    """The first run's count: from ``guess`` (msg/s, e.g. the previous size's rate in a sweep) it
    should last about 60% of ``seconds``; without one, ~10 ms at a pessimistic rate."""
    if guess:
        return int(guess * seconds * 0.6)
    return int(min(50_000, 100e6 / size) * 0.01)


def _first_lat_count(size: int, seconds: float, guess: float | None = None) -> int:
    """Likewise for round trips, from a guess of the one-way latency in µs."""
    if guess:
        return int(seconds * 0.6 / (2 * guess * 1e-6))
    return int(0.01 / (2 * (50e-6 + size / 100e6)))


class Bench:
    """One transport's measuring session: this side (the receiver that counts, the pinger that times)
    runs here; the far side is a :class:`ThreadPeer` (inproc) or a :class:`RemotePeer` child process
    (ipc, tcp). Use it as ``with Bench("tcp") as b: b.throughput(4096, zero_copy=True)``."""

    def __init__(self, transport: str, processes: bool | None = None):
        _check(transport, 1)
        if processes is None:
            processes = transport != "inproc"
        if processes and transport == "inproc":
            raise ValueError("inproc connects threads of one process: it cannot cross processes")
        self.transport, self.processes = transport, processes
        self.ctx = zmq.Context()
        self._tmp = tempfile.mkdtemp(prefix="zguide-perf-") if transport == "ipc" else None
        self._n = 0
        try:
            self.peer = RemotePeer(self.ctx) if processes else ThreadPeer(self.ctx)
        except BaseException:
            self._cleanup()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _endpoint(self) -> str:
        self._n += 1
        if self.transport == "inproc":
            return f"inproc://perf-{self._n}"
        if self.transport == "ipc":
            return f"ipc://{self._tmp}/{self._n}"
        return "tcp://127.0.0.1:*"

    def _thr(self, size: int, count: int, zero_copy: bool) -> dict:
        pull = _data_socket(self.ctx, zmq.PULL, size)
        try:
            pull.bind(self._endpoint())
            self.peer.send(op="push", endpoint=pull.last_endpoint.decode(), size=size, count=count,
                           zero_copy=zero_copy)
            try:
                rate = recv_stream(pull, count, zero_copy)
            except zmq.Again:
                raise TimeoutError(f"throughput {self.transport} {human_size(size)}: no message for "
                                   f"{TIMEOUT_MS / 1000:.0f} s") from None
            self.peer.recv()
        finally:
            pull.close()
        return {"count": count, "msgs_per_s": rate, "elapsed_s": (count - 1) / rate}

    def _lat(self, size: int, count: int, zero_copy: bool) -> dict:
        self.peer.send(op="echo", endpoint=self._endpoint(), size=size, count=count, zero_copy=zero_copy)
        endpoint = self.peer.recv()["endpoint"]
        req = _data_socket(self.ctx, zmq.REQ, size)
        try:
            req.connect(endpoint)
            try:
                one_way = ping(req, b"x" * size, count, zero_copy)
            except zmq.Again:
                raise TimeoutError(f"latency {self.transport} {human_size(size)}: no reply for "
                                   f"{TIMEOUT_MS / 1000:.0f} s") from None
            self.peer.recv()
        finally:
            req.close()
        return {"roundtrips": count, "latency_us": one_way, "elapsed_s": one_way * 2e-6 * count}

    def throughput(self, size: int, zero_copy: bool = False, count: int | None = None,
                   seconds: float = 0.25, guess: float | None = None) -> dict:
        """Messages/s and Mbit/s of ``count`` messages (default: as many as fit in ``seconds``;
        ``guess``, a rate in msg/s, saves the trial runs that find it)."""
        _check(self.transport, size)
        if count is None:
            r = _calibrated(lambda n: self._thr(size, n, zero_copy), _first_thr_count(size, seconds, guess), seconds,
                            MIN_THR, MAX_THR)
        elif count < 2:
            raise ValueError("count must be at least 2: the clock starts at the first message")
        else:
            r = self._thr(size, count, zero_copy)
        return {"transport": self.transport, "processes": self.processes, "size": size,
                "mode": _mode(zero_copy), "count": r["count"], "msgs_per_s": r["msgs_per_s"],
                "mbit_per_s": r["msgs_per_s"] * size * 8 / 1e6}

    def latency(self, size: int, zero_copy: bool = False, count: int | None = None,
                seconds: float = 0.25, guess: float | None = None) -> dict:
        """One-way latency in µs: half the mean of ``count`` REQ/REP round trips (``guess``: in µs)."""
        _check(self.transport, size)
        if count is None:
            r = _calibrated(lambda n: self._lat(size, n, zero_copy), _first_lat_count(size, seconds, guess), seconds,
                            MIN_LAT, MAX_LAT)
        elif count < 1:
            raise ValueError("count must be at least 1 round trip")
        else:
            r = self._lat(size, count, zero_copy)
        return {"transport": self.transport, "processes": self.processes, "size": size,
                "mode": _mode(zero_copy), "roundtrips": r["roundtrips"], "latency_us": r["latency_us"]}

    def _cleanup(self) -> None:
        self.ctx.destroy(linger=0)
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def close(self) -> None:
        """Stop the far side (the child process is asked to quit, then killed, always reaped)."""
        try:
            self.peer.close()
        finally:
            self._cleanup()


def throughput(transport: str = "tcp", size: int = 1, count: int | None = None, zero_copy: bool = False,
               seconds: float = 0.25, processes: bool | None = None) -> dict:
    """One throughput measurement (two threads for inproc, two processes for ipc and tcp)."""
    _check(transport, size)
    with Bench(transport, processes) as bench:
        return bench.throughput(size, zero_copy, count, seconds)


def latency(transport: str = "tcp", size: int = 1, roundtrips: int | None = None, zero_copy: bool = False,
            seconds: float = 0.25, processes: bool | None = None) -> dict:
    """One latency measurement (two threads for inproc, two processes for ipc and tcp)."""
    _check(transport, size)
    with Bench(transport, processes) as bench:
        return bench.latency(size, zero_copy, roundtrips, seconds)


# ---- the native C baseline ---------------------------------------------------------------------
class CBaselineUnavailable(RuntimeError):
    """No C compiler, no zmq.h, or no C source: the benchmark runs without the C rows."""


def build_c_baseline(force: bool = False) -> Path:
    """Compile ``tools/perf_c/zperf.c`` into ``build/perf_c/zperf`` (again when the source is newer)."""
    exe = C_BUILD_DIR / "zperf"
    if not C_SOURCE.exists():
        raise CBaselineUnavailable(f"the C baseline's source is not here ({C_SOURCE}): "
                                   "run from a checkout of the project")
    if not force and exe.exists() and exe.stat().st_mtime >= C_SOURCE.stat().st_mtime:
        return exe
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        raise CBaselineUnavailable(f"no C compiler ({cc!r} is not on PATH): install gcc or clang "
                                   "to get the C baseline")
    flags = ["-lzmq"]
    if shutil.which("pkg-config"):
        pc = subprocess.run(["pkg-config", "--cflags", "--libs", "libzmq"], capture_output=True, text=True)
        if pc.returncode == 0 and pc.stdout.strip():
            flags = pc.stdout.split()
    C_BUILD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(f".zperf.{os.getpid()}.{threading.get_ident()}")
    done = subprocess.run([cc, "-O2", "-o", str(tmp), str(C_SOURCE), *flags, "-lpthread"],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        err = done.stderr.strip()
        if "zmq.h" in err:
            raise CBaselineUnavailable("libzmq's C headers (zmq.h) are missing: on Debian or Ubuntu, "
                                       "apt-get install libzmq3-dev")
        if "lzmq" in err:
            raise CBaselineUnavailable("the libzmq library to link with is missing: on Debian or Ubuntu, "
                                       "apt-get install libzmq3-dev")
        raise CBaselineUnavailable(f"{cc} could not build the C baseline: {err[-500:]}")
    os.replace(tmp, exe)
    return exe


def c_baseline_status() -> tuple[Path | None, str]:
    """``(path to zperf, "")`` when the C baseline builds, else ``(None, the reason)``."""
    try:
        exe = build_c_baseline()
        ran = subprocess.run([str(exe), "version"], capture_output=True, text=True, timeout=10)
    except CBaselineUnavailable as exc:
        return None, str(exc)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"the C baseline could not be built: {exc}"
    if ran.returncode != 0:
        return None, f"the C baseline was built but does not run: {ran.stderr.strip()[-300:]}"
    return exe, ""


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    """One line from an unbuffered stdout pipe, or TimeoutError/RuntimeError."""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"zperf did not announce its endpoint within {timeout:.0f} s")
        ready, _, _ = select.select([fd], [], [], min(left, 0.1))
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                proc.wait(5)
                raise RuntimeError(f"zperf exited with status {proc.returncode} before binding: "
                                   f"{proc.stderr.read().decode(errors='replace').strip()}")
            line += chunk
    return line.decode().strip()


class CBaseline:
    """Runs ``zperf``: two processes for ipc and tcp, two threads of one process for inproc."""

    def __init__(self, exe: Path | None = None):
        self.exe = str(exe or build_c_baseline())
        self.version = subprocess.run([self.exe, "version"], capture_output=True, text=True,
                                      timeout=10).stdout.strip()
        self._tmp: str | None = None
        self._n = 0

    def _spawn(self, *args) -> subprocess.Popen:
        # stdin is a pipe: the far side (thr-send, lat-echo) keeps its socket open until it closes
        return subprocess.Popen([self.exe, *map(str, args)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)

    def _endpoint(self, transport: str) -> str:
        if transport == "tcp":
            return "tcp://127.0.0.1:*"
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="zguide-zperf-")
        self._n += 1
        return f"ipc://{self._tmp}/{self._n}"

    def _run(self, transport: str, kind: str, size: int, count: int, zero_copy: bool) -> dict:
        mode = "zerocopy" if zero_copy else "copy"
        tail = [size, count, mode] + ([hwm_for(size)] if kind == "thr" else [])
        limit = 30 + count * (size / 50e6 + 1e-4)           # generous: a stuck run ends here
        procs: list[subprocess.Popen] = []
        try:
            if transport == "inproc":
                measurer = self._spawn(f"inproc-{kind}", *tail)
                procs.append(measurer)
            else:
                binder = self._spawn("thr-recv" if kind == "thr" else "lat-echo", self._endpoint(transport), *tail)
                procs.append(binder)
                announced = _read_line(binder, 10)
                endpoint = announced.split(" ", 1)[1]
                other = self._spawn("thr-send" if kind == "thr" else "lat-ping", endpoint, *tail)
                procs.append(other)
                measurer = binder if kind == "thr" else other
            outputs = {measurer: measurer.communicate(timeout=limit)}
            for proc in procs:                  # the result is in: the far side may close now
                if proc is not measurer:
                    outputs[proc] = proc.communicate(timeout=limit)
            for proc, (_, err) in outputs.items():
                if proc.returncode != 0:
                    raise RuntimeError(f"zperf {' '.join(map(str, proc.args[1:2]))} failed (status "
                                       f"{proc.returncode}): {err.decode(errors='replace').strip()}")
            result = json.loads(outputs[measurer][0].decode().strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"zperf {kind} {transport} {human_size(size)} took over {limit:.0f} s") from None
        finally:
            for proc in procs:                  # whatever happened: no zperf is left behind
                _reap(proc)
        if kind == "thr":
            rate = result["msgs_per_s"]
            return {"count": count, "msgs_per_s": rate, "elapsed_s": (count - 1) / rate}
        return {"roundtrips": count, "latency_us": result["latency_us"],
                "elapsed_s": result["latency_us"] * 2e-6 * count}

    def throughput(self, transport: str, size: int, zero_copy: bool = False, count: int | None = None,
                   seconds: float = 0.25, guess: float | None = None) -> dict:
        _check(transport, size)
        if count is None:
            r = _calibrated(lambda n: self._run(transport, "thr", size, n, zero_copy),
                            _first_thr_count(size, seconds, guess), seconds, MIN_THR, MAX_THR)
        else:
            r = self._run(transport, "thr", size, count, zero_copy)
        return {"count": r["count"], "msgs_per_s": r["msgs_per_s"], "mbit_per_s": r["msgs_per_s"] * size * 8 / 1e6}

    def latency(self, transport: str, size: int, zero_copy: bool = False, count: int | None = None,
                seconds: float = 0.25, guess: float | None = None) -> dict:
        _check(transport, size)
        if count is None:
            r = _calibrated(lambda n: self._run(transport, "lat", size, n, zero_copy),
                            _first_lat_count(size, seconds, guess), seconds, MIN_LAT, MAX_LAT)
        else:
            r = self._run(transport, "lat", size, count, zero_copy)
        return {"roundtrips": r["roundtrips"], "latency_us": r["latency_us"]}

    def close(self) -> None:
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


# ---- progress ------------------------------------------------------------------------------------
def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """How far a sweep has got: an ipywidgets ``IntProgress`` in a notebook, a one-line text bar on a
    terminal (stderr), nothing otherwise (a pipe, a log file)."""

    def __init__(self, total: int, title: str = "sweep", widget: bool | None = None, stream=None,
                 enabled: bool = True):
        self.total, self.done, self.title, self.text = total, 0, title, ""
        self.started = time.monotonic()
        self.widget = None
        self._stream = None
        if not enabled:
            return
        if widget is None:
            widget = _in_notebook()
        if widget:
            import ipywidgets
            from IPython.display import display
            self._bar = ipywidgets.IntProgress(value=0, min=0, max=total, description=title,
                                               style={"description_width": "initial"})
            self._label = ipywidgets.Label(f"0/{total}")
            self.widget = ipywidgets.HBox([self._bar, self._label])
            display(self.widget)
        else:
            stream = stream or sys.stderr
            if getattr(stream, "isatty", lambda: False)():
                self._stream = stream

    def _draw(self) -> None:
        took = time.monotonic() - self.started
        if self.widget is not None:
            self._bar.value = self.done
            self._label.value = f"{self.done}/{self.total}  {self.text}  {took:.0f} s"
        elif self._stream is not None:
            filled = int(30 * self.done / max(self.total, 1))
            self._stream.write(f"\r{self.title} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
                               f"  {self.text}  {took:.0f} s\x1b[K")
            self._stream.flush()

    def show(self, text: str) -> None:
        """Name the point being measured now."""
        self.text = text
        self._draw()

    def advance(self) -> None:
        self.done += 1
        self._draw()

    def close(self) -> None:
        self.text = "done"
        self._draw()
        if self.widget is not None:
            self._bar.bar_style = "success"
        elif self._stream is not None:
            self._stream.write("\n")
            self._stream.flush()


# ---- sweeps: every size, both modes, Python beside C -------------------------------------------
#: From this size up, a sweep can repeat each throughput point (``repeats``) and keep the best.
REPEAT_FROM = 512 << 10
#: The notebook's quick sweep: every size and mode on all three transports, ~0.03 s per measurement,
#: the C baseline beside tcp only.
QUICK = {"transports": ["inproc", "ipc", "tcp"], "sizes": SIZES, "modes": list(MODES), "seconds": 0.03,
         "c_transports": ["tcp"]}


def _best(results: list[dict], key: str) -> dict:
    """The fastest of repeated runs: a busy neighbour can only slow a run down, never speed it up."""
    return max(results, key=lambda r: r[key])


def meta(c: CBaseline | None = None, c_reason: str = "") -> dict:
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "pyzmq": zmq.__version__, "libzmq": zmq.zmq_version(), "machine": platform.machine(),
            "system": platform.system(), "cpus": os.cpu_count(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "c_baseline": c.exe if c else None, "c_libzmq": c.version if c else None,
            "c_skipped": "" if c else c_reason}


def sweep(transports=TRANSPORTS, sizes=SIZES, modes=MODES, seconds: float = 0.25, latency: bool = True,
          c_baseline: bool = True, processes: bool | None = None, repeats: int = 1,
          progress: bool | None = None, c_transports=None) -> dict:
    """Throughput and latency for every transport, size and mode, with the C baseline's figures in the
    same row when it builds (on ``c_transports`` only, if given). ``repeats``: best of that many
    throughput runs from :data:`REPEAT_FROM` up. ``progress``: None = a bar where one can be shown.
    Returns ``{"format", "meta", "settings", "rows", "elapsed_s"}`` (JSON-ready)."""
    transports, sizes, modes = list(transports), list(sizes), list(modes)
    for transport in transports:
        _check(transport, 1)
    for size in sizes:
        _check("tcp", size)
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: use 'copy' or 'zero-copy'")
    if not seconds > 0:
        raise ValueError("seconds must be positive")
    c_all, c_reason = None, "not requested"
    if c_baseline:
        exe, c_reason = c_baseline_status()
        c_all = CBaseline(exe) if exe else None
    bar = Progress(len(transports) * len(sizes) * len(modes), "perf sweep", enabled=progress is not False)
    rows, elapsed, notes = [], {}, []
    try:
        for transport in transports:
            started = time.perf_counter()
            last: dict = {}             # the previous size's figures: the next size's first guess
            c = c_all if c_transports is None or transport in c_transports else None
            with _Retrying(transport, processes, notes) as bench:
                for size in sizes:
                    for mode in modes:
                        zc = mode == "zero-copy"
                        bar.show(f"{transport} {human_size(size)} {mode}")
                        n = repeats if size >= REPEAT_FROM else 1
                        py, cc = [], []
                        for _ in range(n):          # interleaved: a noisy neighbour hits both alike
                            py.append(bench.run(f"throughput {transport} {human_size(size)} {mode}", "throughput",
                                                size, zc, seconds=seconds, guess=last.get((mode, "py"))))
                            if c:
                                cc.append(c.throughput(transport, size, zc, seconds=seconds,
                                                       guess=last.get((mode, "c"))))
                        row = dict(_best(py, "msgs_per_s"))
                        row.update(roundtrips=None, latency_us=None, c_count=None, c_msgs_per_s=None,
                                   c_mbit_per_s=None, c_roundtrips=None, c_latency_us=None)
                        if c:
                            ct = _best(cc, "msgs_per_s")
                            row.update(c_count=ct["count"], c_msgs_per_s=ct["msgs_per_s"],
                                       c_mbit_per_s=ct["mbit_per_s"])
                        if latency:
                            lat = bench.run(f"latency {transport} {human_size(size)} {mode}", "latency",
                                            size, zc, seconds=seconds, guess=last.get((mode, "py lat")))
                            row.update(roundtrips=lat["roundtrips"], latency_us=lat["latency_us"])
                            if c:
                                cl = c.latency(transport, size, zc, seconds=seconds, guess=last.get((mode, "c lat")))
                                row.update(c_roundtrips=cl["roundtrips"], c_latency_us=cl["latency_us"])
                        # the next size's guesses: msg/s fall between "same per message" and "same per
                        # byte" (the geometric mean of the two), latency is taken as it is
                        grow = (sizes[min(sizes.index(size) + 1, len(sizes) - 1)] / size) ** 0.5
                        last.update({(mode, "py"): row["msgs_per_s"] / grow,
                                     (mode, "c"): row["c_msgs_per_s"] and row["c_msgs_per_s"] / grow,
                                     (mode, "py lat"): row["latency_us"], (mode, "c lat"): row["c_latency_us"]})
                        rows.append(row)
                        bar.advance()
            elapsed[transport] = time.perf_counter() - started
    finally:
        bar.close()
        if c_all:
            c_all.close()
    return {"format": "zguide_py.perf/1", "meta": meta(c_all, c_reason),
            "settings": {"transports": transports, "sizes": sizes, "modes": modes, "seconds": seconds,
                         "latency": latency, "repeats": repeats, "repeat_from": REPEAT_FROM,
                         "c_transports": list(transports if c_transports is None else c_transports)},
            "rows": rows, "elapsed_s": elapsed, "notes": notes}


class _Retrying:
    """A Bench that is opened afresh, once, when a measurement times out: the far side got stuck
    (seen once in many sweeps: an 8 MB inproc round trip with no reply for 10 s). The second
    failure is raised. What happened is kept in ``notes``, and the sweep's result reports it."""

    def __init__(self, transport: str, processes: bool | None, notes: list[str]):
        self.transport, self.processes, self.notes = transport, processes, notes
        self.bench = Bench(transport, processes)

    def __enter__(self) -> "_Retrying":
        return self

    def __exit__(self, *exc) -> None:
        self.bench.close()

    def run(self, label: str, method: str, *args, **kwargs) -> dict:
        try:
            return getattr(self.bench, method)(*args, **kwargs)
        except TimeoutError as exc:
            self.notes.append(f"{label}: {exc}; measured again with a new pair of sockets")
            self.bench.close()
            self.bench = Bench(self.transport, self.processes)
            return getattr(self.bench, method)(*args, **kwargs)


def quick_sweep(progress: bool | None = None, c_baseline: bool = True) -> dict:
    """The notebook's sweep (:data:`QUICK`), in about 10 s."""
    return sweep(progress=progress, c_baseline=c_baseline, **QUICK)


def save_json(result: dict, path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


def load_json(path) -> dict:
    result = json.loads(Path(path).read_text())
    if not isinstance(result, dict) or result.get("format") != "zguide_py.perf/1" or "rows" not in result:
        raise ValueError(f"{path} is not a zguide_py perf result")
    return result


# ---- tables ------------------------------------------------------------------------------------
def _num(value, fmt: str = ",.0f", width: int = 12) -> str:
    return f"{'-' if value is None else format(value, fmt):>{width}}"


def _us(value, width: int = 10) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width},.{2 if value < 10 else 1 if value < 1000 else 0}f}"


def _pct(value, width: int = 7) -> str:
    return f"{'-' if value is None else f'{value:.0f}%':>{width}}"


def ratio(py, c) -> float | None:
    """Python as a percentage of C (for latency pass C / Python: lower is better there)."""
    return None if py is None or c is None or c == 0 else py / c * 100


def sweep_table(result: dict, seed: bool = True) -> str:
    """Python beside C for every row (msg/s, Mbit/s, µs; Python as % of C), the talk's localhost
    figures beside tcp."""
    m = result["meta"]
    lines = [f"Python {m['python']} + pyzmq {m['pyzmq']} (libzmq {m['libzmq']})  vs  " +
             (f"C baseline zperf (libzmq {m['c_libzmq']})" if m.get("c_libzmq")
              else f"C baseline skipped: {m['c_skipped']}"),
             "throughput counted at the receiver (local_thr); latency = REQ/REP round trip / 2 (local_lat)"]
    talk = f"  {'talk msg/s':>11}{'talk µs':>10}"
    head = (f"{'size':>7}  {'mode':<9}{'msg/s':>12}{'Mbit/s':>12}{'µs':>10}  {'C msg/s':>12}{'C Mbit/s':>12}"
            f"{'C µs':>10}  {'thr/C':>6}{'C/lat':>7}")
    by_transport: dict[str, list[dict]] = {}
    for r in result["rows"]:
        by_transport.setdefault(r["transport"], []).append(r)
    for transport, rows in by_transport.items():
        where = "two processes" if rows[0].get("processes") else "two threads of one process"
        took = result.get("elapsed_s", {}).get(transport)
        lines += ["", f"{transport} ({where})" + (f", swept in {took:.1f} s" if took is not None else ""),
                  head + (talk if seed and transport == "tcp" else "")]
        last_size = None
        for r in rows:
            s = r["size"]
            line = (f"{human_size(s):>7}  {r['mode']:<9}{_num(r['msgs_per_s'])}{_num(r['mbit_per_s'])}"
                    f"{_us(r.get('latency_us'))}  {_num(r.get('c_msgs_per_s'))}"
                    f"{_num(r.get('c_mbit_per_s'))}{_us(r.get('c_latency_us'))}"
                    f"  {_pct(ratio(r['msgs_per_s'], r.get('c_msgs_per_s')), 6)}"
                    f"{_pct(ratio(r.get('c_latency_us'), r.get('latency_us')))}")
            if seed and transport == "tcp" and s != last_size:
                line += f"  {_num(SEED_LOCALHOST_MSGS.get(s), width=11)}{_us(SEED_LOCALHOST_LATENCY_US.get(s))}"
            last_size = s
            lines.append(line.rstrip())
    lines += ["", "thr/C = Python's msg/s as % of C's; C/lat = C's latency as % of Python's "
              "(both: 100% = as fast as C)."]
    if seed and "tcp" in by_transport:
        lines.append("talk = the seed talk's localhost figures (C# on clrzmq, Windows 8.1, i7-4702MQ).")
    return "\n".join(lines)


# ---- figures (notebook 16) -------------------------------------------------------------------------
_TICKS = [1, 64, 4 << 10, 256 << 10, 8 << 20]


def _size_axis(ax, ylabel: str, title: str, log_y: bool = True) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(_TICKS, [human_size(t) for t in _TICKS])
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("message size (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)


def _series(result: dict, transport: str, mode: str, key: str) -> tuple[list[int], list[float]]:
    rows = [r for r in result["rows"] if r["transport"] == transport and r["mode"] == mode
            and r.get(key) is not None]
    return [r["size"] for r in rows], [r[key] for r in rows]


def talk_figure(result: dict):
    """tcp loopback, Python (copy, zero-copy) and the C baseline, beside the talk's localhost and
    100 Mbit LAN figures: messages/s, Mbit/s and latency against size, log-log."""
    from .plots import new_figure
    fig = new_figure(12, 4.4)
    axes = fig.subplots(1, 3)
    panels = (("msgs_per_s", SEED_LOCALHOST_MSGS, SEED_REMOTE_MSGS, "messages per second", "throughput: messages"),
              ("mbit_per_s", SEED_LOCALHOST_MBIT, SEED_REMOTE_MBIT, "megabits per second", "throughput: bits"),
              ("latency_us", SEED_LOCALHOST_LATENCY_US, SEED_REMOTE_LATENCY_US, "one-way latency (µs)",
               "latency (round trip / 2)"))
    for ax, (key, local, remote, ylabel, title) in zip(axes, panels):
        for mode, style in (("copy", "o-"), ("zero-copy", "o--")):
            ax.plot(*_series(result, "tcp", mode, key), style, color="tab:blue", markersize=4,
                    label=f"Python, {mode} (here)")
            sizes, values = _series(result, "tcp", mode, "c_" + key)
            if sizes:
                ax.plot(sizes, values, style, color="tab:purple", markersize=3, linewidth=1,
                        label=f"C baseline, {mode} (here)")
        ax.plot(list(local), list(local.values()), "s:", color="dimgray", markersize=4,
                label="talk: localhost (C#)")
        ax.plot(list(remote), list(remote.values()), "^-.", color="black", markersize=4,
                label="talk: 100 Mbit LAN (C#)")
        _size_axis(ax, ylabel, title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle("tcp over loopback, two processes: this machine beside the talk's figures", fontsize=11)
    return fig


def transports_figure(result: dict):
    """Python on the three transports (colour) with and without copying (line style)."""
    from .plots import new_figure
    fig = new_figure(12, 4.2)
    axes = fig.subplots(1, 3)
    colours = {"inproc": "tab:green", "ipc": "tab:orange", "tcp": "tab:blue"}
    panels = (("msgs_per_s", "messages per second", "throughput: messages"),
              ("mbit_per_s", "megabits per second", "throughput: bits"),
              ("latency_us", "one-way latency (µs)", "latency (round trip / 2)"))
    for ax, (key, ylabel, title) in zip(axes, panels):
        for transport, colour in colours.items():
            for mode, style in (("copy", "o-"), ("zero-copy", "s--")):
                sizes, values = _series(result, transport, mode, key)
                if sizes:
                    where = "2 threads" if transport == "inproc" else "2 processes"
                    ax.plot(sizes, values, style, color=colour, markersize=3.5, linewidth=1.2,
                            label=f"{transport} ({where}), {mode}")
        _size_axis(ax, ylabel, title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle("Python (pyzmq) on three transports, copying and zero-copy sends", fontsize=11)
    return fig


def ratio_figure(result: dict, transport: str = "tcp"):
    """Python's msg/s as a percentage of the C baseline's, by size, both modes."""
    from .plots import new_figure
    fig = new_figure(7.5, 3.6)
    ax = fig.add_subplot()
    for mode, style in (("copy", "o-"), ("zero-copy", "s--")):
        rows = [r for r in result["rows"] if r["transport"] == transport and r["mode"] == mode
                and r.get("c_msgs_per_s")]
        ax.plot([r["size"] for r in rows], [ratio(r["msgs_per_s"], r["c_msgs_per_s"]) for r in rows], style,
                markersize=4, label=f"Python's msg/s as % of C's, {mode}")
    ax.axhline(100, color="black", linewidth=0.8)
    ax.axhline(TARGET_RATIO, color="gray", linewidth=0.8, linestyle=":")
    for y, text in ((100, "as fast as C"), (TARGET_RATIO, f"{TARGET_RATIO:.0f}%")):
        ax.annotate(text, xy=(0, y), xycoords=("axes fraction", "data"), xytext=(3, 2),
                    textcoords="offset points", fontsize=8, color="dimgray")
    _size_axis(ax, "Python as % of C", f"{transport}, two processes: Python's message rate as a share of C's",
               log_y=False)
    ax.set_ylim(0, max(160, ax.get_ylim()[1]))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, 0.93))
    return fig


def batching_figure(batches: list[dict]):
    """Records/s and frames/s against records per frame."""
    from .plots import new_figure
    fig = new_figure(6.5, 3.6)
    ax = fig.add_subplot()
    per = [b["per_frame"] for b in batches]
    ax.plot(per, [b["records_per_s"] for b in batches], "o-", label="records (logical messages) / s")
    ax.plot(per, [b["frames_per_s"] for b in batches], "s--", label="frames (zmq messages) / s")
    ax.axhline(TARGET_BATCH, color="gray", linewidth=0.8, linestyle=":")
    ax.annotate(f"{TARGET_BATCH / 1e6:.0f} M records/s", xy=(0, TARGET_BATCH), xycoords=("axes fraction", "data"),
                xytext=(3, 2), textcoords="offset points", fontsize=8, color="dimgray")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{batches[0]['record_size']}-byte records packed per frame (log scale)")
    ax.set_ylabel("per second (log scale)")
    ax.set_title("batching over inproc: one send carries many records", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


# ---- the batching lesson -------------------------------------------------------------------------
def batched_records(records: int = 400_000, per_frame: int = 1000, record_size: int = 64,
                    transport: str = "inproc") -> dict:
    """Logical records per second when ``per_frame`` records of ``record_size`` bytes travel in one
    frame. The sender really packs record objects (``b"".join``), the receiver really slices each frame
    back into records (``memoryview``), so the packing costs are in the figure. Two threads, PUSH/PULL,
    counted at the receiver from the first frame's arrival."""
    if per_frame < 1:
        raise ValueError("per_frame must be at least 1")
    _check(transport, record_size)
    frames = max(MIN_THR, records // per_frame)
    batch = [b"r" * record_size] * per_frame
    with Bench(transport, processes=False) as bench:
        pull = _data_socket(bench.ctx, zmq.PULL, record_size * per_frame)
        push = _data_socket(bench.ctx, zmq.PUSH, record_size * per_frame, linger=TIMEOUT_MS)
        try:
            pull.bind(bench._endpoint())
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


# ---- the targets of issue 7, for `make bench` -----------------------------------------------------
TARGET_RATIO = 90.0             # % of C, tcp, zero-copy, sizes >= 512 kB
TARGET_BATCH = 2_000_000        # logical 64 B records/s over inproc
TARGET_SWEEP_S = 60.0           # one transport's full sweep
TARGET_QUICK_S = 15.0           # the notebook's quick sweep
BATCH_PER_FRAME = 100           # 64 B records per 6.4 kB frame in the batching demo


def targets(result: dict | None = None, batch: dict | None = None, quick_s: float | None = None) -> list[dict]:
    """Each target: ``{"target", "measured", "met"}`` (``met`` is None when it could not be measured)."""
    out = []
    if result is not None:
        big = [r for r in result["rows"] if r["transport"] == "tcp" and r["mode"] == "zero-copy"
               and r["size"] >= REPEAT_FROM]
        text = f"tcp loopback, two processes, zero-copy, >= 512 kB: Python >= {TARGET_RATIO:.0f}% of C's msg/s"
        if not big:
            out.append({"target": text, "measured": "not in this sweep", "met": None})
        elif big[0].get("c_msgs_per_s") is None:
            out.append({"target": text, "measured": f"skipped: {result['meta']['c_skipped']}", "met": None})
        else:
            pcts = {r["size"]: ratio(r["msgs_per_s"], r["c_msgs_per_s"]) for r in big}
            out.append({"target": text, "met": all(p >= TARGET_RATIO for p in pcts.values()),
                        "measured": ", ".join(f"{human_size(s)} {p:.0f}%" for s, p in pcts.items())})
        for transport, took in result.get("elapsed_s", {}).items():
            full = len(result["settings"]["sizes"]) == len(SIZES) and len(result["settings"]["modes"]) == 2
            out.append({"target": f"full sweep of {transport} (10 sizes x copy/zero-copy x thr+lat, "
                                  f"Python and C) < {TARGET_SWEEP_S:.0f} s",
                        "measured": f"{took:.1f} s" + ("" if full else " (partial sweep)"),
                        "met": took < TARGET_SWEEP_S if full else None})
    if batch is not None:
        out.append({"target": f"batching over inproc >= {TARGET_BATCH:,} logical {batch['record_size']} B msg/s",
                    "measured": f"{batch['records_per_s']:,.0f} msg/s ({batch['per_frame']} per frame)",
                    "met": batch["records_per_s"] >= TARGET_BATCH})
    if quick_s is not None:
        out.append({"target": f"the notebook's quick sweep < {TARGET_QUICK_S:.0f} s",
                    "measured": f"{quick_s:.1f} s", "met": quick_s < TARGET_QUICK_S})
    return out


def targets_table(items: list[dict]) -> str:
    verdict = {True: "MET", False: "NOT MET", None: "skipped"}
    width = max(len(t["target"]) for t in items)
    return "\n".join(f"{verdict[t['met']]:<8} {t['target']:<{width}}  {t['measured']}" for t in items)


def bench_report(transports=TRANSPORTS, seconds: float = 0.25, repeats: int = 3,
                 json_path: str | None = None) -> int:
    """`make bench`: the full sweep against C, the batching demo, the notebook's quick sweep, and the
    targets, printed. Returns 1 if a target that could be measured was missed."""
    print("Throughput and latency, 1 B to 8 MB, Python beside the native C baseline "
          f"(best of {repeats} from {human_size(REPEAT_FROM)} up)", flush=True)
    result = sweep(transports=transports, seconds=seconds, repeats=repeats)
    print(sweep_table(result), flush=True)
    for note in result["notes"]:
        print(f"note: {note}", flush=True)
    one = batched_records(records=200_000, per_frame=1, record_size=64)
    batch = batched_records(records=2_000_000, per_frame=BATCH_PER_FRAME, record_size=64)
    print(f"\nbatching over inproc, 64 B records: 1 per frame {one['records_per_s']:,.0f} records/s; "
          f"{BATCH_PER_FRAME} per frame {batch['records_per_s']:,.0f} records/s "
          f"({batch['frames_per_s']:,.0f} frames/s)", flush=True)
    started = time.perf_counter()
    quick_sweep(progress=False)
    quick_s = time.perf_counter() - started
    print(f"the notebook's quick sweep ({', '.join(QUICK['transports'])}, {len(QUICK['sizes'])} sizes, "
          f"both modes, ~{QUICK['seconds']} s per measurement): {quick_s:.1f} s", flush=True)
    if json_path:
        save_json(result, json_path)
        print(f"sweep saved to {json_path}")
    items = targets(result, batch, quick_s)
    print("\nTargets (issue 7)")
    print(targets_table(items))
    return 1 if any(t["met"] is False for t in items) else 0


# ---- what the lab costs: the bare loop ---------------------------------------------------------
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


# ---- command line: python -m zguide_py perf ... (and python -m zguide_py.perf ...) ----------------
def _transports_arg(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in names if t not in TRANSPORTS]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"unknown transport {', '.join(map(repr, bad)) or repr(text)}: "
                                         "use inproc, ipc and/or tcp, comma-separated")
    return list(dict.fromkeys(names))


def _sizes_arg(text: str) -> list[int]:
    try:
        sizes = [parse_size(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given: use e.g. 1,64,4k,8M")
    return list(dict.fromkeys(sizes))


def _seconds_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.005 <= value <= 10:
        raise argparse.ArgumentTypeError(f"seconds per measurement must be 0.005 to 10, not {text}")
    return value


def _repeats_arg(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 9:
        raise argparse.ArgumentTypeError(f"repeats must be 1 to 9, not {text!r}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m zguide_py perf``."""
    parser.add_argument("--transport", "--transports", dest="transports", type=_transports_arg,
                        default=list(TRANSPORTS), metavar="LIST",
                        help="inproc,ipc,tcp (default: all three; ipc and tcp run two processes)")
    parser.add_argument("--sizes", type=_sizes_arg, default=list(SIZES), metavar="LIST",
                        help="message sizes, e.g. 1,64,4k,8M (default: the talk's ten, 1 B to 8 MB)")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--copy", dest="modes", action="store_const", const=["copy"],
                       help="copying sends only (copy=True)")
    modes.add_argument("--zero-copy", dest="modes", action="store_const", const=["zero-copy"],
                       help="zero-copy sends only (copy=False)")
    modes.add_argument("--both", dest="modes", action="store_const", const=list(MODES),
                       help="both, as separate rows (the default)")
    parser.set_defaults(modes=list(MODES))
    parser.add_argument("--seconds", type=_seconds_arg, default=0.25,
                        help="about how long each measurement runs (default 0.25)")
    parser.add_argument("--repeats", type=_repeats_arg, default=1,
                        help=f"best of this many throughput runs from {human_size(REPEAT_FROM)} up (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--no-c", dest="c_baseline", action="store_false",
                        help="skip the native C baseline")
    parser.add_argument("--no-latency", dest="latency", action="store_false", help="throughput only")
    parser.add_argument("--threads", action="store_true",
                        help="run the far side of ipc/tcp as a thread of this process (to see the GIL's cost)")


def run_cli(args: argparse.Namespace) -> int:
    """Run a sweep from parsed arguments; print the table, write the JSON. Exit status."""
    if args.json and not Path(args.json).resolve().parent.is_dir():
        print(f"error: --json: directory {str(Path(args.json).parent)!r} does not exist", file=sys.stderr)
        return 2
    try:
        result = sweep(transports=args.transports, sizes=args.sizes, modes=args.modes, seconds=args.seconds,
                       latency=args.latency, c_baseline=args.c_baseline,
                       processes=False if args.threads else None, repeats=args.repeats)
    except (TimeoutError, RuntimeError, OSError, zmq.ZMQError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(sweep_table(result))
    if args.json:
        save_json(result, args.json)
        print(f"results written to {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["peer"]:                    # the far side of a measurement, started by RemotePeer
        if len(argv) != 2:
            print("usage: python -m zguide_py.perf peer CONTROL_ENDPOINT", file=sys.stderr)
            return 2
        return _peer_main(argv[1])
    parser = argparse.ArgumentParser(prog="python -m zguide_py.perf",
                                     description="Throughput and latency, 1 B to 8 MB, Python beside C.")
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
