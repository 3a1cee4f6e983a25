"""Child processes for the tests that run scripts and programs over tcp (test_examples, test_peers).

Each child's output (stdout and stderr) goes to a file that is read while it runs; every wait polls
that file with a bound and fails at once when the child ended without what was awaited.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0                  # bound for any one wait (a loaded 2-core machine is slow to start Pythons)


def _default_sigint() -> None:
    # a child of a shell's background job inherits SIGINT ignored; the scripts must see Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Proc:
    """One child process, its output in ``folder/name.out``."""

    def __init__(self, folder: Path, name: str, argv: list[str]):
        self.name, self.argv, self.out = name, argv, folder / f"{name}.out"
        with open(self.out, "w") as fh:
            self.proc = subprocess.Popen(argv, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, preexec_fn=_default_sigint,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def text(self) -> str:
        return self.out.read_text()

    def count(self, pattern: str) -> int:
        """How many lines match ``pattern`` (a regex)."""
        return len(re.findall(pattern, self.text(), re.M))

    def wait_until(self, what: str, predicate, timeout: float = TIMEOUT):
        """Poll ``predicate()`` until it returns something true, and return that."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = predicate()
            if found:
                return found
            if self.proc.poll() is not None:
                found = predicate()             # what it printed just before it exited counts
                if found:
                    return found
                raise AssertionError(f"{self.name} exited {self.proc.returncode} before {what}:\n{self.text()[-3000:]}")
            time.sleep(0.02)          # polling a file (a bounded wait), not synchronisation by sleep
        raise AssertionError(f"{self.name}: not {what} within {timeout} s:\n{self.text()[-3000:]}")

    def wait_for(self, needle: str, timeout: float = TIMEOUT) -> str:
        """Wait until ``needle`` (plain text) is in the output; the output."""
        return self.wait_until(repr(needle), lambda: needle in (text := self.text()) and text, timeout)

    def wait_line(self, pattern: str, n: int = 1, timeout: float = TIMEOUT) -> str:
        """Wait until ``n`` lines match ``pattern`` (a regex); the output."""
        return self.wait_until(f"{pattern!r} x{n}",
                               lambda: len(re.findall(pattern, text := self.text(), re.M)) >= n and text, timeout)

    def wait_exit(self, timeout: float = TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout} s:\n{self.text()[-3000:]}") from None

    def interrupt(self) -> int:
        """Ctrl-C: the program must exit, promptly; its status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait_exit(10)

    def terminate(self) -> int:
        """SIGTERM: a clean stop; its status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(10)

    def kill(self) -> None:
        """SIGKILL: a crash, the sockets vanish without a word."""
        self.proc.kill()
        self.proc.wait(10)


class Procs:
    """The children of one test, all killed and reaped when it ends (use it as a context manager)."""

    proc_class = Proc

    def __init__(self, folder: Path):
        self.folder, self.all = folder, []

    def start(self, name: str, argv: list[str]):
        proc = self.proc_class(self.folder, f"{len(self.all):02d}-{name}", argv)
        self.all.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.all:
            if proc.proc.poll() is None:
                proc.proc.kill()
                proc.proc.wait(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
