"""Static figures, drawn with matplotlib's object API (Figure + Agg): no pyplot state, thread-safe.

Every function returns a ``matplotlib.figure.Figure``. In a notebook it shows as a PNG (the
formatter is registered when this module is imported in IPython); ``to_png(fig)`` gives the bytes.
"""
from __future__ import annotations

import io
import threading
import warnings
from typing import Any, Iterable, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation
from matplotlib.transforms import IdentityTransform

# A small live figure with a long legend can be too tight for constrained layout; matplotlib then warns
# from the refresher thread, and the warning would land in whatever cell runs. The plot is still drawn,
# so to_png silences that one warning while it draws (and only then: no global filter is installed).
_QUIET = threading.Lock()

# the one palette of events on a time axis (mark_events): what happened, in which colour
EVENT_STYLE = {
    "kill": "tab:red", "restart": "tab:green", "throttle": "tab:orange", "start": "tab:blue",
    "remove": "tab:gray", "failed": "black", "error": "black",
    # network faults (zguide_py.net): the "peer" of these events is the link or host they hit
    "cut": "tab:red", "heal": "tab:green", "isolate": "tab:red", "rejoin": "tab:green",
    "loss": "tab:orange", "rate": "tab:orange", "link": "tab:purple",
}


def new_figure(width: float = 8.0, height: float = 3.6) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (constrained layout's "not applied" warning kept quiet meanwhile)."""
    buf = io.BytesIO()
    with _QUIET, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="constrained_layout not applied", category=UserWarning)
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _event_label(group: list[tuple[float, str, str, Any]], short: bool = False) -> str:
    """One label for events that share a place on the axis, said briefly:
    "kill w1 + kill w2" -> "kill w1, w2"; "kill w1 + restart w1" -> "kill, restart w1";
    a throttle keeps its value: "throttle w1 0.01", and a throttle back to 0 is "throttle w1 off".
    ``short`` (labels in a strip): one line per part, and "worker1, worker2" is "worker1, 2"."""
    parts = _event_parts(group)
    if short:
        return "\n".join(f"{kinds} {_short_peers(peers)}{suffix}" for kinds, peers, suffix in parts)
    return " + ".join(f"{kinds} {_few_peers(peers)}{suffix}" for kinds, peers, suffix in parts)


def _few_peers(peers: list[str]) -> str:
    """The peers an event hit, or how many when more than three (a "crash all": "kill 7 peers")."""
    return ", ".join(peers) if len(peers) <= 3 else f"{len(peers)} peers"


def _short_peers(peers: list[str]) -> str:
    """'worker1, 2, 3' for peers that share a name and differ by their number."""
    stem = peers[0].rstrip("0123456789")
    rest = [p[len(stem):] if p.startswith(stem) and p[len(stem):].isdigit() else p for p in peers[1:]]
    return ", ".join([peers[0], *rest])


def _event_parts(group: list[tuple[float, str, str, Any]]) -> list[tuple[str, list[str], str]]:
    """[(kinds, peers, suffix)]: the events of a group, same kind (and throttle value) together,
    and kinds that hit the same peers merged."""
    parts: list[tuple[tuple[str, Any], list[str]]] = []      # ((kind, throttle value), peers)
    for _, kind, peer, detail in group:
        key = (kind, detail if kind == "throttle" else None)
        for k, peers in parts:
            if k == key:
                if peer not in peers:
                    peers.append(peer)
                break
        else:
            parts.append((key, [peer]))
    merged: list[tuple[list[str], list[str], str]] = []      # (kinds, peers, suffix)
    for (kind, value), peers in parts:
        if value is None:
            for kinds, ps, suffix in merged:
                if ps == peers and not suffix:
                    kinds.append(kind)
                    break
            else:
                merged.append(([kind], peers, ""))
        else:
            merged.append(([kind], peers, " off" if value == 0 else f" {value}"))
    return [(", ".join(kinds), peers, suffix) for kinds, peers, suffix in merged]


class _FittedLabel(Annotation):
    """A vertical event label that runs down from the top of its axes. When it is drawn (and only
    then is the axes' final height known) a label too long for the axes is cut short with "…"."""

    def __init__(self, text: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(text, *args, **kwargs)
        self.full_text = text

    def draw(self, renderer) -> None:
        if renderer is not None and self.get_visible() and self.axes is not None:
            bottom = self.axes.get_window_extent(renderer).y0 + 1
            lines = self.full_text.split("\n")     # a label in a strip has a line per part
            keep = max(len(line) for line in lines)
            self.set_text(self.full_text)
            while keep > 8 and self.get_window_extent(renderer).y0 < bottom:
                keep -= 1
                self.set_text("\n".join(line if len(line) <= keep else line[:keep].rstrip(" ,+") + "…"
                                        for line in lines))
        super().draw(renderer)


def event_labels(ax) -> list[_FittedLabel]:
    """The event labels that ``mark_events`` put on ``ax``."""
    return [a for a in ax.get_children() if isinstance(a, _FittedLabel)]


def mark_events(ax, events: Iterable[tuple[float, str, str, Any]], kinds: Sequence[str] | None = None,
                merge: float = 0.02, max_chars: int | None = None, *, peers: Iterable[str] | None = None,
                strip=None, labels: bool = True) -> None:
    """The one way to mark events (kill, restart, throttle...) on a time axis: a dashed line per
    event, in the colour of its kind (:data:`EVENT_STYLE`), and a label per group of events.

    ``ax`` is one axes, or a list of axes that share the time axis (stacked plots): each gets the
    lines. ``kinds`` and ``peers`` choose the events (default: every kind in EVENT_STYLE, every
    peer). Labels are written vertically at the top of the first axes, on a pale box so that the
    data lines do not cross them, or, with ``strip``, in a thin axes of their own above the plots
    (height :data:`STRIP_HEIGHT`), so that no label hides data. Events closer together than
    ``merge`` seconds, or than one label's width on the drawn axes, share one label, so labels
    never overlap one another. A label longer than the axes are high (or than ``max_chars``) is
    cut short with "…". ``labels=False`` draws the lines only (for a figure that names the kinds in
    a legend instead). Set the x limits before calling: labels are spaced on them."""
    axes = list(ax) if isinstance(ax, (list, tuple)) else [ax]
    kinds = tuple(kinds) if kinds is not None else tuple(EVENT_STYLE)
    peers = set(peers) if peers is not None else None
    chosen = sorted((e for e in events if e[1] in kinds and (peers is None or e[2] in peers)),
                    key=lambda e: e[0])
    label_ax = strip if strip is not None else axes[0]
    if strip is not None:
        _style_strip(strip)
    if not chosen:
        return
    for each in axes:
        for t, kind, _peer, _detail in chosen:
            each.axvline(t, color=EVENT_STYLE.get(kind, "tab:purple"), linestyle="--", linewidth=1, alpha=0.7)
    if labels:
        _label_events(label_ax, chosen, merge, max_chars, short=strip is not None)


#: Inches for a strip of event labels above stacked plots (room for a label of ~24 characters).
STRIP_HEIGHT = 1.5
#: The kinds of event that are faults a scenario or a panel injects.
FAULTS = ("kill", "restart", "throttle")


def _style_strip(strip) -> None:
    strip.set_ylim(0, 1)
    strip.set_yticks([])
    for side in ("left", "right", "top"):
        strip.spines[side].set_visible(False)
    strip.tick_params(axis="x", length=0)
    strip.set_ylabel("events", rotation=0, ha="right", va="center", fontsize=8)


def _label_events(ax, chosen: list, merge: float, max_chars: int | None, short: bool = False) -> None:
    """Labels for time-sorted events at the top of ``ax``, grouped so that none overlap."""
    # how many seconds one vertical 8-pt label takes on this axes (estimated before layout)
    x0, x1 = ax.get_xlim()
    fig = ax.figure
    width_px = max(1.0, ax.get_position().width * fig.get_figwidth() * fig.dpi)
    label_px = 8 * fig.dpi / 72 * 1.6
    gap = max(merge, abs(x1 - x0) * label_px / width_px)
    # a label is drawn just left of its anchor, so it takes [anchor - gap, anchor]. The anchor is
    # the group's first event, moved right if the label would be cut off at the left edge. An
    # event joins the group while its own label would overlap the group's.
    left = min(x0, x1)
    groups: list[list[tuple[float, str, str, Any]]] = []
    anchors: list[float] = []
    for event in chosen:
        if groups and event[0] < anchors[-1] + gap:
            groups[-1].append(event)
        else:
            groups.append([event])
            anchors.append(max(event[0], left + gap))
    if short:          # a label of n lines takes n widths: a group whose label would reach back
        i = 1          # over the one before joins it
        while i < len(groups):
            width = gap * len(_event_parts(groups[i]))
            if anchors[i] - width < anchors[i - 1]:
                groups[i - 1] += groups.pop(i)
                anchors.pop(i)
                i = max(1, i - 1)
            else:
                i += 1
    for group, anchor in zip(groups, anchors):
        kinds_here = {k for _, k, _, _ in group}
        colour = EVENT_STYLE.get(group[0][1], "tab:purple") if len(kinds_here) == 1 else "#333333"
        label = _event_label(group, short=short)
        anchor = max(anchor, left + gap * label.count("\n") + gap)
        if max_chars is not None and len(label) > max_chars:
            label = label[:max_chars - 1] + "…"
        text = _FittedLabel(label, xy=(anchor, 1), xycoords=("data", "axes fraction"), rotation=90,
                            va="top", ha="right", fontsize=8, color=colour, annotation_clip=True,
                            xytext=(-2, -3), textcoords="offset points", clip_on=True,
                            bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none",
                                  "alpha": 0.8})
        text.set_transform(IdentityTransform())        # as Axes.annotate sets up its own labels
        ax.add_artist(text)                             # (clipped to the axes, like any artist)
        text.set_in_layout(False)          # a long label must not squeeze the axes away


def _same_line(times: Sequence[float], rates: Sequence[float], times2: Sequence[float],
               rates2: Sequence[float]) -> bool:
    """True when two series would draw (nearly) the same line: same sample times, and every value
    within 3% of the larger values (or of the series' peak)."""
    if len(times) != len(times2) or len(times) < 2 or any(abs(a - b) > 1e-6 for a, b in zip(times, times2)):
        return False
    peak = max(max(map(abs, rates), default=0), max(map(abs, rates2), default=0))
    if peak == 0:
        return True
    return all(abs(a - b) <= 0.03 * max(abs(a), abs(b), 0.1 * peak) for a, b in zip(rates, rates2))


def rates_figure(series: dict[tuple[str, str], tuple[list[float], list[float]]],
                 events: Iterable[tuple[float, str, str, Any]] = (), title: str = "",
                 ylabel: str = "messages per second", xlabel: str = "time since start of run (s)",
                 fig: Figure | None = None, merge: float = 0.02,
                 xlim: tuple[float, float] | None = None, clip_peaks: bool = False) -> Figure:
    """One line per (peer, counter) rate series, events as labelled vertical lines (events closer
    than ``merge`` seconds share a line)."""
    fig = fig or new_figure()
    ax = fig.add_subplot()
    drawn = 0
    shown: list[tuple[list[float], list[float]]] = []
    for (peer, counter), (times, rates) in series.items():
        if times:
            # a line that lies on top of an earlier one must not hide it: each later line is a
            # little thinner, and after ten colours the styles turn dashed, then dotted. A line that
            # (nearly) repeats an earlier one is drawn dashed, so that both colours show.
            style = ("-", "--", ":")[(drawn // 10) % 3]
            if style == "-" and any(_same_line(times, rates, t, r) for t, r in shown):
                style = (0, (4, 3))
            ax.plot(times, rates, marker=".", markersize=3, linewidth=max(1.0, 2.6 - 0.25 * drawn),
                    linestyle=style, color=f"C{drawn % 10}", label=f"{peer}.{counter}")
            shown.append((list(times), list(rates)))
            drawn += 1
    if xlim is not None:                   # before the events: their labels are spaced on it
        ax.set_xlim(*xlim)
        events = [e for e in events if xlim[0] <= e[0] <= xlim[1]]
    mark_events(ax, events, merge=merge)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "rates")
    ax.set_ylim(bottom=0)
    values = sorted(r for _, rates in series.values() for r in rates)
    if clip_peaks and len(values) >= 20:
        # a live plot: one burst (a backlog flushed at once) must not flatten every other line
        # to zero. Cut the y axis above the 95th percentile and say so.
        p95 = values[int(0.95 * (len(values) - 1))]
        if p95 > 0 and values[-1] > 4 * p95:
            ax.set_ylim(0, 1.5 * p95)
            ax.text(0.995, 0.99, f"peaks up to {values[-1]:,.0f}/s cut off", transform=ax.transAxes,
                    ha="right", va="top", fontsize=7, color="#57606a")
    ax.grid(True, alpha=0.3)
    if any(t for t, _ in series.values()):
        # a small figure takes fewer legend rows per column: a long legend goes to two columns
        rows = max(4, int(fig.get_figheight() * 3.2))
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8 if drawn <= rows else 7,
                  framealpha=0.8, ncol=1 + (drawn - 1) // rows)
    else:
        ax.text(0.5, 0.5, "no samples yet", transform=ax.transAxes, ha="center", color="gray")
    return fig


def report_figure(report, counters: list[str] | None = None, peers: list[str] | None = None,
                  title: str | None = None, ylabel: str = "messages per second") -> Figure:
    """A scenario run's rates over time, one line per (peer, counter), with its events marked."""
    return rates_figure(report.series_of(counters, peers), report.events,
                        title=title or f"{report.lab_name}: {report.scenario}", ylabel=ylabel)


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
