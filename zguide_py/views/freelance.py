"""Freelance (notebook 15): the three models side by side under the same faults."""
from __future__ import annotations

from ..plots import mark_events, new_figure


def models_figure(results: dict[str, dict], servers: list[str]):
    """One panel per model (``results[model]["report"]``, a scenario Report): the requests each server
    did, stacked as coloured bands (the top of the stack is the servers' total work), and the replies
    the client got as a black line over them, with the servers' kills and restarts marked. Stacked,
    a server that does all the work shows as the band right under the client's line, never hidden by it."""
    import numpy as np
    fig = new_figure(10, 7.4)
    axes = fig.subplots(len(results), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (model, result) in zip(axes, results.items()):
        report = result["report"]
        t_c, r_c = report.series.get((model, "replies"), ([], []))
        t = np.asarray(t_c, dtype=float)
        bands = []
        for s in servers:
            t_s, r_s = report.series.get((s, "requests"), ([], []))
            bands.append(np.interp(t, t_s, r_s, left=0.0, right=0.0) if len(t_s) and len(t) else np.zeros(len(t)))
        if len(t):
            ax.stackplot(t, *bands, labels=[f"{s} requests" for s in servers], alpha=0.75, linewidth=0)
        ax.plot(t_c, r_c, color="black", linewidth=1.6, zorder=5, label="client replies")
        highest = max(float(np.max(sum(bands))) if len(t) else 0.0, max(r_c, default=1), 1.0)
        ax.set_ylim(0, highest * 1.45)      # room above the bands for the kill/restart labels
        mark_events(ax, [e for e in report.events if e.peer in servers], kinds=("kill", "restart"))
        ax.set_ylabel("per second")
        ax.set_title(f"model: {model}", fontsize=10, loc="left")
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    axes[-1].set_xlabel("time since start of run (s)")
    fig.suptitle("Freelance: the servers' work (stacked bands) and the client's replies (black line)\n"
                 "under the same kills (red) and restarts (green)", fontsize=11)
    return fig


def latency_figure(results: dict[str, dict]):
    """A box per model of its request times (``results[model]["latencies"]``, seconds), log scale;
    whiskers: fastest and slowest."""
    fig = new_figure(8, 3.4)
    ax = fig.add_subplot()
    ax.boxplot([[t * 1e3 for t in result["latencies"]] for result in results.values()], whis=(0, 100))
    ax.set_xticks(range(1, len(results) + 1), list(results))
    ax.set_yscale("log")
    ax.set_ylabel("request time (ms, log scale)")
    ax.set_xlabel("Freelance model")
    ax.set_title("time per request, faults included (whiskers: fastest and slowest)")
    ax.grid(True, axis="y", alpha=0.3)
    return fig
