"""Roles as processes: a lab peer that is a child process, and the helpers every child of ours uses.

A role is one function. In a notebook it runs as a thread of the kernel; here it runs as a process of
its own, started with ``python -m zguide_py run PATTERN.ROLE ...`` (:mod:`zguide_py.rolecall` reads
and checks that command line).

:func:`process` is a role whose peer thread starts the command line as a child process, reads its
JSON status lines into the peer's counters (so the panel and the plots show them) and the role's
events (``peer.log``) into the lab's events, dated in the lab's clock (the ones logged after its last
status line are lost with a SIGKILL). It forwards the throttle slider to the child, and on
``lab.kill`` sends it a real ``SIGKILL``. A restart starts a new child (a new pid); a child that dies
on its own makes the peer *failed*, with its exit status and the end of its stderr. ``lab.close()``
stops every child and waits for it: no orphans. A child whose parent vanishes sees its stdin close and
stops by itself::

    lab.start("worker1", procs.process, target="paranoidpirate.worker", endpoint=backend)
    lab.peer("worker1").data["pid"]          # the child's process id

Every child process of the workbook (these, and the far side of :mod:`zguide_py.perf`) is started
with :func:`spawn` (one environment: this checkout on ``PYTHONPATH``, unbuffered output) and ended
with :func:`reap` (killed if need be, waited for, its pipes closed); whatever is left is killed at
interpreter exit.
"""
from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from typing import Any, Callable

from .events import make_detail
from .peer import Killed
from .rolecall import (ALL_INTERFACES, ENDPOINT_NAMES, SECRETS_ENV, RoleCall, UsageError, check_endpoint,
                       describe_endpoints, endpoint_params, format_value, is_secret, parse_value, resolve,
                       role_params, shown, split_target)

__all__ = ["ALL_INTERFACES", "ENDPOINT_NAMES", "RoleCall", "UsageError", "check_endpoint", "describe_endpoints",
           "endpoint_params", "format_value", "parse_value", "resolve", "role_params", "shown", "split_target",
           "ProcessFailed", "signal_name", "pid_alive", "live_pids", "child_env", "spawn", "reap", "kill_all",
           "process", "as_process", "secrets_env", "is_secret"]

# ---- child processes --------------------------------------------------------------------------------

_LIVE: dict[int, subprocess.Popen] = {}     # every child still running, by pid
_LIVE_LOCK = threading.Lock()
GRACE = 0.5          # seconds a child gets to stop cleanly (SIGTERM) when the lab closes, then SIGKILL
STDERR_TAIL = 40     # lines of a child's stderr kept for the error message


class ProcessFailed(RuntimeError):
    """A role's process died on its own (crashed, or was killed by somebody other than the lab)."""


def signal_name(status: int | None) -> str:
    """'SIGKILL' for -9, 'exit 1' for 1: a returncode in words."""
    if status is None:
        return "not reaped"
    if status < 0:
        try:
            return signal.Signals(-status).name
        except ValueError:
            return f"signal {-status}"
    return f"exit {status}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (``os.kill(pid, 0)``: no signal is sent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # exists, but somebody else's
        return True
    return True


def live_pids() -> list[int]:
    """The pids of every child process started by :func:`process` that has not been reaped."""
    with _LIVE_LOCK:
        return [pid for pid, proc in _LIVE.items() if proc.poll() is None]


def child_env() -> dict[str, str]:
    """The environment of every child process: this one's, with this checkout first on PYTHONPATH
    (so ``python -m zguide_py ...`` finds the same code) and unbuffered output."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else ""), "PYTHONUNBUFFERED": "1"}


def spawn(argv: list[str], **popen: Any) -> subprocess.Popen:
    """Start a child process (``subprocess.Popen`` arguments, ``env`` defaults to :func:`child_env`)
    and remember it, so that :func:`reap` or interpreter exit ends it: no child outlives us."""
    popen.setdefault("env", child_env())
    proc = subprocess.Popen(argv, **popen)
    with _LIVE_LOCK:
        _LIVE[proc.pid] = proc
    return proc


def reap(proc: subprocess.Popen, grace: float | None = None) -> int:
    """End a child and wait for it (no zombie, no orphan), then close its pipes. With ``grace``,
    SIGTERM first and that many seconds to stop cleanly; SIGKILL after that, or at once. Returns
    its exit status (None if it could not be waited for)."""
    try:
        if proc.poll() is None:
            if grace is None:
                proc.kill()
            else:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
    finally:
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        with _LIVE_LOCK:
            _LIVE.pop(proc.pid, None)
    return proc.returncode


def kill_all() -> None:
    """Kill and reap every child still running (registered to run at interpreter exit)."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    for proc in procs:
        reap(proc)


atexit.register(kill_all)


class _Child:
    """One child process and its pipes: JSON status lines on stdout, commands on stdin, stderr kept."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None):
        self.started = time.monotonic()
        self.proc = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          bufsize=0, start_new_session=True,    # a terminal's Ctrl-C is not for it
                          env={**child_env(), **(env or {})})
        self.pid = self.proc.pid
        self.record: dict[str, Any] = {"pid": self.pid, "exit": None}
        self.stderr: deque[str] = deque(maxlen=STDERR_TAIL)
        self.throttle = 0.0
        self._partial = {self.proc.stdout: b"", self.proc.stderr: b""}
        self._selector = selectors.DefaultSelector()
        for stream in self._partial:
            self._selector.register(stream, selectors.EVENT_READ)

    def read(self, timeout: float) -> list[dict]:
        """Wait up to ``timeout`` for output; return the status lines that came (stderr is kept)."""
        if not self._selector.get_map():
            time.sleep(timeout)
            return []
        statuses = []
        for key, _ in self._selector.select(timeout):
            stream = key.fileobj
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:                                       # end of file: flush the last line
                self._selector.unregister(stream)
                lines, self._partial[stream] = [self._partial[stream]], b""
            else:
                *lines, self._partial[stream] = (self._partial[stream] + chunk).split(b"\n")
            for line in filter(None, (raw.strip() for raw in lines)):
                if stream is self.proc.stderr:
                    self.stderr.append(line.decode(errors="replace"))
                    continue
                try:
                    status = json.loads(line)
                except ValueError:
                    status = None
                if isinstance(status, dict):
                    statuses.append(status)
                else:
                    self.stderr.append(line.decode(errors="replace"))
        return statuses

    def send(self, command: str) -> None:
        """A line on the child's stdin (``throttle 0.05``); a dead child's closed pipe is ignored."""
        try:
            self.proc.stdin.write(command.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def drain(self, timeout: float = 1.0) -> list[dict]:
        """After the child exited: the status lines still in the pipe."""
        deadline, statuses = time.monotonic() + timeout, []
        while self._selector.get_map() and time.monotonic() < deadline:
            statuses += self.read(0.05)
        return statuses

    def stop(self, hard: bool) -> int:
        """Stop the child and reap it: SIGKILL at once (a crash), or SIGTERM and up to ``GRACE``
        seconds to stop cleanly, then SIGKILL. Returns its exit status."""
        try:
            return reap(self.proc, None if hard else GRACE)
        finally:
            self._selector.close()

    def failure(self, target: str, how: str) -> "ProcessFailed":
        """The error for a child that failed: the end of its stderr, then (last, where the panel
        shows it) what happened."""
        text = "\n".join(self.stderr).rstrip()
        what = f"{target} process {self.pid} {how}"
        if not text:
            return ProcessFailed(f"{what} (its stderr was empty)")
        return ProcessFailed(f"{target} process {self.pid}, the end of its stderr:\n{text}\n{what}")


def process(peer, target: str, status_every: float = 0.1, startup_timeout: float = 30.0,
            prefix: list[str] | None = None, **params: Any):
    """Run role ``target`` ("pattern.role") with ``params`` as a child process, as this peer.

    The child runs ``python -m zguide_py run TARGET ... --json-status --stdin-control``: the same
    role function, in a lab of its own. Its counters become this peer's (they carry on across
    restarts, like a thread's); the throttle slider goes to it on its stdin; ``lab.kill`` is a real
    SIGKILL. ``peer.data``: ``pid``, ``command``, ``startup`` (seconds until its first status line),
    ``status`` (its last status line), ``history`` ([{pid, exit}, ...]), ``exit``, and ``result``
    (the child's ``peer.data``, when it ended by itself) with ``latencies`` (its ``peer.latency``
    samples by name, in seconds: the last 10 000 of each).

    ``prefix`` runs the command line through another one: ``["ip", "netns", "exec", NS]`` puts the
    child on a host of :mod:`zguide_py.net` (see ``Net.on``); it may then bind its host's address.

    The role's own defaults hold (a notebook's short heartbeats), spelled out on the child's command
    line, not the command line's spec defaults. Secret parameters (``password=``) go to the child in
    its environment, never on its command line (which every local user can read)."""
    call = _call_from_params(target, params, prefix)    # checked as the command line checks it
    argv = call.argv(name=peer.name, every=status_every, supervised=True, secrets=False)
    if prefix:                                          # the host's only interfaces are the Net's
        argv = list(prefix) + argv + ([] if "--all-interfaces" in argv else ["--all-interfaces"])
    base = peer.snapshot()                              # counters carry on across restarts
    child = _Child(argv, secrets_env(call))
    peer.data.update(command=shown(argv, call.fn), pid=child.pid, up=False, exit=None)
    peer.data.setdefault("history", []).append(child.record)
    peer.log("spawn", pid=child.pid)

    def take(statuses: list[dict]) -> None:
        for status in statuses:                         # the child's counters become this peer's
            for key, value in (status.get("counts") or {}).items():
                peer.counter(key).value = base.get(key, 0) + int(value)
            now = peer.lab.now()                        # and its events (peer.log) this peer's, dated
            for ago, kind, detail in status.get("events") or ():    # by how long before the line they were
                if isinstance(detail, dict):            # fields came as a JSON object: fields again
                    detail = make_detail(fields=detail)
                peer.lab.record(kind, peer.name, detail, at=now - ago)
            if status.get("events_dropped"):
                peer.count("events_dropped", status["events_dropped"])
            peer.data["status"] = status
            if not peer.data["up"]:
                peer.data.update(up=True, startup=time.monotonic() - child.started)
                peer.log("up", pid=child.pid)
            if status.get("final"):
                peer.data["result"] = status.get("data", {})
                peer.data["latencies"] = status.get("latencies") or {}     # the role's peer.latency samples (s)

    killed = False
    try:
        while peer.sleep(0):                            # raises Killed on lab.kill; False when the lab closes
            take(child.read(0.05))
            if peer.delay != child.throttle:            # the throttle slider: tell the child
                child.throttle = peer.delay
                child.send(f"throttle {peer.delay!r}")
            if not peer.data["up"] and time.monotonic() - child.started > startup_timeout:
                raise child.failure(call.target, f"printed no status within {startup_timeout:g} s")
            if child.proc.poll() is not None:           # it ended by itself
                take(child.drain())
                status = child.proc.returncode
                if status != 0:
                    how = f"was killed by {signal_name(status)}" if status < 0 else f"exited with status {status}"
                    raise child.failure(call.target, f"{how}, not by the lab")
                return
    except Killed:
        killed = True                                   # lab.kill, the panel's kill: a crash, SIGKILL
        raise
    finally:
        status = child.stop(hard=killed)                # and reaped: no orphan, no zombie
        child.record["exit"] = peer.data["exit"] = signal_name(status)
        peer.data["stderr"] = list(child.stderr)
        peer.log("exit", pid=child.pid, status=signal_name(status))


def secrets_env(call: RoleCall) -> dict[str, str]:
    """The environment that gives a child process ``call``'s secret parameters (``run`` takes them
    from it): a command line is readable by every local user (/proc/PID/cmdline, ps), a process's
    environment only by its owner."""
    return {SECRETS_ENV: json.dumps(call.secrets)} if call.secrets else {}


def _call_from_params(target: str, params: dict[str, Any], prefix: list[str] | None = None) -> RoleCall:
    """Check ``target`` and ``params`` as the command line will, before spawning anything (a role
    on a namespace host, ``prefix``, binds its host's addresses and resolves its own names)."""
    if not isinstance(target, str) or "." not in target:
        raise UsageError(f"a process role needs target='pattern.role', not {target!r}")
    try:
        fn = _role_fn(target)
    except ValueError:
        fn = None                                       # resolve says what is wrong with it
    secret = {k: v for k, v in params.items() if v is not None and is_secret(k, fn)}
    items = [f"{k}={format_value(k, v)}" for k, v in params.items() if k not in secret]
    return resolve(target, items, all_interfaces=bool(prefix), cli_defaults=False, secrets=secret,
                   local=not prefix)


def _role_fn(target: str) -> Callable[..., Any]:
    from . import patterns
    pattern, role, _ = split_target(target)
    return patterns.role(pattern, role)


def warm(target: str) -> None:
    """Read ``target``'s endpoints from its source now, in the thread that makes a process role, so
    that the peer threads do not parse source code at once (see ``rolecall._PARSING``)."""
    try:
        endpoint_params(_role_fn(target))
    except Exception:  # noqa: BLE001 - a bad target is reported in one line where it is started
        pass


def as_process(target: str) -> Callable[..., Any]:
    """A role function that runs ``target`` as a process: ``lab.start("w1", as_process("paranoidpirate.worker"),
    endpoint=backend)``. Its name in the lab's status is ``target`` with ``[process]``."""
    warm(target)

    def role(peer, **params: Any):
        return process(peer, target, **params)
    role.__name__ = f"{target}[process]"
    role.__qualname__ = role.__name__
    role.__doc__ = f"{target}, run as a child process (see zguide_py.procs.process)."
    return role
