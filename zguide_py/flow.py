"""Message flow: record the frames that cross chosen sockets, then show them as a table or as a
sequence diagram.

    flow = Flow(lab)                                    # one recorder, on the lab's clock
    lab.start("server", server_task, ..., flow=flow)    # roles call flow.record(...) where they like
    ...
    flow.table()                  # one row per message: time, from, to, frames
    flow.table(per_frame=True)    # one row per frame: size and content
    flow.figure(title="three requests through the async server")   # a sequence diagram (Figure)

A role records a message where it knows both ends, usually right after ``recv_multipart``::

    frames = frontend.recv_multipart()          # [identity, request]
    if flow is not None:
        flow.record(frames[0], peer.name, frames)   # sender may be an identity (bytes)

``record`` is cheap and thread-safe: it appends one tuple to a bounded deque (the oldest events fall
out once ``maxlen`` is reached; ``flow.total`` still counts every message). Recording is meant for a
few hundred messages of a demonstration, not for a benchmark's message path: a Python call per
message costs 6-20 % of throughput (measured on this stack with pyzmq 27).

Which side records is up to the notebook; the convention used so far is "the frames as the
receiving socket hands them to its application" (a ROUTER shows the identity it prepended, a REQ
shows the body without the empty delimiter).

Frames are shown in a short form: ``''`` for an empty frame (the delimiter), ``"hello"`` for
printable text, ``0x0080000029`` for binary (such as the identities that a ROUTER makes up), so a
message reads ``[0x0080000029|''|"hello"]``.
"""
from __future__ import annotations

import html
import itertools
import re
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Iterable, NamedTuple, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .lab import Lab

__all__ = ["Flow", "FlowEvent", "FlowTable", "short_frame", "short_frames"]

PALETTE = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
           "tab:pink", "tab:gray", "tab:olive", "tab:cyan"]

_PRINTABLE = frozenset(range(0x20, 0x7f))


class FlowEvent(NamedTuple):
    """One message that crossed a socket."""

    seq: int                  # order of recording (ties in time keep this order)
    t: float                  # seconds on the flow's clock (the lab's clock when there is a lab)
    sender: str
    receiver: str
    frames: tuple[bytes, ...]
    note: str = ""

    @property
    def size(self) -> int:
        """Total bytes in all frames."""
        return sum(len(f) for f in self.frames)

    def short(self, width: int = 14, max_frames: int = 6) -> str:
        return short_frames(self.frames, width, max_frames)


def _as_bytes(frame: Any) -> bytes:
    if isinstance(frame, bytes):
        return frame
    if isinstance(frame, str):
        return frame.encode()
    bytes_attr = getattr(frame, "bytes", None)       # zmq.Frame (received with copy=False)
    if isinstance(bytes_attr, bytes):
        return bytes_attr
    return bytes(frame)                              # memoryview, bytearray, buffers


def short_frame(frame: Any, width: int = 14) -> str:
    """One frame in a short, readable form.

    ``''`` when empty; ``"text"`` when every byte is printable ASCII (cut to ``width`` characters
    with ``…``); otherwise hex, ``0x0080000029`` (cut after ``width // 2`` bytes, with the length).
    """
    data = _as_bytes(frame)
    if not data:
        return "''"
    if all(b in _PRINTABLE for b in data):
        text = data.decode("ascii")
        if len(text) > width:
            text = text[: max(1, width - 1)] + "…"
        return f'"{text}"'
    keep = max(1, width // 2)
    if len(data) <= keep:
        return "0x" + data.hex()
    return f"0x{data[:keep].hex()}…({len(data)} B)"


def short_frames(frames: Sequence[Any], width: int = 14, max_frames: int = 6) -> str:
    """A whole message: ``[0x0080000029|''|"hello"]``. More than ``max_frames`` frames end in ``|…+N``."""
    shown = [short_frame(f, width) for f in list(frames)[:max_frames]]
    if len(frames) > max_frames:
        shown.append(f"…+{len(frames) - max_frames}")
    return "[" + "|".join(shown) + "]"


def _name(who: Any) -> str:
    """A lifeline name: strings as they are; identities (bytes) as text if printable, else hex."""
    if isinstance(who, str):
        return who
    data = _as_bytes(who)
    if data and all(b in _PRINTABLE for b in data):
        return data.decode("ascii")
    return short_frame(data, width=16)


class Flow:
    """A bounded, thread-safe recorder of messages: (time, sender, receiver, frames).

    ``lab`` gives the clock (``lab.now()``, the time axis of the lab's events and plots); without a
    lab the clock starts when the Flow is made. ``maxlen`` bounds memory: the newest ``maxlen``
    messages are kept. Set ``flow.enabled = False`` to pause recording.
    """

    def __init__(self, lab: "Lab | None" = None, maxlen: int = 5000,
                 clock: Callable[[], float] | None = None):
        if not isinstance(maxlen, int) or maxlen < 1:
            raise ValueError(f"maxlen must be a positive number of messages, not {maxlen!r}")
        self.lab = lab
        if clock is not None:
            self._clock = clock
        elif lab is not None:
            self._clock = lab.now
        else:
            t0 = time.monotonic()
            self._clock = lambda: time.monotonic() - t0
        self.maxlen = maxlen
        self.enabled = True
        self._events: deque[FlowEvent] = deque(maxlen=maxlen)
        self._seq = itertools.count()     # next() on a count is atomic in CPython
        self._lock = threading.Lock()     # only clear() and reads take it; record() does not need it

    # ---- recording (called from role threads) ------------------------------------------------
    def record(self, sender: Any, receiver: Any, frames: Sequence[Any] | bytes, note: str = "") -> None:
        """Record one message. ``sender``/``receiver`` are lifeline names (str) or identities (bytes);
        ``frames`` is the list that ``recv_multipart``/``send_multipart`` saw (bytes, str or
        zmq.Frame) or a single frame. Thread-safe; one deque append."""
        if not self.enabled:
            return
        if isinstance(frames, (bytes, str)):
            frames = (frames,)
        self._events.append(FlowEvent(next(self._seq), self._clock(), _name(sender), _name(receiver),
                                      tuple(_as_bytes(f) for f in frames), note))

    def clear(self) -> None:
        """Forget every recorded message (``total`` starts again at 0)."""
        with self._lock:
            self._events.clear()
            self._seq = itertools.count()

    # ---- reading (main thread) ---------------------------------------------------------------
    @property
    def total(self) -> int:
        """Messages recorded since the start (or the last clear), including any that fell out."""
        events = self.events()
        return max(e.seq for e in events) + 1 if events else 0

    def __len__(self) -> int:
        return len(self._events)

    def events(self, since: float | None = None, until: float | None = None,
               peers: Iterable[str] | None = None,
               where: Callable[[FlowEvent], Any] | None = None) -> list[FlowEvent]:
        """A snapshot of the kept messages in time order; optionally only those in [since, until],
        only between the given peers (both ends must be among them), and only those for which
        ``where(event)`` is true."""
        with self._lock:
            for _ in range(100):
                try:
                    snapshot = list(self._events)
                    break
                except RuntimeError:   # appended to while we copied
                    time.sleep(0)
            else:  # pragma: no cover - would need 100 appends racing 100 copies
                snapshot = []
        snapshot.sort(key=lambda e: (e.t, e.seq))
        wanted = set(peers) if peers is not None else None
        return [e for e in snapshot
                if (since is None or e.t >= since) and (until is None or e.t <= until)
                and (wanted is None or (e.sender in wanted and e.receiver in wanted))
                and (where is None or where(e))]

    def peers(self, events: Iterable[FlowEvent] | None = None) -> list[str]:
        """Lifeline names in order of first appearance."""
        seen: dict[str, None] = {}
        for e in self.events() if events is None else events:
            seen.setdefault(e.sender, None)
            seen.setdefault(e.receiver, None)
        return list(seen)

    def _select(self, first: int | None, last: int | None, since: float | None,
                until: float | None, peers: Iterable[str] | None,
                where: Callable[[FlowEvent], Any] | None) -> list[FlowEvent]:
        events = self.events(since, until, peers, where)
        if first is not None:
            events = events[:first]
        if last is not None:
            events = events[-last:] if last else []
        return events

    def table(self, per_frame: bool = False, first: int | None = None, last: int | None = None,
              since: float | None = None, until: float | None = None,
              peers: Iterable[str] | None = None, where: Callable[[FlowEvent], Any] | None = None,
              width: int = 24) -> "FlowTable":
        """Rows for a frames table (shows as a table in a notebook).

        One row per message: ``#``, ``t (ms)`` since the first message shown (measured, so
        printed as ``~12.3``), ``from``, ``to``, ``frames`` (count), ``bytes``, ``message``.
        With ``per_frame=True`` one row per frame: ``#``, ``from``, ``to``, ``frame`` (index),
        ``bytes``, ``content``. Each row is a dict; ``FlowTable.rows`` is the plain list.
        The messages are chosen as for :meth:`events`, then cut to the ``first`` or ``last`` few.
        """
        events = self._select(first, last, since, until, peers, where)
        t0 = events[0].t if events else 0.0
        rows: list[dict[str, Any]] = []
        for i, e in enumerate(events):
            if per_frame:
                for j, frame in enumerate(e.frames):
                    rows.append({"#": i, "from": e.sender, "to": e.receiver, "frame": j,
                                 "bytes": len(frame), "content": short_frame(frame, width)})
            else:
                row = {"#": i, "t (ms)": f"~{(e.t - t0) * 1000:.2f}", "from": e.sender, "to": e.receiver,
                       "frames": len(e.frames), "bytes": e.size, "message": e.short(width)}
                if e.note:
                    row["note"] = e.note
                rows.append(row)
        return FlowTable(rows)

    # ---- the sequence diagram ----------------------------------------------------------------
    def figure(self, peers: Sequence[str] | None = None, first: int | None = None,
               last: int | None = None, since: float | None = None, until: float | None = None,
               where: Callable[[FlowEvent], Any] | None = None, max_events: int = 60, title: str = "message flow",
               key: Callable[[FlowEvent], Any] | None = None, width: float = 9.0,
               legend_title: str | None = None, label_width: int = 12, max_frames: int = 5,
               fig: "Figure | None" = None) -> "Figure":
        """A sequence diagram: one vertical lifeline per peer, one arrow per message, top to bottom
        in time order, each labelled with its frames (``[id|''|"hello"]``).

        ``peers`` fixes the lifelines and their left-to-right order (messages between other peers
        are left out); by default lifelines appear in order of first appearance.
        ``first``/``last``/``since``/``until``/``where`` choose the messages (as for
        :meth:`events`); at most ``max_events`` are drawn (the title says how many were left out).
        ``key(event)`` groups arrows by colour (e.g. one colour per request) with a legend titled
        ``legend_title``; by default an arrow has its sender's colour. A message's ``note`` is shown
        after its frames.

        Arrows are evenly spaced so that labels never overlap; the time of each message (ms since
        the first one drawn) is written at the left, on the y axis.
        """
        from .plots import new_figure

        if not isinstance(max_events, int) or max_events < 1:
            raise ValueError(f"max_events must be a positive number, not {max_events!r}")
        events = self._select(first, last, since, until, peers, where)
        left_out = max(0, len(events) - max_events)
        events = events[:max_events]
        names = list(peers) if peers is not None else self.peers(events)
        if not names:
            names = ["(no peers)"]
        n = len(events)
        if fig is None:
            fig = new_figure(width, 1.5 + 0.34 * max(n, 4))
        ax = fig.add_subplot()
        x_of = {name: i for i, name in enumerate(names)}

        # lifelines
        for i in range(len(names)):
            ax.axvline(i, color="0.6", linestyle="--", linewidth=1, zorder=0)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set_ylim(n - 0.4 if n else 1, -0.9)
        ax.xaxis.tick_top()
        ax.set_xticks(range(len(names)), names, fontsize=9, fontweight="bold")
        ax.tick_params(axis="x", length=0, pad=4)
        for spine in ("right", "bottom", "top"):
            ax.spines[spine].set_visible(False)

        # colours
        if key is not None:
            groups = list(dict.fromkeys(key(e) for e in events))
            colour_of = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(groups)}
            colour = lambda e: colour_of[key(e)]
        else:
            colour_of = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
            colour = lambda e: colour_of[e.sender]

        t0 = events[0].t if events else 0.0
        for y, e in enumerate(events):
            x0, x1 = x_of[e.sender], x_of[e.receiver]
            c = colour(e)
            label = e.short(label_width, max_frames) + (f"  ({e.note})" if e.note else "")
            if x0 == x1:   # a message to itself: a small loop to the right
                ax.annotate("", xy=(x0 + 0.02, y + 0.25), xytext=(x0 + 0.02, y - 0.1),
                            arrowprops=dict(arrowstyle="-|>", color=c, lw=1.2,
                                            connectionstyle="arc3,rad=-1.2"))
                ax.text(x0 + 0.2, y, label, fontsize=7.5, color=c, va="center", ha="left",
                        family="monospace")
                continue
            ax.annotate("", xy=(x1, y), xytext=(x0, y),
                        arrowprops=dict(arrowstyle="-|>", color=c, lw=1.4, shrinkA=2, shrinkB=2))
            ax.text((x0 + x1) / 2, y - 0.08, label, fontsize=7.5, color=c, ha="center", va="bottom",
                    family="monospace",
                    bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8))
        span_ms = (events[-1].t - t0) * 1000 if events else 0.0
        digits = 2 if span_ms < 10 else 1 if span_ms < 1000 else 0
        ax.set_yticks(range(n), [f"{(e.t - t0) * 1000:.{digits}f}" for e in events], fontsize=7.5)
        ax.set_ylabel("ms since the first message\n(one row per message)", fontsize=9)
        ax.set_xlabel("peers: one lifeline each; arrows go from sender to receiver")
        shown = f"{n} messages" + (f", {left_out} more not shown" if left_out else "")
        ax.set_title(f"{title} ({shown})", pad=10)
        if not events:
            ax.text(0.5, 0.5, "no messages recorded", transform=ax.transAxes, ha="center",
                    va="center", color="gray")
        if key is not None and events:
            from matplotlib.lines import Line2D
            handles = [Line2D([], [], color=c, lw=2) for c in colour_of.values()]
            ax.legend(handles, [str(g) for g in colour_of], loc="upper left", bbox_to_anchor=(1.01, 1),
                      fontsize=8, title=legend_title, title_fontsize=8)
        return fig

    def __repr__(self) -> str:
        return f"<Flow: {len(self)} messages kept, {self.total} recorded>"


_MEASURED = re.compile(r"~-?[0-9][0-9,._]*(e[-+]?[0-9]+)?")


class FlowTable(list):
    """A list of row dicts that shows itself as a table (plain text and HTML).

    The text form pads columns by the width a value has once measured numbers (``~12.3``) are
    masked, so a notebook's output compares equal from run to run under the sanitizer.
    """

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self)

    def columns(self) -> list[str]:
        cols: list[str] = []
        for row in self:
            for key in row:
                if key not in cols:
                    cols.append(key)
        return cols

    def column(self, name: str) -> list[Any]:
        return [row.get(name) for row in self]

    def __repr__(self) -> str:
        if not self:
            return "(no messages)"
        cols = self.columns()
        cells = [[str(r.get(c, "")) for c in cols] for r in self]
        masked = lambda s: len(_MEASURED.sub("~N", s))
        widths = [max([len(c)] + [masked(row[i]) for row in cells]) for i, c in enumerate(cols)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
        for row in cells:
            lines.append("  ".join(v + " " * (w - masked(v)) for v, w in zip(row, widths)).rstrip())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self:
            return "<p>(no messages)</p>"
        cols = self.columns()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td style='font-family:monospace;text-align:left'>"
                             f"{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>"
            for r in self)
        return f"<table><tr>{head}</tr>{body}</table>"
