#!/usr/bin/env python3
"""The seed talk as a deck: "Building distributed systems with ZeroMQ" (Vladimir Smida, 2014),
in its own order, made of the workbook's own cells.

usage:
  python tools/talk.py            build notebooks/talk.ipynb from the notebooks' sources and run it
  python tools/talk.py --check    exit 1 if notebooks/talk.ipynb is not what the sources give now

Nothing here is copied text: :data:`TALK` says, part by part, which sections of which notebooks
the talk shows (by their headings), and the cells are taken from ``notebooks/src/``. Within a
section, the Markdown cell with the heading goes on a slide and the Markdown after it becomes the
speaker's notes (``s`` in the deck); the code and its outputs are shown. A *demo* is a notebook's
playground, its "Play with it": the ``playground`` function and the live panel, which the
speaker clicks (the rehearsal the notebook runs on a twin is left out). Each notebook's first
code cell (its imports) runs unseen before its first section, and the previous notebook's labs
are closed first, so one demo at a time uses the machine.

``make talk`` turns the committed talk notebook into an offline reveal.js deck, build/talk/.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
NOTEBOOKS = ROOT / "notebooks"
sys.path.insert(0, str(TOOLS))
import nbbuild  # noqa: E402

INTRO = "#"           # a notebook's opening cell: its title, the problem, its socket diagram
DEMO = "Play with it"  # a notebook's playground: the live panel

#: The talk's outline, part by part: a title of the talk's own, then (notebook, heading) pairs.
TALK: list[tuple[str, list[tuple[str, str]]]] = [
    ("Why ZeroMQ", [("00_basics", INTRO)]),
    ("Context, socket and message", [("00_basics", "1. The context"), ("00_basics", "2. Sockets and messages"),
                                     ("00_basics", "3. Asynchronous messaging")]),
    ("Demo: fire-and-forget", [("00_basics", DEMO)]),
    ("Publish-subscribe", [("02_publish_subscribe", INTRO), ("02_publish_subscribe", "3. Topic filtering"),
                           ("02_publish_subscribe", DEMO)]),
    ("Request-reply", [("01_request_reply", INTRO), ("01_request_reply", DEMO)]),
    ("Pipeline", [("03_pipeline", INTRO), ("03_pipeline", "3. A batch of 100 tasks")]),
    ("Router-dealer", [("04_router_dealer", INTRO), ("04_router_dealer", "1. Envelopes")]),
    ("Transports", [("00_basics", "5. Transports")]),
    ("Load balancer: simple, and better", [("05_load_balancing", INTRO),
                                           ("05_load_balancing", "Round-robin with one slow worker"),
                                           ("05_load_balancing", "LRU with one slow worker"),
                                           ("05_load_balancing", DEMO)]),
    ("Pub-sub with a snapshot", [("06_clone_snapshot", INTRO)]),
    ("Pub-sub with a snapshot and updates", [("07_clone_updates", INTRO)]),
    ("Reliability: Lazy Pirate", [("09_lazy_pirate", INTRO), ("09_lazy_pirate", DEMO)]),
    ("Reliability: the slow subscriber, the suicidal snail, the high-water mark",
     [("08_slow_subscriber", INTRO), ("08_slow_subscriber", "2. Drop at the high-water mark"),
      ("08_slow_subscriber", "4. The suicidal snail")]),
    ("Reliability: the other pirates", [("10_simple_pirate", INTRO), ("11_paranoid_pirate", INTRO),
                                        ("11_paranoid_pirate", DEMO)]),
    ("Performance: localhost", [("16_performance", "2. A quick sweep"), ("16_performance", "3. Beside the talk")]),
    ("Performance: remote", [("20_remote", "1. Two hosts"), ("20_remote", "4. The sweep"), ("20_remote", "5. Beside the talk")]),
    ("Why, and why not, ZeroMQ", [("00_basics", "Why ZeroMQ, and why not")]),
]


def heading_of(cell) -> str | None:
    text = cell.source.lstrip()
    if cell.cell_type != "markdown" or not text.startswith("#"):
        return None
    return text.splitlines()[0].lstrip("#").strip()


def unnumbered(heading: str) -> str:
    """A heading without its section number: "6. Play with it" -> "Play with it"."""
    return re.sub(r"^\d+\.\s*", "", heading)


def at_headings(cells: list) -> list:
    """The cells, with a Markdown cell cut where a heading starts inside it (a section's text may
    open with the end of the last one's)."""
    out = []
    for cell in cells:
        if cell.cell_type != "markdown":
            out.append(cell)
            continue
        parts, current = [], []
        for line in cell.source.splitlines():
            if re.match(r"#{1,3} ", line) and current and any(x.strip() for x in current):
                parts.append(current)
                current = []
            current.append(line)
        parts.append(current)
        for lines in parts:
            piece = nbformat.from_dict(dict(cell))
            piece.source = "\n".join(lines).strip("\n")
            out.append(piece)
    return out


def section(cells: list, notebook: str, heading: str) -> list:
    """The cells of one section: from its heading to the next heading (a demo stops at its panel)."""
    if heading == INTRO:
        return [cells[0]]
    starts = [i for i, c in enumerate(cells) if unnumbered(heading_of(c) or "").startswith(unnumbered(heading))]
    if len(starts) != 1:
        raise SystemExit(f"talk: {notebook} has {len(starts)} sections that start {heading!r}")
    picked = [cells[starts[0]]]
    for cell in cells[starts[0] + 1:]:
        if heading_of(cell) is not None:
            break
        if "folded" in cell.metadata.get("tags", []):
            continue                                  # the notebook's own checks: not for the audience
        picked.append(cell)
        if heading == DEMO and cell.cell_type == "code" and cell.source.strip() == "panel":
            break                                     # the live panel: the rest rehearses on a twin
    return picked


def talk_cell(kind: str, source: str, slide: str, tags: list[str] | None = None):
    cell = nbformat.v4.new_markdown_cell(source) if kind == "markdown" else nbformat.v4.new_code_cell(source)
    cell.metadata["slideshow"] = {"slide_type": slide}
    if tags:
        cell.metadata["tags"] = tags
    return cell


def build_talk() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells.append(talk_cell("markdown", (
        "# Building distributed systems with ZeroMQ\n\n"
        "*The seed talk of this workbook (Vladimir Smida, 12 August 2014), retold with the workbook's own "
        "cells: every slide below comes from a notebook, and every demo is that notebook's live panel. "
        "Present it with RISE (Alt+R in JupyterLab), or offline as build/talk/talk.slides.html "
        "(`make talk`); the README says how.*"), "slide"))
    sources: dict[str, list] = {}
    started: set[str] = set()
    for title, parts in TALK:
        nb.cells.append(talk_cell("markdown", f"# {title}", "slide"))
        for notebook, heading in parts:
            if notebook not in sources:
                sources[notebook] = at_headings(nbbuild.notebook_from(NOTEBOOKS / "src" / f"{notebook}.py").cells)
            cells = sources[notebook]
            if notebook not in started:             # its imports (and lab), unseen; the last demo's labs end
                setup = next(c for c in cells if c.cell_type == "code")
                nb.cells.append(talk_cell("code", "close_all()   # one demo at a time\n" + setup.source, "skip"))
                started.add(notebook)
            for i, cell in enumerate(section(cells, notebook, heading)):
                copy = nbformat.from_dict(dict(cell))
                copy.pop("id", None)
                copy.pop("outputs", None)
                if copy.cell_type == "code":
                    copy.outputs, copy.execution_count = [], None
                if copy.cell_type == "markdown" and i > 0:
                    copy.metadata["slideshow"] = {"slide_type": "notes"}     # the speaker's notes
                elif i == 0:
                    copy.metadata["slideshow"] = {"slide_type": "subslide"}
                nb.cells.append(copy)
    nb.cells.insert(1, talk_cell("code", "from zguide_py import close_all", "skip"))
    nb.cells.append(talk_cell("code", "close_all()\nfrom zguide_py import live_labs\n"
                              "print('labs still open after the talk:', live_labs())\nassert live_labs() == []", "skip"))
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"talk-{i:03d}"
    return nb


def sources_of(nb) -> list[tuple[str, str, dict]]:
    return [(c.cell_type, c.source, c.metadata.get("slideshow", {})) for c in nb.cells]


def main(argv: list[str]) -> int:
    target = NOTEBOOKS / "talk.ipynb"
    nb = build_talk()
    if "--check" in argv:
        if not target.exists() or sources_of(nbformat.read(target, 4)) != sources_of(nb):
            print(f"talk: {target.name} is not what the notebooks' sources give now: run python tools/talk.py")
            return 1
        print(f"talk: {target.name} is up to date ({len(nb.cells)} cells)")
        return 0
    nbbuild.execute(nb, target.name)
    nbformat.write(nb, target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
