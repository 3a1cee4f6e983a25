"""The far side of a measurement: the sender of a throughput run, the echo of a latency run.

Over inproc it is a thread of this process (:class:`ThreadPeer`). Over ipc and tcp it is a child
process (:class:`RemotePeer`, ``python -m zguide_py.perf peer CONTROL``), because the threads of one
Python process share one GIL. The child connects a PAIR control socket back to the measuring side and
runs one operation per command (:func:`do_op`), until "quit", or until its parent goes away. It is
started and reaped with :mod:`zguide_py.procs`' helpers, like every child of the workbook.

A child can also play the measuring side (``pull``, ``ping``), and run on a host of a Net
(``RemotePeer(ctx, prefix=host.exec_prefix())``): :mod:`zguide_py.perf.remote` puts one child on each
of two hosts, so that the measured traffic crosses a real (shaped) link.
"""
from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from typing import Callable

import zmq

from .. import procs
from .common import TIMEOUT_MS, data_socket
from .loops import echo, ping, recv_stream, send_stream


#: The socket of each operation: the far side's two, and the measuring side's two.
OPS = {"push": zmq.PUSH, "echo": zmq.REP, "pull": zmq.PULL, "ping": zmq.REQ}


def do_op(ctx: zmq.Context, cmd: dict, reply: Callable[[dict], None]) -> zmq.Socket | None:
    """One side of one measurement: ``push`` (remote_thr) or ``echo`` (local_lat), and for a child
    that measures, ``pull`` (local_thr) or ``ping`` (remote_lat). ``reply`` gets the endpoint first
    from those that bind (echo, pull), then ``{"ok": True}`` with ``msgs_per_s`` (pull) or
    ``latency_us`` (ping), or ``{"error": ...}``.

    On success the socket is returned still open, and the caller closes it only when the next command
    comes, once the measuring side has everything: closing a socket while messages are still queued
    can lose them (seen over ipc with libzmq 4.3), and the receiver would wait for them forever."""
    op, size, count, zero_copy = cmd["op"], cmd["size"], cmd["count"], cmd["zero_copy"]
    if op not in OPS:
        reply({"error": f"unknown operation {op!r}"})
        return None
    body = b"x" * size
    sock = data_socket(ctx, OPS[op], size)
    try:
        result = {}
        if op in ("echo", "pull"):
            sock.bind(cmd["endpoint"])
            reply({"endpoint": sock.last_endpoint.decode()})
        else:
            sock.connect(cmd["endpoint"])
        if op == "push":
            send_stream(sock, body, count, zero_copy)
        elif op == "echo":
            echo(sock, count, zero_copy)
        elif op == "pull":
            result = {"msgs_per_s": recv_stream(sock, count, zero_copy)}
        else:
            result = {"latency_us": ping(sock, body, count, zero_copy)}
        reply({"ok": True, **result})
        return sock
    except zmq.Again:
        reply({"error": f"{op}: no progress for {TIMEOUT_MS / 1000:.0f} s (is the other side gone?)"})
    except Exception as exc:            # reported to the measuring side, which raises it
        reply({"error": f"{op}: {exc!r}"})
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
        sock = do_op(self.ctx, cmd, self.replies.put)
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


class RemotePeer:
    """The far side as a child process: ``python -m zguide_py.perf peer <control endpoint>``.

    ``prefix`` runs it through another command, ``ip netns exec NS`` for a host of a Net
    (``host.exec_prefix()``). Loopback tcp does not cross network namespaces, so the control link is
    then an ipc socket, a file in a folder of its own, which any namespace of this machine can reach.
    The folder is removed as soon as the child has connected (a unix socket's connection outlives its
    file), so a crash after start-up leaves no file behind.

    It is killed and reaped by ``close()`` (or ``with``), when this object is garbage collected, and
    at interpreter exit; and it exits by itself if its parent goes away."""

    processes = True

    def __init__(self, ctx: zmq.Context, start_timeout: float = 30.0, prefix: list[str] | None = None):
        self.ctl = ctx.socket(zmq.PAIR)
        self.ctl.linger = 0
        self._ctl_dir = tempfile.mkdtemp(prefix="zguide-perf-ctl-") if prefix else None
        self.ctl.bind(f"ipc://{self._ctl_dir}/ctl" if prefix else "tcp://127.0.0.1:*")
        endpoint = self.ctl.last_endpoint.decode()
        self._stderr = tempfile.TemporaryFile()
        self.proc = procs.spawn([*(prefix or []), sys.executable, "-m", "zguide_py.perf", "peer", endpoint],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr)
        self._finalizer = weakref.finalize(self, procs.reap, self.proc)
        try:
            self.pid = self.recv(start_timeout)["ready"]
        except BaseException:
            self.close()
            raise
        if self._ctl_dir:
            shutil.rmtree(self._ctl_dir, ignore_errors=True)

    def _exited(self) -> RuntimeError:
        try:
            self._stderr.seek(0)
            tail = self._stderr.read()[-2000:].decode(errors="replace").strip()
        except (OSError, ValueError):
            tail = ""
        return RuntimeError(f"perf peer process exited with status {self.proc.returncode}: {tail}")

    def send(self, **cmd) -> None:
        if self.proc.poll() is not None:
            raise self._exited()
        self.ctl.send_json(cmd)

    def recv(self, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while not self.ctl.poll(100):
            if self.proc.poll() is not None:
                raise self._exited()
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
        if self._ctl_dir:
            shutil.rmtree(self._ctl_dir, ignore_errors=True)


def peer_main(control: str) -> int:
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
            held = do_op(ctx, cmd, ctl.send_json)
    finally:
        ctx.destroy(linger=0)
