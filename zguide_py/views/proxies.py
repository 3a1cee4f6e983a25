"""Notebook 23 (proxies): what a capture socket saw, a steered proxy's run, and frames as text."""
from __future__ import annotations

import html

from ..plots import new_figure


def shown(frame: bytes) -> str:
    """A frame as its Python literal, without the ``b``: ``'\\x01weather.'``, ``''``."""
    return repr(bytes(frame))[1:]


class FramesTable(list):
    """Rows of (time, what, frames) that show as a small table (HTML in a notebook, text otherwise)."""

    columns = ("t (s)", "what", "frames")

    def _cells(self):
        for t, kind, frames in self:
            yield f"{t:.3f}", kind, " | ".join(shown(f) for f in frames)

    def __repr__(self) -> str:
        rows = [self.columns, *self._cells()]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'><code>{html.escape(c)}</code></td>"
                                        for c in cells) + "</tr>" for cells in self._cells())
        return f"<table><tr>{head}</tr>{body}</table>"


def around_subscriptions(captured: list, start: float, data_after: int = 2) -> FramesTable:
    """The captured messages that are not data, each followed by the first ``data_after`` data
    messages captured after it: a short table that still shows what each frame set going."""
    rows, owed = [], 0
    for t, kind, frames in captured:
        if kind != "data":
            rows.append((t - start, kind, frames))
            owed = data_after
        elif owed:
            rows.append((t - start, kind, frames))
            owed -= 1
    return FramesTable(rows)


FRAME_COLOURS = {"subscribe": "tab:green", "unsubscribe": "tab:red", "other": "tab:gray"}


def forwarding_figure(captured: list, start: float, prefixes: list[str], title: str):
    """Data messages the proxy forwarded (as its capture socket saw them), counted per prefix over
    time, with a line at each subscription frame it passed upstream."""
    fig = new_figure(8, 3.8)
    ax = fig.add_subplot()
    end = max((t - start for t, _, _ in captured), default=1.0)
    for prefix in prefixes:
        times = [t - start for t, kind, frames in captured if kind == "data" and frames[0].startswith(prefix.encode())]
        topics = {frames[0] for _, kind, frames in captured if kind == "data" and frames[0].startswith(prefix.encode())}
        ax.step([0.0, *times, end], [0, *range(1, len(times) + 1), len(times)], where="post",
                label=f"{prefix}* ({len(topics)} topics)")
    odd = [t - start for t, kind, _ in captured if kind == "other"]
    marks: list[tuple[float, str, str]] = [(t - start, kind, shown(frames[0])) for t, kind, frames in captured
                                           if kind in ("subscribe", "unsubscribe")]
    if odd:
        marks.append((min(odd), "other", f"{len(odd)} odd frames"))
    for t, kind, text in marks:
        ax.axvline(t, color=FRAME_COLOURS[kind], linestyle="--", linewidth=1)
        ax.annotate(text, xy=(t, 1), xycoords=("data", "axes fraction"), xytext=(-3, -4),
                    textcoords="offset points", rotation=90, ha="right", va="top", fontsize=8,
                    color=FRAME_COLOURS[kind], bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8,
                                                     "pad": 1})
    ax.set_xlim(0, end)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("data messages forwarded")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(title="data on", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def steering_figure(report, lines: list[tuple[str, str]], proxy: str = "proxy", title: str = ""):
    """Rates of a few (peer, counter) lines over a run, the time the proxy was paused shaded and each
    steering word marked."""
    fig = new_figure(8, 3.4)
    ax = fig.add_subplot()
    for peer, counter in lines:
        times, rates = report.series.get((peer, counter), ([], []))
        ax.plot(times, rates, marker=".", markersize=3, label=f"{peer}.{counter}")
    steps = [(e.t, e.get("command")) for e in report.events_of("steer", proxy)]
    paused_at = None
    for t, word in steps + [(report.duration, "END")]:
        if word == "PAUSE" and paused_at is None:
            paused_at = t
        elif word != "PAUSE" and paused_at is not None:
            ax.axvspan(paused_at, t, color="tab:orange", alpha=0.15, label="paused")
            paused_at = None
    for t, word in steps:
        ax.axvline(t, color="tab:purple", linestyle="--", linewidth=1)
        ax.annotate(word, xy=(t, 1), xycoords=("data", "axes fraction"), xytext=(-3, -4), textcoords="offset points",
                    rotation=90, ha="right", va="top", fontsize=8, color="tab:purple")
    ax.set_xlim(0, report.duration)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("messages per second")
    ax.set_title(title or f"{report.lab_name}: {report.scenario}")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig

