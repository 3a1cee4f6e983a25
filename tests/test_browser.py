"""A real browser: JupyterLab in headless Chromium runs a notebook, a panel button is clicked,
the live plot moves while the kernel is idle, and screenshots are kept in artifacts/."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
sys.path.insert(0, str(ROOT / "tools"))
import labserver  # noqa: E402

CHROMIUM = labserver.CHROMIUM
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE_JS = """() => {
  const sb = [...document.querySelectorAll('.jp-StatusBar-Widget')].map(e => e.innerText).join(' ');
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt')];
  return sb.includes('Idle') && prompts.length > 0 && !prompts.some(p => p.textContent.includes('*'));
}"""

# notebook -> a verdict line that must appear once it has run in the browser
BROWSER_NOTEBOOKS = {
    "00_basics.ipynb": "All 3 messages, queued before anybody had bound, arrived after the late bind.",
    "01_request_reply.ipynb": "All 60 requests were answered, in order.",
    "02_publish_subscribe.ipynb": "All 400 messages arrived, each publisher's in its own order.",
}

PANEL_NOTEBOOK = [
    "from zguide_py import Lab\nfrom zguide_py.patterns import reqrep\nlab = Lab('browser')\n"
    "ep = lab.endpoint('echo', 'tcp')\nlab.start('server', reqrep.echo_server, endpoint=ep)\n"
    "lab.start('client', reqrep.client, endpoint=ep, requests=10**6, timeout=30)\nlab.throttle('server', 0.002)",
    "from zguide_py.widgets import Panel\npanel = Panel(lab, counters=['replies'], hz=4)\npanel",
    "old = Lab('old-lab')\nold.start('ghost', reqrep.echo_server, endpoint=old.endpoint('ghost'))\n"
    "old_panel = Panel(old, hz=4)\nold_panel",
    "old.close()",
]


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("ZGUIDE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (ZGUIDE_REQUIRE_BROWSER): apt-get install chromium")
        pytest.skip("no /usr/bin/chromium: apt-get install chromium")
    work = tmp_path_factory.mktemp("notebooks")
    for name in BROWSER_NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, work / name)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in PANEL_NOTEBOOK]
    nbformat.write(nb, work / "panel.ipynb")
    try:
        with labserver.jupyterlab(work) as url:     # stops the server and its kernels, by pid
            yield url
    except labserver.LabDidNotStart as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def page(jupyter, tmp_path_factory):
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path_factory.mktemp("chrome")),
                                                   executable_path=CHROMIUM, headless=True, args=ARGS,
                                                   viewport={"width": 1400, "height": 1400})
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        yield page
        ctx.close()


def open_and_run_all(page, base: str, name: str) -> None:
    page.goto(f"{base}/lab/tree/{name}?reset", wait_until="domcontentloaded")
    page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length > 0", timeout=90000)
    page.wait_for_function(IDLE_JS, timeout=90000, polling=200)
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-content .lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_timeout(1000)
    page.wait_for_function(IDLE_JS, timeout=180000, polling=250)


@pytest.mark.parametrize("name", list(BROWSER_NOTEBOOKS))
def test_notebook_runs_in_jupyterlab_with_its_panel(jupyter, page, name):
    open_and_run_all(page, jupyter, name)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    tracebacks = page.locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
    assert tracebacks.count() == 0
    text = page.locator(".jp-Notebook").inner_text()
    assert BROWSER_NOTEBOOKS[name] in text
    # the panel rendered as real widgets: its kill buttons are in the page
    assert page.locator(".jupyter-widgets button", has_text="kill").count() >= 1
    page.screenshot(path=str(ARTIFACTS / f"browser-{name.removesuffix('.ipynb')}.png"))
    assert errors.count() == 0 or all("WARNING" in e for e in errors.all_inner_texts())


def test_a_real_click_kills_a_peer_and_the_plot_moves_while_idle(jupyter, page):
    open_and_run_all(page, jupyter, "panel.ipynb")
    rows = page.locator(".widget-hbox", has=page.locator("button", has_text="kill"))
    server_row = rows.filter(has_text="server").first
    server_row.wait_for(timeout=30000)
    assert "running" in server_row.inner_text()
    image = page.locator(".jupyter-widgets img").first
    first_src = image.get_attribute("src")
    # the kernel is idle now: the refresher alone must change the picture
    page.wait_for_function("(src) => { const i = document.querySelector('.jupyter-widgets img');"
                           " return i && i.getAttribute('src') !== src; }", arg=first_src, timeout=20000)
    server_row.locator("button", has_text="kill").click()
    page.wait_for_function("() => [...document.querySelectorAll('.widget-hbox')].some("
                           "r => r.innerText.includes('server') && r.innerText.includes('killed'))",
                           timeout=20000)
    assert "lab.kill('server')" in page.locator(".jp-Notebook").inner_text()
    page.screenshot(path=str(ARTIFACTS / "browser-panel-after-kill.png"))

    # the client's throttle slider: drag its handle with the mouse, then nudge it with the keyboard
    client_row = rows.filter(has_text="client").first
    handle = client_row.locator(".noUi-handle").first
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 60, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('.jp-Notebook').innerText.includes(\"lab.throttle('client'\")",
                           timeout=20000)
    dragged = float(client_row.locator(".widget-readout").first.inner_text())
    assert dragged > 0
    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("(v) => { const r = [...document.querySelectorAll('.widget-hbox')].find("
                           "r => r.innerText.includes('client') && r.querySelector('.widget-readout'));"
                           " return r && parseFloat(r.querySelector('.widget-readout').innerText) > v; }",
                           arg=dragged, timeout=20000)
    # the kernel applied it: the panel's message line echoes the lab call, with the new value
    page.wait_for_function("(v) => { const m = [...document.querySelector('.jp-Notebook').innerText.matchAll("
                           "/lab\\.throttle\\('client', ([0-9.e-]+)\\)/g)]; return m.length > 0 &&"
                           " parseFloat(m[m.length - 1][1]) > v; }", arg=dragged, timeout=20000)
    page.screenshot(path=str(ARTIFACTS / "browser-panel-after-throttle.png"))


def test_after_run_all_the_final_panel_is_live_and_a_closed_one_refuses(jupyter, page):
    """The learner's loop: after Run All of a lesson, its last panel (the playground) is alive; a kill
    click kills the peer and the plot goes on moving. A panel whose lab has closed says so and its
    buttons cannot be clicked."""
    open_and_run_all(page, jupyter, "01_request_reply.ipynb")
    # the last output may be drawn a moment after the kernel went idle
    page.wait_for_function("() => document.querySelector('.jp-Notebook').innerText.includes("
                           "\"labs still open: ['reqrep-play']\")", timeout=20000)
    rows = page.locator(".widget-hbox", has=page.locator("button", has_text="kill"))
    server_row = rows.filter(has_text="server").last
    server_row.scroll_into_view_if_needed()
    assert "running" in server_row.inner_text() and server_row.locator("button", has_text="kill").is_enabled()
    src = page.locator(".jupyter-widgets img").last.get_attribute("src")
    server_row.locator("button", has_text="kill").click()
    page.wait_for_function("() => { const r = [...document.querySelectorAll('.widget-hbox')].filter("
                           "r => r.innerText.includes('server') && r.querySelector('button'));"
                           " return r.length && r[r.length - 1].innerText.includes('killed'); }", timeout=20000)
    page.wait_for_function("(src) => { const i = [...document.querySelectorAll('.jupyter-widgets img')];"
                           " return i.length && i[i.length - 1].getAttribute('src') !== src; }", arg=src, timeout=20000)
    assert "lab.kill('server')" in page.locator(".jp-Notebook").inner_text()
    page.screenshot(path=str(ARTIFACTS / "browser-01-playground-after-kill.png"))

    open_and_run_all(page, jupyter, "panel.ipynb")
    ghost = rows.filter(has_text="ghost").first
    ghost.wait_for(timeout=30000)
    page.wait_for_function("() => [...document.querySelectorAll('.jupyter-widgets h4')].some("
                           "h => h.innerText.includes('lab closed'))", timeout=20000)
    assert ghost.locator("button", has_text="kill").is_disabled()
    assert "lab closed" in ghost.inner_text()
    assert "is closed" in page.locator(".jp-Notebook").inner_text()
