"""Notebook 19's analysis and figures: who noticed a cut, when ticks came back, latency under loss,
and Binary Star under real partitions (run on namespace hosts, measured from the servers' events)."""
from __future__ import annotations

import random
import time
from typing import Any

from matplotlib.patches import Patch

from ..metrics import percentile
from ..plots import mark_events, new_figure


def _counts(report, peer: str, counter: str) -> tuple[list[float], list[float]]:
    """(times since the run started, cumulative count) rebuilt from the report's rate series."""
    times, rates = report.series.get((peer, counter), ([], []))
    total, out, previous = 0.0, [], 0.0
    for t, rate in zip(times, rates):
        total += rate * (t - previous)
        out.append(total)
        previous = t
    return list(times), out


def received_between(report, peer: str, start: float, end: float, counter: str = "received") -> int:
    """How many messages ``peer`` counted between ``start`` and ``end`` seconds into the run."""
    times, rates = report.series.get((peer, counter), ([], []))
    total, previous = 0.0, None
    for t, rate in zip(times, rates):
        if previous is not None and start <= previous and t <= end:
            total += rate * (t - previous)
        previous = t
    return round(total)


def _fault_time(report, kind: str, default: float) -> float:
    events = [e.t for e in report.events if e.kind == kind]
    return events[0] if events else default


def detection(report, peers, cut: float, heal: float) -> dict[str, dict[str, Any]]:
    """For each peer: ``detected``, seconds from the cut to its first ``disconnected`` event before
    the heal (None if it never noticed), and ``recovered``, seconds from the heal to the first
    sample in which it counted messages again (None if it never did)."""
    t_cut, t_heal = _fault_time(report, "cut", cut), _fault_time(report, "heal", heal)
    out = {}
    for name in peers:
        lost = [e.t for e in report.events
                if e.peer == name and e.kind == "disconnected" and t_cut <= e.t <= t_heal]
        times, rates = report.series.get((name, "received"), ([], []))
        back = [t for t, r in zip(times, rates) if t > t_heal and r > 0]
        out[name] = {"detected": lost[0] - t_cut if lost else None,
                     "recovered": back[0] - t_heal if back else None}
    return out


def detection_figure(report, peers, cut: float, heal: float, sender: str = "ticker"):
    """Ticks received so far, per listener, beside the ticks sent: during the cut every line is
    flat; after the heal a listener whose connection survived catches up with the backlog TCP kept,
    one that reconnected carries on from where it is, and the gap is what it lost. An x marks where
    a listener gave its connection up."""
    fig = new_figure(9, 3.8)
    ax = fig.add_subplot()
    times, sent = _counts(report, sender, "sent")
    if times:
        ax.plot(times, sent, color="0.6", linewidth=5, alpha=0.5, label=f"{sender}: ticks sent")
    for i, name in enumerate(peers):
        times, got = _counts(report, name, "received")
        ax.plot(times, got, color=f"C{i}", linewidth=2.2 - 0.4 * i, linestyle=("-", "--", ":")[i % 3],
                label=f"{name}: ticks received")
        lost = [e.t for e in report.events if e.peer == name and e.kind == "disconnected"]
        if lost and times:
            ys = [got[min(range(len(times)), key=lambda k: abs(times[k] - t))] for t in lost]
            ax.scatter(lost, ys, marker="x", s=70, color=f"C{i}", zorder=5, label=f"{name}: gave the connection up")
    ax.set_xlim(0, report.duration)
    ax.set_ylim(bottom=0)
    mark_events(ax, report.events, kinds=("cut", "heal"))
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("ticks so far (since the run began)")
    ax.set_title("a cut link: flat during the cut; who caught up after the heal")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def pirate_outcome(lab, clients: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per client process (``{name: requests it was told to send}``), what became of its requests:
    ``requests``, ``answered`` (exactly once), ``abandoned`` (given up and reported), ``mismatched``
    (replies that answered another request), ``unaccounted`` (none of these: lost, the one thing
    that must never happen) and ``rtt``, its round trips in seconds, sorted (``peer.latency``
    samples, retries included). Reads Lazy Pirate clients (Paranoid Pirate's are the same) and
    Majordomo clients, from the result each process hands back when it ends."""
    out = {}
    for name, requests in clients.items():
        peer = lab.peer(name)
        data = peer.data.get("result", {})
        if "sent" in data:                                   # a Lazy Pirate client
            answered = {int(k): v for k, v in dict(data.get("answered", {})).items()}
            abandoned = set(data.get("abandoned", []))
            once = sum(1 for s in data["sent"] if answered.get(s) == 1 and s not in abandoned)
            dropped = sum(1 for s in data["sent"] if not answered.get(s) and s in abandoned)
            mismatched = len(data.get("mismatched", []))
        else:                                                # a Majordomo client
            once = len({request for request, _ in data.get("replies", [])})
            mismatched = peer.get("mismatched")
            dropped = len(data.get("failed", [])) - mismatched
        out[name] = {"requests": requests, "answered": once, "abandoned": dropped, "mismatched": mismatched,
                     "unaccounted": requests - once - dropped - mismatched, "done": peer.state == "done",
                     "rtt": sorted(peer.data.get("latencies", {}).get("rtt", []))}
    return out


def latency_figure(outcomes: dict[str, dict[str, dict[str, Any]]], loss: dict[str, float]):
    """Round-trip p50 (solid) and p99 (dashed) against the loss on the client's link, one colour
    per pattern. ``outcomes``: {pattern: :func:`pirate_outcome`}, ``loss``: {client: percent}."""
    fig = new_figure(8, 3.8)
    ax = fig.add_subplot()
    for i, (pattern, outcome) in enumerate(outcomes.items()):
        names = sorted(outcome, key=lambda n: loss[n])
        xs = [loss[n] for n in names]
        for q, style, marker in ((50, "-", "o"), (99, "--", "^")):
            ys = [percentile(outcome[n]["rtt"], q) * 1000 for n in names]
            ax.plot(xs, ys, linestyle=style, marker=marker, color=f"C{i}", label=f"{pattern} p{q}")
    xs = sorted(set(loss.values()))
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xticks(xs, [f"{x:g} %" for x in xs])
    ax.minorticks_off()
    ax.set_xlabel("packets dropped on the client's link, each way (%)")
    ax.set_ylabel("request round trip (ms, log scale)")
    ax.set_title("three patterns over a lossy link: the median hardly moves, the p99 climbs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=3, loc="upper left")
    return fig


def replies_figure(report, clients, kinds=("isolate", "rejoin")):
    """Replies so far per client over a run, with the network faults marked: flat while the
    workers are cut off, then a catch-up."""
    fig = new_figure(9, 3.4)
    ax = fig.add_subplot()
    for i, name in enumerate(clients):
        times, got = _counts(report, name, "replies")
        ax.plot(times, got, color=f"C{i}", linewidth=2, label=f"{name}: replies")
    ax.set_xlim(0, report.duration)
    ax.set_ylim(bottom=0)
    mark_events(ax, report.events, kinds=kinds)
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("replies so far")
    ax.set_title("the workers' host cut off three times: replies pause, then every request is answered")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def detection_checks(formula, measured: float | None) -> list[bool]:
    """The exercise's checks of a learner's ``formula(ivl)`` for the longest time to notice a cut:
    a number of seconds that covers what was measured at 0.1 s without being far above it, and that
    grows in proportion to the interval (between 3 and 4.5 intervals at any interval)."""
    def value(ivl: float) -> float | None:
        try:
            return float(formula(ivl))
        except (TypeError, ValueError, ArithmeticError):
            return None

    at = {ivl: value(ivl) for ivl in (0.1, 0.5, 2.0)}
    if any(v is None for v in at.values()):
        return [False] * 4
    covers = measured is not None and measured <= at[0.1] <= 2 * measured + 0.2
    return [covers, *(3 * ivl <= at[ivl] <= 4.5 * ivl for ivl in (0.1, 0.5, 2.0))]


# ---- Binary Star under real partitions ----------------------------------------------------------

ROLES_OF_A_PAIR = ("primary", "backup", "clienta", "clientb")


class StarGroup:
    """One Binary Star pair and two clients, each on a host of its own, named ``TAG + role``
    ("aprimary", "abackup", "aclienta", "aclientb"); the peers have the hosts' names. Building A
    holds the primary and client a, building B the backup and client b."""

    def __init__(self, lab, net, tag: str, heartbeat: float = 0.2, timeout: float = 1.0, interval: float = 0.05):
        self.lab, self.net, self.tag = lab, net, tag
        self.name = {role: f"{tag}{role}" for role in ROLES_OF_A_PAIR}
        for host in self.name.values():
            net.host(host)
        ep = {side: (net[self.name[side]].endpoint(5556), net[self.name[side]].endpoint(5557))
              for side in ("primary", "backup")}
        self.params = {side: dict(side=side, frontend=ep[side][0], statepub=ep[side][1],
                                  peer_statepub=ep["backup" if side == "primary" else "primary"][1],
                                  heartbeat=heartbeat) for side in ep}
        self.client_params = dict(servers=[ep["primary"][0], ep["backup"][0]], timeout=timeout, interval=interval)
        self.started = False

    def host(self, role: str) -> str:
        return self.name[role]

    def state(self, side: str) -> str | None:
        """The server's state from the last "state" event of its current process (None before
        that process said one: an earlier process's last word is not this one's state)."""
        for event in reversed(self.lab.events_of(peer=self.name[side])):
            if event.kind == "state":
                return event.get("state")
            if event.kind == "spawn":
                return None
        return None

    def paired(self) -> bool:
        """Both servers run, the primary active and the backup passive."""
        return (self.started and all(self.lab.peer(self.name[side]).alive for side in ("primary", "backup"))
                and self.state("primary") == "active" and self.state("backup") == "passive")

    def healthy(self) -> bool:
        """Ready for a schedule: the pair is paired, and both clients run."""
        return self.paired() and all(self.lab.peer(self.name[c]).alive for c in ("clienta", "clientb"))

    def start(self) -> None:
        """Start (or restart) the pair; then, once it has paired (a bounded wait), the clients."""
        for side in ("primary", "backup"):
            name = self.name[side]
            if not self.started:
                self.lab.start(name, self.net.on(name, "binarystar.server"), **self.params[side])
            else:
                self.lab.restart(name)
        first, self.started = not self.started, True
        _wait(self.paired, 30, f"pair {self.tag}: primary active, backup passive")
        for role in ("clienta", "clientb"):
            name = self.name[role]
            if first:
                self.lab.start(name, self.net.on(name, "binarystar.client"), **self.client_params)
            elif not self.lab.peer(name).alive:
                self.lab.restart(name)

    def replies(self) -> dict[str, int]:
        return {role: self.lab.peer(n).get("replies") for role, n in self.name.items()}


def _wait(condition, timeout: float, what: str) -> None:
    """Poll ``condition`` every 10 ms, up to ``timeout`` s (TimeoutError). Unlike ``lab.wait_for``
    it does not stop at a failed peer: here a server that stops on split brain is an outcome."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        time.sleep(0.01)


def partition_schedule(kind: str, seed: int, start=(0.1, 0.4), duration=(0.1, 2.0)) -> dict[str, Any]:
    """A seeded schedule: the cut of ``kind`` begins ``start`` s into the run and lasts ``duration``
    s, both drawn uniformly from their ranges by ``random.Random(seed)``: one seed, the same
    schedule for every kind of partition."""
    rng = random.Random(seed)
    return {"kind": kind, "seed": seed, "start": round(rng.uniform(*start), 3),
            "duration": round(rng.uniform(*duration), 3)}


def run_partitions(lab, net, partitions: dict[str, list[tuple[str, str]]], schedules: list[dict[str, Any]],
                   settle: float = 4.0, **pair) -> list[dict[str, Any]]:
    """Run each schedule: the cuts ``partitions[kind]`` (pairs of roles in ``ROLES_OF_A_PAIR``) on
    a Binary Star pair with two clients, from a healthy start, then the heal, and measure. The
    schedules of one round (one per kind, in order) run at once, each kind on its own four hosts;
    a pair that did not end healthy is restarted before the next round.

    Each result: the schedule, ``most_active`` (most servers active at once during the run: 2 is
    split brain), ``two_active_for`` (s), ``backup_active`` (the backup took over), ``fatal`` (the
    servers that stopped on "dual actives"), ``client_replies`` (during the cut), ``cut_for`` (the
    cut as made, in s: from the last rule of the cut in place to the first rule of the heal
    removed; each takes a few iptables calls, slow on a busy machine) and the states over time
    (``timeline``, seconds since the cut), for the figure."""
    groups = {kind: StarGroup(lab, net, "abcdefgh"[i], **pair) for i, kind in enumerate(partitions)}
    rounds: dict[int, list[dict[str, Any]]] = {}
    seen: dict[str, int] = {}
    for schedule in schedules:               # round n: the n-th schedule of each kind
        n = seen[schedule["kind"]] = seen.get(schedule["kind"], -1) + 1
        rounds.setdefault(n, []).append(schedule)
    results = []
    for batch in rounds.values():
        results += _one_round(lab, net, {s["kind"]: (groups[s["kind"]], s) for s in batch}, partitions, settle)
    for group in groups.values():
        for name in group.name.values():
            lab.remove(name)
    return results


def _one_round(lab, net, trials, partitions, settle: float) -> list[dict[str, Any]]:
    for group, _ in trials.values():
        if not group.healthy():
            group.start()
    base = {kind: g.replies() for kind, (g, _) in trials.items()}
    _wait(lambda: all(g.replies()[c] > base[k][c] for k, (g, _) in trials.items() for c in ("clienta", "clientb")),
          10, "every client answered")
    marks: dict[str, dict[str, Any]] = {kind: {} for kind in trials}

    def fault(kind: str, action: str) -> None:
        group, _ = trials[kind]
        if action == "heal":
            marks[kind]["healing"] = lab.now()           # the partition is whole until here
        for a, b in partitions[kind]:
            getattr(net, action)(group.host(a), group.host(b))
        marks[kind][action] = (lab.now(), group.replies())

    def settled(kind: str) -> bool:
        group, _ = trials[kind]
        if "heal" not in marks[kind] or lab.now() < marks[kind]["heal"][0] + 0.3:
            return False
        servers = [lab.peer(group.name[side]) for side in ("primary", "backup")]
        if not any(p.alive for p in servers):
            return True                       # both stopped: dual actives noticed after the heal
        healed = marks[kind]["heal"][1]
        return (sorted([group.state("primary"), group.state("backup")]) == ["active", "passive"]
                and all(group.replies()[c] > healed[c] for c in ("clienta", "clientb")))

    # the schedule: each cut at its start; its heal `duration` after the cut is in place (making a
    # cut takes a few iptables calls, slow on a busy machine); then a bounded wait to settle
    t0 = lab.now()
    lab.record("run", "", "partitions, seed " + ",".join(str(s["seed"]) for _, s in trials.values()))
    while True:
        now = lab.now()
        for kind, (_, s) in trials.items():
            if "cut" not in marks[kind] and now >= t0 + s["start"]:
                fault(kind, "cut")
            elif "cut" in marks[kind] and "heal" not in marks[kind] and now >= marks[kind]["cut"][0] + s["duration"]:
                fault(kind, "heal")
        if all(settled(k) for k in trials):
            break
        if all("heal" in m for m in marks.values()) and now > max(m["heal"][0] for m in marks.values()) + settle:
            break
        time.sleep(0.005)
    t1 = lab.now()
    return [_measure(lab, kind, group, schedule, marks[kind], t0, t1) for kind, (group, schedule) in trials.items()]


def _measure(lab, kind, group, schedule, marks, since: float, until: float) -> dict[str, Any]:
    from .binarystar import active_overlaps, state_timeline
    t_cut, at_cut = marks["cut"]
    t_heal, at_heal = marks.get("heal", (lab.now(), group.replies()))
    names = (group.name["primary"], group.name["backup"])
    timeline = state_timeline(lab, names, since=since, until=until)
    overlaps = active_overlaps(timeline)
    fatal = [side for side in ("primary", "backup")
             if "dual actives" in (lab.peer(group.name[side]).error or "")]
    return {**schedule, "most_active": 2 if overlaps else max(
                (1 for spans in timeline.values() for _, _, st in spans if st == "active"), default=0),
            "two_active_for": round(sum(b - a for a, b in overlaps), 3),
            "backup_active": any(st == "active" for _, _, st in timeline[group.name["backup"]]),
            "fatal": fatal,
            "client_replies": sum(at_heal[c] - at_cut[c] for c in ("clienta", "clientb")),
            "timeline": {side: [(a - t_cut, b - t_cut, st) for a, b, st in timeline[group.name[side]]]
                         for side in ("primary", "backup")},
            "cut_for": marks.get("healing", t_heal) - t_cut}


def partition_table(results) -> list[tuple[str, int, int, int, int]]:
    """Per kind: (kind, schedules, one active at most, two active: split brain, stopped on dual actives)."""
    rows = []
    for kind in dict.fromkeys(r["kind"] for r in results):
        mine = [r for r in results if r["kind"] == kind]
        rows.append((kind, len(mine), sum(r["most_active"] <= 1 for r in mine),
                     sum(r["most_active"] == 2 for r in mine), sum(bool(r["fatal"]) for r in mine)))
    return rows


STATE_COLOURS = {"primary": "0.85", "backup": "0.6", "active": "tab:green", "passive": "gold", "down": "tab:red"}


def partitions_figure(results, client_timeout: float):
    """Left: every schedule, its cut's length (as made: while the whole partition was in place)
    against its kind; a green dot when at most one server
    was active, a red cross when two were (split brain). Right: the states of the two servers in
    the longest two-active schedule, time measured from the cut."""
    fig = new_figure(11, 3.8)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.35, 1]})
    kinds = list(dict.fromkeys(r["kind"] for r in results))
    for r in results:
        y = kinds.index(r["kind"])
        split = r["most_active"] == 2
        left.scatter(r["cut_for"], y, marker="x" if split else "o", s=70 if split else 45,
                     color="tab:red" if split else "tab:green", zorder=3)
    left.axvline(client_timeout, color="0.4", linestyle=":", linewidth=1.2)
    left.text(client_timeout, len(kinds) - 0.45, " client timeout", fontsize=8, color="0.3", va="top")
    left.set_yticks(range(len(kinds)), kinds)
    left.set_ylim(-0.6, len(kinds) - 0.4)
    left.set_xlabel("length of the cut, as made (s)")
    left.set_title("every seeded schedule: o one active at most, x two active")
    left.grid(True, axis="x", alpha=0.3)
    splits = [r for r in results if r["most_active"] == 2]
    if splits:
        worst = max(splits, key=lambda r: r["two_active_for"])
        for y, side in enumerate(("backup", "primary")):
            for a, b, st in worst["timeline"][side]:
                right.barh(y, b - a, left=a, color=STATE_COLOURS.get(st, "0.5"), edgecolor="white", height=0.6)
        right.axvspan(0, worst["cut_for"], color="0.5", alpha=0.15, zorder=0)
        right.text(worst["cut_for"] / 2, 1.45, "cut", ha="center", fontsize=8, color="0.3")
        right.set_yticks([0, 1], ["backup", "primary"])
        right.set_ylim(-0.5, 1.6)
        right.set_title(f"{worst['kind']}, seed {worst['seed']}: two active")
        handles = [Patch(color=STATE_COLOURS[s], label=s) for s in ("active", "passive", "down")]
        right.legend(handles=handles, fontsize=8, loc="lower right")
    else:
        right.text(0.5, 0.5, "no schedule had two active servers", ha="center", transform=right.transAxes)
    right.set_xlabel("time since the cut (s)")
    right.grid(True, axis="x", alpha=0.3)
    return fig
