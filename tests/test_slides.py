"""Slides that fit: every deck of ``make slides`` (and the talk's deck) is opened in headless
Chromium at 1280x720 and no slide may be taller than Reveal's configured slide height, where its
bottom would be cut off when presented (tools/slidefit.py measures; long listings scroll in a box
of their own, and a slide with more than fits is split into sub-slides)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import publish  # noqa: E402
import slidefit  # noqa: E402


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    if not Path(slidefit.labserver.CHROMIUM).exists():
        if os.environ.get("ZGUIDE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (ZGUIDE_REQUIRE_BROWSER): apt-get install chromium")
        pytest.skip("no /usr/bin/chromium: apt-get install chromium")
    out = tmp_path_factory.mktemp("slides")
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    return publish.build_slides(notebooks, out)


def test_every_slide_of_every_deck_fits_the_slide_height(decks, tmp_path):
    from playwright.sync_api import sync_playwright
    names = {d.name for d in decks}
    assert "00_basics.slides.html" in names and "talk.slides.html" in names
    with sync_playwright() as p:
        ctx, page = slidefit.open_page(p, str(tmp_path / "chrome"))
        try:
            results = slidefit.measure(decks, page)
        finally:
            ctx.close()
    assert all(len(r["slides"]) >= 2 for r in results.values()), {n: len(r["slides"]) for n, r in results.items()}
    over = {name: [(s["h"], s["v"], s["tall"], s["text"]) for s in r["over"]] for name, r in results.items() if r["over"]}
    assert not over, f"slides taller than {results['00_basics.slides.html']['height']} px: {over}"


def test_the_measure_sees_a_slide_that_is_too_tall(tmp_path):
    """The check itself can fail: a deck with one slide of 60 paragraphs is caught (fitting is off)."""
    from playwright.sync_api import sync_playwright
    deck = tmp_path / "tall.slides.html"
    reveal = publish.reveal_assets() / "dist"
    deck.write_text("<html><head><link rel='stylesheet' href='" + (reveal / "reveal.css").as_uri() + "'></head><body>"
                    "<div class='reveal'><div class='slides'><section><p>short</p></section><section>"
                    + "<p>line</p>" * 60 + "</section></div></div><script src='" + (reveal / "reveal.js").as_uri()
                    + "'></script><script>Reveal.initialize({width: 1100, height: 800})</script></body></html>")
    with sync_playwright() as p:
        ctx, page = slidefit.open_page(p, str(tmp_path / "chrome"))
        try:
            got = slidefit.measure([deck], page)["tall.slides.html"]
        finally:
            ctx.close()
    assert [s["h"] for s in got["over"]] == [1] and got["slides"][0]["tall"] <= 800


def test_the_static_talk_deck_navigates(decks, tmp_path):
    """The talk offline: the arrow keys move through its parts and into a part's sub-slides, and
    its speaker notes are in the deck."""
    from playwright.sync_api import sync_playwright
    deck = next(d for d in decks if d.name == "talk.slides.html")
    assert "<aside class=\"notes\">" in deck.read_text()
    with sync_playwright() as p:
        ctx, page = slidefit.open_page(p, str(tmp_path / "chrome"))
        try:
            page.goto(deck.resolve().as_uri(), wait_until="load")
            page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30000)
            assert page.evaluate("() => Reveal.getIndices()") == {"h": 0, "v": 0, "f": None} or \
                page.evaluate("() => Reveal.getIndices().h") == 0
            page.keyboard.press("ArrowRight")
            page.wait_for_function("() => Reveal.getIndices().h === 1", timeout=5000)
            assert "why zeromq" in page.evaluate("() => Reveal.getCurrentSlide().innerText").lower()
            page.keyboard.press("ArrowDown")
            page.wait_for_function("() => Reveal.getIndices().v === 1", timeout=5000)
            assert "00 · basics" in page.evaluate("() => Reveal.getCurrentSlide().innerText").lower()
            total = page.evaluate("() => Reveal.getTotalSlides()")
            assert total >= 40
        finally:
            ctx.close()
