"""Publishing for readers without a kernel: `make slides` and `make html` write pages that open in
headless Chromium (offline), with screenshots kept in artifacts/."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
sys.path.insert(0, str(ROOT / "tools"))

import publish  # noqa: E402


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
        page.screenshot(path=str(ARTIFACTS / f"slides-{page_path.name[:2]}.png"))
        assert not only_cdn(errors), errors
        page.close()


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
    # an undrawn diagram (no CDN here) shows its source rather than vanishing
    page.wait_for_function("() => document.querySelectorAll('.jp-Mermaid.zg-undrawn, .jp-RenderedMermaid').length > 0",
                           timeout=15000)
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
        assert types.count("slide") >= 4, f"{path.name}: too few slides"
