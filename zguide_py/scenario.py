"""Scenarios: scripted, repeatable timelines of faults and actions, run headless into a Report.

    sc = Scenario("server crash", seed=7)
    sc.at(1.0, "kill", "server")                  # at t = 1.0 s after the run starts
    sc.at(1.5, "restart", "server")
    sc.after(5, "client", "replies", "throttle", "server", 0.05)   # once the client has 5 replies
    sc.chaos(["worker1", "worker2"], kills=3, start=0.5, end=4.0)  # seeded random kills+restarts
    report = lab.run(sc, seconds=5)
    report_figure(report)        # zguide_py.plots: rates over time, faults marked

Each action is the name of a public Lab method (kill, restart, throttle, start, remove) called with
the given arguments - the very methods that the panel's buttons call - or any function ``f(lab)``.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .errors import LabError
from .events import Event

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

ACTIONS = ("kill", "restart", "throttle", "start", "remove")
PEER_ACTIONS = ("kill", "restart", "throttle", "remove")


@dataclass
class Step:
    action: str | Callable[["Lab"], Any]
    args: tuple
    kwargs: dict = field(default_factory=dict)
    at: float | None = None                       # seconds after the run starts
    after: tuple[str, str, int] | None = None     # (peer, counter, n): when that counter grew by n
    label: str = ""
    fired_at: float | None = None
    error: str | None = None

    def describe(self) -> str:
        when = f"at {self.at:.2f} s" if self.at is not None else \
            f"after {self.after[2]} x {self.after[0]}.{self.after[1]}"
        return f"{when:<28} {self.label}"


class Scenario:
    """A named list of steps. ``seed`` makes the random helpers repeatable."""

    def __init__(self, name: str = "scenario", seed: int | None = 0):
        self.name = name
        self.seed = seed
        self.rng = random.Random(seed)
        self.steps: list[Step] = []

    def _step(self, action: Any, args: tuple, kwargs: dict | None = None, **when: Any) -> "Scenario":
        if isinstance(action, str):
            if action not in ACTIONS:
                raise LabError(f"unknown scenario action {action!r}: use one of {', '.join(ACTIONS)}"
                               " or a function f(lab)")
            if action == "start" and len(args) >= 2 and callable(args[1]):   # start NAME (role ROLE)
                label = f"start {args[0]} (role {getattr(args[1], '__name__', 'role')})"
            else:
                label = " ".join([action, *(str(a) if not callable(a) else getattr(a, "__name__", "role")
                                            for a in args)])
        elif callable(action):
            label = getattr(action, "__name__", "action")
        else:
            raise LabError(f"a scenario action is a Lab method name or a function, not {action!r}")
        self.steps.append(Step(action, args, dict(kwargs or {}), label=label, **when))
        return self

    def at(self, t: float, action: Any, *args: Any, **kwargs: Any) -> "Scenario":
        """Do ``action(*args, **kwargs)`` at ``t`` seconds after the run starts.
        ``sc.at(0, "start", "client", reqrep.client, endpoint=ep)`` starts a peer inside the run."""
        if not isinstance(t, (int, float)) or t < 0:
            raise LabError(f"a step time must be a number of seconds >= 0, not {t!r}")
        return self._step(action, args, kwargs, at=float(t))

    def after(self, n: int, peer: str, counter: str, action: Any, *args: Any, **kwargs: Any) -> "Scenario":
        """Do ``action(*args, **kwargs)`` once ``peer``'s ``counter`` has grown by ``n`` in this run."""
        if not isinstance(n, int) or n < 1:
            raise LabError(f"'after' needs a count >= 1, not {n!r}")
        return self._step(action, args, kwargs, after=(peer, counter, n))

    def chaos(self, peers: list[str], kills: int, start: float, end: float,
              downtime: tuple[float, float] = (0.2, 0.6)) -> "Scenario":
        """``kills`` seeded random crashes of ``peers`` between ``start`` and ``end`` seconds,
        each followed by a restart after a random downtime. Same seed, same schedule."""
        if not peers:
            raise LabError("chaos needs at least one peer name")
        if not 0 <= start < end:
            raise LabError(f"chaos window must satisfy 0 <= start < end, not {start}..{end}")
        busy_until: dict[str, float] = {}
        times = sorted(self.rng.uniform(start, end) for _ in range(kills))
        for t in times:
            candidates = [p for p in peers if busy_until.get(p, -1.0) < t] or list(peers)
            peer = self.rng.choice(sorted(candidates))
            down = self.rng.uniform(*downtime)
            t_kill = round(max(t, busy_until.get(peer, -1.0) + 0.05), 3)
            self.at(t_kill, "kill", peer)
            self.at(round(t_kill + down, 3), "restart", peer)
            busy_until[peer] = t_kill + down
        self.steps.sort(key=lambda s: (s.at is None, s.at or 0.0))
        return self

    def describe(self) -> str:
        lines = [f"scenario {self.name!r} (seed {self.seed}): {len(self.steps)} steps"]
        timed = sorted((s for s in self.steps if s.at is not None), key=lambda s: s.at)   # stable
        lines += ["  " + s.describe() for s in timed + [s for s in self.steps if s.at is None]]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.describe()


@dataclass
class Report:
    """What a scenario run produced. Times are seconds since the run started."""

    lab_name: str
    scenario: str
    start: float                      # lab time when the run started
    duration: float
    series: dict[tuple[str, str], tuple[list[float], list[float]]]
    events: list[Event]
    counts: dict[str, dict[str, int]]     # growth of each counter during the run
    totals: dict[str, dict[str, int]]     # counter values at the end
    states: dict[str, str]
    errors: dict[str, str]
    steps: list[Step] = field(default_factory=list)

    def count(self, peer: str, counter: str) -> int:
        return self.counts.get(peer, {}).get(counter, 0)

    def events_of(self, kind: str | None = None, peer: str | None = None) -> list:
        return [e for e in self.events if (kind is None or e.kind == kind) and (peer is None or e.peer == peer)]

    def series_of(self, counters: list[str] | None = None,
                  peers: list[str] | None = None) -> dict[tuple[str, str], tuple[list[float], list[float]]]:
        """The rate series of some counters and/or peers (``plots.report_figure`` draws them)."""
        return {k: v for k, v in self.series.items()
                if (counters is None or k[1] in counters) and (peers is None or k[0] in peers)}

    def __repr__(self) -> str:
        lines = [f"run of {self.scenario!r}: ~{self.duration:.1f} s, "
                 f"{sum(s.fired_at is not None for s in self.steps)} of {len(self.steps)} steps fired"]
        for s in self.steps:
            fired = f"~{s.fired_at:.2f} s" if s.fired_at is not None else "not fired"
            err = f"  ERROR: {s.error}" if s.error else ""
            lines.append(f"  {fired:>10}  {s.label}{err}")
        lines.append("counts during the run:")
        for peer, counts in self.counts.items():
            shown = ", ".join(f"{k} ~{v}" for k, v in sorted(counts.items())) or "-"
            lines.append(f"  {peer:<12} {self.states.get(peer, ''):<8} {shown}")
        if self.errors:
            for peer, tb in self.errors.items():
                lines.append(f"peer {peer!r} failed:\n{tb}")
        else:
            lines.append("errors: none")
        return "\n".join(lines)


def _targets(step: Step) -> str | None:
    if isinstance(step.action, str) and step.action in PEER_ACTIONS and step.args:
        return step.args[0]
    return None


def run(lab: "Lab", scenario: Scenario, seconds: float, until: Callable[[], Any] | None = None) -> Report:
    """Run ``scenario`` on ``lab`` for ``seconds`` (or until ``until()`` is true)."""
    lab.check_open()
    if not isinstance(seconds, (int, float)) or not 0 < seconds <= 600:
        raise LabError(f"a run lasts between 0 and 600 seconds, not {seconds!r}")
    started = {s.args[0] for s in scenario.steps if s.action == "start" and s.args}
    for step in scenario.steps:
        target = _targets(step)
        if target is not None and target not in lab.peers and target not in started:
            lab.peer(target)   # raises UnknownPeer naming the peers that exist
        if step.after and step.after[0] not in lab.peers and step.after[0] not in started:
            lab.peer(step.after[0])
    for step in scenario.steps:
        step.fired_at, step.error = None, None
    t_start = lab.now()
    lab.sampler.sample()
    baseline = {name: p.snapshot() for name, p in lab.peers.items()}   # peers started later: from 0
    pending = list(scenario.steps)
    lab.record("run", "", scenario.name)
    while True:
        elapsed = lab.now() - t_start
        for step in list(pending):
            due = False
            if step.at is not None:
                due = elapsed >= step.at
            elif step.after is not None:
                peer, counter, n = step.after
                p = lab.peers.get(peer)
                if p is not None:
                    due = p.get(counter) - baseline.get(peer, {}).get(counter, 0) >= n
            if due:
                pending.remove(step)
                step.fired_at = lab.now() - t_start
                try:
                    if callable(step.action):
                        step.action(lab)
                    else:
                        getattr(lab, step.action)(*step.args, **step.kwargs)
                except Exception as exc:  # noqa: BLE001 - shown in the report, the run goes on
                    step.error = f"{type(exc).__name__}: {exc}"
                    lab.record("error", _targets(step) or "", step.error)
        if until is not None and until():
            break
        if elapsed >= seconds:
            break
        time.sleep(0.005)
    lab.sampler.sample()
    t_end = lab.now()
    series = {}
    for peer, counter in sorted(lab.sampler.counters()):
        times, rates = lab.sampler.series(peer, counter, since=t_start)
        series[(peer, counter)] = ([t - t_start for t in times], rates)
    totals = {name: p.snapshot() for name, p in lab.peers.items()}
    counts = {name: {k: v - baseline.get(name, {}).get(k, 0) for k, v in tot.items()}
              for name, tot in totals.items()}
    events = [e.shifted(t_start) for e in lab.events_of(since=t_start)]
    return Report(lab.name, scenario.name, t_start, t_end - t_start, series, events, counts, totals,
                  {n: p.state for n, p in lab.peers.items()}, lab.errors(), list(scenario.steps))
