"""How far a sweep has got: a progress bar in a notebook, a one-line bar on a terminal."""
from __future__ import annotations

import sys
import time


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")        # a notebook's kernel has imported it; never import it here
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """How far a sweep has got: an ipywidgets ``IntProgress`` in a notebook, a one-line text bar on a
    terminal (stderr), nothing otherwise (a pipe, a log file)."""

    def __init__(self, total: int, title: str = "sweep", widget: bool | None = None, stream=None,
                 enabled: bool = True):
        self.total, self.done, self.title, self.text = total, 0, title, ""
        self.started = time.monotonic()
        self.widget = None
        self._stream = None
        if not enabled:
            return
        if widget is None:
            widget = _in_notebook()
        if widget:
            import ipywidgets
            from IPython.display import display
            self._bar = ipywidgets.IntProgress(value=0, min=0, max=total, description=title,
                                               style={"description_width": "initial"})
            self._label = ipywidgets.Label(f"0/{total}")
            self.widget = ipywidgets.HBox([self._bar, self._label])
            display(self.widget)
        else:
            stream = stream or sys.stderr
            if getattr(stream, "isatty", lambda: False)():
                self._stream = stream

    def _draw(self) -> None:
        took = time.monotonic() - self.started
        if self.widget is not None:
            self._bar.value = self.done
            self._label.value = f"{self.done}/{self.total}  {self.text}  {took:.0f} s"
        elif self._stream is not None:
            filled = int(30 * self.done / max(self.total, 1))
            self._stream.write(f"\r{self.title} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total}"
                               f"  {self.text}  {took:.0f} s\x1b[K")
            self._stream.flush()

    def show(self, text: str) -> None:
        """Name the point being measured now."""
        self.text = text
        self._draw()

    def advance(self) -> None:
        self.done += 1
        self._draw()

    def close(self) -> None:
        self.text = "done"
        self._draw()
        if self.widget is not None:
            self._bar.bar_style = "success"
        elif self._stream is not None:
            self._stream.write("\n")
            self._stream.flush()
