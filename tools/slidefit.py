#!/usr/bin/env python3
"""Does every slide fit the screen? Opens reveal.js decks in headless Chromium at 1280x720 and
measures each slide at Reveal's configured size: a slide whose content is taller than the slide
would have its bottom cut off when presented.

usage: python tools/slidefit.py [build/slides/*.slides.html ...]   (default: every deck in build/slides)

Prints one line per deck (slides, and those that do not fit, with their first words) and exits 1
if any slide is too tall. tests/test_browser.py runs the same measurement on every deck.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import labserver  # noqa: E402

VIEWPORT = {"width": 1280, "height": 720}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

# For each slide (each section Reveal counts as one), shown in turn: how tall its content is, in
# the slide's own pixels (Reveal scales the whole slide to the window, so this does not depend on
# the window), against the configured height. Boxes that scroll (long listings) count at the height
# they are shown at, which is what scrollHeight measures.
MEASURE_JS = """() => {
  const height = Reveal.getConfig().height;
  const out = [];
  for (const s of Reveal.getSlides()) {
    // Reveal hides the slides far from the current one, and their stacks: show one at a time
    const hidden = [];
    for (let e = s; e && e.matches && e.matches('section'); e = e.parentNode) {
      hidden.push([e, e.style.display]);
      e.style.display = 'block';
    }
    const idx = Reveal.getIndices(s);
    const tall = Math.max(s.scrollHeight, ...[...s.children].map(c => c.offsetTop + c.offsetHeight));
    out.push({h: idx.h, v: idx.v || 0, tall: tall, text: s.innerText.trim().slice(0, 60).replace(/\\s+/g, ' ')});
    for (const [e, display] of hidden) e.style.display = display;
  }
  return {height: height, slides: out};
}"""


def measure(decks: list[Path], page) -> dict[str, dict]:
    """{deck name: {"height": configured, "slides": [...], "over": [...]}} for each deck."""
    results = {}
    for deck in decks:
        page.goto(deck.resolve().as_uri(), wait_until="load")
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=30000)
        got = page.evaluate(MEASURE_JS)
        got["over"] = [s for s in got["slides"] if s["tall"] > got["height"]]
        results[deck.name] = got
    return results


def open_page(playwright, profile: str):
    ctx = playwright.chromium.launch_persistent_context(profile, executable_path=labserver.CHROMIUM,
                                                        headless=True, args=ARGS, viewport=VIEWPORT)
    return ctx, (ctx.pages[0] if ctx.pages else ctx.new_page())


def main(argv: list[str]) -> int:
    import tempfile

    from playwright.sync_api import sync_playwright
    decks = [Path(a) for a in argv] or sorted((ROOT / "build" / "slides").glob("*.slides.html"))
    if not decks:
        print("slidefit: no decks: run make slides first", file=sys.stderr)
        return 2
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx, page = open_page(p, profile)
        try:
            results = measure(decks, page)
        finally:
            ctx.close()
    bad = 0
    for name, got in results.items():
        over = got["over"]
        bad += len(over)
        print(f"{name}: {len(got['slides'])} slides, {len(over)} taller than {got['height']} px"
              + "".join(f"\n    {s['h']}.{s['v']}: {s['tall']} px  {s['text']!r}" for s in over[:10]))
    print(f"slidefit: {bad} slides of {sum(len(g['slides']) for g in results.values())} do not fit")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
