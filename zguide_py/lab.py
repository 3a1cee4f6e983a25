"""Lab: one private ZeroMQ context and the peers of one notebook.

    lab = Lab("reqrep")                     # closes any live lab of the same name first
    lab.start("server", echo_server, endpoint=lab.endpoint("echo"))
    lab.kill("server"); lab.restart("server"); lab.throttle("server", 0.01)
    lab.set("server", paused=True)          # an input the role reads from peer.inputs
    report = lab.run(scenario, seconds=2)   # scripted faults, headless
    lab.close()                             # joins every peer, destroys the context (linger 0)

Every control is a public method here; the widgets (``zguide_py.widgets.Panel(lab)``) and the
scenarios call these same methods. The lab core imports no UI: it runs headless, with pyzmq only.
"""
from __future__ import annotations

import atexit
import inspect
import numbers
import os
import random
import shutil
import socket as _socket
import tempfile
import threading
import time
import warnings
from collections import deque
from typing import Any, Callable

import zmq

from .errors import LabError, PeerFailed, UnknownPeer
from .events import Event, make_detail, masked
from .metrics import Sampler
from .peer import KILL_TIMEOUT, MAX_THROTTLE, Peer
from .scenario import Scenario, run as run_scenario
from .sockets import LabContext, new_socket

__all__ = ["Lab", "LabError", "PeerFailed", "UnknownPeer", "Event", "free_tcp_port", "close_all",
           "live_labs", "StatusTable", "TRANSPORTS"]

_LABS: dict[str, "Lab"] = {}   # live labs by name: a lab lives until closed (its threads hold it)
_LABS_LOCK = threading.Lock()

TRANSPORTS = ("inproc", "ipc", "tcp")


class Lab:
    """One notebook's ZeroMQ world: a private context, named peers, events, a sampler."""

    KILL_TIMEOUT = KILL_TIMEOUT   # a role waits in slices; a peer still alive after this is stuck

    def __init__(self, name: str = "lab", sample_interval: float = 0.1):
        check_name("lab", name)
        with _LABS_LOCK:
            old = _LABS.get(name)
        if old is not None:
            old.close()         # re-running the cell that made this lab is always safe
        self.name = name
        self.ctx = LabContext()  # private: never the process-wide shared instance, which the kernel uses
        self.peers: dict[str, Peer] = {}
        self.events: deque[Event] = deque(maxlen=200_000)
        self.closed = False
        self._t0 = time.monotonic()
        self._tmpdir: str | None = None
        self._on_close: list[Callable[[], None]] = []
        self._sockets: list[zmq.Socket] = []   # sockets the notebook itself uses (main thread)
        self._lock = threading.RLock()
        self.sampler = Sampler(self, sample_interval)
        with _LABS_LOCK:
            _LABS[name] = self

    # ---- clock and events -------------------------------------------------------------------
    def now(self) -> float:
        """Seconds since this lab was created (the time axis of every plot and event)."""
        return time.monotonic() - self._t0

    def record(self, kind: str, peer: str = "", detail: Any = "", at: float | None = None,
               **fields: Any) -> Event:
        """Add an event ``Event(t, kind, peer, detail)``, with ``fields`` as its detail if given.
        ``at`` back-dates it (lab time), e.g. for an event a child process saw a moment ago.
        Thread-safe; peers call it through ``peer.log``."""
        event = Event(self.now() if at is None else at, kind, peer, make_detail(detail, fields))
        self.events.append(event)
        return event

    def events_of(self, kind: str | None = None, peer: str | None = None,
                  since: float = 0.0) -> list[Event]:
        """The events after ``since``, of one kind and/or one peer."""
        return [e for e in list(self.events)
                if e.t >= since and (kind is None or e.kind == kind) and (peer is None or e.peer == peer)]

    # ---- endpoints ----------------------------------------------------------------------------
    def endpoint(self, name: str, transport: str = "inproc") -> str:
        """An endpoint for ``name`` on a transport: inproc (default), ipc (a file in the lab's
        temporary folder) or tcp (a free port on 127.0.0.1, never a fixed one)."""
        self.check_open()
        if transport not in TRANSPORTS:
            raise LabError(f"unknown transport {transport!r}: use one of {', '.join(TRANSPORTS)}"
                           " (pgm/epgm need a libzmq built with OpenPGM; see zmq.has('pgm'))")
        if not isinstance(name, str) or not name or any(c in name for c in " /:\\\0"):
            raise LabError(f"bad endpoint name {name!r}: use letters, digits, '-' or '_'")
        if transport == "inproc":
            return f"inproc://{name}"
        if transport == "ipc":
            if self._tmpdir is None:
                self._tmpdir = tempfile.mkdtemp(prefix=f"zguide-{self.name}-")
            return f"ipc://{os.path.join(self._tmpdir, name)}"
        return f"tcp://127.0.0.1:{free_tcp_port()}"

    def socket(self, socket_type: int, **options: Any) -> zmq.Socket:
        """A socket for the notebook's own (main-thread) use, on the lab's context.
        Options are set by name (``rcvhwm=10``); ``close()`` closes it with linger 0."""
        self.check_open()
        return new_socket(self.ctx, socket_type, options, self._sockets)

    # ---- peers --------------------------------------------------------------------------------
    def peer(self, name: str) -> Peer:
        """The peer called ``name``; a clear error names the peers that do exist."""
        try:
            return self.peers[name]
        except KeyError:
            known = ", ".join(self.peers) or "none yet"
            raise UnknownPeer(f"no peer {name!r} in lab {self.name!r} (peers: {known})") from None

    def start(self, name: str, role: Callable[..., Any], throttle: float = 0.0, **params: Any) -> Peer:
        """Run ``role(peer, **params)`` in a daemon thread, as peer ``name``.

        ``throttle`` (seconds per message, the lab's own, not passed to the role) is set before the
        thread starts: ``lab.throttle()`` right after ``start()`` would race a fast role, which
        can send thousands of messages before the main thread gets to run again."""
        self.check_open()
        check_name("peer", name)
        delay = self._throttle_value(name, throttle)
        if not callable(role):
            raise LabError(f"role for peer {name!r} must be a function role(peer, ...), not {role!r}")
        self._check_params(name, role, params, "start")
        with self._lock:
            old = self.peers.get(name)
            if old is not None and old.alive:
                raise LabError(f"peer {name!r} is already running; kill it first or use restart({name!r})")
            peer = Peer(self, name, role, params)
            peer.delay = delay
            self.peers[name] = peer
            peer._start()
        self.record("start", name)
        if delay:
            self.record("throttle", name, delay)
        return peer

    def start_next(self, prefix: str, role: Callable[..., Any], throttle: float = 0.0, **params: Any) -> Peer:
        """Start one more numbered peer: ``prefix`` followed by the first number above every peer
        named so already (``worker3`` when worker1 and worker2 exist). What an "add worker" button does."""
        taken = [int(n[len(prefix):]) for n in self.peers
                 if n.startswith(prefix) and n[len(prefix):].isdigit()]
        return self.start(f"{prefix}{max(taken, default=0) + 1}", role, throttle=throttle, **params)

    def kill(self, name: str) -> Peer:
        """Kill a peer as a crash would: its loop ends within one poll, its sockets close with
        linger 0 and whatever they had queued is dropped."""
        self.check_open()
        peer = self.peer(name)
        if not peer.alive:
            return peer
        peer._signal_stop(killed=True)
        self.record("kill", name)
        if not peer._join(self.KILL_TIMEOUT):
            where = peer.where()
            self.record("stuck", name, where=where)
            raise LabError(f"peer {name!r} did not stop within {self.KILL_TIMEOUT} s: it is blocked in "
                           f"{where}; a role must wait with peer.poll / peer.sleep, which a kill ends")
        return peer

    def restart(self, name: str, **params: Any) -> Peer:
        """Kill the peer if it runs, then start its role again, with the same parameters except
        those given here (``lab.restart("sub1", topics=["sports."])``). Counters carry on, so rates
        stay continuous across the restart."""
        self.check_open()
        peer = self.peer(name)
        if params:
            self._check_params(name, peer.role, {**peer.params, **params}, "restart", params)
        if peer.alive:
            self.kill(name)
        peer.params.update(params)
        peer._start()
        self.record("restart", name)
        return peer

    @staticmethod
    def _check_params(name: str, role: Callable[..., Any], params: dict[str, Any], action: str,
                      shown: dict[str, Any] | None = None) -> None:
        """The role must accept these parameters (checked before its thread starts)."""
        try:
            signature = inspect.signature(role)
        except (TypeError, ValueError):      # a builtin or a C function: nothing to check
            return
        try:
            signature.bind(None, **params)
        except TypeError as exc:
            raise LabError(f"cannot {action} {name!r} with {masked(shown if shown is not None else params, role)}: "
                           f"{exc}") from None

    @staticmethod
    def _throttle_value(name: str, seconds_per_message: Any) -> float:
        wrong = LabError(f"throttle for {name!r} must be a number of seconds per message, "
                         f"not {seconds_per_message!r}")
        if isinstance(seconds_per_message, bool) or not isinstance(seconds_per_message, numbers.Real):
            raise wrong
        try:
            value = float(seconds_per_message)
        except (TypeError, ValueError, OverflowError):
            raise LabError(f"throttle for {name!r} must be between 0 and {MAX_THROTTLE} seconds "
                           f"per message, not {seconds_per_message!r}") from None
        if not 0 <= value <= MAX_THROTTLE:          # NaN fails this too
            raise LabError(f"throttle for {name!r} must be between 0 and {MAX_THROTTLE} seconds "
                           f"per message, not {seconds_per_message!r}")
        return value

    def throttle(self, name: str, seconds_per_message: float) -> Peer:
        """Slow a peer down: ``peer.throttle()`` then sleeps this long per message. 0 = full speed."""
        self.check_open()
        peer = self.peer(name)
        value = self._throttle_value(name, seconds_per_message)
        peer.delay = value
        self.record("throttle", name, value)
        return peer

    def set(self, name: str, **inputs: Any) -> Peer:
        """Tell a running role something: ``lab.set("server", paused=True)``. The role reads
        ``peer.inputs["paused"]``; the change is recorded as an event with its fields."""
        self.check_open()
        peer = self.peer(name)
        if not inputs:
            raise LabError(f"lab.set({name!r}) needs at least one input, e.g. paused=True")
        peer.inputs.update(inputs)
        self.record("set", name, **inputs)
        return peer

    def remove(self, name: str) -> None:
        """Kill a peer and forget it (its counters leave the plots)."""
        self.check_open()
        self.kill(name)
        with self._lock:
            self.peers.pop(name, None)
        self.record("remove", name)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 5.0, what: str = "",
                 check: bool = True) -> Any:
        """Poll ``condition()`` every 5 ms until it is truthy; TimeoutError after ``timeout``.
        A failed peer stops the wait at once with its traceback (``check=False``: it does not,
        for a wait on a peer that is meant to fail).

        A role fills in ``peer.data`` from its own thread, a moment after ``start()`` returns, so
        a ``KeyError`` or ``IndexError`` from the condition means "not there yet" and the wait goes
        on. If it is still raising at the deadline, the TimeoutError names it."""
        self.check_open()
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                result = condition()
                last_error = None
            except (KeyError, IndexError) as exc:
                result, last_error = None, exc
            if result:
                return result
            if check:
                self.check()
            if time.monotonic() >= deadline:
                message = f"lab {self.name!r}: {what or 'condition'} not met within {timeout} s"
                if last_error is not None:
                    message += f" (the condition still raised {last_error!r})"
                    raise TimeoutError(message) from last_error
                raise TimeoutError(message)
            time.sleep(0.005)

    def wait_quiet(self, read: Callable[[], Any], quiet: float = 0.3, timeout: float = 5.0,
                   what: str = "") -> Any:
        """Wait until ``read()`` (a count, say) has not changed for ``quiet`` seconds, and return
        its value: the stragglers of a stream have arrived. TimeoutError after ``timeout``."""
        last = {"value": read(), "since": time.monotonic()}

        def settled() -> bool:
            value = read()
            if value != last["value"]:
                last.update(value=value, since=time.monotonic())
            return time.monotonic() - last["since"] >= quiet

        self.wait_for(settled, timeout, what or f"no change for {quiet} s")
        return last["value"]

    def wait_done(self, name: str, timeout: float = 10.0) -> Peer:
        """Wait until a peer's role has returned (state done/failed/killed)."""
        self.check_open()
        peer = self.peer(name)
        self.wait_for(lambda: not peer.alive, timeout, f"peer {name!r} to finish")
        return peer

    # ---- views -------------------------------------------------------------------------------
    def status(self) -> "StatusTable":
        """One row per peer: role, state, throttle, starts and counters."""
        return StatusTable([p.summary() for p in list(self.peers.values())], self.errors())

    def errors(self) -> dict[str, str]:
        """{peer: traceback} for every peer whose role raised."""
        return {n: p.error for n, p in list(self.peers.items()) if p.error}

    def check(self) -> None:
        """Raise PeerFailed, with the tracebacks, if any role has raised."""
        errors = self.errors()
        if errors:
            text = "\n".join(f"--- peer {n!r} failed:\n{tb}" for n, tb in errors.items())
            raise PeerFailed(f"{len(errors)} peer(s) failed in lab {self.name!r}:\n{text}")

    def threads(self) -> list[threading.Thread]:
        """This lab's live threads: peers, sampler, widget refreshers."""
        prefix = f"zguide:{self.name}:"
        return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]

    def open_sockets(self) -> int:
        """Sockets still open: the peers' and the notebook's own."""
        return (sum(p.open_sockets() for p in list(self.peers.values()))
                + sum(1 for s in self._sockets if not s.closed))

    # ---- scenarios ---------------------------------------------------------------------------
    def run(self, scenario: Scenario | None = None, seconds: float = 2.0,
            until: Callable[[], Any] | None = None):
        """Run a scenario (or just wait) for ``seconds``, headless; returns a Report."""
        return run_scenario(self, scenario if scenario is not None else Scenario(), seconds, until)

    def on_close(self, callback: Callable[[], None]) -> None:
        self._on_close.append(callback)

    # ---- lifecycle ---------------------------------------------------------------------------
    def check_open(self) -> None:
        """Raise LabError if this lab is closed (every control calls this first)."""
        if self.closed:
            raise LabError(f"lab {self.name!r} is closed: create a new Lab({self.name!r})")

    def close(self) -> None:
        """Stop and join every peer, stop the sampler and widgets, destroy the context (linger 0).
        Idempotent."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for callback in self._on_close:
            try:
                callback()
            except Exception:  # noqa: BLE001 - closing must go on
                pass
        peers = list(self.peers.values())
        for p in peers:
            p._signal_stop(killed=False)
        for p in peers:
            p._join(self.KILL_TIMEOUT)
        self.sampler.stop()
        for sock in self._sockets:     # the notebook's own sockets belong to this (main) thread
            sock.close(linger=0)
        # A peer stuck in a blocking call gets ETERM from term(); its thread then closes its sockets.
        term = threading.Thread(target=self.ctx.term, name=f"zguide-term:{self.name}", daemon=True)
        term.start()
        term.join(2.0)
        patience = time.monotonic() + 5.0        # a loaded machine may be slow to run a peer's last lines
        for p in peers:
            p._join(max(0.05, patience - time.monotonic()))
        for p in [p for p in peers if p.alive]:
            # Stuck outside ZeroMQ (time.sleep, Event.wait, a loop that swallows its kill): no
            # thread can be killed from outside in Python. Say where, and end the context anyway.
            where = p.where()
            self.record("stuck", p.name, where=where)
            warnings.warn(f"lab {self.name!r}: peer {p.name!r} did not stop: it is blocked in {where}. "
                          "A thread stuck outside ZeroMQ cannot be killed: its sockets were closed "
                          "under it and the context ended, but the thread runs on until that call "
                          "returns (use peer.poll / peer.sleep in roles)", RuntimeWarning, stacklevel=2)
            p._close_sockets_from_outside()
        term.join(2.0)
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
        with _LABS_LOCK:
            if _LABS.get(self.name) is self:
                del _LABS[self.name]
        self.record("close")

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self.peers)} peers"
        return f"<Lab {self.name!r}: {state}>"


def check_name(what: str, name: Any) -> None:
    """Lab and peer names: non-empty text that can also name a thread, a file or a folder."""
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\\0") \
            or not name.isprintable():
        raise LabError(f"a {what} needs a non-empty printable name without '/' or '\\', not {name!r}")


_PORTS_GIVEN: set[int] = set()
_PORT_RNG = random.Random()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_tcp_port() -> int:
    """A loopback port that is free now and unlikely to be taken before a peer binds it.

    Ports the kernel gives out itself (the ephemeral range, used for every outgoing connection on
    the machine) could be grabbed by anybody between our check and the bind; so we pick below that
    range, at random, never the same port twice in this process, and check that it is free."""
    low = max(1024, min(_ephemeral_low(), 32768) - 12000)
    high = min(_ephemeral_low(), 32768) - 1
    with _LABS_LOCK:
        for _ in range(200):
            port = _PORT_RNG.randint(low, high)
            if port in _PORTS_GIVEN:
                continue
            with _socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _PORTS_GIVEN.add(port)
            return port
    with _socket.socket() as s:            # everything below the range is busy: let the kernel pick
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StatusTable(list):
    """A list of per-peer dicts that shows itself as a table (text and HTML)."""

    def __init__(self, rows: list[dict[str, Any]], errors: dict[str, str] | None = None):
        super().__init__(rows)
        self.errors = errors or {}

    def columns(self) -> list[str]:
        cols: list[str] = []
        for row in self:
            for key in row:
                if key not in cols:
                    cols.append(key)
        return cols

    def __repr__(self) -> str:
        cols = self.columns()
        rows = [[str(r.get(c, "")) for c in cols] for r in self]
        widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
        lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
        for name, tb in self.errors.items():
            lines.append(f"\npeer {name!r} failed:\n{tb}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html
        cols = self.columns()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>"
            for r in self)
        errors = "".join(f"<p><b>peer {html.escape(n)} failed:</b></p><pre>{html.escape(tb)}</pre>"
                         for n, tb in self.errors.items())
        return f"<table><tr>{head}</tr>{body}</table>{errors}"


def close_all() -> None:
    """Close every live lab (also run at process exit)."""
    for lab in list(_LABS.values()):
        lab.close()


def live_labs() -> list[str]:
    return list(_LABS.keys())


atexit.register(close_all)
