"""zmq.asyncio (notebook 24): the two styles side by side, what each costs, and heartbeat gaps.

* :func:`source_diff` - the lines that differ between a thread role and its async twin;
* :func:`ratio` and :func:`rates_figure` - round trips per second of each style, round by round;
* :func:`gaps_figure` - the time between heartbeats of async workers (``peer.data["gaps"]``), beside
  the broker's patience and the moments it gave a worker up.
"""
from __future__ import annotations

import ast
import difflib
import inspect
import statistics
import textwrap
from typing import Sequence

from ..plots import new_figure

__all__ = ["source_diff", "ratio", "rates_figure", "gaps_figure"]


def source_diff(old, new, skip_docstrings: bool = True) -> str:
    """The lines that differ between the source of two functions, ``-`` for ``old`` and ``+`` for
    ``new``, each run of changes under the line number it starts at in ``old``. Docstrings and
    comment-only lines are left out (they differ in words, not in what the code does)."""
    def lines(fn) -> list[str]:
        source = textwrap.dedent(inspect.getsource(fn))
        body = ast.parse(source).body[0].body
        doc = body[0] if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str) else None
        skip = set(range(doc.lineno, doc.end_lineno + 1)) if doc is not None and skip_docstrings else set()
        return [line.split("  #")[0].rstrip() for n, line in enumerate(source.splitlines(), 1)
                if n not in skip and line.strip() and not line.strip().startswith("#")]

    a, b = lines(old), lines(new)
    shown = []
    for group in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_grouped_opcodes(0):
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                continue
            shown.append(f"@ line {i1 + 1} of {len(a)}")
            shown += [f"- {line}" for line in a[i1:i2]]
            shown += [f"+ {line}" for line in b[j1:j2]]
    return "\n".join(shown)


def ratio(rounds: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """(median, lowest, highest) of ``async / thread`` over rounds of (thread rate, async rate)."""
    ratios = [a / t for t, a in rounds if t > 0]
    return statistics.median(ratios), min(ratios), max(ratios)


def rates_figure(rounds: Sequence[tuple[float, float]], title: str, labels=("thread roles", "async roles")):
    """Round trips per second, a pair of bars per round: thread pair, async pair."""
    fig = new_figure(7, 3.2)
    ax = fig.add_subplot()
    xs = range(1, len(rounds) + 1)
    for k, (label, colour) in enumerate(zip(labels, ("tab:blue", "tab:orange"))):
        bars = ax.bar([x + (k - 0.5) * 0.38 for x in xs], [r[k] for r in rounds], width=0.36,
                      color=colour, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(list(xs), [f"round {x}" for x in xs])
    ax.set_xlabel("round (the two styles alternate, on one machine, in one run)")
    ax.set_ylabel("round trips per second")
    ax.set_title(title)
    ax.set_ylim(0, 1.18 * max(max(r) for r in rounds))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def gaps_figure(series: dict[str, Sequence[tuple[float, float]]], patience: float,
                removals: dict[str, Sequence[float]], title: str):
    """The time since the previous heartbeat, at each heartbeat of each worker, with the broker's
    patience (liveness x interval) as a dashed line and an x where the broker gave a worker up.
    ``series``: {worker: [(time, gap), ...]}, ``removals``: {worker: [time, ...]}, times on one axis
    (a run's, say: seconds since it started)."""
    fig = new_figure(8.5, 3.4)
    ax = fig.add_subplot()
    for k, (name, points) in enumerate(series.items()):
        colour = f"C{k}"
        ax.plot([t for t, _ in points], [g for _, g in points], marker="o", markersize=4,
                linewidth=0.6, alpha=0.9, color=colour, label=f"{name}: heartbeat gap")
        gone = list(removals.get(name, ()))
        if gone:
            ax.scatter(gone, [patience] * len(gone), marker="x", s=60, color=colour, zorder=5,
                       label=f"{name}: removed by the broker")
    ax.axhline(patience, color="tab:red", linestyle="--", linewidth=1)
    ax.text(0.99, patience, "the broker's patience", transform=ax.get_yaxis_transform(), ha="right",
            va="bottom", fontsize=8, color="tab:red")
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("seconds since the\nprevious heartbeat")
    ax.set_ylim(0, max([patience * 1.5] + [g * 1.15 for points in series.values() for _, g in points]))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig
