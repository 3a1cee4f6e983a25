"""Metrics (sampler rates, sequence gaps, latency) and scenarios (timelines, reports, plots)."""
from __future__ import annotations

import math

import pytest

from zguide_py import LabError, Scenario, SeqChecker, summarize
from zguide_py.metrics import percentile
from zguide_py.patterns import basics, reqrep
from zguide_py.plots import event_labels



def test_seqchecker_counts_gaps_exactly():
    check = SeqChecker()
    stream = [0, 1, 2, 5, 6, 10, 10, 11, 9, 20]
    gaps = [check.check(n) for n in stream]
    assert gaps == [0, 0, 0, 2, 0, 3, 0, 0, 0, 8]
    assert check.lost == 13 and check.gaps == 3 and check.duplicates == 2
    assert check.largest_gap == 8 and check.received == len(stream)


def test_seqchecker_with_a_known_first_number():
    check = SeqChecker(first=0)
    assert check.check(3) == 3 and check.lost == 3


def test_latency_summary():
    s = summarize([0.004, 0.001, 0.003, 0.002, 0.005])
    assert s.count == 5 and s.p50 == 0.003 and s.max == 0.005
    assert math.isclose(s.mean, 0.003)
    assert math.isclose(s.p90, 0.0046)
    assert "p50=3.0 ms" in str(s)
    assert summarize([]).count == 0 and str(summarize([])) == "no samples"
    assert percentile([1.0, 2.0], 100) == 2.0
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_sampler_divides_by_the_real_interval(lab):
    sampler = lab.sampler
    sampler.stop()                         # drive it by hand
    sampler.samples.clear()
    sampler.samples.extend([(1.0, {"p": {"n": 0}}), (1.5, {"p": {"n": 100}}), (3.5, {"p": {"n": 300}}),
                            (4.0, {}), (4.5, {"p": {"n": 10}}), (5.0, {"p": {"n": 60}})])
    times, rates = sampler.series("p", "n")
    assert times == [1.5, 3.5, 5.0]
    assert rates == [200.0, 100.0, 100.0]   # 100/0.5 s, 200/2 s; a removed peer restarts the series
    assert sampler.series("p", "n", since=3.0) == ([5.0], [100.0])


def test_sampler_rates_add_up_to_the_counts(lab):
    ep = lab.endpoint("echo")
    lab.start("server", reqrep.echo_server, endpoint=ep)
    lab.throttle("server", 0.002)
    lab.start("client", reqrep.client, endpoint=ep, requests=400)
    lab.wait_done("client", 10)
    # the client can have its last reply a moment before the server thread counts it as sent
    lab.wait_for(lambda: lab.peer("server").get("replies") == 400, 5, "the server to count 400 replies")
    lab.sampler.sample()
    times, rates = lab.sampler.series("server", "replies")
    # integrate: rate x real interval over the samples = the growth between first and last sample
    samples = [(t, s["server"].get("replies", 0)) for t, s in lab.sampler.samples if "server" in s]
    total = sum(r * (t1 - t0) for r, t0, t1 in zip(rates, [samples[0][0], *times], times))
    assert len(rates) >= 3
    assert round(total) == samples[-1][1] - samples[0][1]
    assert samples[-1][1] == 400


def test_scenario_steps_fire_in_order_and_after_counts(lab):
    ep = lab.endpoint("echo", "tcp")
    lab.start("server", reqrep.echo_server, endpoint=ep)
    lab.throttle("server", 0.002)
    sc = (Scenario("order")
          .at(0, "start", "client", reqrep.client, endpoint=ep, requests=10**6, timeout=5)
          .after(20, "server", "replies", "throttle", "server", 0.01)
          .at(0.4, "kill", "server").at(0.6, "restart", "server"))
    report = lab.run(sc, seconds=0.8)
    fired = {s.label: s.fired_at for s in report.steps}
    assert all(t is not None for t in fired.values()), fired
    assert fired["kill server"] >= 0.4 and fired["restart server"] >= 0.6
    assert fired["kill server"] < fired["restart server"]
    throttle_event = report.events_of("throttle", "server")[0]
    assert throttle_event[3] == 0.01
    kinds = [k for _, k, p, _ in report.events if p == "server"]
    assert kinds.index("kill") < kinds.index("restart")
    assert report.count("server", "replies") >= 20
    assert report.states["server"] == "running"


def test_scenario_bad_input_is_refused_before_anything_runs(lab):
    with pytest.raises(LabError, match="unknown scenario action 'explode'"):
        Scenario().at(1, "explode", "server")
    with pytest.raises(LabError, match="seconds >= 0"):
        Scenario().at(-1, "kill", "server")
    with pytest.raises(LabError, match="count >= 1"):
        Scenario().after(0, "p", "c", "kill", "p")
    with pytest.raises(LabError, match="no peer 'ghost'"):
        lab.run(Scenario().at(0.1, "kill", "ghost"), seconds=0.2)
    with pytest.raises(LabError, match="between 0 and 600"):
        lab.run(seconds=0)


def test_a_failing_step_is_reported_and_the_run_goes_on(lab):
    lab.start("idle", basics.puller, endpoint=lab.endpoint("idle"))
    report = lab.run(Scenario().at(0, "throttle", "idle", 99).at(0.05, "kill", "idle"), seconds=0.2)
    assert "LabError" in report.steps[0].error and "between 0 and 5.0" in report.steps[0].error
    assert report.steps[1].error is None and report.states["idle"] == "killed"
    assert "ERROR" in repr(report)


def test_chaos_is_repeatable_with_a_seed():
    a = Scenario(seed=42).chaos(["w1", "w2", "w3"], kills=5, start=0.5, end=3.0)
    b = Scenario(seed=42).chaos(["w1", "w2", "w3"], kills=5, start=0.5, end=3.0)
    c = Scenario(seed=43).chaos(["w1", "w2", "w3"], kills=5, start=0.5, end=3.0)
    assert a.describe().splitlines()[1:] == b.describe().splitlines()[1:]
    assert a.describe().splitlines()[1:] != c.describe().splitlines()[1:]
    kills = [s for s in a.steps if s.action == "kill"]
    assert len(kills) == 5 and all(0.5 <= s.at <= 3.1 for s in kills)
    # every kill is followed by a restart of the same peer
    for k in kills:
        assert any(s.action == "restart" and s.args == k.args and s.at > k.at for s in a.steps)


def test_report_plot_has_labelled_axes_and_marked_events(lab):
    ep = lab.endpoint("echo", "tcp")
    lab.start("server", reqrep.echo_server, endpoint=ep)
    lab.start("client", reqrep.client, endpoint=ep, requests=10**6, timeout=5)
    report = lab.run(Scenario().at(0.2, "throttle", "server", 0.005), seconds=0.5)
    from zguide_py.plots import report_figure
    fig = report_figure(report, counters=["replies"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "time since start of run (s)"
    assert ax.get_ylabel() == "messages per second"
    assert ax.get_title()
    assert {line.get_label() for line in ax.get_lines()} >= {"server.replies", "client.replies"}
    assert any("throttle server" in t.get_text() for t in event_labels(ax))
    from zguide_py.plots import to_png
    assert to_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_sampler_values_are_the_raw_counts(lab):
    sampler = lab.sampler
    sampler.stop()
    sampler.samples.clear()
    sampler.samples.extend([(1.0, {"p": {"n": 3}}), (2.0, {"q": {}}), (3.0, {"p": {}})])
    assert sampler.values("p", "n") == ([1.0, 3.0], [3, 0])


def test_describe_lists_timed_steps_in_time_order():
    sc = Scenario("order").at(3.2, "kill", "queue").at(0, "start", "client1", reqrep.client, endpoint="x") \
        .after(5, "server", "replies", "kill", "server").at(1.0, "restart", "queue")
    lines = [line.split(None, 3) for line in sc.describe().splitlines()[1:]]
    assert [line[1] for line in lines[:3]] == ["0.00", "1.00", "3.20"]
    assert lines[0][3].strip() == "start client1 (role client)"
    assert lines[3][0] == "after"


def test_event_labels_are_short_and_never_overlap():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from zguide_py.plots import _event_label, new_figure, rates_figure
    assert _event_label([(0, "kill", "w1", ""), (0, "kill", "w2", "")]) == "kill w1, w2"
    assert _event_label([(0, "kill", "w1", ""), (0, "restart", "w1", "")]) == "kill, restart w1"
    assert _event_label([(0, "throttle", "w1", 0.01), (0, "kill", "w2", "")]) == "throttle w1 0.01 + kill w2"
    # 60 events, 0.1 s apart, on a 10 s axis: each gets its own line, and no two labels overlap
    events = [(0.1 * i, ("kill", "restart", "throttle")[i % 3], f"peer{i % 7}", 0.01) for i in range(60)]
    times = [0.1 * i for i in range(100)]
    for size, xlim in (((8, 3.6), None), ((6.4, 2.8), (-0.5, 10.0))):
        fig = rates_figure({("p", "n"): (times, [1.0] * 100)}, events, fig=new_figure(*size), xlim=xlim)
        ax = fig.axes[0]
        assert sum(1 for line in ax.get_lines() if line.get_linestyle() == "--") == 60
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)
        boxes = [t.get_window_extent(renderer) for t in event_labels(ax)]
        assert len(boxes) >= 5
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
        frame = ax.get_window_extent(renderer)
        assert all(b.x0 >= frame.x0 - 1 for b in boxes)          # none cut off at the left edge


def test_a_live_plot_cuts_a_lone_peak_and_says_so():
    from zguide_py.plots import rates_figure
    times = [0.1 * i for i in range(50)]
    steady = [100.0] * 49 + [40_000.0]                 # one backlog burst
    ax = rates_figure({("p", "n"): (times, steady)}, clip_peaks=True).axes[0]
    assert ax.get_ylim()[1] == pytest.approx(150.0)
    assert any("peaks up to 40,000/s cut off" in t.get_text() for t in ax.texts)
    ax = rates_figure({("p", "n"): (times, steady)}).axes[0]        # a report keeps every value
    assert ax.get_ylim()[1] > 40_000


def test_a_sample_taken_right_after_another_makes_no_spike(lab):
    """lab.run samples at its start and end; 3 messages in 5 ms must not plot as 600/s."""
    sampler = lab.sampler
    sampler.stop()
    sampler.samples.clear()
    sampler.samples.extend([(1.0, {"p": {"n": 0}}), (1.005, {"p": {"n": 3}}), (1.1, {"p": {"n": 10}}),
                            (1.2, {"p": {"n": 20}}), (1.205, {"p": {"n": 22}})])
    times, rates = sampler.series("p", "n")
    assert times == [1.1, 1.205]
    assert rates == pytest.approx([100.0, 12 / 0.105])
    # the rates still add up to the growth from the first sample to the last
    assert sum(r * (t1 - t0) for r, t0, t1 in zip(rates, [1.0, *times], times)) == pytest.approx(22)


def test_event_labels_use_the_height_they_have_and_are_cut_only_when_they_must():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from zguide_py.plots import _event_label, new_figure, rates_figure
    group = [(0.5, "throttle", "puller", 0.0), (0.5, "restart", "puller", "")]
    assert _event_label(group) == "throttle puller off + restart puller"
    times = [0.1 * i for i in range(30)]
    for height, whole in ((3.6, True), (1.6, False)):
        fig = rates_figure({("p", "n"): (times, [1.0] * 30)}, group, fig=new_figure(8, height))
        ax = fig.axes[0]
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)                  # the label is fitted when drawn, to the final layout
        (label,) = [t.get_text() for t in event_labels(ax)]
        if whole:                           # a normal figure has room for the whole label
            assert label == "throttle puller off + restart puller"
        else:                               # a flat one cuts it, and says so
            assert label.endswith("…") and "throttle puller off + restart puller".startswith(label[:-1])
        box, frame = event_labels(ax)[0].get_window_extent(renderer), ax.get_window_extent(renderer)
        assert box.y0 >= frame.y0 - 1, (height, box, frame)        # it ends inside the axes


def test_a_line_that_repeats_another_is_drawn_dashed_so_both_show():
    from zguide_py.plots import rates_figure
    times = [0.1 * i for i in range(20)]
    server = [100.0 + i for i in range(20)]
    client = [r * 1.01 for r in server]                 # the same line, 1% off
    other = [50.0] * 20
    ax = rates_figure({("server", "replies"): (times, server), ("client", "replies"): (times, client),
                       ("w", "served"): (times, other)}).axes[0]
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles["server.replies"] == "-" and styles["w.served"] == "-"
    assert styles["client.replies"] == "--"
