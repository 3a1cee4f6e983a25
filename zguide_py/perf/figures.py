"""Figures of a sweep for notebook 16 (matplotlib, through :mod:`zguide_py.plots`). Nothing on the
command line's path imports this module: ``zguide_py.perf`` loads it on first use of a figure."""
from __future__ import annotations

from ..plots import new_figure
from .common import (SEED_LOCALHOST_LATENCY_US, SEED_LOCALHOST_MBIT, SEED_LOCALHOST_MSGS, SEED_REMOTE_LATENCY_US,
                     SEED_REMOTE_MBIT, SEED_REMOTE_MSGS, human_size)
from .report import ratio

_TICKS = [1, 64, 4 << 10, 256 << 10, 8 << 20]


def _size_axis(ax, ylabel: str, title: str, log_y: bool = True) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(_TICKS, [human_size(t) for t in _TICKS])
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel("message size (log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", alpha=0.3)


def _series(result: dict, transport: str, mode: str, key: str) -> tuple[list[int], list[float]]:
    rows = [r for r in result["rows"] if r["transport"] == transport and r["mode"] == mode
            and r.get(key) is not None]
    return [r["size"] for r in rows], [r[key] for r in rows]


def talk_figure(result: dict):
    """tcp loopback, Python (copy, zero-copy) and the C baseline, beside the talk's localhost and
    100 Mbit LAN figures: messages/s, Mbit/s and latency against size, log-log."""
    fig = new_figure(12, 4.4)
    axes = fig.subplots(1, 3)
    panels = (("msgs_per_s", SEED_LOCALHOST_MSGS, SEED_REMOTE_MSGS, "messages per second", "throughput: messages"),
              ("mbit_per_s", SEED_LOCALHOST_MBIT, SEED_REMOTE_MBIT, "megabits per second", "throughput: bits"),
              ("latency_us", SEED_LOCALHOST_LATENCY_US, SEED_REMOTE_LATENCY_US, "one-way latency (µs)",
               "latency (round trip / 2)"))
    for ax, (key, local, remote, ylabel, title) in zip(axes, panels):
        for mode, style in (("copy", "o-"), ("zero-copy", "o--")):
            ax.plot(*_series(result, "tcp", mode, key), style, color="tab:blue", markersize=4,
                    label=f"Python, {mode} (here)")
            sizes, values = _series(result, "tcp", mode, "c_" + key)
            if sizes:
                ax.plot(sizes, values, style, color="tab:purple", markersize=3, linewidth=1,
                        label=f"C baseline, {mode} (here)")
        ax.plot(list(local), list(local.values()), "s:", color="dimgray", markersize=4,
                label="talk: localhost (C#)")
        ax.plot(list(remote), list(remote.values()), "^-.", color="black", markersize=4,
                label="talk: 100 Mbit LAN (C#)")
        _size_axis(ax, ylabel, title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle("tcp over loopback, two processes: this machine beside the talk's figures", fontsize=11)
    return fig


def transports_figure(result: dict):
    """Python on the three transports (colour) with and without copying (line style)."""
    fig = new_figure(12, 4.2)
    axes = fig.subplots(1, 3)
    colours = {"inproc": "tab:green", "ipc": "tab:orange", "tcp": "tab:blue"}
    panels = (("msgs_per_s", "messages per second", "throughput: messages"),
              ("mbit_per_s", "megabits per second", "throughput: bits"),
              ("latency_us", "one-way latency (µs)", "latency (round trip / 2)"))
    for ax, (key, ylabel, title) in zip(axes, panels):
        for transport, colour in colours.items():
            for mode, style in (("copy", "o-"), ("zero-copy", "s--")):
                sizes, values = _series(result, transport, mode, key)
                if sizes:
                    where = "2 threads" if transport == "inproc" else "2 processes"
                    ax.plot(sizes, values, style, color=colour, markersize=3.5, linewidth=1.2,
                            label=f"{transport} ({where}), {mode}")
        _size_axis(ax, ylabel, title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle("Python (pyzmq) on three transports, copying and zero-copy sends", fontsize=11)
    return fig


def ratio_figure(result: dict, transport: str = "tcp", goal: float | None = None):
    """Python's msg/s as a percentage of the C baseline's, by size, both modes (``goal``: a dotted
    line at that percentage)."""
    fig = new_figure(7.5, 3.6)
    ax = fig.add_subplot()
    for mode, style in (("copy", "o-"), ("zero-copy", "s--")):
        rows = [r for r in result["rows"] if r["transport"] == transport and r["mode"] == mode
                and r.get("c_msgs_per_s")]
        ax.plot([r["size"] for r in rows], [ratio(r["msgs_per_s"], r["c_msgs_per_s"]) for r in rows], style,
                markersize=4, label=f"Python's msg/s as % of C's, {mode}")
    ax.axhline(100, color="black", linewidth=0.8)
    lines = [(100, "as fast as C")]
    if goal is not None:
        ax.axhline(goal, color="gray", linewidth=0.8, linestyle=":")
        lines.append((goal, f"{goal:.0f}%"))
    for y, text in lines:
        ax.annotate(text, xy=(0, y), xycoords=("axes fraction", "data"), xytext=(3, 2),
                    textcoords="offset points", fontsize=8, color="dimgray")
    _size_axis(ax, "Python as % of C", f"{transport}, two processes: Python's message rate as a share of C's",
               log_y=False)
    ax.set_ylim(0, max(160, ax.get_ylim()[1]))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, 0.93))
    return fig


def batching_figure(batches: list[dict], goal: float | None = None):
    """Records/s and frames/s against records per frame (``goal``: a dotted line at that many records/s)."""
    fig = new_figure(6.5, 3.6)
    ax = fig.add_subplot()
    per = [b["per_frame"] for b in batches]
    ax.plot(per, [b["records_per_s"] for b in batches], "o-", label="records (logical messages) / s")
    ax.plot(per, [b["frames_per_s"] for b in batches], "s--", label="frames (zmq messages) / s")
    if goal is not None:
        ax.axhline(goal, color="gray", linewidth=0.8, linestyle=":")
        ax.annotate(f"{goal / 1e6:g} M records/s", xy=(0, goal), xycoords=("axes fraction", "data"),
                    xytext=(3, 2), textcoords="offset points", fontsize=8, color="dimgray")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{batches[0]['record_size']}-byte records packed per frame (log scale)")
    ax.set_ylabel("per second (log scale)")
    ax.set_title("batching over inproc: one send carries many records", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _rate_words(rate: str | None) -> str:
    """"100mbit" -> "100 Mbit/s" (None: "an unlimited")."""
    from .remote import rate_bps
    if not rate:
        return "an unlimited"
    bps = rate_bps(rate)
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= scale:
            return f"{bps / scale:g} {unit}"
    return f"{bps:g} bit/s"


def remote_figure(result: dict, unlimited: dict | None = None):
    """Between two hosts over a shaped link (:func:`~zguide_py.perf.remote.remote_sweep`), beside the
    talk's 100 Mbit LAN: messages/s, Mbit/s and latency against size. ``unlimited``: the same sweep
    with no limit on the link, dashed. Thin gray lines: what the link allows at best (its rate, the
    messages it can carry, and the time a message's bits take on it)."""
    from .remote import expected_latency_us, framing, rate_bps
    rate = result["settings"].get("rate")
    fig = new_figure(12, 4.4)
    axes = fig.subplots(1, 3)
    panels = (("msgs_per_s", SEED_REMOTE_MSGS, "messages per second", "throughput: messages"),
              ("mbit_per_s", SEED_REMOTE_MBIT, "megabits per second (message bodies)", "throughput: bits"),
              ("latency_us", SEED_REMOTE_LATENCY_US, "one-way latency (µs)", "latency (round trip / 2)"))
    sizes = result["settings"]["sizes"]
    for ax, (key, talk, ylabel, title) in zip(axes, panels):
        ax.plot(*_series(result, "tcp", "copy", key), "o-", color="tab:blue", markersize=4,
                label=f"here: two hosts, {_rate_words(rate)} link" + (" (tbf)" if rate else ""))
        if unlimited is not None:
            ax.plot(*_series(unlimited, "tcp", "copy", key), "s--", color="tab:cyan", markersize=3.5,
                    linewidth=1.2, label="here: the same two hosts, no limit")
        ax.plot(list(talk), list(talk.values()), "^-.", color="black", markersize=4,
                label="talk: two PCs, 100 Mbit LAN (C#)")
        if rate:
            bps = rate_bps(rate)
            bound = {"msgs_per_s": [bps / ((s + framing(s)) * 8) for s in sizes],
                     "mbit_per_s": [bps / 1e6 for s in sizes],
                     "latency_us": [expected_latency_us(s, bps) for s in sizes]}[key]
            ax.plot(sizes, bound, "-", color="gray", linewidth=3, alpha=0.35,
                    label=f"the most a {_rate_words(rate)} link allows (bits one after another)")
        _size_axis(ax, ylabel, title)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle("tcp between two hosts (network namespaces) over a shaped link, beside the talk's LAN",
                 fontsize=11)
    return fig
