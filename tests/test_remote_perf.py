"""The remote sweep (zguide_py.perf.remote): both sides of a measurement on two hosts of a Net, the
measured bytes across a shaped link, and nothing left behind.

The tests that build hosts need root (or CAP_NET_ADMIN), iproute2 and iptables. Without them they are
skipped with the reason, unless ZGUIDE_REQUIRE_NET is set (CI sets it: there they must run). Speed is
not tested here; `make bench` checks that the link is filled.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zguide_py import net as znet
from zguide_py.__main__ import main as cli_main
from zguide_py.perf import remote
from zguide_py.perf.remote import HostBench, framing, link_count, rate_bps, remote_sweep, remote_table, two_hosts

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def needs_net():
    problem = znet.missing()
    if problem:
        if os.environ.get("ZGUIDE_REQUIRE_NET"):
            pytest.fail(f"the network tests must run here (ZGUIDE_REQUIRE_NET): {problem}", pytrace=False)
        pytest.skip(problem)


def _wait(cond, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _namespaces_of(net_id: str) -> list[str]:
    return [ns for ns in znet.namespaces() if ns.startswith(net_id + "-")]


# ---- what needs no hosts ------------------------------------------------------------------------

def test_rates_are_read_as_tc_reads_them():
    assert rate_bps("100mbit") == 100e6
    assert rate_bps("512kbit") == 512e3
    assert rate_bps("1mbps") == 8e6                   # tc: bps are bytes a second
    assert rate_bps("1.5gbit") == 1.5e9
    for bad in ("fast", "100", "10 furlongs", ""):
        with pytest.raises(ValueError, match="a rate is like"):
            rate_bps(bad)


def test_zmtp_framing_is_counted_on_the_wire():
    assert [framing(s) for s in (1, 255, 256, 8 << 20)] == [2, 2, 9, 9]
    assert remote.wire_mbit(1, 1e6) == pytest.approx(24.0)       # 1 M one-byte messages: 3 bytes each
    assert remote.expected_latency_us(8 << 20, 100e6) == pytest.approx((8 * 2**20 + 9) * 8 / 100)


def test_big_messages_are_counted_from_the_link_small_ones_by_trial_runs():
    assert link_count("thr", 8 << 20, 100e6, 0.3) == 3           # never fewer than 3: 2 timed intervals
    assert link_count("lat", 8 << 20, 100e6, 0.3) == 1
    assert link_count("thr", 512 << 10, 100e6, 1.0) == 24
    assert link_count("thr", 1, 100e6, 0.3) is None
    assert link_count("thr", 4 << 10, 100e6, 0.3) is None


def test_the_table_puts_the_talk_beside_each_row():
    result = {"settings": {"rate": "100mbit", "near": "198.18.1.1", "far": "198.18.1.2"}, "notes": ["retried once"],
              "rows": [{"size": 1, "mode": "copy", "msgs_per_s": 400e3, "mbit_per_s": 3.2, "wire_mbit_per_s": 9.6,
                        "link_pct": 3.2, "latency_us": 60.0},
                       {"size": 8 << 20, "mode": "copy", "msgs_per_s": 1.43, "mbit_per_s": 96.0,
                        "wire_mbit_per_s": 96.0, "link_pct": 96.0, "latency_us": None}]}
    table = remote_table(result)
    one, eight = (line for line in table.splitlines() if line.lstrip().startswith(("1 B", "8 MB")))
    assert "400,000" in one and "3,562,066" in one and "399.9" in one
    assert "1.43" in eight and "1.54" in eight and "103.7" in eight and "96%" in eight
    assert "note: retried once" in table
    assert remote.link_shares(result) == {8 << 20: 96.0}


def test_the_cli_refuses_a_bad_rate(capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["perf", "--between-hosts", "fast"])
    assert exc.value.code == 2 and "a rate is like" in capsys.readouterr().err


# ---- between two hosts ----------------------------------------------------------------------------

def test_a_short_sweep_between_two_hosts_gives_sane_rows_and_leaves_nothing(needs_net):
    with two_hosts("20mbit") as (near, far):
        net_id = near.net.id
        assert len(_namespaces_of(net_id)) == 3                   # the bridge's and two hosts'
        result = remote_sweep(near, far, rate="20mbit", sizes=[1, 4 << 10], seconds=0.1, latency_sizes=[1],
                              progress=False)
    assert not _namespaces_of(net_id)
    json.dumps(result)                                           # JSON-ready, as a sweep's result is
    rows = {r["size"]: r for r in result["rows"]}
    assert set(rows) == {1, 4 << 10} and all(r["mode"] == "copy" and r["transport"] == "tcp" for r in rows.values())
    assert rows[1]["msgs_per_s"] > 0 and rows[1]["latency_us"] > 0 and rows[4 << 10]["latency_us"] is None
    for r in rows.values():
        assert r["mbit_per_s"] == pytest.approx(r["msgs_per_s"] * r["size"] * 8 / 1e6)
        assert r["link_pct"] == pytest.approx(r["mbit_per_s"] / 20 * 100)
        assert r["wire_mbit_per_s"] > r["mbit_per_s"]
    assert result["settings"]["rate"] == "20mbit" and result["settings"]["near"] == near.address
    assert near.address.startswith("198.1") and far.address.startswith("198.1")


def test_the_shaped_link_bounds_the_megabits_and_lifting_it_lifts_the_bound(needs_net):
    with two_hosts("20mbit") as (near, far), HostBench(near, far, link_bps=20e6) as bench:
        shaped = bench.throughput(64 << 10, count=48)["mbit_per_s"]       # 3 MB: about 1.3 s at 20 Mbit/s
        near.net.rate("near", None)
        near.net.rate("far", None)
        free = bench.throughput(64 << 10, count=48)["mbit_per_s"]
    assert 20 * 0.5 < shaped < 20 * 1.1
    assert free > 2 * shaped


def test_a_dead_far_side_is_an_error_not_a_hang(needs_net):
    started = time.monotonic()
    with two_hosts(None) as (near, far), HostBench(near, far) as bench:
        bench.far.proc.kill()
        bench.far.proc.wait(10)
        with pytest.raises(RuntimeError, match="exited"):
            bench.throughput(1, count=10)
    assert time.monotonic() - started < 30


def test_a_bench_leaves_no_control_file_and_its_close_stops_both_processes(needs_net):
    with two_hosts(None) as (near, far):
        with HostBench(near, far) as bench:
            folders = [Path(bench.near._ctl_dir), Path(bench.far._ctl_dir)]
            assert not any(f.exists() for f in folders)          # gone once the children connected
            bench.latency(64, count=10)                          # ... and the control link still works
            pids = [bench.near.proc.pid, bench.far.proc.pid]
            assert all(map(_alive, pids))
            inside = subprocess.run(["ip", "netns", "pids", near.ns], capture_output=True, text=True, timeout=20)
            assert {int(p) for p in inside.stdout.split()} == {pids[0]}     # the measuring side runs on near
        assert not any(map(_alive, pids))


CRASH = textwrap.dedent("""
    import sys
    from zguide_py.perf.remote import HostBench, two_hosts
    with two_hosts("100mbit") as (near, far), HostBench(near, far) as bench:
        print(near.net.id, bench.near.proc.pid, bench.far.proc.pid, flush=True)
        sys.stdin.read()                                   # until killed
""")


def test_after_a_crash_net_clean_removes_the_hosts_and_the_processes_end(needs_net):
    proc = subprocess.Popen([sys.executable, "-c", CRASH], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        net_id, *pids = proc.stdout.readline().split()
        assert net_id.startswith(znet.PREFIX) and len(_namespaces_of(net_id)) == 3
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdin.close()
        proc.stdout.close()
    assert _wait(lambda: not any(_alive(int(p)) for p in pids), 10)     # orphans end by themselves
    assert _namespaces_of(net_id)                       # a crash leaves the hosts ...
    znet.clean()                                        # ... and `python -m zguide_py net clean` removes them
    assert not _namespaces_of(net_id)


def test_the_cli_prints_the_remote_table(needs_net, capsys):
    assert cli_main(["perf", "--between-hosts", "20mbit", "--sizes", "1,64k", "--seconds", "0.05", "--copy",
                     "--no-latency"]) == 0
    out = capsys.readouterr().out
    assert "tcp between two hosts" in out and "a 20mbit link (tbf)" in out and "3,562,066" in out


UNPRIVILEGED = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"]   # root, minus NET_ADMIN


@pytest.mark.skipif(not os.path.exists("/usr/bin/setpriv"), reason="setpriv (util-linux) is missing")
def test_without_net_admin_the_tests_and_notebook_20_skip_with_the_reason_and_the_cli_says_why():
    env = {k: v for k, v in os.environ.items() if k != "ZGUIDE_REQUIRE_NET"}
    cli = subprocess.run(UNPRIVILEGED + [sys.executable, "-m", "zguide_py", "perf", "--between-hosts", "100mbit"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert cli.returncode == 2 and cli.stderr.strip().startswith("error: --between-hosts: network namespaces need")
    assert len(cli.stderr.strip().splitlines()) == 1 and not cli.stdout
    run = subprocess.run(UNPRIVILEGED + [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                                         "-k", "not without_net_admin", "tests/test_remote_perf.py", "--nbval",
                                         "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
                                         "notebooks/20_remote.ipynb"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "SKIPPED" in run.stdout and "CAP_NET_ADMIN" in run.stdout and " failed" not in run.stdout
