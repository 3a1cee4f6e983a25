"""The seed talk as a deck (tools/talk.py): made of the notebooks' own cells in the talk's order,
its demos the notebooks' live playgrounds, its notes their Markdown; and, in a real JupyterLab,
presented live with jupyterlab-slideshow, a demo panel's kill click works in slide mode."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import talk  # noqa: E402


def test_the_committed_talk_is_what_the_notebooks_give_now():
    assert talk.main(["--check"]) == 0


def test_the_talk_follows_the_seed_talks_order_and_copies_no_text():
    nb = nbformat.read(ROOT / "notebooks" / "talk.ipynb", 4)
    parts = [c.source[2:] for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("# ")
             and c.source[2:] in {t for t, _ in talk.TALK}]
    assert parts == [t for t, _ in talk.TALK]
    sources = "\n".join((ROOT / "notebooks" / "src" / f"{n}.py").read_text() for n in
                        {nb_name for _, sections in talk.TALK for nb_name, _ in sections})
    taken = [c for c in nb.cells if c.id.startswith("talk-") and c.cell_type == "markdown" and
             c.source[2:] not in {t for t, _ in talk.TALK} and not c.source.startswith("# Building")]
    for cell in taken:                     # every other Markdown cell is a notebook's own words
        first = cell.source.splitlines()[0]
        assert first.lstrip("# ") in sources.replace("# ", ""), first
    demos = [t for t, sections in talk.TALK if any(h == talk.DEMO for _, h in sections)]
    assert len(demos) >= 5
    assert sum(c.source.strip() == "panel" for c in nb.cells) == len(demos)       # one live panel a demo
    assert sum(c.metadata["slideshow"]["slide_type"] == "notes" for c in nb.cells) >= 10


def test_a_missing_section_is_one_clear_error():
    with pytest.raises(SystemExit, match="has 0 sections that start 'No such heading'"):
        talk.section(talk.at_headings(nbformat.v4.new_notebook().cells + [nbformat.v4.new_markdown_cell("# A")]),
                     "00_basics", "No such heading")


@pytest.mark.browser
@pytest.mark.timeout(400)
def test_a_demo_panel_of_the_live_talk_takes_a_kill_click_in_slide_mode(tmp_path):
    import labserver
    from playwright.sync_api import sync_playwright
    from test_browser import ARGS, open_and_run_all
    if not Path(labserver.CHROMIUM).exists():
        if os.environ.get("ZGUIDE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (ZGUIDE_REQUIRE_BROWSER): apt-get install chromium")
        pytest.skip("no /usr/bin/chromium")
    nb = nbformat.read(ROOT / "notebooks" / "talk.ipynb", 4)
    first_panel = next(i for i, c in enumerate(nb.cells) if c.source.strip() == "panel")
    nb.cells = nb.cells[:first_panel + 1]           # the talk up to its first demo (Run All is quick)
    nbformat.write(nb, tmp_path / "talk.ipynb")
    shutil.copytree(ROOT / "notebooks" / "diagrams", tmp_path / "diagrams")
    with labserver.jupyterlab(tmp_path, startup=150) as url, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "chrome"), executable_path=labserver.CHROMIUM,
                                                   headless=True, args=ARGS, viewport={"width": 1280, "height": 720})
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            open_and_run_all(page, url, "talk.ipynb")
            page.locator('[data-command="deck:toggle"]').first.click()     # Start Deck: slide mode
            in_deck = "() => !!document.querySelector('.jp-deck-mod-stop') && !!document.querySelector('.jp-deck-mod-onscreen')"
            page.wait_for_function(in_deck, timeout=30000)
            for _ in range(60):                                           # on to the demo's panel
                if page.locator(".jupyter-widgets button", has_text="kill").first.is_visible():
                    break
                page.keyboard.press("ArrowRight")
                page.wait_for_timeout(150)
            rows = page.locator(".widget-hbox", has=page.locator("button", has_text="kill"))
            row = rows.first
            assert row.is_visible() and "running" in row.inner_text()
            name = row.inner_text().split()[0]
            row.locator("button", has_text="kill").click()
            page.wait_for_function("(n) => [...document.querySelectorAll('.widget-hbox')].some("
                                   "r => r.innerText.startsWith(n) && r.innerText.includes('killed'))",
                                   arg=name, timeout=20000)
            assert page.evaluate(in_deck)                                # still presenting
            page.screenshot(path=str(ROOT / "artifacts" / "talk-deck-demo-after-kill.png"))
        finally:
            ctx.close()
