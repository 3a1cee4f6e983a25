"""The native C baseline: ``tools/perf_c/zperf.c``, built with the system ``cc`` against the system
libzmq into ``build/perf_c/``. It runs the same four loops as :mod:`zguide_py.perf.loops`, in two
processes (two threads of one process for inproc), so every Python row has a C row beside it.
:class:`CBench` measures a point with it exactly as :class:`~zguide_py.perf.bench.Bench` does in Python.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import threading
import time
from pathlib import Path

from .. import procs
from .bench import PointBench
from .common import ROOT, hwm_for, human_size

C_SOURCE = ROOT / "tools" / "perf_c" / "zperf.c"
C_BUILD_DIR = ROOT / "build" / "perf_c"


class CBaselineUnavailable(RuntimeError):
    """No C compiler, no zmq.h, or no C source: the benchmark runs without the C rows."""


def build_c_baseline(force: bool = False, build_dir: Path | None = None) -> Path:
    """Compile ``tools/perf_c/zperf.c`` into ``build/perf_c/zperf`` (again when the source is newer)."""
    build_dir = Path(build_dir or C_BUILD_DIR)
    exe = build_dir / "zperf"
    if not C_SOURCE.exists():
        raise CBaselineUnavailable(f"the C baseline's source is not here ({C_SOURCE}): "
                                   "run from a checkout of the project")
    if not force and exe.exists() and exe.stat().st_mtime >= C_SOURCE.stat().st_mtime:
        return exe
    cc = os.environ.get("CC", "cc")
    if not shutil.which(cc):
        raise CBaselineUnavailable(f"no C compiler ({cc!r} is not on PATH): install gcc or clang "
                                   "to get the C baseline")
    flags = ["-lzmq"]
    if shutil.which("pkg-config"):
        pc = subprocess.run(["pkg-config", "--cflags", "--libs", "libzmq"], capture_output=True, text=True)
        if pc.returncode == 0 and pc.stdout.strip():
            flags = pc.stdout.split()
    build_dir.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(f".zperf.{os.getpid()}.{threading.get_ident()}")
    done = subprocess.run([cc, "-O2", "-o", str(tmp), str(C_SOURCE), *flags, "-lpthread"],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        err = done.stderr.strip()
        if "zmq.h" in err:
            raise CBaselineUnavailable("libzmq's C headers (zmq.h) are missing: on Debian or Ubuntu, "
                                       "apt-get install libzmq3-dev")
        if "lzmq" in err:
            raise CBaselineUnavailable("the libzmq library to link with is missing: on Debian or Ubuntu, "
                                       "apt-get install libzmq3-dev")
        raise CBaselineUnavailable(f"{cc} could not build the C baseline: {err[-500:]}")
    os.replace(tmp, exe)
    return exe


def c_baseline_status(build_dir: Path | None = None) -> tuple[Path | None, str]:
    """``(path to zperf, "")`` when the C baseline builds, else ``(None, the reason)``."""
    try:
        exe = build_c_baseline(build_dir=build_dir)
        ran = subprocess.run([str(exe), "version"], capture_output=True, text=True, timeout=10)
    except CBaselineUnavailable as exc:
        return None, str(exc)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"the C baseline could not be built: {exc}"
    if ran.returncode != 0:
        return None, f"the C baseline was built but does not run: {ran.stderr.strip()[-300:]}"
    return exe, ""


def c_version(exe: Path) -> str:
    """The libzmq version zperf was built against ("4.3.4")."""
    return subprocess.run([str(exe), "version"], capture_output=True, text=True, timeout=10).stdout.strip()


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    """One line from an unbuffered stdout pipe, or TimeoutError/RuntimeError."""
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"zperf did not announce its endpoint within {timeout:.0f} s")
        ready, _, _ = select.select([fd], [], [], min(left, 0.1))
        if ready:
            chunk = os.read(fd, 1)
            if not chunk:
                proc.wait(5)
                raise RuntimeError(f"zperf exited with status {proc.returncode} before binding: "
                                   f"{proc.stderr.read().decode(errors='replace').strip()}")
            line += chunk
    return line.decode().strip()


class CBench(PointBench):
    """C (``zperf``): two processes for ipc and tcp, two threads of one process for inproc.
    ``with CBench("tcp") as c: c.throughput(4096, zero_copy=True)``."""

    def __init__(self, transport: str, exe: Path | None = None):
        super().__init__(transport)
        self.processes = transport != "inproc"
        self.exe = str(exe or build_c_baseline())
        self.version = c_version(Path(self.exe))

    def _spawn(self, *args) -> subprocess.Popen:
        # stdin is a pipe: the far side (thr-send, lat-echo) keeps its socket open until it closes
        return procs.spawn([self.exe, *map(str, args)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, bufsize=0)

    def run(self, kind: str, size: int, count: int, zero_copy: bool) -> dict:
        mode = "zerocopy" if zero_copy else "copy"
        tail = [size, count, mode] + ([hwm_for(size)] if kind == "thr" else [])
        limit = 30 + count * (size / 50e6 + 1e-4)           # generous: a stuck run ends here
        started: list[subprocess.Popen] = []
        try:
            if self.transport == "inproc":
                measurer = self._spawn(f"inproc-{kind}", *tail)
                started.append(measurer)
            else:
                binder = self._spawn("thr-recv" if kind == "thr" else "lat-echo", self.new_endpoint(), *tail)
                started.append(binder)
                endpoint = _read_line(binder, 10).split(" ", 1)[1]
                other = self._spawn("thr-send" if kind == "thr" else "lat-ping", endpoint, *tail)
                started.append(other)
                measurer = binder if kind == "thr" else other
            outputs = {measurer: measurer.communicate(timeout=limit)}
            for proc in started:                # the result is in: the far side may close now
                if proc is not measurer:
                    outputs[proc] = proc.communicate(timeout=limit)
            for proc, (_, err) in outputs.items():
                if proc.returncode != 0:
                    raise RuntimeError(f"zperf {' '.join(map(str, proc.args[1:2]))} failed (status "
                                       f"{proc.returncode}): {err.decode(errors='replace').strip()}")
            result = json.loads(outputs[measurer][0].decode().strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"zperf {kind} {self.transport} {human_size(size)} took over {limit:.0f} s") from None
        finally:
            for proc in started:                # whatever happened: no zperf is left behind
                procs.reap(proc)
        return {"msgs_per_s": result["msgs_per_s"]} if kind == "thr" else {"latency_us": result["latency_us"]}
