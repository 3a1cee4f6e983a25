"""The Pirate roles as their own processes over tcp (``python -m zguide_py run ...``), with a
Lazy Pirate client in a lab in front of them. Every process is stopped in a ``finally``."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from zguide_py import Lab
from zguide_py.patterns import lazypirate as lp

ROOT = Path(__file__).resolve().parent.parent


class Processes:
    """Role processes started with the CLI; output kept in temporary files for the asserts."""

    def __init__(self):
        self.procs: dict[str, tuple[subprocess.Popen, Path]] = {}
        self.dir = tempfile.mkdtemp(prefix="zguide-pirates-cli-")

    def start(self, name: str, pattern: str, role: str, **params: str) -> None:
        out = Path(self.dir) / f"{name}.out"
        args = [sys.executable, "-m", "zguide_py", "run", pattern, role,
                *(f"{k}={v}" for k, v in params.items()), "--name", name, "--every", "0.2"]
        with open(out, "w") as fh:
            proc = subprocess.Popen(args, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.procs[name] = (proc, out)

    def wait_up(self, lab: Lab, *names: str) -> None:
        """Wait until each process has printed its first status line: its role is running."""
        def up() -> bool:
            self.check()
            return all(f"] {n} running" in self.procs[n][1].read_text() for n in names)
        lab.wait_for(up, 20, f"processes {', '.join(names)} to start")

    def counter(self, name: str, counter: str) -> int:
        """The latest printed value of one counter of a process (they print every 0.2 s)."""
        self.check()
        text = self.procs[name][1].read_text()
        lines = [line for line in text.splitlines() if f"] {name} " in line and ":" in line]
        return final_counts(lines[-1].split("] ", 1)[1], name).get(counter, 0) if lines else 0

    def kill(self, name: str) -> None:
        """SIGKILL: the process dies as in a crash, its sockets vanish without a word."""
        proc, _ = self.procs[name]
        proc.kill()
        proc.wait(5)

    def stop(self, name: str) -> str:
        """Ctrl-C: the CLI stops the role, prints its final counters and exits. Returns its output."""
        proc, out = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        return out.read_text()

    def check(self) -> None:
        """Fail at once, with its output, if a process that should run has exited."""
        for name, (proc, out) in self.procs.items():
            if proc.poll() is not None and proc.returncode not in (0, -signal.SIGKILL):
                raise AssertionError(f"process {name} exited with {proc.returncode}:\n{out.read_text()}")

    def close(self) -> None:
        for proc, _ in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def final_counts(output: str, name: str) -> dict[str, int]:
    """The counters from the CLI's last line for ``name``: 'worker1 killed: served=10, ...'."""
    lines = [line for line in output.splitlines() if line.startswith(f"{name} ")]
    assert lines, output
    counts = lines[-1].split(":", 1)[1]
    return {k.strip(): int(v) for k, v in (item.split("=") for item in counts.split(",") if "=" in item)}


def run_clients(lab: Lab, procs: Processes, endpoint: str, names=("client1", "client2"),
                requests=25) -> None:
    # generous tries: a process needs a moment to start (imports) before it binds
    for name in names:
        lab.start(name, lp.client, endpoint=endpoint, requests=requests, timeout=0.5, retries=20)
    lab.wait_for(lambda: procs.check() or not any(lab.peer(n).alive for n in names), 30, "clients done")
    tally = lp.tally(lab, names)
    assert tally.ok and tally.answered == requests * len(names) and tally.mismatched == 0, tally


@pytest.mark.timeout(60)
def test_lazy_pirate_server_as_a_process():
    procs = Processes()
    try:
        with Lab("cli-test-lazypirate") as lab:
            endpoint = lab.endpoint("server", "tcp")
            procs.start("server", "lazypirate", "server", endpoint=endpoint)
            procs.wait_up(lab, "server")
            run_clients(lab, procs, endpoint)
            # crash the server process, start a new one: the Lazy Pirate client carries on
            procs.kill("server")
            procs.start("server2", "lazypirate", "server", endpoint=endpoint)
            procs.wait_up(lab, "server2")
            run_clients(lab, procs, endpoint, names=("client3",), requests=10)
        assert final_counts(procs.stop("server2"), "server2")["replies"] >= 10
    finally:
        procs.close()


@pytest.mark.timeout(60)
def test_simple_pirate_queue_and_workers_as_processes():
    procs = Processes()
    try:
        with Lab("cli-test-simplepirate") as lab:
            frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
            procs.start("queue", "simplepirate", "queue", frontend=frontend, backend=backend)
            procs.start("worker1", "simplepirate", "worker", endpoint=backend)
            procs.start("worker2", "simplepirate", "worker", endpoint=backend)
            procs.wait_up(lab, "queue", "worker1", "worker2")
            run_clients(lab, procs, frontend)
        served = [final_counts(procs.stop(w), w).get("served", 0) for w in ("worker1", "worker2")]
        assert sum(served) >= 50
        assert final_counts(procs.stop("queue"), "queue")["replies"] >= 50
    finally:
        procs.close()


@pytest.mark.timeout(60)
def test_paranoid_pirate_queue_and_workers_as_processes():
    procs = Processes()
    try:
        with Lab("cli-test-paranoidpirate") as lab:
            frontend, backend = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
            procs.start("queue", "paranoidpirate", "queue", frontend=frontend, backend=backend)
            procs.start("worker1", "paranoidpirate", "worker", endpoint=backend)
            procs.start("worker2", "paranoidpirate", "worker", endpoint=backend)
            procs.wait_up(lab, "queue", "worker1", "worker2")
            lab.wait_for(lambda: procs.counter("queue", "ready") >= 2, 10, "both workers READY at the queue")
            run_clients(lab, procs, frontend)
            # a worker process crashes: the queue purges it and the other worker takes all requests
            purged = procs.counter("queue", "purged")
            procs.kill("worker1")
            run_clients(lab, procs, frontend, names=("client3",), requests=20)
            lab.wait_for(lambda: procs.counter("queue", "purged") > purged, 10, "the queue to purge worker1")
        assert final_counts(procs.stop("worker2"), "worker2")["served"] >= 20
        queue = final_counts(procs.stop("queue"), "queue")
        assert queue["purged"] > purged and queue["replies"] >= 70 and queue["heartbeats_in"] > 0
    finally:
        procs.close()
