#!/usr/bin/env python3
"""Interop soak: our CLI roles, started with no heartbeat flags, against the guide-style peers in
examples/ with their own defaults, for ``--seconds`` (default 30). No reconnect storm allowed.

usage: python tools/interop_soak.py [--seconds S] [--gap S] [--set TARGET:NAME=VALUE] [--keep DIR]

Four pairings run at once, each a process per role over tcp on loopback:

    PPP  our paranoidpirate.queue  + examples/ppworker.py   (client: examples/lpclient.py)
    PPP  examples/ppqueue.py       + our paranoidpirate.worker
    MDP  our majordomo.broker      + examples/mdworker.py   (client: examples/mdclient.py)
    MDP  examples/mdbroker.py      + our majordomo.worker   (client: examples/mdclient.py)

The client pauses ``--gap`` seconds between requests (default 4: longer than PPP's 3 s of
tolerated silence), so that between requests both sides live on heartbeats alone. Counted per
pairing, from our roles' JSON status lines and the scripts' output:

* reconnects: the worker gave its queue/broker up and started over (our PPP worker's
  ``reconnects``, our MDP worker's ``connects`` after the first; a script worker's "reconnecting");
* purges: the queue/broker forgot the worker (our queue's ``purged``, our broker's ``removed``;
  a script's "purged"/"forgotten");
* replies and failed (requests the client gave up on), malformed (what our role could not parse).

Exit status 1 on a storm (more than 1 reconnect or purge in a pairing), on a pairing that served
nothing, or on a process that died; 2 if they could not start. ``--set paranoidpirate:interval=0.1``
(a pattern's roles, or one role: ``--set majordomo.worker:reconnect=0.1``) gives our roles other
values than the CLI's, to watch a storm happen.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(ROOT))

from zguide_py.lab import free_tcp_port  # noqa: E402
from zguide_py.rolecall import CLI_DEFAULTS  # noqa: E402

STARTUP = 30.0          # bound for the processes to come up and serve a first request (s)
TARGETS = ("paranoidpirate.queue", "paranoidpirate.worker", "majordomo.broker", "majordomo.worker")
STORM = 1               # more reconnects or purges than this in one pairing is a storm


def _default_sigint() -> None:
    # a child of a shell's background job inherits SIGINT ignored; it must stop on SIGINT
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Child:
    """One process; its stdout and stderr in a file read while it runs. ``ours``: one of our roles
    (it prints JSON status lines)."""

    def __init__(self, folder: Path, name: str, argv: list[str], ours: bool):
        self.name, self.ours = name, ours
        self.out = folder / f"{next(_SERIAL):02d}-{name}.out"
        with open(self.out, "w") as fh:
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_default_sigint,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def lines_with(self, *needles: str) -> int:
        """How many output lines hold every one of ``needles``."""
        return sum(all(n in line for n in needles) for line in self.text().splitlines())

    def counts(self) -> dict:
        """The last counts one of our roles printed (its final status line once it stopped)."""
        for line in reversed(self.text().splitlines()):
            if line.startswith("{"):
                try:
                    return json.loads(line).get("counts", {})
                except ValueError:
                    continue
        return {}

    def alive(self) -> bool:
        return self.proc.poll() is None


_SERIAL = itertools.count()


def script(folder: Path, name: str, *args: str) -> Child:
    """One of the guide-style scripts in examples/, with its own defaults but for ``args``."""
    return Child(folder, name, [sys.executable, str(EXAMPLES / f"{name}.py"), *args], ours=False)


def role(folder: Path, target: str, params: Params, *args: str) -> Child:
    """One of our roles from the CLI, with JSON status lines; ``params``: extra name=value by target
    (a pattern, or pattern.role)."""
    extra = [*params.get(target.split(".")[0], ()), *params.get(target, ())]
    return Child(folder, target, [sys.executable, "-m", "zguide_py", "run", target, *args, *extra,
                                  "--json-status", "--every", "0.5"], ours=True)


Params = dict[str, Sequence[str]]


@dataclass
class Pairing:
    """One of our roles with a script peer, and a script client: how to start it, how to count."""

    label: str
    port: int                                  # the binding side's port that workers connect to
    start_binder: Callable[[], Child]          # the queue or broker (started first)
    start_rest: Callable[[], dict[str, Child]]  # {"worker": ..., "client": ...}
    reconnects_of: Callable[[dict[str, Child]], int]
    purges_of: Callable[[dict[str, Child]], int]
    children: dict[str, Child] = field(default_factory=dict)


@dataclass
class Row:
    """What one pairing did during the soak."""

    label: str
    reconnects: int
    purges: int
    replies: int
    failed: int
    malformed: int
    died: list[str]

    @property
    def storm(self) -> bool:
        return self.reconnects > STORM or self.purges > STORM

    @property
    def ok(self) -> bool:
        return not self.storm and self.replies > 0 and not self.died

    @property
    def verdict(self) -> str:
        if self.died:
            return "died: " + ", ".join(self.died)
        return "STORM" if self.storm else "ok" if self.replies else "nothing served"


def _tcp(port: int) -> str:
    return f"tcp://127.0.0.1:{port}"


def pairings(folder: Path, gap: float = 4.0, params: Params | None = None) -> list[Pairing]:
    """The four pairings, not started. ``params``: extra name=value for our roles, by pattern or
    pattern.role (none by default: the CLI's defaults)."""
    params = params or {}
    client = ["--count", str(10**6), "--interval", str(gap)]      # runs until stopped
    out = []

    f, b = free_tcp_port(), free_tcp_port()            # PPP: our queue with the script worker
    out.append(Pairing(
        "PPP  our queue   + ppworker.py", b,
        start_binder=lambda f=f, b=b: role(folder, "paranoidpirate.queue", params, "--bind", f"frontend={_tcp(f)}",
                                           "--bind", f"backend={_tcp(b)}"),
        start_rest=lambda f=f, b=b: {"worker": script(folder, "ppworker", "--connect", _tcp(b)),
                                     "client": script(folder, "lpclient", "--connect", _tcp(f), *client)},
        reconnects_of=lambda c: c["worker"].lines_with("reconnecting"),
        purges_of=lambda c: c["binder"].counts().get("purged", 0)))

    f, b = free_tcp_port(), free_tcp_port()            # PPP: the script queue with our worker
    out.append(Pairing(
        "PPP  ppqueue.py  + our worker", b,
        start_binder=lambda f=f, b=b: script(folder, "ppqueue", "--frontend", _tcp(f), "--backend", _tcp(b)),
        start_rest=lambda f=f, b=b: {"worker": role(folder, "paranoidpirate.worker", params, "--connect", _tcp(b)),
                                     "client": script(folder, "lpclient", "--connect", _tcp(f), *client)},
        reconnects_of=lambda c: c["worker"].counts().get("reconnects", 0),
        purges_of=lambda c: c["binder"].lines_with("purged")))

    p = free_tcp_port()                                # MDP: our broker with the script worker
    out.append(Pairing(
        "MDP  our broker  + mdworker.py", p,
        start_binder=lambda p=p: role(folder, "majordomo.broker", params, "--bind", _tcp(p)),
        start_rest=lambda p=p: {"worker": script(folder, "mdworker", "--connect", _tcp(p), "--service", "echo"),
                                "client": script(folder, "mdclient", "--connect", _tcp(p), *client)},
        reconnects_of=lambda c: c["worker"].lines_with("reconnecting"),
        purges_of=lambda c: c["binder"].counts().get("removed", 0)))

    p = free_tcp_port()                                # MDP: the script broker with our worker
    out.append(Pairing(
        "MDP  mdbroker.py + our worker", p,
        start_binder=lambda p=p: script(folder, "mdbroker", "--bind", _tcp(p)),
        start_rest=lambda p=p: {"worker": role(folder, "majordomo.worker", params, "--connect", _tcp(p),
                                               "service=echo"),
                                "client": script(folder, "mdclient", "--connect", _tcp(p), *client)},
        reconnects_of=lambda c: max(0, c["worker"].counts().get("connects", 1) - 1),
        purges_of=lambda c: c["binder"].lines_with("forgotten")))
    return out


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait(what: str, done: Callable[[], bool], children: list[Child], timeout: float = STARTUP) -> None:
    """Poll ``done`` until it holds; fail at once if a process ended, or after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not done():
        dead = [c for c in children if not c.alive()]
        if dead:
            raise SoakError(f"{dead[0].name} exited {dead[0].proc.returncode} before {what}:\n{dead[0].text()}")
        if time.monotonic() > end:
            raise SoakError(f"not {what} within {timeout} s")
        time.sleep(0.05)               # polling with a bound, not synchronisation by sleep


class SoakError(RuntimeError):
    """The soak could not start: a process died or did not come up in time."""


def soak(seconds: float = 30.0, gap: float = 4.0, folder: Path | None = None, params: Params | None = None,
         progress: Callable[[str], None] | None = None) -> list[Row]:
    """Run the four pairings at once for ``seconds`` after each has served its first request, then
    stop them all (SIGINT) and count. Output files stay in ``folder`` (default: a temporary one)."""
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="interop-soak-") as tmp:
            return soak(seconds, gap, Path(tmp), params, progress)
    say = progress or (lambda _text: None)
    every = pairings(folder, gap, params)
    children: list[Child] = []
    try:
        for pairing in every:          # the binding sides first, so no worker waits out its liveness
            pairing.children["binder"] = pairing.start_binder()
            children.append(pairing.children["binder"])
        _wait("listening", lambda: all(_listening(p.port) for p in every), children)
        for pairing in every:
            rest = pairing.start_rest()
            pairing.children.update(rest)
            children.extend(rest.values())
        _wait("serving a first request", lambda: all(p.children["client"].lines_with(" OK") for p in every), children)
        say(f"all {len(every)} pairings serve; soaking for {seconds:g} s")
        end = time.monotonic() + seconds
        while time.monotonic() < end and all(c.alive() for c in children):
            time.sleep(min(0.2, max(0.0, end - time.monotonic())))     # the soak itself: watch for deaths
        died = {id(c): c.name for c in children if not c.alive()}     # ended before the soak did
        for child in children:
            if child.alive():
                child.proc.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.proc.wait(10)
            except subprocess.TimeoutExpired:
                died[id(child)] = f"{child.name} (would not stop)"
            if child.ours and "Timeout (0:00:" in child.text():     # the CLI's stop watchdog fired:
                died[id(child)] = f"{child.name} (stuck at stop)"      # its threads' stacks follow
                print(f"{child.name} was stuck at stop; its output ends:\n{child.text()[-4000:]}", file=sys.stderr)
        rows = []
        for pairing in every:
            c = pairing.children
            rows.append(Row(pairing.label, pairing.reconnects_of(c), pairing.purges_of(c),
                            replies=c["client"].lines_with(" OK"),
                            failed=(c["client"].lines_with("abandoning")            # lpclient gave up
                                    + c["client"].lines_with("no reply to", "tries")),  # mdclient gave up
                            malformed=sum(x.counts().get("malformed", 0) for x in c.values() if x.ours),
                            died=sorted(died[id(x)] for x in c.values() if id(x) in died)))
        return rows
    finally:
        for child in children:
            if child.alive():
                child.proc.kill()
                child.proc.wait(10)


def table(rows: list[Row]) -> str:
    head = f"{'pairing (with the script client)':32} {'reconnects':>10} {'purges':>6} {'replies':>7} " \
           f"{'failed':>6} {'malformed':>9}  verdict"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.label:32} {r.reconnects:>10} {r.purges:>6} {r.replies:>7} {r.failed:>6} "
                     f"{r.malformed:>9}  {r.verdict}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="soak this long once all serve (default 30)")
    parser.add_argument("--gap", type=float, default=4.0, help="the clients' pause between requests (default 4)")
    parser.add_argument("--set", action="append", default=[], metavar="TARGET:NAME=VALUE",
                        help="a parameter for our roles of TARGET (paranoidpirate, majordomo.worker, ...); "
                             "default: none, the CLI's defaults")
    parser.add_argument("--keep", type=Path, help="keep every process's output in this folder")
    args = parser.parse_args()
    for name, value in (("--seconds", args.seconds), ("--gap", args.gap)):
        if not (value > 0 and value != float("inf")):
            parser.error(f"{name} must be a positive number of seconds, not {value!r}")
    params: dict[str, list[str]] = {}
    for item in args.set:
        target, _, value = item.partition(":")
        if target not in TARGETS and target not in {t.split(".")[0] for t in TARGETS} or "=" not in value:
            parser.error(f"--set {item!r}: not TARGET:NAME=VALUE with TARGET one of {', '.join(TARGETS)} "
                         "or their pattern")
        params.setdefault(target, []).append(value)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)

    print("our roles, the CLI's defaults:",
          "; ".join(f"{t} {' '.join(f'{k}={v}' for k, v in CLI_DEFAULTS[t].items())}" for t in TARGETS))
    if args.set:
        print("  changed with --set:", " ".join(args.set))
    print("the scripts: their own defaults (PPP 1 s x 3, MDP 2.5 s x 3)")
    started = time.monotonic()
    try:
        rows = soak(args.seconds, args.gap, args.keep, params, progress=print)
    except SoakError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(rows))
    bad = [r for r in rows if not r.ok]
    print(f"{len(rows) - len(bad)} of {len(rows)} pairings without a storm and serving, "
          f"{args.seconds:g} s soak ({time.monotonic() - started:.1f} s in all)")
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        raise SystemExit(130) from None
