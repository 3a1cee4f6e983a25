#!/usr/bin/env python3
"""Build notebooks from their sources and run them top to bottom, so committed outputs are real.

usage: python tools/nbbuild.py notebooks/src/01_request_reply.py [...]   (or: make notebooks)

A source is a Python file in "percent" form: ``# %%`` starts a code cell, ``# %% [markdown]`` a
Markdown cell whose lines are written as ``# text``. The notebook is written to
``notebooks/<name>.ipynb`` after it has been executed in ``notebooks/`` with a fresh kernel.
tests/test_setup.py checks that every notebook still matches its source.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def parse(text: str) -> list[tuple[str, str]]:
    """[(cell_type, source)] from percent-format text."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            kind = "markdown" if "[markdown]" in line else "code"
            cells.append((kind, []))
            continue
        if not cells:
            continue  # a header before the first cell marker is not part of the notebook
        kind, lines = cells[-1]
        if kind == "markdown":
            if line.startswith("# "):
                line = line[2:]
            elif line.strip() == "#":
                line = ""
        lines.append(line)
    out = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        out.append((kind, "\n".join(lines)))
    return out


def slide_type(kind: str, text: str, previous: str | None) -> str:
    """Where a cell goes in the slides (``make slides``, and RISE in JupyterLab).

    A Markdown cell that opens with a heading starts a new slide; other Markdown cells go on a
    sub-slide (down arrow) of their own. A short code cell stays on the slide of the text that
    introduces it; a long one, or one after another code cell, gets its own sub-slide, so that
    its output has room.
    """
    if kind == "markdown":
        return "slide" if text.lstrip().startswith("#") else "subslide"
    if previous == "markdown" and len(text.splitlines()) <= 12:
        return "-"
    return "subslide"


def nbval_tags(text: str) -> tuple[str, list[str]]:
    """Markers written as leading comments in a source become cell metadata, so the learner's view
    of the cell shows no tooling: ``# NBVAL_IGNORE_OUTPUT`` becomes the tag ``nbval-ignore-output``,
    and ``# FOLDED`` the tag ``folded`` (the cell's code is folded away: an exercise's experiment,
    to open after guessing)."""
    lines = text.splitlines()
    tags = []
    while lines and lines[0].strip().startswith(("# NBVAL_", "# FOLDED")):
        tags.append(lines.pop(0).strip()[2:].lower().replace("_", "-"))
    return "\n".join(lines), tags


def notebook_from(source: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    previous = None
    for kind, text in parse(source.read_text()):
        tags: list[str] = []
        if kind == "code":
            text, tags = nbval_tags(text)
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        if tags:
            cell.metadata["tags"] = tags
        if "folded" in tags:
            cell.metadata["jupyter"] = {"source_hidden": True}
        cell.metadata["slideshow"] = {"slide_type": slide_type(kind, text, previous)}
        nb.cells.append(cell)
        previous = kind
    for i, cell in enumerate(nb.cells):      # stable ids keep diffs small
        cell["id"] = f"{source.stem[:2]}-{i:03d}"
    return nb


def execute(nb: nbformat.NotebookNode, label: str = "") -> float:
    """Run a notebook top to bottom in a fresh kernel, in ``notebooks/``; the widgets' state is
    saved in its metadata (so exported HTML shows them). Returns the seconds it took."""
    started = time.monotonic()
    NotebookClient(nb, timeout=180, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    took = time.monotonic() - started
    if label:
        print(f"{label}: ran in {took:.1f} s", flush=True)
    return took


def build(source: Path, execute_it: bool = True) -> Path:
    nb = notebook_from(source)
    target = NOTEBOOKS / f"{source.stem}.ipynb"
    if execute_it:
        execute(nb, target.name)
    nbformat.write(nb, target)
    return target


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--no-execute"]
    if not args:
        sys.exit(__doc__)
    for name in args:
        build(Path(name), execute_it="--no-execute" not in sys.argv)
