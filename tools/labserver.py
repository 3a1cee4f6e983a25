"""A throwaway JupyterLab for a headless browser: the browser test and tools/diagrams.py use it.

``with jupyterlab(folder) as url:`` starts JupyterLab on 127.0.0.1 (a free port, no token, the
project's no-news configuration, settings in a temporary folder with ``windowingMode`` set to
``none`` so that every cell stays in the page), serves ``folder``, and on the way out stops it and
every process it started (its kernels), by their pids.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from zguide_py.lab import free_tcp_port

TOOLS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"


class LabDidNotStart(RuntimeError):
    pass


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


@contextmanager
def jupyterlab(root: Path, startup: float = 60.0) -> Iterator[str]:
    """JupyterLab serving ``root``; yields its base URL, ``http://127.0.0.1:PORT``."""
    with tempfile.TemporaryDirectory(prefix="zguide-lab-") as tmp:
        home = Path(tmp)
        settings = home / "settings" / "@jupyterlab" / "notebook-extension"
        settings.mkdir(parents=True)
        # JupyterLab 4 detaches off-screen cells; without windowing every cell stays in the page
        (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
        env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(home / "ws"), JUPYTER_RUNTIME_DIR=str(home / "rt"))
        port = free_tcp_port()          # the lab's own picker: below the ephemeral range
        with open(home / "server.log", "w") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
                 f"--config={TOOLS / 'jupyter_lab_config.py'}", "--ServerApp.token=",
                 "--ServerApp.password=", f"--ServerApp.root_dir={root}"],
                env=env, stdout=subprocess.DEVNULL, stderr=log)
            try:
                deadline = time.monotonic() + startup
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                        break
                    except OSError:
                        if server.poll() is not None or time.monotonic() > deadline:
                            raise LabDidNotStart("JupyterLab did not start:\n"
                                                 + (home / "server.log").read_text()[-2000:]) from None
                        time.sleep(0.25)    # a server that is starting: nothing to wait on but its port
                yield f"http://127.0.0.1:{port}"
            finally:
                started = descendants(server.pid)          # the kernels it started
                server.terminate()
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait(5)
                for pid in started:                        # stop every process it started, by its pid
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
