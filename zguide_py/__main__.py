"""Command line: list the patterns, run one role as its own process, run the benchmarks.

    python -m zguide_py list [PATTERN ...]
    python -m zguide_py run reqrep.echo_server --bind tcp://127.0.0.1:5555
    python -m zguide_py run reqrep.client --connect tcp://127.0.0.1:5555 requests=100 timeout=2.5
    python -m zguide_py bench
    python -m zguide_py perf --transport tcp --sizes 1,64,4k,8M --json perf.json

``run`` starts the very role function that the notebook runs as a thread, in a lab of its own, and
shows its counters and their rates until the role ends or you press Ctrl-C (``run --help`` says
more). Endpoints are given with ``--bind``/``--connect``; tcp binds stay on 127.0.0.1 unless you
ask for every interface with ``--all-interfaces``. Parameters are ``name=value``; values are read as
Python literals when they parse (``100``, ``2.5``, ``True``, ``['a','b']``) and as strings otherwise.
"""
from __future__ import annotations

import argparse
import errno
import faulthandler
import inspect
import math
import re
import signal
import sys
import time

from . import patterns


def cmd_list(args) -> int:
    """Each pattern, its roles with their parameters, and which endpoints each role binds or connects."""
    from .rolecall import CLI_DEFAULTS, describe_endpoints
    for name in args.patterns or patterns.names():
        try:
            module = patterns.load(name)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        doc = (inspect.getdoc(module) or "").strip().splitlines()
        print(f"{name}: {doc[0] if doc else ''}".rstrip())
        for role_name, fn in patterns.roles(name).items():
            cli = CLI_DEFAULTS.get(f"{name}.{role_name}", {})      # the command line's, where they differ
            params = [p if v.default is inspect.Parameter.empty else f"{p}={cli.get(p, v.default)!r}"
                      for p, v in inspect.signature(fn).parameters.items() if p != "peer"]
            endpoints = describe_endpoints(fn)
            print(f"    {role_name}({', '.join(params)})" + (f"  [{endpoints}]" if endpoints else ""))
    if not args.patterns:
        print("\nrun a role as a process:  python -m zguide_py run PATTERN.ROLE --bind/--connect "
              "[NAME=]tcp://127.0.0.1:PORT [name=value ...]")
    return 0


def _rate_text(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.1f}"


def _jsonable(value, depth: int = 0):
    """A role's ``peer.data`` as JSON-safe values (dict keys as text, containers as lists, the rest repr)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 6:
        return repr(value)[:300]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in list(value.items())[:10_000]}
    if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "deque":
        return [_jsonable(v, depth + 1) for v in list(value)[:10_000]]
    if callable(value):                  # a role's live "status" line for the panel: its text now
        try:
            return _jsonable(value(), depth + 1)
        except Exception:  # noqa: BLE001 - a status that cannot be read now is left out
            return None
    return repr(value)[:300]


class _Status:
    """The live status line: in place on a terminal, a plain line per tick otherwise, or JSON lines.

    Plain:  ``[    2.0 s] worker1 running (served 39.8/s, heartbeats_in 10.0/s): served=80, heartbeats_in=20``
    JSON:   ``{"t": 2.0, "name": "worker1", "pid": 4242, "state": "running", "counts": {...}, "rates": {...}}``
    """

    # what the child's own lab records about starting, stopping and throttling this peer: the parent
    # lab records the same things itself, so these are not sent on
    LIFECYCLE = frozenset({"start", "restart", "kill", "remove", "throttle", "failed", "stuck", "close", "run"})
    MAX_EVENTS = 500            # per status line; more are counted in "events_dropped"
    MAX_LATENCIES = 10_000      # the last latency samples of each name (peer.latency), in the final line

    def __init__(self, mode: str, name: str, target: str, secrets: tuple = ()):
        import os
        self.mode, self.name, self.target, self.pid = mode, name, target, os.getpid()
        self.prev: tuple[float, dict] | None = None
        self.last_event: tuple | None = None      # the newest of the child lab's events already looked at
        self.secrets = tuple(str(s) for s in secrets if s not in (None, ""))   # values never shown

    def hide(self, value):
        """``value`` with every secret parameter's value (and any key named like a secret) as ``***``."""
        from .rolecall import MASK, is_secret
        if isinstance(value, dict):
            return {k: (MASK if isinstance(k, str) and is_secret(k) and v is not None else self.hide(v))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.hide(v) for v in value]
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, MASK)
        return value

    def _fresh_events(self, peer) -> dict:
        """The role's own events (peer.log) since the last line, each as [seconds ago, kind, detail]."""
        events = list(peer.lab.events)            # a bounded deque: old events fall off its left end
        new: list[tuple] = []
        for event in reversed(events):            # back to the last one seen (each event is its own tuple)
            if event is self.last_event:
                break
            new.append(event)
        if events:
            self.last_event = events[-1]
        fresh = [e for e in reversed(new) if e[2] == peer.name and e[1] not in self.LIFECYCLE]
        if not fresh:
            return {}
        now = peer.lab.now()
        kept = fresh[-self.MAX_EVENTS:]
        out = {"events": [[round(now - t, 4), kind, self.hide(_jsonable(detail))] for t, kind, _, detail in kept]}
        if len(fresh) > len(kept):
            out["events_dropped"] = len(fresh) - len(kept)
        return out

    def _emit_json(self, **fields) -> None:
        import json
        print(json.dumps({"t": round(fields.pop("t"), 3), "name": self.name, "target": self.target,
                          "pid": self.pid, **fields}), flush=True)

    def header(self, command: str) -> None:
        if self.mode != "json":
            print(f"{self.target} as {self.name!r}, pid {self.pid}: {command}\n"
                  "(Ctrl-C or SIGTERM stops it cleanly)", flush=True)

    def show(self, peer, t: float) -> None:
        counts = dict(sorted(peer.snapshot().items()))
        rates = {}
        if self.prev is not None and t > self.prev[0]:
            dt = t - self.prev[0]
            rates = {k: max(0.0, (v - self.prev[1].get(k, 0)) / dt) for k, v in counts.items()}
        self.prev = (t, counts)
        if self.mode == "json":
            says = self._says(peer)
            self._emit_json(t=t, state=peer.state, counts=counts, throttle=peer.delay,
                            rates={k: round(r, 2) for k, r in rates.items()},
                            **({"says": says} if says else {}), **self._fresh_events(peer))
        elif self.mode == "tty":
            import shutil
            parts = [f"{k} {v}" + (f" ({_rate_text(rates[k])}/s)" if k in rates else "") for k, v in counts.items()]
            line = " | ".join([f"{self.name} {peer.state} {t:6.1f} s", *parts])
            width = shutil.get_terminal_size((100, 20)).columns
            sys.stdout.write("\r\x1b[2K" + line[:max(20, width - 1)])
            sys.stdout.flush()
        else:
            rate_text = ", ".join(f"{k} {_rate_text(r)}/s" for k, r in rates.items())
            counts_text = ", ".join(f"{k}={v}" for k, v in counts.items())
            print(f"[{t:7.1f} s] {self.name} {peer.state}" + (f" ({rate_text})" if rate_text else "")
                  + f": {counts_text}", flush=True)

    def _says(self, peer) -> str:
        """What the role's live status says now (its ``peer.data["status"]``: text, or a function
        of its books), one line of at most 200 characters: the parent's panel shows it."""
        says = _jsonable(peer.data.get("status"))
        if says in (None, "") or isinstance(says, (dict, list)):
            return ""
        text = str(self.hide(str(says)))
        return text if len(text) <= 200 else text[:199] + "…"

    def final(self, peer, t: float, state: str, error: str | None = None) -> None:
        counts = dict(sorted(peer.snapshot().items()))
        if self.mode == "json":
            latencies = {k: [round(s, 6) for s in list(v)[-self.MAX_LATENCIES:]] for k, v in peer.latencies.items()}
            self._emit_json(t=t, final=True, state=state, counts=counts,
                            rates={k: round(v / t, 2) for k, v in counts.items()} if t > 0 else {},
                            data=self.hide(_jsonable(peer.data)), error=self.hide(error or peer.error),
                            latencies=latencies, **self._fresh_events(peer))
            return
        if self.mode == "tty":
            sys.stdout.write("\n")
        print(f"{self.name} {state}: " + ", ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
        for key, value in self.hide(dict(peer.data)).items():
            text = repr(value)
            print(f"  {key} = {text if len(text) < 300 else text[:300] + '...'}")


def _control(lab, name: str, stop) -> None:
    """--stdin-control: read 'throttle SECONDS' and 'stop' lines; end of input (the parent is gone) stops."""
    from .lab import LabError
    stream = sys.stdin
    while stream is not None:
        line = stream.readline()
        if not line:
            break
        words = line.split()
        if words[:1] == ["throttle"] and len(words) == 2:
            try:
                lab.throttle(name, float(words[1]))
            except (ValueError, LabError) as exc:
                print(f"error: {exc}", file=sys.stderr, flush=True)
        elif words == ["stop"]:
            break
        elif words:
            print(f"error: unknown command {line.strip()!r} on stdin (use: throttle SECONDS, stop)",
                  file=sys.stderr, flush=True)
    stop.set()


RUN_HELP = """Run one role as this process, with the same function the notebooks run as a thread.

    python -m zguide_py run paranoidpirate.queue --bind frontend=tcp://127.0.0.1:5555 --bind backend=5556
    python -m zguide_py run paranoidpirate.worker --connect tcp://127.0.0.1:5556 liveness=5
    python -m zguide_py run lazypirate.client --connect 5555 requests=20

Endpoints: --bind/--connect [NAME=]ENDPOINT. NAME is the role's parameter; leave it out when only one
endpoint of the role fits (`list` shows what each role binds and connects). A bare PORT, :PORT or
tcp://:PORT means tcp://127.0.0.1:PORT (this machine only). Binding tcp://*:PORT or 0.0.0.0 (every
network interface) is refused unless you add --all-interfaces. inproc:// cannot cross processes.

Binding anything but loopback (127.0.0.0/8, ::1) needs --all-interfaces however it is spelled
(tcp://0:PORT, tcp://0x0:PORT, tcp://[::ffff:0.0.0.0]:PORT, tcp://eth0:PORT, a non-loopback address).

Other parameters are name=value, read as Python literals when they parse (100, 2.5, True, ['a'])
and as strings otherwise. Numbers must be finite and not negative; periods, timeouts and rates more
than 0. Heartbeats default to the specs' and the guide's peers' (Paranoid Pirate 1 s x 3, Majordomo
and Titanic's services 2.5 s x 3); give interval=/heartbeat= for others. Secrets (password=...) are
shown as ***; a password on the command line is visible to every local user in /proc/PID/cmdline,
so give password_file= or password_env= where the role takes them.

A status line with each counter's rate is refreshed in place on a terminal, printed once per --every
otherwise, or printed as JSON lines with --json-status. Ctrl-C or SIGTERM stops the role cleanly
(exit 0). Bad arguments, and a role that refuses its parameters or cannot bind or connect when it
starts, exit 2 with one line; a role that raises later prints its traceback, exit 1.
"""


def _positive_seconds(option: str, value: float | None) -> None:
    from .rolecall import UsageError
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option} must be a positive number of seconds, not {value!r}")


def _secret_warnings(call, params: list[str]) -> list[str]:
    """One line per secret given on the command line: it is visible to every local user."""
    from .rolecall import is_secret, role_params
    import os
    given = [p.split("=", 1)[0] for p in params if "=" in p and is_secret(p.split("=", 1)[0], call.fn)]
    names = role_params(call.fn)
    lines = []
    for name in given:
        value = call.params.get(name)
        if isinstance(value, str) and os.path.isfile(value):
            continue                    # the name of a file of secrets (passwords=FILE), not a secret
        ways = [f"{name}_{way}=" for way in ("file", "env") if f"{name}_{way}" in names]
        lines.append(f"warning: {name}= on the command line is visible to every local user (/proc/PID/cmdline, "
                     f"ps): use {' or '.join(ways) if ways else 'a file or the environment'} instead")
    return lines


def _take_secrets_env() -> dict:
    """The secret parameters a parent (zguide_py.procs.process) passed in the environment, removed
    from it (no grandchild inherits them)."""
    import json
    import os
    from .rolecall import SECRETS_ENV, UsageError
    text = os.environ.pop(SECRETS_ENV, None)
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UsageError(f"{SECRETS_ENV} must hold a JSON object of secret parameters")
    return value


def cmd_run(args) -> int:
    from .rolecall import UsageError, resolve, shown
    try:
        _positive_seconds("--seconds", args.seconds)
        _positive_seconds("--every", args.every)
        call = resolve(args.target, args.params, args.bind, args.connect, args.all_interfaces,
                       secrets=_take_secrets_env())
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in [*call.warnings, *_secret_warnings(call, args.params)]:
        print(warning, file=sys.stderr, flush=True)
    try:
        return _run_role(call, args, shown(call.argv(args.name), call.fn))
    except KeyboardInterrupt:            # a second Ctrl-C while stopping: give up waiting
        return 130


#: What a failed bind or connect means, by errno.
_ENDPOINT_HINTS = {errno.EADDRINUSE: "another process listens on this port",
                   errno.EADDRNOTAVAIL: "this machine has no such address",
                   errno.ENODEV: "no such interface or address on this machine",
                   errno.ENOENT: "its folder does not exist",
                   errno.EACCES: "permission denied",
                   errno.EINVAL: "not a valid endpoint"}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _startup_checked(call, failure: list[str]):
    """The role, wrapped: a bind or connect that fails, or a ValueError/KeyError/TypeError/OSError
    raised before the role opened any socket (its own check of its parameters), becomes one line in
    ``failure`` (printed as the error, exit 2) instead of a traceback. Later errors stay tracebacks."""
    import zmq
    fn = call.fn

    def explain(peer, exc: Exception) -> None:
        if isinstance(exc, zmq.ZMQError):
            calls = set()
            tb = exc.__traceback__
            while tb is not None:
                calls.add(tb.tb_frame.f_code.co_name)
                tb = tb.tb_next
            what = next((c for c in ("bind", "connect") if c in calls), None)
            if what:
                match = re.search(r"\(addr='([^']*)'\)", str(exc))
                reason = _ENDPOINT_HINTS.get(exc.errno, "")
                text = re.sub(r"\s*\(addr='[^']*'\)", "", exc.strerror or str(exc)).rstrip(". ")
                failure.append(f"{call.target} cannot {what} {match.group(1) if match else 'its endpoint'}: {text}"
                               + (f" ({reason})" if reason and reason.lower() != text.lower() else ""))
        elif isinstance(exc, (ValueError, LookupError, TypeError, OSError)):
            if peer.open_sockets() == 0:
                text = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                failure.append(f"{call.target} refused its parameters: {text}")

    if inspect.iscoroutinefunction(fn):       # an async def role: the lab runs it on a loop of its own
        async def role(peer, **params):
            try:
                return await fn(peer, **params)
            except Exception as exc:
                explain(peer, exc)
                raise
    else:
        def role(peer, **params):
            try:
                return fn(peer, **params)
            except Exception as exc:
                explain(peer, exc)
                raise

    role.__name__, role.__qualname__, role.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return role


#: Seconds from the first SIGINT/SIGTERM to a forced exit (the lab's kill and close take ~3 s at most).
STOP_PATIENCE = 8.0


def _run_role(call, args, command: str) -> int:
    """Run the role in a lab of its own until it ends, --seconds pass, or SIGINT/SIGTERM arrives."""
    import threading
    name = args.name or call.role
    stop = threading.Event()

    def on_signal(_signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        # a watchdog: a role stuck past its kill must not keep the process alive; after this long
        # every thread's stack goes to stderr (what blocked) and the process exits (status 1)
        faulthandler.dump_traceback_later(STOP_PATIENCE, exit=True)

    previous = {sig: signal.signal(sig, on_signal)        # SIGTERM: `kill` or a supervisor stops it like
                for sig in (signal.SIGINT, signal.SIGTERM)}  # Ctrl-C; both given back at the end
    try:
        return _supervise(call, args, command, name, stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _supervise(call, args, command: str, name: str, stop) -> int:
    """The role's lab, its status lines and its end (the exit status)."""
    import threading
    from .lab import Lab, LabError
    mode = "json" if args.json_status else ("tty" if sys.stdout.isatty() else "plain")
    status = _Status(mode, name, call.target, tuple(v for v in call.secrets.values() if isinstance(v, str)))
    failure: list[str] = []
    with Lab(f"cli-{name}") as lab:
        status.header(command)
        started = time.monotonic()
        peer = lab.start(name, _startup_checked(call, failure), **call.params)
        if args.stdin_control:
            threading.Thread(target=_control, args=(lab, name, stop), name="zguide-cli-control",
                             daemon=True).start()
        status.show(peer, 0.0)
        next_at = started + args.every
        while peer.alive and not stop.is_set():
            stop.wait(min(0.05, args.every))
            now = time.monotonic()
            if now >= next_at:
                status.show(peer, now - started)
                next_at = max(next_at + args.every, now + args.every / 2)
            if args.seconds is not None and now - started >= args.seconds:
                break
        stopped = peer.alive
        if stopped:
            try:
                lab.kill(name)
            except LabError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
        if failure and peer.state == "failed":    # refused at start: one line, as a bad argument
            error = "error: " + _one_line(status.hide(failure[0]))
            if mode == "json":
                status.final(peer, time.monotonic() - started, "failed", error=error)
            print(error, file=sys.stderr, flush=True)
            return 2
        status.final(peer, time.monotonic() - started, "stopped" if stopped else peer.state)
        if peer.error:
            print(status.hide(peer.error), file=sys.stderr, flush=True)
            return 1
    return 0


def _count_arg(what: str, top: int):
    """An argparse type: a whole number from 1 to ``top``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a whole number, not {text!r}") from None
        if not 1 <= value <= top:
            raise argparse.ArgumentTypeError(f"{what} must be 1 to {top:,}, not {text}")
        return value
    return parse


def _sweep_arg(text: str) -> list[str]:
    """--sweep: transports, comma-separated; '' skips the sweep."""
    from .perf import TRANSPORTS
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in names if t not in TRANSPORTS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown transport {', '.join(map(repr, bad))}: use inproc, ipc "
                                         "and/or tcp, comma-separated ('' to skip the sweep)")
    return list(dict.fromkeys(names))


def cmd_bench(args) -> int:
    """The measurement tables: the lab's overhead on the message path, then (``--sweep``) throughput and
    latency beside the C baseline and the batching demo. ``make bench`` (tools/bench.py) runs the same
    measurements and judges them against the project's targets."""
    import zmq
    from .perf import batched_records, measure_overhead, overhead_table, sweep, sweep_table
    transports = args.sweep
    try:
        print(overhead_table(measure_overhead(messages=args.messages, rounds=args.rounds)), flush=True)
        if transports:
            print("\nThroughput and latency, 1 B to 8 MB, Python beside the native C baseline (best of 3 from "
                  "512 kB up)", flush=True)
            result = sweep(transports=transports, repeats=3)
            print(sweep_table(result))
            for note in result["notes"]:
                print(f"note: {note}")
            one = batched_records(records=200_000, per_frame=1, record_size=64)
            many = batched_records(records=2_000_000, per_frame=100, record_size=64)
            print(f"\nbatching over inproc, 64 B records: 1 per frame {one['records_per_s']:,.0f} records/s; "
                  f"100 per frame {many['records_per_s']:,.0f} records/s ({many['frames_per_s']:,.0f} frames/s)")
    except (TimeoutError, RuntimeError, OSError, zmq.ZMQError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    print("\n(the project's targets: make bench, which runs tools/bench.py)")
    return 0


def cmd_perf(args) -> int:
    from .perf.cli import run_cli
    return run_cli(args)


def cmd_net(args) -> int:
    from . import net
    problem = net.missing()
    if problem:
        print(f"net clean: {problem}", file=sys.stderr)
        return 2
    removed = net.clean(everything=args.all)
    print(f"removed {len(removed)} namespace(s){': ' + ', '.join(removed) if removed else ''}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (and exit status 2), as every other error here."""

    def error(self, message: str):
        self.exit(2, f"error: {_one_line(message)} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m zguide_py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="list patterns, their roles and the endpoints each binds or connects")
    listing.add_argument("patterns", nargs="*", metavar="PATTERN", help="only these patterns")
    listing.set_defaults(func=cmd_list)
    run = sub.add_parser("run", help="run one role as this process", description=RUN_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("target", metavar="PATTERN.ROLE", help="the role to run (the older 'PATTERN ROLE' works too)")
    run.add_argument("params", nargs="*", metavar="name=value", help="parameters of the role")
    run.add_argument("--bind", action="append", default=[], metavar="[NAME=]ENDPOINT",
                     help="an endpoint the role binds (NAME may be left out when only one fits)")
    run.add_argument("--connect", action="append", default=[], metavar="[NAME=]ENDPOINT",
                     help="an endpoint the role connects to (repeat it for a list parameter)")
    run.add_argument("--all-interfaces", action="store_true",
                     help="allow binding tcp://*:PORT or 0.0.0.0 (every network interface), with a warning")
    run.add_argument("--name", help="peer name (default: the role's)")
    run.add_argument("--seconds", type=float, default=None, help="stop after this long")
    run.add_argument("--every", type=float, default=1.0, help="status line this often (s)")
    run.add_argument("--json-status", action="store_true",
                     help="print the status as one JSON object per line (for a parent process)")
    run.add_argument("--stdin-control", action="store_true",
                     help="read 'throttle SECONDS' / 'stop' lines on stdin; stop when stdin closes")
    run.set_defaults(func=cmd_run)
    bench = sub.add_parser("bench", help="the lab's overhead (bare pyzmq against a lab role), then the size sweep")
    bench.add_argument("--messages", type=_count_arg("--messages", 50_000_000), default=200_000,
                       help="messages per round (1 to 50,000,000; default 200,000)")
    bench.add_argument("--rounds", type=_count_arg("--rounds", 100), default=5,
                       help="rounds of each loop (1 to 100; default 5)")
    bench.add_argument("--sweep", type=_sweep_arg, default="inproc,ipc,tcp",
                       help="transports for the size sweep, comma-separated ('' to skip)")
    bench.add_argument("--no-majordomo", dest="majordomo", action="store_false",
                       help=argparse.SUPPRESS)      # accepted as before; the Majordomo bench is in make bench
    bench.set_defaults(func=cmd_bench)
    from .perf.cli import add_arguments as perf_arguments
    perf = sub.add_parser("perf", help="throughput and latency, 1 B to 8 MB, Python beside a C baseline")
    perf_arguments(perf)
    perf.set_defaults(func=cmd_perf)
    net = sub.add_parser("net", help="network namespaces of zguide_py.net: 'net clean' removes what a crashed run left")
    net.add_argument("action", choices=["clean"])
    net.add_argument("--all", action="store_true", help="also the namespaces of Nets that are still running")
    net.set_defaults(func=cmd_net)
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "run" and not any(e.startswith("-") for e in extra):
        args.params += extra        # name=value after an option: argparse leaves them over
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
