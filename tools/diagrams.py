#!/usr/bin/env python3
"""The notebooks' Mermaid socket diagrams, rendered once to SVG, for slides and pages read offline.

JupyterLab (and GitHub) draw a ```` ```mermaid ```` block in a Markdown cell by themselves. The
static slides and HTML pages (tools/publish.py) would need Mermaid's JavaScript from a CDN for that,
and a workshop room's wifi is not to be trusted. So each diagram is drawn here, by the Mermaid that
JupyterLab bundles, in headless Chromium, and kept as ``notebooks/diagrams/<hash>.svg``, named after
a hash of the diagram's text. ``publish.py`` puts that SVG in place of the block.

usage:
  python tools/diagrams.py           render the diagrams that have no SVG yet; delete stale SVGs
  python tools/diagrams.py --check   only report missing or stale SVGs (exit 1 if any); no browser

Rendering needs Debian's Chromium (``apt-get install chromium``) and Playwright's Python package,
which the test extra installs.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import re
import sys
import tempfile
import urllib.parse
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
SOURCES = ROOT / "notebooks" / "src"
DIAGRAMS = ROOT / "notebooks" / "diagrams"
if str(TOOLS) not in sys.path:          # nbbuild and labserver live beside this file
    sys.path.insert(0, str(TOOLS))
FENCE = re.compile(r"```mermaid\n(.*?)\n```", re.S)


def key(diagram: str) -> str:
    """The file name of a diagram's SVG: a hash of its text (so an edited diagram is drawn again)."""
    return hashlib.sha256(diagram.strip().encode()).hexdigest()[:16]


def svg_path(diagram: str) -> Path:
    return DIAGRAMS / f"{key(diagram)}.svg"


def diagrams_in(markdown: str) -> list[str]:
    return [m.group(1) for m in FENCE.finditer(markdown)]


def all_diagrams() -> dict[str, str]:
    """{key: diagram text} over every notebook source, in teaching order."""
    import nbbuild
    found: dict[str, str] = {}
    for src in sorted(SOURCES.glob("*.py")):
        for cell in nbbuild.notebook_from(src).cells:
            if cell.cell_type == "markdown":
                for diagram in diagrams_in(cell.source):
                    found.setdefault(key(diagram), diagram)
    return found


def check() -> tuple[list[str], list[Path]]:
    """(keys with no SVG, SVG files that no diagram uses)."""
    wanted = all_diagrams()
    have = {p.stem: p for p in DIAGRAMS.glob("*.svg")} if DIAGRAMS.exists() else {}
    return sorted(k for k in wanted if k not in have), sorted(p for k, p in have.items() if k not in wanted)


def inline(markdown: str) -> str:
    """Markdown with each Mermaid block that has an SVG replaced by that SVG as an image, on one
    line (a blank line would end the HTML block). Blocks without an SVG are left as they are."""
    def replace(match: re.Match) -> str:
        path = svg_path(match.group(1))
        if not path.exists():
            return match.group(0)
        svg = path.read_text()
        width = re.search(r'max-width:\s*([0-9.]+)px', svg)
        size = f' width="{float(width.group(1)):.0f}"' if width else ""
        data = base64.b64encode(svg.encode()).decode()
        return (f'<figure class="zguide-diagram"><img alt="socket diagram" style="max-width: 100%"{size} '
                f'src="data:image/svg+xml;base64,{data}"></figure>')
    return FENCE.sub(replace, markdown)


# ---- rendering, in JupyterLab in headless Chromium ------------------------------------------------
def render(diagrams: dict[str, str], timeout: float = 120.0) -> dict[str, str]:
    """{key: SVG text}: every diagram drawn by the Mermaid of a JupyterLab started for this, in a
    temporary folder, and stopped (with what it started) before returning."""
    import nbformat
    from labserver import CHROMIUM, jupyterlab
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit("drawing the diagrams needs Chromium: apt-get install chromium")
    keys = list(diagrams)
    with tempfile.TemporaryDirectory(prefix="zguide-diagrams-") as tmp:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"```mermaid\n{diagrams[k]}\n```") for k in keys]
        nbformat.write(nb, Path(tmp) / "diagrams.ipynb")
        with jupyterlab(Path(tmp)) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/diagrams.ipynb?reset")
            page.wait_for_function(
                f"() => document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMermaid img').length"
                f" + document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMermaid-error, "
                f".jp-MarkdownCell .jp-Mermaid-error').length >= {len(keys)}",
                timeout=timeout * 1000, polling=250)
            sources = page.eval_on_selector_all(
                ".jp-MarkdownCell", "cells => cells.map(c => { const i = c.querySelector("
                "'.jp-RenderedMermaid img'); return i ? i.getAttribute('src') : null; })")
            browser.close()
    drawn, failed = {}, []
    for k, src in zip(keys, sources):
        prefix = "data:image/svg+xml,"
        if not src or not src.startswith(prefix):
            failed.append(k)
            continue
        drawn[k] = urllib.parse.unquote(src[len(prefix):])
    if failed:
        raise SystemExit("Mermaid could not draw:\n\n" + "\n\n".join(diagrams[k] for k in failed))
    return drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report missing or stale SVGs; draw nothing")
    args = parser.parse_args(argv)
    missing, stale = check()
    if args.check:
        for k in missing:
            print(f"missing: {DIAGRAMS.relative_to(ROOT)}/{k}.svg")
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)}")
        if missing or stale:
            print("run: python tools/diagrams.py")
        return 1 if missing or stale else 0
    for path in stale:
        path.unlink()
        print(f"deleted stale {path.relative_to(ROOT)}")
    if missing:
        wanted = all_diagrams()
        DIAGRAMS.mkdir(parents=True, exist_ok=True)
        for k, svg in render({k: wanted[k] for k in missing}).items():
            (DIAGRAMS / f"{k}.svg").write_text(svg)
            print(f"drew {DIAGRAMS.relative_to(ROOT)}/{k}.svg")
    total = len(all_diagrams())
    print(f"{total} diagrams, each with its SVG in {DIAGRAMS.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
