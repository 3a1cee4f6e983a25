"""Static figures, drawn with matplotlib's object API (Figure + Agg): no pyplot state, thread-safe.

Every function returns a ``matplotlib.figure.Figure``. In a notebook it shows as a PNG (the
formatter is registered when ``zguide_py`` is imported in IPython); ``to_png(fig)`` gives the bytes.
"""
from __future__ import annotations

import io
import warnings
from typing import Any, Iterable, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

# A small live figure with a long legend can be too tight for constrained layout; matplotlib then warns
# from the refresher thread, and the warning would land in whatever cell runs. The plot is still drawn.
warnings.filterwarnings("ignore", message="constrained_layout not applied", category=UserWarning)

# events worth a vertical line on a rate plot, and their colours
EVENT_STYLE = {
    "kill": "tab:red", "restart": "tab:green", "throttle": "tab:orange", "start": "tab:blue",
    "remove": "tab:gray", "failed": "black", "error": "black",
}


def new_figure(width: float = 8.0, height: float = 3.6) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def mark_events(ax, events: Iterable[tuple[float, str, str, Any]], kinds: Sequence[str] | None = None,
                merge: float = 0.02) -> None:
    """Vertical lines with labels for kill/restart/throttle/... events. Events less than ``merge``
    seconds apart share one line and one label, so their texts never overlap."""
    kinds = tuple(kinds) if kinds is not None else tuple(EVENT_STYLE)
    groups: list[list[tuple[float, str, str, Any]]] = []
    for event in sorted((e for e in events if e[1] in kinds), key=lambda e: e[0]):
        if groups and event[0] - groups[-1][0][0] <= merge:
            groups[-1].append(event)
        else:
            groups.append([event])
    for group in groups:
        t, kind = group[0][0], group[0][1]
        colour = EVENT_STYLE.get(kind, "tab:purple")
        ax.axvline(t, color=colour, linestyle="--", linewidth=1, alpha=0.8)
        label = " + ".join(f"{k} {p}" + (f" {d}" if k == "throttle" else "") for _, k, p, d in group)
        if len(label) > 38:
            label = label[:36] + "…"
        text = ax.annotate(label, xy=(t, 1), xycoords=("data", "axes fraction"), rotation=90,
                           va="top", ha="right", fontsize=8, color=colour, annotation_clip=True,
                           xytext=(-2, -2), textcoords="offset points", clip_on=True)
        text.set_in_layout(False)          # a long label must not squeeze the axes away


def rates_figure(series: dict[tuple[str, str], tuple[list[float], list[float]]],
                 events: Iterable[tuple[float, str, str, Any]] = (), title: str = "",
                 ylabel: str = "messages per second", xlabel: str = "time since start of run (s)",
                 fig: Figure | None = None, merge: float = 0.02) -> Figure:
    """One line per (peer, counter) rate series, events as labelled vertical lines (events closer
    than ``merge`` seconds share a line)."""
    fig = fig or new_figure()
    ax = fig.add_subplot()
    for (peer, counter), (times, rates) in series.items():
        if times:
            ax.plot(times, rates, marker=".", markersize=3, linewidth=1.2, label=f"{peer}.{counter}")
    mark_events(ax, events, merge=merge)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "rates")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    if any(t for t, _ in series.values()):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, framealpha=0.8)
    else:
        ax.text(0.5, 0.5, "no samples yet", transform=ax.transAxes, ha="center", color="gray")
    return fig


def bars_figure(values: dict[str, float], title: str, ylabel: str, xlabel: str = "peer",
                fig: Figure | None = None, ax=None, colour: str = "tab:blue") -> Figure:
    """A bar per name, e.g. requests handled per worker."""
    if ax is None:
        fig = fig or new_figure(6, 3.2)
        ax = fig.add_subplot()
    names = list(values)
    bars = ax.bar(names, [values[n] for n in names], color=colour)
    ax.bar_label(bars, fmt="%g", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    return fig if fig is not None else ax.figure


def timeline_figure(rows: dict[str, list[tuple[float, str]]], title: str,
                    xlabel: str = "time since start of run (s)", colours: dict[str, str] | None = None,
                    fig: Figure | None = None) -> Figure:
    """A row per peer (or per request), one marker per event: a quick picture of what happened when.

    ``rows`` maps a row name to [(time, kind), ...]; each kind gets its own colour and legend entry.
    """
    colours = dict(colours or {})
    fig = fig or new_figure(8, 0.6 + 0.45 * max(1, len(rows)))
    ax = fig.add_subplot()
    palette = ["tab:blue", "tab:green", "tab:red", "tab:orange", "tab:purple", "tab:brown",
               "tab:pink", "tab:gray", "tab:olive", "tab:cyan"]
    seen: dict[str, Any] = {}
    for y, marks in enumerate(rows.values()):
        for kind in sorted({k for _, k in marks}):
            colour = colours.setdefault(kind, palette[len(colours) % len(palette)])
            xs = [t for t, k in marks if k == kind]
            handle = ax.scatter(xs, [y] * len(xs), color=colour, s=18, marker="|" if len(xs) > 50 else "o")
            seen.setdefault(kind, handle)
    ax.set_yticks(range(len(rows)), list(rows))
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("peer")
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    if seen:
        ax.legend(seen.values(), seen.keys(), loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def _register_ipython_formatter() -> None:
    """Show Figure objects as PNG in IPython even when pyplot was never imported."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    ip = get_ipython()
    if ip is None:
        return
    formatter = ip.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, lambda fig: to_png(fig))


_register_ipython_formatter()
