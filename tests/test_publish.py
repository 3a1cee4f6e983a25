"""Publishing for readers without a kernel: `make slides` and `make html` write pages that open in
headless Chromium (offline), with screenshots kept in artifacts/."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
sys.path.insert(0, str(ROOT / "tools"))

import diagrams  # noqa: E402
import publish  # noqa: E402

DRAWN_JS = """() => { const imgs = [...document.querySelectorAll('.zguide-diagram img')];
  return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 100); }"""


def publish_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "publish.py"), *args],
                          capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("ZGUIDE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (ZGUIDE_REQUIRE_BROWSER): apt-get install chromium")
        pytest.skip("no /usr/bin/chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    # the only thing allowed to fail is a CDN fetch (Mermaid, the widget renderer): we are offline
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("http*://**", lambda route: route.abort())        # offline, for certain
    page.goto(url, wait_until="load")
    return page, errors


def only_cdn(errors: list[str]) -> list[str]:
    return [e for e in errors if "https://" not in e and "Failed to fetch" not in e]


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_slides_open_offline_and_step_through(browser, tmp_path):
    notebooks = [ROOT / "notebooks" / f"{n}.ipynb" for n in ("00_basics", "01_request_reply", "02_publish_subscribe")]
    written = publish.build_slides(notebooks, tmp_path)
    assert [p.name for p in written] == [f"{n.stem}.slides.html" for n in notebooks]
    assert (tmp_path / "reveal.js" / "dist" / "reveal.js").exists()
    index = (tmp_path / "index.html").read_text()
    assert all(p.name in index for p in written)
    for page_path in written:
        page, errors = open_page(browser, page_path.as_uri())
        page.wait_for_function("() => typeof Reveal !== 'undefined' && Reveal.isReady()", timeout=20000)
        total = page.evaluate("() => Reveal.getTotalSlides()")
        assert total >= 8, f"{page_path.name}: only {total} slides"
        title = page.locator(".reveal .slides section").first.locator("h1").first.inner_text()
        assert title.startswith(page_path.name[:2]), title
        page.keyboard.press("ArrowRight")
        page.wait_for_function("() => Reveal.getIndices().h === 1", timeout=5000)
        page.keyboard.press("ArrowRight")
        # the socket diagram is the SVG drawn beforehand, decoded here with no network at all
        page.wait_for_function(DRAWN_JS, timeout=10000)
        assert page.locator(".zg-undrawn").count() == 0
        page.screenshot(path=str(ARTIFACTS / f"slides-{page_path.name[:2]}.png"))
        assert not only_cdn(errors), errors
        page.close()


@pytest.mark.browser
@pytest.mark.timeout(120)
def test_a_diagram_not_drawn_yet_shows_its_source_offline(browser, tmp_path):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · a new diagram\n\n```mermaid\nflowchart LR\n"
                                              "    NEW[\"not drawn yet\"] --> OLD[\"server\"]\n```")]
    nb.cells[0].metadata["slideshow"] = {"slide_type": "slide"}
    path = tmp_path / "99_new.ipynb"
    nbformat.write(nb, path)
    assert not diagrams.svg_path("flowchart LR\n    NEW[\"not drawn yet\"] --> OLD[\"server\"]").exists()
    (written,) = publish.build_slides([path], tmp_path / "out")
    page, errors = open_page(browser, written.as_uri())
    page.wait_for_function("() => document.querySelectorAll('.zg-undrawn').length > 0", timeout=15000)
    assert "not drawn yet" in page.locator(".zg-undrawn").first.inner_text()
    assert not only_cdn(errors), errors
    page.close()


def test_every_diagram_has_its_drawn_svg_and_no_svg_is_stale():
    """tools/diagrams.py draws each Mermaid block once; like the notebooks and their sources, the
    SVGs must follow the diagrams' text (run `python tools/diagrams.py` after editing one)."""
    missing, stale = diagrams.check()
    assert not missing and not stale, (missing, stale)
    wanted = diagrams.all_diagrams()
    assert len(wanted) >= 19                       # one or more per notebook
    for text in wanted.values():
        svg = diagrams.svg_path(text).read_text()
        assert "<svg" in svg and "</svg>" in svg
        labels = [w.split("<br")[0] for w in re.findall(r'\["([^"<]+)', text)]
        assert all(label.strip() in svg for label in labels[:2]), labels   # drawn from this very text


@pytest.mark.browser
@pytest.mark.timeout(240)
def test_html_site_runs_the_notebook_and_keeps_its_figures_and_widget_state(browser, tmp_path):
    written = publish.build_html([ROOT / "notebooks" / "src" / "00_basics.py"], tmp_path, execute=True)
    text = written[0].read_text()
    assert "application/vnd.jupyter.widget-state+json" in text, "the widget state was not saved"
    page, errors = open_page(browser, written[0].as_uri())
    assert page.locator("h1").first.inner_text().startswith("00")
    assert page.locator(".jp-OutputArea-output img").count() >= 1          # the figures
    assert page.locator(".jp-InputPrompt", has_text="In [1]").count() == 1    # it was run, in order
    assert page.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0
    page.wait_for_function(DRAWN_JS, timeout=15000)            # the diagram, drawn, offline
    assert page.locator(".zg-undrawn").count() == 0
    page.screenshot(path=str(ARTIFACTS / "html-00.png"), full_page=False)
    assert not only_cdn(errors), errors
    assert "00_basics.html" in (tmp_path / "index.html").read_text()


def test_publish_refuses_what_is_not_a_notebook(tmp_path):
    bad = publish_cli("slides", "--out", str(tmp_path), "README.md")
    assert bad.returncode == 2 and "not a notebook: README.md" in bad.stderr
    bad = publish_cli("html", "--out", str(tmp_path), "notebooks/00_basics.ipynb")
    assert bad.returncode == 2 and "not a notebook source" in bad.stderr


def test_every_cell_has_a_slide_type():
    import nbformat
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, 4)
        types = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
        assert None not in types, f"{path.name}: a cell has no slide metadata (rebuild it with tools/nbbuild.py)"
        assert types[0] == "slide"
        if path.stem[:2].isdigit():                           # a lesson (the glossary is one page)
            assert types.count("slide") >= 4, f"{path.name}: too few slides"
