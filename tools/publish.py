#!/usr/bin/env python3
"""Publish the workbook for people without a kernel: reveal.js slides, and a static HTML site.

usage:
  python tools/publish.py slides [--out build/slides] [NOTEBOOK.ipynb ...]
  python tools/publish.py html   [--out build/html] [--no-execute] [notebooks/src/NN_x.py ...]

``slides`` turns each notebook (with the outputs committed in ``notebooks/``) into
``NN_x.slides.html``. The cells' ``slideshow`` metadata, written by tools/nbbuild.py, decides what
goes on which slide. reveal.js is copied next to the slides, so they work offline: a workshop
room's wifi is not needed. Open ``index.html`` and use the arrow keys; ``s`` opens speaker notes.

``html`` runs every notebook again, top to bottom in a fresh kernel, and writes ``NN_x.html`` with
its outputs and the saved state of its widgets (``--no-execute`` exports the committed outputs
as they are). Open ``index.html``.

Both write an ``index.html`` that lists the notebooks in teaching order. The socket diagrams go in
as the SVGs that tools/diagrams.py drew from them (``notebooks/diagrams/``), so they show offline; a
diagram with no SVG yet is left to Mermaid from a CDN (offline it shows its source text). What still
comes from a CDN: the widget renderer (offline the panels are blank; the figures and text all show).
"""
from __future__ import annotations

import argparse
import html
import shutil
import sys
from pathlib import Path

import nbformat

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
NOTEBOOKS = ROOT / "notebooks"
sys.path.insert(0, str(TOOLS))
import diagrams  # noqa: E402
import nbbuild  # noqa: E402


def with_drawn_diagrams(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with each Mermaid block replaced by its SVG, drawn beforehand by
    tools/diagrams.py, so that the page needs no Mermaid from a CDN."""
    nb = nbformat.from_dict(nb)              # a copy: the caller's notebook is left as it was
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = diagrams.inline(cell.source)
    return nb


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def without_live_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """For slides read without a kernel: an output that is a live widget and also has an HTML
    stand-in (a panel's card that says where to run it) shows the stand-in; the widget itself
    would be a blank space offline."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data and "text/html" in data:
                del data[WIDGET_VIEW]
    return nb


def reveal_assets() -> Path:
    """reveal.js's own files, as shipped in the sphinx-revealjs wheel (a pinned test dependency)."""
    try:
        import sphinx_revealjs
    except ImportError as exc:
        raise SystemExit("make slides needs reveal.js, which comes with sphinx-revealjs: "
                         "pip install -c constraints.txt -e '.[test]'") from exc
    path = Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"
    if not (path / "dist" / "reveal.js").exists():
        raise SystemExit(f"reveal.js not found in {path}")
    return path


def title_of(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            if first.startswith("# "):
                return first[2:].strip()
    return fallback


def write_index(out: Path, entries: list[tuple[str, str]], heading: str, note: str) -> Path:
    items = "\n".join(f'  <li><a href="{html.escape(href)}">{html.escape(title)}</a></li>'
                      for href, title in entries)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>zguide_py: {html.escape(heading)}</title>
<style>body {{ font-family: sans-serif; max-width: 50em; margin: 2em auto; line-height: 1.6 }}</style>
</head><body>
<h1>zguide_py: {html.escape(heading)}</h1>
<p>{html.escape(note)}</p>
<ol start="0">
{items}
</ol>
</body></html>
"""
    index = out / "index.html"
    index.write_text(page)
    return index


def build_slides(notebooks: list[Path], out: Path) -> list[Path]:
    from nbconvert import SlidesExporter
    out.mkdir(parents=True, exist_ok=True)
    assets = reveal_assets()
    target = out / "reveal.js"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(assets / "dist", target / "dist")
    shutil.copytree(assets / "plugin" / "notes", target / "plugin" / "notes")
    shutil.copy(assets / "LICENSE", target / "LICENSE")
    exporter = SlidesExporter(extra_template_basedirs=[str(TOOLS / "templates")], template_name="zguide_reveal",
                              extra_template_paths=[str(TOOLS / "templates" / "zguide_lab")],
                              reveal_url_prefix="reveal.js", reveal_theme="white", reveal_transition="none")
    written, entries = [], []
    for path in notebooks:
        nb = nbformat.read(path, 4)
        missing = [i for i, c in enumerate(nb.cells) if "slideshow" not in c.metadata]
        if missing:
            raise SystemExit(f"{path.name}: cells {missing[:5]} have no slide metadata: rebuild it with tools/nbbuild.py")
        body, _ = exporter.from_notebook_node(without_live_widgets(with_drawn_diagrams(nb)),
                                              resources={"metadata": {"name": path.stem}})
        page = out / f"{path.stem}.slides.html"
        page.write_text(body)
        written.append(page)
        entries.append((page.name, title_of(nb, path.stem)))
        print(f"slides: {page.relative_to(ROOT) if page.is_relative_to(ROOT) else page}", flush=True)
    write_index(out, entries, "slides", "Slides for each notebook (reveal.js, offline). "
                "Arrow keys move; the down arrow shows a sub-slide; 's' opens the speaker view.")
    return written


def build_html(sources: list[Path], out: Path, execute: bool = True) -> list[Path]:
    from nbconvert import HTMLExporter
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(extra_template_basedirs=[str(TOOLS / "templates")], template_name="zguide_lab")
    written, entries = [], []
    for src in sources:
        if execute:
            nb = nbbuild.notebook_from(src)
            nbbuild.execute(nb, f"{src.stem}")
        else:
            nb = nbformat.read(NOTEBOOKS / f"{src.stem}.ipynb", 4)
        body, _ = exporter.from_notebook_node(with_drawn_diagrams(nb), resources={"metadata": {"name": src.stem}})
        page = out / f"{src.stem}.html"
        page.write_text(body)
        written.append(page)
        entries.append((page.name, title_of(nb, src.stem)))
        print(f"html: {page.relative_to(ROOT) if page.is_relative_to(ROOT) else page}", flush=True)
    write_index(out, entries, "the workbook, executed",
                "Every notebook, run top to bottom, with its outputs and the saved state of its widgets. "
                "To change and re-run them, use JupyterLab (make lab) or Binder.")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    slides = sub.add_parser("slides", help="reveal.js slides of every notebook")
    slides.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    slides.add_argument("notebooks", nargs="*", type=Path)
    site = sub.add_parser("html", help="an executed HTML page of every notebook")
    site.add_argument("--out", type=Path, default=ROOT / "build" / "html")
    site.add_argument("--no-execute", dest="execute", action="store_false",
                      help="export the committed outputs instead of running the notebooks again")
    site.add_argument("sources", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.what == "slides":
        notebooks = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
        for path in notebooks:
            if path.suffix != ".ipynb" or not path.exists():
                parser.error(f"not a notebook: {path}")
        build_slides(notebooks, args.out)
        print(f"open {args.out / 'index.html'}")
    else:
        sources = args.sources or sorted((NOTEBOOKS / "src").glob("*.py"))
        for path in sources:
            if path.suffix != ".py" or not path.exists():
                parser.error(f"not a notebook source (notebooks/src/NN_name.py): {path}")
        build_html(sources, args.out, execute=args.execute)
        print(f"open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
