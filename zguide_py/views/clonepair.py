"""Clone models 4-6 (notebook 25): the keys each copy held over a run (ephemeral values expiring),
a failover seen close up (sequence numbers and the servers' states), and one seeded failover trial."""
from __future__ import annotations

import random

from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ..lab import Lab
from ..patterns import clonepair as cp
from ..plots import EVENT_STYLE, new_figure
from .binarystar import STATE_COLOURS, state_timeline
from .clone import counter_values

CLIENT_COLOURS = ["tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive"]


def keys_figure(lab, report, peers: list[str], title: str = "", marks: dict[str, float] | None = None):
    """How many keys each peer held over the run (the sampled ``keys`` counter), one line per peer;
    ``marks``: {label: time in the run} drawn as dotted lines (a writer killed, a ttl run out)."""
    fig = new_figure(8, 3.4)
    ax = fig.add_subplot()
    end = max([report.duration, *(t + 0.25 for t in (marks or {}).values())])
    styles = [dict(linewidth=7, alpha=0.3, color="tab:blue"), dict(linewidth=1.8, color="tab:orange"),
              dict(linewidth=1.4, color="tab:purple", linestyle="--")]
    for name, style in zip(peers, styles):
        times, values = counter_values(lab, name, "keys", since=report.start)
        subtree = lab.peer(name).params.get("subtree", "")
        ax.step(times + [end], values + values[-1:], where="post", label=f"{name} ({subtree or 'whole map'})",
                **style)
    for label, t in (marks or {}).items():
        ax.axvline(t, color="0.3", linestyle=":", linewidth=1)
        ax.text(t, 0.04, f" {label}", transform=ax.get_xaxis_transform(), fontsize=8, color="0.2")
    ax.set_xlim(0, end)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("keys held")
    ax.set_title(title or "keys held by each copy")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def failover_figure(lab, report, clients: list[str], killed_at: float, before: float = 0.4,
                    after: float = 0.9, title: str = ""):
    """A failover close up, time counted from the kill (``killed_at``, in the run's time). Top: the
    sequence number each copy had reached; bottom: each server's Binary Star state."""
    fig = new_figure(9, 4.8)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2.6, 1])
    t0 = report.start + killed_at
    for name, style in (("backup", dict(linewidth=7, alpha=0.3, color="tab:blue")),
                        ("primary", dict(linewidth=2.5, color="tab:green"))):
        times, values = counter_values(lab, name, "sequence", since=t0 - before)
        kept = [(t - before, v) for t, v in zip(times, values) if name == "backup" or t <= before]
        top.step([t for t, _ in kept], [v for _, v in kept], where="post", label=name, **style)
    for name, colour in zip(clients, CLIENT_COLOURS):
        times, values = counter_values(lab, name, "sequence", since=t0 - before)
        top.step([t - before for t in times], values, where="post", linewidth=1.2, color=colour, label=name)
    top.axvline(0, color=EVENT_STYLE["kill"], linestyle="--", linewidth=1)
    takeovers = lab.peer("backup").data.get("takeovers", [])
    for t, sequence, pending in takeovers:
        top.annotate(f"takeover: {pending} pending\nupdates numbered", (t - t0, sequence), fontsize=8,
                     xytext=(25, -12), textcoords="offset points", arrowprops=dict(arrowstyle="->", lw=0.8))
    top.text(0, 0.97, " primary killed", transform=top.get_xaxis_transform(), fontsize=8, va="top",
             color=EVENT_STYLE["kill"])
    top.set_ylabel("sequence number reached")
    top.set_title(title or "the primary killed mid-stream: who is at which number")
    top.grid(True, alpha=0.3)
    timeline = state_timeline(lab, since=t0 - before, until=t0 + after)
    for y, name in enumerate(("primary", "backup")):
        for start, end, state in timeline[name]:
            bottom.broken_barh([(start - t0, end - start)], (y - 0.35, 0.7), color=STATE_COLOURS.get(state),
                               alpha=0.8)
    bottom.axvline(0, color=EVENT_STYLE["kill"], linestyle="--", linewidth=1)
    bottom.set_yticks([0, 1], ["primary", "backup"])
    bottom.invert_yaxis()
    bottom.set_xlim(-before, after)
    bottom.set_xlabel("time since the primary was killed (s)")
    bottom.legend([Patch(color=STATE_COLOURS[s]) for s in ("active", "passive", "down")],
                  ["active", "passive", "down"], loc="upper left", bbox_to_anchor=(1.01, 1.05), fontsize=8)
    bottom.grid(True, axis="x", alpha=0.3)
    handles, labels = top.get_legend_handles_labels()
    top.legend(handles + [Line2D([], [], color=EVENT_STYLE["kill"], linestyle="--")], labels + ["kill"],
               loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def failover_trial(seed: int, name: str = "clone-trial", count: int = 30, keys: int = 12) -> dict:
    """One seeded run in a lab of its own: a pair, 2 to 4 writing clients (each ``count`` updates at a
    seeded rate), the primary killed after a seeded number of updates; run until every update is
    numbered and every client is level with the backup. Returns what the verdict needs."""
    rng = random.Random(seed)
    with Lab(f"{name}-{seed}") as lab:
        servers, endpoints = cp.pair_endpoints(lab)
        for side in ("primary", "backup"):
            lab.start(side, cp.clonesrv6, side=side, **servers[side])
        lab.wait_for(lambda: lab.peer("primary").data.get("state") == "active"
                     and lab.peer("backup").get("synced"), 10, "the pair")
        clients = [f"c{i}" for i in range(1, 3 + rng.randrange(3))]
        for client in clients:
            lab.start(client, cp.clonecli6, count=count, rate=rng.choice([60, 80, 100]), keys=keys, seed=seed,
                      **endpoints)
        kill_after = rng.randrange(count // 4, count * len(clients) // 2)
        lab.wait_for(lambda: sum(lab.peer(c).get("sent") for c in clients) >= kill_after, 10, "the stream")
        lab.kill("primary")
        killed = lab.now()
        lab.wait_for(lambda: cp.settled(lab, "backup", clients), 20, "every update numbered, every client level")
        backup = lab.peer("backup")
        numbers = [s for s, _u in list(backup.data["hashmap"].history)]
        (t_over, _seq, pending), = backup.data["takeovers"]
        return dict(seed=seed, clients=len(clients), killed_after=kill_after, sequence=backup.data["sequence"],
                    pending=pending, takeover=t_over - killed, same=all(cp.same_maps(lab, "backup", clients).values()),
                    lost=len(cp.lost_updates(lab, "backup", clients)), twice=len(cp.numbered_twice(lab, "backup")),
                    numbers_ok=numbers == list(range(1, backup.data["sequence"] + 1)),
                    written=sum(len(lab.peer(c).data["sent_uuids"]) for c in clients), errors=lab.errors())


def trial_problems(trial: dict) -> list[str]:
    """What went wrong in one :func:`failover_trial`, in words (empty when nothing did)."""
    found = [text for bad, text in (
        (not trial["same"], "a client's map differs from the backup's"),
        (trial["lost"], f"{trial['lost']} updates lost"),
        (trial["twice"], f"{trial['twice']} numbers given twice (both servers were active at once)"),
        (not trial["numbers_ok"], "the backup's numbers have a gap"),
        (trial["sequence"] != trial["written"], f"{trial['sequence']} numbered of {trial['written']} written"),
        (trial["errors"], f"errors: {'; '.join(map(str, trial['errors']))[:200]}")) if bad]
    return [f"seed {trial['seed']}: {text}" for text in found]
