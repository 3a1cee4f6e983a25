"""The measuring code: it measures what it says, and refuses nonsense. (Speed targets live in
`make bench`, not here.)"""
from __future__ import annotations

import pytest

from zguide_py import perf


@pytest.mark.parametrize("transport", ["inproc", "ipc", "tcp"])
def test_throughput_and_latency_measure_every_transport(transport):
    thr = perf.throughput(transport, 64, count=2000)
    assert thr["count"] == 2000 and thr["msgs_per_s"] > 0
    assert thr["mbit_per_s"] == pytest.approx(thr["msgs_per_s"] * 64 * 8 / 1e6)
    lat = perf.latency(transport, 64, roundtrips=200)
    assert lat["roundtrips"] == 200 and lat["latency_us"] > 0


def test_big_messages_go_zero_copy_and_arrive():
    thr = perf.throughput("tcp", 1 << 20, count=10)
    assert thr["zero_copy"] and thr["count"] == 10
    assert not perf.throughput("tcp", 100, count=10)["zero_copy"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least 1 byte"):
        perf.throughput("tcp", 0)
    with pytest.raises(ValueError, match="unknown transport 'udp'"):
        perf.throughput("udp", 8, count=5)
    with pytest.raises(ValueError, match="per_frame"):
        perf.batched_records(per_frame=0)


def test_sweep_table_puts_the_talks_figures_beside_tcp():
    rows = [{"transport": "tcp", "size": 4096, "msgs_per_s": 1000.0, "mbit_per_s": 32.768, "latency_us": 50.0},
            {"transport": "ipc", "size": 1, "msgs_per_s": 10.0, "mbit_per_s": 0.0, "latency_us": 5.0}]
    table = perf.sweep_table(rows).splitlines()
    assert "talk msg/s" in table[0]
    assert "4 kB" in table[1] and "150,987" in table[1] and "89.0" in table[1]
    assert "150,987" not in table[2]
    assert [perf.human_size(s) for s in (1, 4096, 8 << 20, 1000)] == ["1 B", "4 kB", "8 MB", "1000 B"]


def test_the_lab_roles_measure_a_rate():
    assert perf.lab_pushpull(20_000) > 0
    assert perf.bare_pushpull(20_000) > 0
