"""The measuring code: it measures what it says, cleans up after itself, and refuses nonsense.
Speed is not tested here: the targets live in `make bench`."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from zguide_py import perf
from zguide_py.__main__ import main as cli_main

ROOT = Path(__file__).resolve().parent.parent


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (no such process, or only a zombie left for init)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _children() -> set[int]:
    """Live child processes of this test process."""
    me, kids = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] not in ("Z", "X"):
                kids.add(int(entry.name))
    return kids


@pytest.fixture
def no_leaked_children():
    """Fails the test if it leaves a child process of its own behind (other tests' are ignored)."""
    before = _children()
    yield
    assert _wait(lambda: not (_children() - before), 3), f"left behind: {_children() - before}"


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


# ---- measurements -----------------------------------------------------------------------------
@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["inproc", "ipc", "tcp"])
@pytest.mark.parametrize("zero_copy", [False, True])
def test_throughput_and_latency_measure_every_transport(transport, zero_copy):
    thr = perf.throughput(transport, 64, count=2000, zero_copy=zero_copy)
    assert thr["count"] == 2000 and thr["msgs_per_s"] > 0
    assert thr["mbit_per_s"] == pytest.approx(thr["msgs_per_s"] * 64 * 8 / 1e6)
    assert thr["mode"] == ("zero-copy" if zero_copy else "copy")
    assert thr["processes"] is (transport != "inproc")
    lat = perf.latency(transport, 64, roundtrips=200, zero_copy=zero_copy)
    assert lat["roundtrips"] == 200 and lat["latency_us"] > 0


@pytest.mark.timeout(60)
def test_calibrated_counts_stay_bounded_in_time():
    with perf.Bench("tcp") as bench:
        started = time.monotonic()
        small = bench.throughput(1, seconds=0.05)
        big = bench.throughput(8 << 20, zero_copy=True, seconds=0.05)
        lat = bench.latency(2 << 20, seconds=0.05)
        took = time.monotonic() - started
    assert small["count"] > big["count"] >= perf.MIN_THR and lat["roundtrips"] >= perf.MIN_LAT
    assert took < 30                       # three ~0.05 s points, with a wide margin for a busy machine


@pytest.mark.timeout(60)
def test_a_burst_bigger_than_the_queues_arrives_whole_over_ipc_every_time():
    # regression: the far side closing its PUSH right after sending lost queued messages over ipc
    with perf.Bench("ipc") as bench:
        for _ in range(5):
            assert bench.throughput(1, count=50_000)["count"] == 50_000


# ---- the two-process path -----------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_ipc_and_tcp_really_run_the_far_side_in_a_child_process_which_is_gone_afterwards(no_leaked_children):
    for transport in ("ipc", "tcp"):
        with perf.Bench(transport) as bench:
            pid = bench.peer.pid
            assert pid != os.getpid() and pid in _children()
            result = bench.throughput(512, count=5000)
            assert result["processes"] and result["count"] == 5000
            assert bench.latency(512, count=50)["roundtrips"] == 50
            assert bench.peer.alive
        assert bench.peer.proc.returncode is not None and _gone(pid)


@pytest.mark.timeout(60)
def test_a_dead_child_is_reported_not_waited_for(no_leaked_children):
    bench = perf.Bench("tcp")
    try:
        os.kill(bench.peer.pid, signal.SIGKILL)
        assert _wait(lambda: not bench.peer.alive, 5)
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="exited with status"):
            bench.throughput(64, count=1000)
        assert time.monotonic() - started < 5
    finally:
        bench.close()


@pytest.mark.timeout(60)
def test_a_busy_child_is_killed_and_reaped_on_close(no_leaked_children):
    bench = perf.Bench("tcp")
    pid = bench.peer.pid
    # an echo that nobody pings: the child sits in recv (its own 10 s timeout) and cannot hear "quit"
    bench.peer.send(op="echo", endpoint="tcp://127.0.0.1:*", size=8, count=10, zero_copy=False)
    bench.peer.recv()
    started = time.monotonic()
    bench.close()
    assert time.monotonic() - started < 8
    assert _gone(pid)


@pytest.mark.timeout(60)
def test_an_error_inside_with_still_reaps_the_child(no_leaked_children):
    with pytest.raises(KeyError):
        with perf.Bench("ipc") as bench:
            pid = bench.peer.pid
            raise KeyError("boom")
    assert _gone(pid)


@pytest.mark.timeout(60)
def test_an_orphaned_child_exits_by_itself():
    # a parent that dies without cleaning up (os._exit skips every finalizer)
    code = ("import os, sys; from zguide_py import perf; b = perf.Bench('tcp'); "
            "print(b.peer.pid, flush=True); os._exit(0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT)
    pid = int(out.stdout.split()[0])
    assert _wait(lambda: _gone(pid), 10), "the orphaned perf peer is still running"


# ---- results: table and JSON --------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_a_sweep_round_trips_through_json_and_prints_as_a_table(tmp_path, no_leaked_children):
    result = perf.sweep(transports=["inproc", "tcp"], sizes=[1, 4096], seconds=0.01, progress=False)
    assert [(r["transport"], r["size"], r["mode"]) for r in result["rows"]] == [
        (t, s, m) for t in ("inproc", "tcp") for s in (1, 4096) for m in ("copy", "zero-copy")]
    assert all(r["msgs_per_s"] > 0 and r["latency_us"] > 0 for r in result["rows"])
    assert set(result["elapsed_s"]) == {"inproc", "tcp"}
    path = perf.save_json(result, tmp_path / "perf.json")
    assert perf.load_json(path) == result
    table = perf.sweep_table(perf.load_json(path))
    assert "inproc (two threads of one process)" in table and "tcp (two processes)" in table
    assert "4 kB  zero-copy" in table and "150,987" in table          # the talk's 4 kB figure, beside tcp
    (tmp_path / "other.json").write_text(json.dumps({"rows": []}))
    with pytest.raises(ValueError, match="not a zguide_py perf result"):
        perf.load_json(tmp_path / "other.json")


def test_sweep_table_puts_c_and_the_talks_figures_beside_python():
    rows = [{"transport": "tcp", "processes": True, "size": 4096, "mode": "copy", "msgs_per_s": 1000.0,
             "mbit_per_s": 32.768, "latency_us": 50.0, "c_msgs_per_s": 4000.0, "c_mbit_per_s": 131.0,
             "c_latency_us": 25.0},
            {"transport": "ipc", "processes": True, "size": 1, "mode": "zero-copy", "msgs_per_s": 10.0,
             "mbit_per_s": 0.0, "latency_us": 5.0, "c_msgs_per_s": None, "c_mbit_per_s": None,
             "c_latency_us": None}]
    result = {"meta": {"python": "3", "pyzmq": "27", "libzmq": "4.3.5", "c_libzmq": "4.3.4", "c_skipped": ""},
              "rows": rows}
    lines = perf.sweep_table(result).splitlines()
    tcp_row = next(line for line in lines if "4 kB" in line)
    assert "4,000" in tcp_row and "25%" in tcp_row and "50%" in tcp_row      # thr/C and C/lat
    assert "150,987" in tcp_row and "89.0" in tcp_row                         # the talk, beside tcp
    ipc_row = next(line for line in lines if line.strip().startswith("1 B"))
    assert "150,987" not in ipc_row and ipc_row.count(" -") >= 3
    assert [perf.human_size(s) for s in (1, 4096, 8 << 20, 1000)] == ["1 B", "4 kB", "8 MB", "1000 B"]


def test_targets_say_met_missed_or_skipped():
    def row(size, py, c):
        return {"transport": "tcp", "mode": "zero-copy", "size": size, "msgs_per_s": py, "c_msgs_per_s": c}
    result = {"meta": {"c_skipped": ""}, "settings": {"sizes": perf.SIZES, "modes": list(perf.MODES)},
              "rows": [row(512 << 10, 95.0, 100.0), row(8 << 20, 91.0, 100.0)], "elapsed_s": {"tcp": 42.0}}
    items = perf.targets(result, {"records_per_s": 2.5e6, "record_size": 64, "per_frame": 100}, 9.0)
    assert [t["met"] for t in items] == [True, True, True, True]
    assert "512 kB 95%" in items[0]["measured"]
    result["rows"][1]["msgs_per_s"] = 80.0
    result["elapsed_s"]["tcp"] = 75.0
    items = perf.targets(result, {"records_per_s": 1.0e6, "record_size": 64, "per_frame": 100}, 20.0)
    assert [t["met"] for t in items] == [False, False, False, False]
    for r in result["rows"]:
        r["c_msgs_per_s"] = None
    result["meta"]["c_skipped"] = "no C compiler"
    assert perf.targets(result)[0]["met"] is None
    assert "skipped" in perf.targets_table(perf.targets(result))


# ---- the native C baseline ----------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_the_c_baseline_builds_and_runs_over_every_transport(no_leaked_children):
    exe, reason = perf.c_baseline_status()
    if exe is None:
        pytest.skip(f"no C baseline here: {reason}")
    c = perf.CBaseline(exe)
    try:
        assert c.version.count(".") == 2
        for transport in ("inproc", "ipc", "tcp"):
            for zero_copy in (False, True):
                thr = c.throughput(transport, 4096, zero_copy, count=2000)
                assert thr["count"] == 2000 and thr["msgs_per_s"] > 0
                assert c.latency(transport, 4096, zero_copy, count=50)["latency_us"] > 0
        assert c.throughput("tcp", 1 << 20, True, seconds=0.02)["count"] >= perf.MIN_THR
    finally:
        c.close()


def test_without_a_compiler_the_c_baseline_is_skipped_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(perf, "C_BUILD_DIR", tmp_path / "build")
    monkeypatch.setenv("CC", "no-such-cc-here")
    exe, reason = perf.c_baseline_status()
    assert exe is None and "no C compiler" in reason
    result = perf.sweep(transports=["inproc"], sizes=[64], modes=["copy"], seconds=0.01, progress=False)
    assert result["rows"][0]["c_msgs_per_s"] is None
    assert "C baseline skipped: no C compiler" in perf.sweep_table(result)


def test_without_zmq_h_the_c_baseline_says_what_to_install(tmp_path, monkeypatch):
    import shutil
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler here")
    fake = tmp_path / "cc-without-zmq-h"          # a compiler that cannot see /usr/include
    fake.write_text(f"#!/bin/sh\nexec {cc} -nostdinc \"$@\"\n")
    fake.chmod(0o755)
    monkeypatch.setattr(perf, "C_BUILD_DIR", tmp_path / "build")
    monkeypatch.setenv("CC", str(fake))
    exe, reason = perf.c_baseline_status()
    assert exe is None and "zmq.h" in reason and "libzmq3-dev" in reason


# ---- batching, progress, the lab's cost -------------------------------------------------------------
@pytest.mark.timeout(60)
def test_batching_delivers_every_record():
    one = perf.batched_records(records=5000, per_frame=1)
    many = perf.batched_records(records=50_000, per_frame=100)
    assert one["records"] == 5000 and many["records"] == 50_000 and many["per_frame"] == 100
    assert many["records_per_s"] == pytest.approx(many["frames_per_s"] * 100)
    assert perf.batched_records(records=2000, per_frame=10, transport="tcp")["records_per_s"] > 0


@pytest.mark.timeout(60)
def test_threads_vs_processes_measures_both(no_leaked_children):
    rows = perf.threads_vs_processes("tcp", sizes=(64,), seconds=0.02)
    assert rows[0]["threads"] > 0 and rows[0]["processes"] > 0


def test_the_progress_bar_draws_on_a_terminal_and_stays_quiet_in_a_pipe():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = perf.Progress(4, "sweep", widget=False, stream=stream)
        bar.show("tcp 1 B copy")
        bar.advance()
        bar.close()
    assert "[#######" in tty.getvalue() and "1/4" in tty.getvalue() and tty.getvalue().endswith("\n")
    assert pipe.getvalue() == ""


@pytest.mark.timeout(60)
def test_the_lab_roles_measure_a_rate():
    assert perf.lab_pushpull(20_000) > 0
    assert perf.bare_pushpull(20_000) > 0


# ---- bad input -----------------------------------------------------------------------------------
def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 1 byte"):
        perf.throughput("tcp", 0)
    with pytest.raises(ValueError, match="unknown transport 'udp'"):
        perf.throughput("udp", 8, count=5)
    with pytest.raises(ValueError, match="cannot cross processes"):
        perf.Bench("inproc", processes=True)
    with pytest.raises(ValueError, match="per_frame"):
        perf.batched_records(per_frame=0)
    with pytest.raises(ValueError, match="unknown mode"):
        perf.sweep(transports=["inproc"], modes=["fast"])
    with pytest.raises(ValueError, match="bad message size"):
        perf.parse_size("12q")
    with pytest.raises(ValueError, match="out of range"):
        perf.parse_size("128M")
    assert [perf.parse_size(s) for s in ("1", "64B", "4k", "4 kB", "8M", "2MB")] == [
        1, 64, 4096, 4096, 8 << 20, 2 << 20]


@pytest.mark.parametrize("args", [["--sizes", "1,x"], ["--sizes", "0"], ["--sizes", ""],
                                  ["--transport", "udp"], ["--transport", "tcp,pgm"], ["--seconds", "-1"],
                                  ["--seconds", "abc"], ["--repeats", "0"], ["--copy", "--zero-copy"],
                                  ["--bogus"]])
def test_the_command_line_rejects_bad_arguments(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["perf", *args])
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_command_line_rejects_a_json_path_in_a_missing_directory(tmp_path, capsys):
    assert cli_main(["perf", "--json", str(tmp_path / "nope" / "x.json"), "--transport", "inproc"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_the_command_line_runs_a_sweep_and_writes_json(tmp_path):
    out = tmp_path / "perf.json"
    done = subprocess.run([sys.executable, "-m", "zguide_py", "perf", "--transport", "tcp", "--sizes", "1,4k",
                           "--zero-copy", "--seconds", "0.01", "--json", str(out)],
                          capture_output=True, text=True, timeout=100, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "tcp (two processes)" in done.stdout and "zero-copy" in done.stdout
    result = perf.load_json(out)
    assert [(r["size"], r["mode"]) for r in result["rows"]] == [(1, "zero-copy"), (4096, "zero-copy")]
    assert result["meta"]["pyzmq"] == zmq.__version__


def test_a_measurement_that_times_out_is_taken_again_on_new_sockets_and_noted(monkeypatch, no_leaked_children):
    """A stuck far side (no reply for TIMEOUT_MS) must not end a sweep of many minutes: the bench is
    opened again and the point measured once more; a second failure is raised."""
    real = perf.Bench.latency
    calls = {"n": 0}
    benches = []

    def flaky(self, size, *args, **kwargs):
        calls["n"] += 1
        benches.append(self)
        if calls["n"] == 2:                          # the second point: stuck once
            raise TimeoutError(f"latency {self.transport} {perf.human_size(size)}: no reply for 10 s")
        return real(self, size, *args, **kwargs)

    monkeypatch.setattr(perf.Bench, "latency", flaky)
    result = perf.sweep(transports=["inproc"], sizes=[1], seconds=0.01, progress=False, c_baseline=False)
    assert [r["mode"] for r in result["rows"]] == ["copy", "zero-copy"]
    assert all(r["latency_us"] > 0 for r in result["rows"])
    assert result["notes"] == ["latency inproc 1 B zero-copy: latency inproc 1 B: no reply for 10 s; "
                               "measured again with a new pair of sockets"]
    assert benches[2] is not benches[1]              # the retry ran on a new bench
    assert json.loads(json.dumps(result)) == result      # still JSON-ready

    def always(self, size, *args, **kwargs):
        raise TimeoutError("latency inproc 1 B: no reply for 10 s")

    monkeypatch.setattr(perf.Bench, "latency", always)
    with pytest.raises(TimeoutError, match="no reply"):
        perf.sweep(transports=["inproc"], sizes=[1], seconds=0.01, progress=False, c_baseline=False)
