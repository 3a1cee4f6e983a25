"""Clone (notebooks 06 and 07): the snapshots a client took, and how far each client got over a run."""
from __future__ import annotations

from typing import Any

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..plots import EVENT_STYLE, new_figure


def snapshots(report, peer: str) -> list[tuple[float, int, int]]:
    """The snapshots a client received during a run: (time, keys, version)."""
    return [(e.t, e.get("keys"), e.get("sequence")) for e in report.events_of("snapshot", peer)]


def counter_values(lab, peer: str, counter: str, since: float = 0.0) -> tuple[list[float], list[int]]:
    """The sampled values (not rates) of one counter: (times since ``since``, values)."""
    times, values = lab.sampler.values(peer, counter, since)
    return [t - since for t in times], values


def progress_figure(lab, report, peers: list[str], counter: str = "sequence", title: str = "",
                    ylabel: str = "sequence number reached"):
    """How far each client got over the run (the sampled counter value), one panel per client.

    ``peers[0]`` is the reference (the server): a wide pale band, drawn in every panel. Each
    panel shows one client (``peers[1:]``) as a line on that band, its snapshots as circles, and
    its own starts, kills and restarts as dashed lines, with the time it was dead shaded. A client
    that follows the stream runs along the band; a dead one stays flat; a snapshot puts it back.
    One panel per client, so no client's line can hide another's.
    """
    server, clients = peers[0], list(peers[1:])
    fig = new_figure(8, 0.9 + 1.35 * max(1, len(clients)))
    axes = fig.subplots(max(1, len(clients)), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    s_times, s_values = counter_values(lab, server, counter, since=report.start)
    top = max(s_values, default=1) or 1
    end = max(report.duration, max(s_times, default=0.0), 0.1)

    def server_at(t: float) -> float:
        """The server's value at time t (the last sample before it), as a fraction of the top."""
        value = 0
        for ts, v in zip(s_times, s_values):
            if ts > t:
                break
            value = v
        return value / top

    for ax, name in zip(axes, clients):
        ax.plot(s_times, s_values, linewidth=7, alpha=0.3, color="tab:blue", solid_capstyle="butt")
        times, values = counter_values(lab, name, counter, since=report.start)
        ax.plot(times, values, linewidth=1.8, color="tab:orange", zorder=3)
        snaps = snapshots(report, name)
        ax.scatter([t for t, _, _ in snaps], [v for _, _, v in snaps], marker="o", s=40,
                   facecolors="none", edgecolors="black", zorder=5)
        mine = sorted((e.t, e.kind) for e in report.events
                      if e.peer == name and e.kind in ("start", "kill", "restart"))
        killed_at = None
        for t, kind in mine:
            ax.axvline(t, color=EVENT_STYLE[kind], linestyle="--", linewidth=1, alpha=0.8)
            if kind == "kill":
                killed_at = t
            elif killed_at is not None:          # dead from the kill to this (re)start
                ax.axvspan(killed_at, t, color="tab:red", alpha=0.08, linewidth=0)
                killed_at = None
            if t > 0.03 * end:                   # a start at 0 needs no label
                # write the label where the band is not: below it late in the run, above it early
                low = server_at(t) > 0.5
                ax.text(t, 0.05 if low else 0.95, f"{kind} ", transform=ax.get_xaxis_transform(),
                        rotation=90, ha="right", va="bottom" if low else "top", fontsize=7.5,
                        color=EVENT_STYLE[kind])
        if killed_at is not None:
            ax.axvspan(killed_at, end, color="tab:red", alpha=0.08, linewidth=0)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10, fontweight="bold")
        ax.grid(True, alpha=0.3)
    axes[0].set_xlim(0, end)
    axes[0].set_ylim(0, top * 1.08)
    axes[-1].set_xlabel("time since start of run (s)")
    fig.supylabel(ylabel, fontsize=10)
    axes[0].set_title(title or f"{lab.name}: {counter} per client")
    handles = [Line2D([], [], linewidth=7, alpha=0.3, color="tab:blue", label=f"{server} (every update)"),
               Line2D([], [], linewidth=1.8, color="tab:orange", label="this client"),
               Line2D([], [], marker="o", linestyle="none", markerfacecolor="none", markeredgecolor="black",
                      label="snapshot received")]
    kinds = {e.kind for e in report.events if e.peer in clients}
    handles += [Line2D([], [], color=EVENT_STYLE[k], linestyle="--", linewidth=1, label=k)
                for k in ("start", "kill", "restart") if k in kinds]
    if "kill" in kinds:
        handles.append(Patch(color="tab:red", alpha=0.15, label="dead"))
    axes[0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def writes(lab, clients: list[str], server: str = "server") -> tuple[dict[str, int], dict[str, int]]:
    """Model 3: ({writer: updates it pushed}, {writer: those the server numbered}), matched by uuid."""
    sequenced = lab.peer(server).data["sequenced"]
    pushed = {c: len(lab.peer(c).data["sent_uuids"]) for c in clients}
    numbered = {c: sum(1 for u in lab.peer(c).data["sent_uuids"] if u in sequenced) for c in clients}
    return pushed, numbered


def writers_figure(lab, clients: list[str], server: str = "server"):
    """Model 3: per writer, the updates it pushed and those the server numbered (matched by uuid).
    Where the two bars of a writer differ, the difference is exactly the number lost at its kills."""
    pushed, numbered = writes(lab, clients, server)
    fig = new_figure(7, 3.4)
    ax = fig.add_subplot()
    xs = range(len(clients))
    for offset, values, label, colour in [(-0.2, pushed, "pushed by the client", "tab:gray"),
                                          (0.2, numbered, "numbered by the server", "tab:blue")]:
        bars = ax.bar([x + offset for x in xs], [values[c] for c in clients], width=0.4, label=label,
                      color=colour)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(list(xs), [f"{c}\n(started {lab.peer(c).starts}x)" for c in clients])
    ax.set_xlabel("writer")
    ax.set_ylabel("updates")
    ax.set_ylim(top=max(max(pushed.values(), default=1), 1) * 1.18)
    ax.set_title("updates pushed by each writer, and numbered by the server")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def describe(kvmap: dict[str, Any], limit: int = 5) -> str:
    """A few entries of a state, for printing."""
    items = sorted(kvmap.items())[:limit]
    more = f" ... ({len(kvmap)} keys)" if len(kvmap) > limit else ""
    return ", ".join(f"{k}={v[1].decode() if isinstance(v, tuple) else v}" for k, v in items) + more
