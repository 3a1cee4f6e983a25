"""Peer: one thread running one role function, with its sockets, stop flag, throttle and counters.

A role is a plain function ``role(peer, **params)`` written with pyzmq's own API. The peer gives it
only what a notebook needs around the pattern:

* ``peer.socket(zmq.REP)`` - a socket on the lab's context, closed with linger 0 when the role ends;
* ``peer.poll(sock, timeout)`` - True when a message waits; False on timeout, or once the lab kills
  the peer. ``peer.poll(poller, timeout)`` gives the ready sockets (``{}`` on timeout or kill).
  ``peer.send(sock, frames)`` waits for room to send, but never past a kill. These are the lab's
  kill contract: they wait in slices of :data:`SLICE`, so a kill takes effect within one slice;
* ``peer.running`` - False as soon as the lab kills the peer, so ``while peer.running`` loops end;
* ``peer.throttle()`` - sleeps while a widget or a scenario slows this peer down;
* ``peer.inputs`` - what the notebook told the role with ``lab.set(name, paused=True)``;
* ``peer.count(name)`` - one dictionary increment on the message path;
* ``peer.log(kind, **fields)`` - an event with its time and fields, for the report and the plots;
* ``peer.latency(name, seconds)`` and ``peer.data`` - measurements and results for the notebook
  (output only: the notebook reads ``peer.data``, and tells the role things through ``lab.set``).

A role may also be ``async def role(peer, **params)`` (zmq.asyncio). It runs in its own thread with
an event loop of its own (``asyncio.run``), so a slow or blocking role cannot stall another peer's,
and the lab's controls work as for a thread role: ``peer.socket`` gives asyncio sockets (``await
sock.recv()``), a kill cancels the role's task within one :data:`SLICE` wherever it awaits,
``await peer.athrottle()`` and ``await peer.asleep(s)`` wait without blocking the loop.

Nothing here prints: peers record, the main thread renders.
"""
from __future__ import annotations

import asyncio
import inspect
import linecache
import os
import sys
import threading
import time
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

import zmq
import zmq.asyncio

from .errors import Killed, LabError
from .events import make_detail
from .metrics import Counter
from .sockets import new_socket

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

__all__ = ["Peer", "Killed", "SLICE", "KILL_TIMEOUT", "MAX_THROTTLE", "STATES"]

#: The lab's kill contract: a role waits in slices this long (``peer.poll``, ``peer.send``), so a
#: kill takes effect within one slice...
SLICE = 0.05
#: ...and a peer still alive this long after its kill is reported stuck.
KILL_TIMEOUT = 1.0

#: A throttle is a delay per message; more than this is surely a typo (and would make kill slow).
MAX_THROTTLE = 5.0

STATES = ("starting", "running", "done", "killed", "failed", "stuck")

_SLICE_MS = int(SLICE * 1000)
class _AsyncRequester(zmq.asyncio.Socket):
    """An async role's REQ socket: a send starts its peer's wait for a reply (the panel's
    "waiting for a reply for N s"), a reply received ends it, as ``peer.poll`` does for a thread role."""
    _zguide_peer: "Peer"

    def _asking(self) -> None:
        if self._zguide_peer.waiting_since is None:
            self._zguide_peer.waiting_since = time.monotonic()

    def send(self, *args, **kwargs):                # send_string, send_json... come here too
        self._asking()
        return super().send(*args, **kwargs)

    def send_multipart(self, *args, **kwargs):
        self._asking()
        return super().send_multipart(*args, **kwargs)

    def recv(self, *args, **kwargs):
        future = super().recv(*args, **kwargs)
        future.add_done_callback(self._replied)
        return future

    def recv_multipart(self, *args, **kwargs):
        future = super().recv_multipart(*args, **kwargs)
        future.add_done_callback(self._replied)
        return future

    def _replied(self, future) -> None:
        if not future.cancelled() and future.exception() is None:
            self._zguide_peer.waiting_since = None


_ASYNC_HINT = ("peer.{0}() is for thread roles: in an async def role, await the socket itself "
               "(await sock.{0}(...)); a kill cancels the await")


class Peer:
    """One role running in one daemon thread of a :class:`~zguide_py.lab.Lab`."""

    def __init__(self, lab: "Lab", name: str, role: Callable[..., Any], params: dict[str, Any]):
        self.lab = lab
        self.name = name
        self.role = role
        self.params = params
        self.state = "starting"
        self.error: str | None = None      # the traceback, when the role raised
        self.delay = 0.0                   # seconds per message, set by throttle
        self.starts = 0                    # how many times the role was started (1 + restarts)
        self.counters: dict[str, Counter] = {}
        self.latencies: dict[str, deque] = {}
        self.data: dict[str, Any] = {}     # free-form results that the role leaves for the notebook
        self.inputs: dict[str, Any] = {}   # what the notebook tells the role: lab.set(name, ...)
        self.running = False
        self._stop = threading.Event()
        self._sockets: list[zmq.Socket] = []
        self._thread: threading.Thread | None = None
        self._killed = False
        #: when this peer's REQ socket started waiting for the reply it has not got yet (time.monotonic),
        #: None when it waits for none: the panel shows "waiting for a reply for N s"
        self.waiting_since: float | None = None
        self._requesters: set[zmq.Socket] = set()      # REQ sockets open now (a set: cheap per poll)
        self.is_async = inspect.iscoroutinefunction(role)  # an async def role: sockets are asyncio's

    # ---- what a role uses ------------------------------------------------------------------
    # ``peer.running`` is a plain attribute (cheap to read per message): True until the lab kills
    # or closes this peer. Role loops are ``while peer.running:``.

    def socket(self, socket_type: int, **options: Any) -> zmq.Socket:
        """A new socket on the lab's context. Options are set by name: ``rcvhwm=10``.

        The socket is closed with linger 0 when the role returns, raises or is killed.
        """
        ctx = zmq.asyncio.Context.shadow(self.lab.ctx.underlying) if self.is_async else self.lab.ctx
        sock = new_socket(ctx, socket_type, options, self._sockets)
        if self.is_async:
            sock.linger = 0                   # a shadow context does not carry the lab's default
        if socket_type == zmq.REQ:
            self._requesters.add(sock)
            if self.is_async:                 # no peer.poll to see the wait: the socket says it
                sock.__class__, sock._zguide_peer = _AsyncRequester, self
        return sock

    def poll(self, sock: zmq.Socket | zmq.Poller, timeout: float | None = None,
             flags: int = zmq.POLLIN) -> Any:
        """Wait up to ``timeout`` seconds (None: for as long as the peer runs) for ``sock``.

        With a socket: True when it is ready (a message waits, or with ``flags=zmq.POLLOUT`` there
        is room to send), False on timeout or once the lab kills this peer.
        With a ``zmq.Poller``: the dict of ready sockets, ``{}`` on timeout or kill.
        It waits in slices of :data:`SLICE`, so a kill takes effect within one slice."""
        if self.is_async:
            raise LabError(_ASYNC_HINT.format("poll"))
        is_poller = isinstance(sock, zmq.Poller)
        if timeout is not None:
            deadline = time.monotonic() + timeout
        asking = not is_poller and flags == zmq.POLLIN and sock in self._requesters
        if asking and self.waiting_since is None:
            self.waiting_since = time.monotonic()       # a REQ waits for its reply (shown by the panel)
        while self.running:
            wait = _SLICE_MS
            if timeout is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    wait = 0
                elif left < SLICE:
                    wait = max(1, int(left * 1000 + 0.999))
            if is_poller:
                ready = dict(sock.poll(wait))
                if ready:
                    return ready
            elif sock.poll(wait, flags):
                if asking:
                    self.waiting_since = None
                return True
            if timeout is not None and (wait == 0 or time.monotonic() >= deadline):
                break
        return {} if is_poller else False

    def send(self, sock: zmq.Socket, frames: bytes | list, timeout: float | None = None) -> bool:
        """Send one message (bytes, or a list of frames), waiting while the socket has no room or
        nobody to send to (a DEALER with no connection, a PUSH at its high-water mark), but never
        past a kill or ``timeout`` seconds. True when sent, False when it could not go."""
        if self.is_async:
            raise LabError(_ASYNC_HINT.format("send"))
        parts = [frames] if isinstance(frames, (bytes, bytearray, memoryview, zmq.Frame)) else frames
        try:
            sock.send_multipart(parts, zmq.NOBLOCK)
            return True
        except zmq.Again:
            pass
        if timeout is not None:
            deadline = time.monotonic() + timeout
        while self.running:
            left = None if timeout is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self.poll(sock, SLICE if left is None else min(SLICE, left), zmq.POLLOUT)
            try:
                sock.send_multipart(parts, zmq.NOBLOCK)
                return True
            except zmq.Again:
                continue
        return False

    def close_socket(self, sock: zmq.Socket) -> None:
        """Close one socket now (linger 0), e.g. Lazy Pirate's close-and-reopen."""
        sock.close(linger=0)
        self._requesters.discard(sock)
        if sock in self._sockets:
            self._sockets.remove(sock)

    def throttle(self) -> None:
        """Sleep for the throttle delay, if any. A kill ends the role right here (see Killed)."""
        if self.delay:
            self.sleep(self.delay)

    async def athrottle(self) -> None:
        """``throttle`` for an async role: awaits the delay, so the loop goes on meanwhile."""
        if self.delay:
            await asyncio.sleep(self.delay)

    async def asleep(self, seconds: float) -> bool:
        """``sleep`` for an async role (a kill cancels it, as it cancels any await)."""
        await asyncio.sleep(seconds)
        return self.running

    def sleep(self, seconds: float) -> bool:
        """Sleep that a kill interrupts: a killed peer stops inside the sleep, as a crash would.
        Returns ``peer.running`` (False when the lab is closing)."""
        if self._stop.wait(seconds) and self._killed:
            raise Killed(self.name)
        return self.running

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``. On the hottest paths (a million messages a second) take
        the counter once, ``sent = peer.counter("sent")``, and write ``sent.value += 1``."""
        counter = self.counters.get(name)
        if counter is None:
            counter = self.counter(name)
        counter.value += n

    def counter(self, name: str) -> Counter:
        """The counter called ``name`` (created at 0): ``c.value += 1`` is one attribute increment."""
        counter = self.counters.get(name)
        if counter is None:
            counter = self.counters[name] = Counter()
        return counter

    def get(self, name: str) -> int:
        """The current value of a counter (0 if it was never counted)."""
        counter = self.counters.get(name)
        return 0 if counter is None else counter.value

    def log(self, kind: str, detail: Any = "", **fields: Any) -> None:
        """Record an event (a retry, a heartbeat lost, a failover...) with the lab's clock.
        Give facts as fields, ``peer.log("retry", seq=17)``, so views read them as data."""
        self.lab.record(kind, self.name, make_detail(detail, fields))

    def now(self) -> float:
        """The lab's clock: seconds since the lab was created (the time axis of every plot)."""
        return self.lab.now()

    def latency(self, name: str, seconds: float) -> None:
        """Record one latency sample (seconds). Keeps the last 100 000."""
        samples = self.latencies.get(name)
        if samples is None:
            samples = self.latencies[name] = deque(maxlen=100_000)
        samples.append(seconds)

    # ---- what the lab uses -------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread_name(self) -> str:
        return f"zguide:{self.lab.name}:{self.name}"

    def _start(self) -> None:
        self._stop.clear()
        self.running = True
        self._killed = False
        self.error = None
        # "running" is set here, before the thread exists, so that start() and restart() return a
        # peer whose state says what it is; the thread only ever moves it on (done/killed/failed)
        self.state = "running"
        self.waiting_since = None
        self.starts += 1
        self._thread = threading.Thread(target=self._main, name=self.thread_name, daemon=True)
        self._thread.start()

    async def _run_async(self) -> None:
        """Run an async role as a task and cancel it when the lab kills or closes this peer: the
        kill lands at the await the role is in, within one slice."""
        task = asyncio.ensure_future(self.role(self, **self.params))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=SLICE)
                if self._stop.is_set() and not task.done():
                    task.cancel()
                    try:
                        await task
                    except asyncio.CancelledError:
                        pass
                    if self._killed:
                        raise Killed(self.name)
                    return
            task.result()
        finally:
            self._close_own_sockets()          # while the loop still runs: asyncio sockets need it

    def _main(self) -> None:
        try:
            if self.is_async:
                asyncio.run(self._run_async())
            else:
                self.role(self, **self.params)
        except (Killed, zmq.ContextTerminated):
            self.state = "killed"
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - any error of the role is recorded,
            # never lost (an async role can end cancelled by itself: an await on a cancelled future)
            if self._killed:
                self.state = "killed"   # a role that trips over its own kill is just dead
            else:
                self.error = traceback.format_exc()
                self.state = "failed"
                last = self.error.strip().splitlines()[-1]
                self.lab.record("failed", self.name, last)
        else:
            self.state = "killed" if self._killed else "done"
        finally:
            self._close_own_sockets()

    def _close_own_sockets(self) -> None:
        for sock in self._sockets:
            try:
                sock.close(linger=0)
            except Exception:  # noqa: BLE001
                pass
        self._sockets = []
        self._requesters.clear()

    def _signal_stop(self, killed: bool = True) -> None:
        self._killed = killed
        self.running = False
        self._stop.set()

    def _join(self, timeout: float) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        if self.alive:
            self.state = "stuck"
            return False
        return True

    def where(self) -> str:
        """Where this peer's thread is now: the line of its role it is on, and the innermost call
        if that is elsewhere, e.g. ``time.sleep(60) (roles.py:12, in slow_role)``."""
        thread = self._thread
        frame = sys._current_frames().get(thread.ident) if thread is not None else None
        if frame is None:
            return "nothing (its thread has ended)"

        def describe(f) -> str:
            line = linecache.getline(f.f_code.co_filename, f.f_lineno).split("  #")[0].strip()
            place = f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno}, in {f.f_code.co_name}"
            return f"{line} ({place})" if line else place

        role_code = getattr(self.role, "__code__", None)
        outer = frame
        while outer is not None and outer.f_code is not role_code:
            outer = outer.f_back
        if outer is None or outer is frame:
            return describe(frame)
        return f"{describe(outer)}, inside {describe(frame)}"

    def _close_sockets_from_outside(self) -> None:
        """Close the sockets of a thread that is stuck outside ZeroMQ (close() only): so that the
        context can end. The thread, when it wakes, finds them closed."""
        for sock in list(self._sockets):
            try:
                sock.close(linger=0)
            except Exception:  # noqa: BLE001
                pass

    def open_sockets(self) -> int:
        return sum(1 for s in self._sockets if not s.closed)

    def summary(self) -> dict[str, Any]:
        return {
            "peer": self.name,
            "role": getattr(self.role, "__name__", str(self.role)),
            "state": self.state,
            "throttle": self.delay,
            "starts": self.starts,
            **dict(self.snapshot()),
        }

    def snapshot(self) -> dict[str, int]:
        """A consistent copy of the counters, safe to take from another thread."""
        for _ in range(100):
            try:
                return {name: c.value for name, c in self.counters.items()}
            except RuntimeError:  # a new counter was added while we copied
                time.sleep(0)
        return {}

    def __repr__(self) -> str:
        return f"<Peer {self.name} {self.state}>"
