"""The control panel: a row per peer (state, kill, restart, throttle, counters) and a live rate plot.

Every button and slider calls the same public Lab method that a scenario calls. A background
refresher (one thread per panel) re-reads the peers and renders the plot with matplotlib's Agg
backend to PNG bytes set on an ``ipywidgets.Image``, a few times a second, so the panel moves while
the kernel is idle. From that thread we only set widget values; we never use ``with output:``.

Headless, a notebook drives it like a person would::

    panel = Panel(lab, actions={"add worker": adder("worker", lb.worker, endpoint=ep)})
    panel.rows["server"].kill.click()        # same as lab.kill("server")
    panel.rows["worker"].throttle.value = 0.02
    panel.refresh()                           # one synchronous refresh, then check what changed
"""
from __future__ import annotations

import html
import time
import threading
from typing import TYPE_CHECKING, Any, Callable

import ipywidgets as W

from .peer import MAX_THROTTLE
from .plots import new_figure, rates_figure, to_png

if TYPE_CHECKING:  # pragma: no cover
    from .lab import Lab

STATE_COLOURS = {"running": "#1a7f37", "starting": "#9a6700", "done": "#57606a", "killed": "#cf222e",
                 "failed": "#cf222e", "stuck": "#8250df"}


class PeerRow(W.HBox):
    """One peer's controls."""

    def __init__(self, panel: "Panel", name: str, max_throttle: float):
        self.panel = panel
        self.name = name
        self._syncing = False
        # the controls keep their size (flex 0 0 auto): long counters wrap in their own box
        # instead of squeezing a button down to "re..."
        self.label = W.HTML(layout=W.Layout(width="190px", flex="0 0 auto"))
        self.kill = W.Button(description="kill", button_style="danger", icon="skull",
                             layout=W.Layout(width="80px", flex="0 0 auto"), tooltip=f"lab.kill({name!r})")
        self.restart = W.Button(description="restart", button_style="success", icon="redo",
                                layout=W.Layout(width="95px", flex="0 0 auto"), tooltip=f"lab.restart({name!r})")
        self.throttle = W.FloatSlider(value=0.0, min=0.0, max=max_throttle, step=max_throttle / 100,
                                      description="s/msg", readout_format=".3f", continuous_update=False,
                                      layout=W.Layout(width="280px", flex="0 0 auto"),
                                      style={"description_width": "40px"},
                                      tooltip=f"lab.throttle({name!r}, seconds_per_message)")
        self.counters = W.HTML(layout=W.Layout(flex="1 1 0%", min_width="120px"))
        self.kill.on_click(lambda _b: panel._do("kill", name))
        self.restart.on_click(lambda _b: panel._do("restart", name))
        self.throttle.observe(self._on_throttle, names="value")
        super().__init__([self.label, self.kill, self.restart, self.throttle, self.counters])

    def _on_throttle(self, change: dict) -> None:
        if not self._syncing:
            self.panel._do("throttle", self.name, change["new"])

    def sync(self) -> None:
        """Show the peer as it is now (called by the refresher and by refresh())."""
        lab = self.panel.lab
        peer = lab.peers.get(self.name)
        if peer is None:
            return
        colour = STATE_COLOURS.get(peer.state, "black")
        self.label.value = (f"<b>{html.escape(self.name)}</b> "
                            f"<span style='color:{colour}'>{peer.state}</span>")
        counts = peer.snapshot()
        self.counters.value = pattern_state(peer) + (("<span style='font-size:12px;line-height:1.3'>"
                               + " ".join(f"{html.escape(k)}=<b>{v}</b>" for k, v in sorted(counts.items()))
                               + "</span>") if counts else "<span style='color:#57606a'>(no counts yet)</span>")
        if abs(self.throttle.value - peer.delay) > 1e-12 and peer.delay <= self.throttle.max:
            self._syncing = True
            try:
                self.throttle.value = peer.delay
            finally:
                self._syncing = False


def pattern_state(peer) -> str:
    """What the pattern says of a running peer, above its counters (HTML, may be empty): the
    ``status`` its role publishes in ``peer.data`` (a string, or a function the panel calls: Binary
    Star's "active", a queue's workers and when each was last heard), and for a REQ socket that
    waits for its reply, how long it has waited."""
    if peer.state != "running":
        return ""
    parts = []
    status = peer.data.get("status")
    if isinstance(status, dict):       # a process peer: its child's last status line says it
        status = status.get("says")
    if callable(status):
        try:
            status = status()
        except RuntimeError:           # the role changed its books while we read them: next time
            status = None
    if status:
        text = str(status)
        parts.append(f"<b>{html.escape(text if len(text) <= 200 else text[:199] + '…')}</b>")
    since = peer.waiting_since
    if since is not None:
        waited = time.monotonic() - since
        colour = "#9a6700" if waited >= 1.0 else "#57606a"
        waits_for = peer.data.get("waits_for", "a reply")    # a REQ worker waits for a request
        parts.append(f"<span style='color:{colour}'>waiting for {html.escape(str(waits_for))} for {waited:.1f} s</span>")
    return "".join(f"<span style='font-size:12px'>{p}</span><br>" for p in parts)


#: The live plot draws at most this many lines: more are summed by role (worker1..worker5 -> worker*).
MAX_LINES = 6


def few_lines(series: dict, limit: int = MAX_LINES) -> dict:
    """At most ``limit`` rate lines for the live plot. Peers named alike (``worker1``, ``worker2``...)
    are summed into one line per counter (``worker* (3)``) once there are more lines than that; if
    there are still too many, the busiest are kept (the plot's title says how many are not drawn)."""
    if len(series) <= limit:
        return series
    groups: dict[tuple[str, str], list] = {}
    for (peer, counter), line in series.items():
        stem = peer.rstrip("0123456789") or peer
        groups.setdefault((stem, counter), []).append((peer, line))
    merged: dict = {}
    for (stem, counter), members in groups.items():
        if len(members) == 1:
            merged[(members[0][0], counter)] = members[0][1]
            continue
        total: dict[float, float] = {}
        for _peer, (times, rates) in members:      # the sampler ticks once for every peer: times line up
            for t, r in zip(times, rates):
                key = round(t, 2)
                total[key] = total.get(key, 0.0) + r
        ticks = sorted(total)
        merged[(f"{stem}* ({len(members)})", counter)] = (ticks, [total[t] for t in ticks])
    if len(merged) > limit:
        busiest = sorted(merged, key=lambda k: -sum(merged[k][1][-20:]))[:limit]
        return {k: v for k, v in merged.items() if k in busiest}
    return merged


class Panel(W.VBox):
    """Controls for every peer of a lab, a message line, and a live rate plot."""

    def __init__(self, lab: "Lab", counters: list[str] | None = None, window: float = 10.0,
                 hz: float = 3.0, max_throttle: float = 0.1, plot: bool = True,
                 actions: dict[str, Callable[["Lab"], Any]] | None = None, title: str | None = None,
                 extra: list[W.Widget] | None = None):
        """``actions``: more buttons, each calling ``f(lab)`` (see :func:`adder`); ``extra``: more
        widgets under the message line (a verdict line of the notebook's own, say)."""
        if not 0.2 <= hz <= 20:
            raise ValueError(f"panel refresh rate must be between 0.2 and 20 Hz, not {hz!r}")
        if not 0 < max_throttle <= MAX_THROTTLE:
            raise ValueError(f"max_throttle must be in (0, {MAX_THROTTLE}] s/msg, not {max_throttle!r}")
        if window <= 0:
            raise ValueError(f"plot window must be a positive number of seconds, not {window!r}")
        lab.check_open()
        self.lab = lab
        self.counters = counters
        self.window = window
        self.hz = hz
        self.max_throttle = max_throttle
        self.max_lines = MAX_LINES
        self.rows: dict[str, PeerRow] = {}
        self.frames = 0            # plots rendered so far (the live plot moves: this grows)
        self.created = lab.now()   # the live plot shows nothing older: not earlier sections' runs
        self._title = title or f"lab {lab.name}"
        self.title = W.HTML(f"<h4 style='margin:2px'>{html.escape(self._title)}</h4>")
        self.message = W.HTML()
        self.errors = W.HTML()
        self.action_buttons: dict[str, W.Button] = {}
        for label, action in (actions or {}).items():
            button = W.Button(description=label, layout=W.Layout(width="auto"))
            button.on_click(lambda _b, a=action, lbl=label: self._do_action(lbl, a))
            self.action_buttons[label] = button
        self.image = W.Image(format="png", layout=W.Layout(width="640px")) if plot else None
        self._rows_box = W.VBox()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        children = [self.title, self._rows_box, W.HBox(list(self.action_buttons.values())),
                    self.message, self.errors, *(extra or [])]
        if self.image is not None:
            children.append(self.image)
        super().__init__(children)
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name=f"zguide:{lab.name}:panel", daemon=True)
        self._thread.start()
        lab.on_close(self.stop)

    # ---- the controls call the lab's public methods ------------------------------------------
    def _refuse_if_closed(self) -> bool:
        if self.lab.closed:
            self.say(f"lab {self.lab.name!r} is closed: this panel no longer controls anything "
                     "(run the cell that makes the lab again)", error=True)
            return True
        return False

    def _do(self, method: str, *args: Any) -> None:
        if self._refuse_if_closed():
            return
        try:
            getattr(self.lab, method)(*args)
        except Exception as exc:  # noqa: BLE001 - a bad click shows an error and loses nothing
            self.say(f"{method}({', '.join(map(repr, args))}) failed: {exc}", error=True)
        else:
            self.say(f"lab.{method}({', '.join(map(repr, args))})")
        self.refresh(plot=False)

    def _do_action(self, label: str, action: Callable[["Lab"], Any]) -> None:
        if self._refuse_if_closed():
            return
        try:
            result = action(self.lab)
        except Exception as exc:  # noqa: BLE001
            self.say(f"{label} failed: {exc}", error=True)
        else:
            self.say(f"{label}: {result}" if isinstance(result, str) else f"{label}: done")
        self.refresh(plot=False)

    def say(self, text: str, error: bool = False) -> None:
        colour = "#cf222e" if error else "#57606a"
        self.message.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"

    @property
    def last_message(self) -> str:
        """The panel's message line as plain text (what the last click did)."""
        import re
        return html.unescape(re.sub(r"<[^>]+>", "", self.message.value))

    # ---- refreshing --------------------------------------------------------------------------
    def refresh(self, plot: bool = True) -> None:
        """Bring rows, counters, errors and (optionally) the plot up to date, now."""
        with self._lock:
            names = [n for n, p in self.lab.peers.items() if not p.data.get("helper")]   # a referee: no row
            if names != list(self.rows):
                self.rows = {n: self.rows.get(n) or PeerRow(self, n, self.max_throttle) for n in names}
                self._rows_box.children = list(self.rows.values())
            for row in self.rows.values():
                row.sync()
            errors = self.lab.errors()
            self.errors.value = "".join(
                f"<details open><summary style='color:#cf222e'>peer {html.escape(n)} failed: "
                f"{html.escape(tb.strip().splitlines()[-1])}</summary><pre style='font-size:11px'>"
                f"{html.escape(tb)}</pre></details>" for n, tb in errors.items())
            if plot and self.image is not None:
                self.image.value = self.render()
                self.frames += 1

    def render(self) -> bytes:
        """The live plot: rates over the last ``window`` seconds, as PNG bytes."""
        lab = self.lab
        now = lab.now()
        since = max(0.0, self.created, now - self.window)
        series = {}
        for peer, counter in sorted(lab.sampler.counters()):
            if peer not in lab.peers or (self.counters is not None and counter not in self.counters):
                continue
            times, rates = lab.sampler.series(peer, counter, since=since)
            series[(peer, counter)] = ([t - now for t in times], rates)
        drawn = few_lines(series, self.max_lines)
        hidden = len(series) - sum(1 for p, _ in drawn if not p.endswith(")")) - sum(
            int(p.rsplit("(", 1)[1][:-1]) for p, _ in drawn if p.endswith(")"))
        series = drawn
        events = [(t - now, k, p, d) for t, k, p, d in lab.events_of(since=since)]
        fig = new_figure(6.4, 2.8)
        # the x axis grows from the panel's creation until it spans the whole window
        shown = min(self.window, now - since)
        title = (f"live rates (the last {self.window:g} s)" if shown >= self.window - 0.05
                 else f"live rates (since the panel opened {shown:.1f} s ago; up to {self.window:g} s)")
        if hidden > 0:
            title += f"; {hidden} quieter lines not drawn"
        rates_figure(series, events, title=title,
                     xlabel="seconds ago", fig=fig, merge=self.window / 40,
                     xlim=(min(-1.0, since - now), 0), clip_peaks=True)
        return to_png(fig, dpi=80)

    def _loop(self) -> None:
        while not self._stop.wait(1.0 / self.hz):
            if self.lab.closed:
                break
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - the refresher must not die silently
                self.say(f"refresh failed: {exc}", error=True)

    def stop(self) -> None:
        """Stop the refresher (the lab calls this when it closes). A panel whose lab has closed
        says so, and its controls are disabled: it must not look alive."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(2)
        if self.lab.closed:
            self.title.value = (f"<h4 style='margin:2px'>{html.escape(self._title)} "
                                "<span style='color:#cf222e'>(lab closed)</span></h4>")
            for row in self.rows.values():
                row.label.value = f"<b>{html.escape(row.name)}</b> <span style='color:#57606a'>lab closed</span>"
                for control in (row.kill, row.restart, row.throttle):
                    control.disabled = True
            for button in self.action_buttons.values():
                button.disabled = True
            if self.image is not None:
                self.image.value = closed_plot(self.lab.name)
            self.say(f"lab {self.lab.name!r} is closed: run the cell that makes the lab again for a live panel")

    @property
    def live(self) -> bool:
        return self._thread.is_alive()

    def _repr_mimebundle_(self, **kwargs):
        """The widget, and for pages without a kernel (the offline slides) a plain card that says
        what the live panel would show and where to get it, rather than a blank space."""
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        peers = ", ".join(html.escape(n) for n in self.rows) or "none yet"
        bundle["text/html"] = (
            "<div style='border:1px dashed #8c959f;padding:6px 10px;color:#57606a;font-size:13px'>"
            f"<b>{html.escape(self._title)}</b>: a live panel (peers: {peers}). It needs a running "
            "kernel: open this notebook in JupyterLab (<code>make lab</code>) and run it to kill, "
            "restart and throttle the peers and watch the rates move.</div>")
        return bundle


def adder(prefix: str, role: Callable[..., Any], throttle: float = 0.0, **params: Any) -> Callable[["Lab"], str]:
    """A panel action that starts one more numbered peer of ``role``: ``worker4``, then ``worker5``...
    ``Panel(lab, actions={"add worker": adder("worker", lb.worker, endpoint=ep)})``."""
    def add(lab: "Lab") -> str:
        return f"started {lab.start_next(prefix, role, throttle=throttle, **params).name}"
    add.__name__ = f"add_{prefix}"
    return add


def closed_plot(lab_name: str) -> bytes:
    """What the live plot turns into once its lab has closed: a grey card that says so."""
    fig = new_figure(6.4, 1.2)
    fig.patch.set_facecolor("#eeeeee")
    fig.text(0.5, 0.5, f"lab {lab_name!r} is closed: this plot has stopped.\n"
             "Re-run the cell that made the lab for a live panel.", ha="center", va="center",
             fontsize=11, color="#57606a")
    return to_png(fig, dpi=80)
