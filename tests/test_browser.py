"""A real browser: JupyterLab in headless Chromium runs a notebook, a panel button is clicked,
the live plot moves while the kernel is idle, and screenshots are kept in artifacts/."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE_JS = """() => {
  const sb = [...document.querySelectorAll('.jp-StatusBar-Widget')].map(e => e.innerText).join(' ');
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt')];
  return sb.includes('Idle') && prompts.length > 0 && !prompts.some(p => p.textContent.includes('*'));
}"""

# notebook -> a verdict line that must appear once it has run in the browser
BROWSER_NOTEBOOKS = {
    "00_basics.ipynb": "all 3 queued messages delivered after the late bind: True",
    "01_request_reply.ipynb": "all 60 requests answered, in order: True",
    "02_publish_subscribe.ipynb": "all 400 messages arrived, each publisher's in its own order: True",
}

PANEL_NOTEBOOK = [
    "from zguide_py import Lab\nfrom zguide_py.patterns import reqrep\nlab = Lab('browser')\n"
    "ep = lab.endpoint('echo', 'tcp')\nlab.start('server', reqrep.echo_server, endpoint=ep)\n"
    "lab.start('client', reqrep.client, endpoint=ep, requests=10**6, timeout=30)\nlab.throttle('server', 0.002)",
    "panel = lab.panel(counters=['replies'], hz=4)\npanel",
]


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (read from /proc: children, grandchildren...)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        todo += kids
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("ZGUIDE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (ZGUIDE_REQUIRE_BROWSER): apt-get install chromium")
        pytest.skip("no /usr/bin/chromium: apt-get install chromium")
    home = tmp_path_factory.mktemp("jupyter")
    work = home / "notebooks"
    work.mkdir()
    for name in BROWSER_NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, work / name)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in PANEL_NOTEBOOK]
    nbformat.write(nb, work / "panel.ipynb")
    settings = home / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # JupyterLab 4 detaches off-screen cells; without windowing every cell stays in the page
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "ws"), JUPYTER_RUNTIME_DIR=str(home / "rt"))
    port = free_port()
    log = open(home / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         f"--config={ROOT / 'tools' / 'jupyter_lab_config.py'}", "--ServerApp.token=",
         "--ServerApp.password=", f"--ServerApp.root_dir={work}"],
        env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.25)
    yield f"http://127.0.0.1:{port}"
    started = descendants(server.pid)          # the kernels it started
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)
    for pid in started:                        # stop every process we started, by its pid
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    log.close()


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
