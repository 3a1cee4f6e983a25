"""The panel: every control does exactly what the matching lab method does, headless."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zguide_py import Lab
from zguide_py.patterns import reqrep
from zguide_py.widgets import Panel, adder


def twin(name: str) -> Lab:
    lab = Lab(name)
    ep = lab.endpoint("echo", "tcp")
    lab.start("server", reqrep.echo_server, endpoint=ep)
    lab.start("client", reqrep.client, endpoint=ep, requests=10**6, timeout=5)
    lab.wait_for(lambda: lab.peer("client").get("replies") > 0, 5)
    return lab


def view(lab: Lab) -> dict:
    """What a control can change: each peer's state, throttle and number of starts, and the events."""
    peers = {n: (p.state, p.delay, p.starts) for n, p in lab.peers.items()}
    events = [(k, p, d) for _, k, p, d in lab.events if k in ("kill", "restart", "throttle")]
    return {"peers": peers, "events": events}


@pytest.fixture
def labs():
    by_click, by_method = twin("by-click"), twin("by-method")
    yield by_click, by_method
    by_click.close()
    by_method.close()


def test_buttons_and_slider_do_what_the_lab_methods_do(labs):
    by_click, by_method = labs
    panel = Panel(by_click, hz=5)
    steps = [
        (lambda: panel.rows["server"].throttle.__setattr__("value", 0.02), lambda: by_method.throttle("server", 0.02)),
        (lambda: panel.rows["server"].kill.click(), lambda: by_method.kill("server")),
        (lambda: panel.rows["server"].restart.click(), lambda: by_method.restart("server")),
        (lambda: panel.rows["client"].restart.click(), lambda: by_method.restart("client")),
        (lambda: panel.rows["server"].throttle.__setattr__("value", 0.0), lambda: by_method.throttle("server", 0.0)),
    ]
    for click, method in steps:
        click()
        method()
        assert view(by_click) == view(by_method)
    assert by_click.peer("server").starts == 2 and by_click.peer("client").starts == 2


def test_a_throttle_set_by_a_scenario_moves_the_slider(labs):
    by_click, _ = labs
    panel = Panel(by_click, hz=5)
    by_click.throttle("server", 0.03)
    panel.refresh(plot=False)
    assert panel.rows["server"].throttle.value == pytest.approx(0.03)
    events = [e for e in by_click.events if e[1] == "throttle"]
    assert len(events) == 1                 # syncing the slider did not call throttle again


def test_the_panel_shows_state_counters_errors_and_new_peers(labs):
    by_click, _ = labs
    panel = Panel(by_click, hz=5)
    panel.rows["server"].kill.click()
    assert "killed" in panel.rows["server"].label.value
    assert "replies=" in panel.rows["client"].counters.value
    by_click.start("typo", reqrep.client, endpoint="tcp://nowhere")
    by_click.wait_done("typo", 5)
    panel.refresh(plot=False)
    assert "typo" in panel.rows
    assert "failed" in panel.rows["typo"].label.value
    assert "peer typo failed" in panel.errors.value and "Invalid argument" in panel.errors.value


def test_bad_clicks_show_a_message_and_lose_nothing(labs):
    by_click, _ = labs
    panel = Panel(by_click, hz=5, actions={"explode": lambda lab: lab.kill("ghost")})
    panel.action_buttons["explode"].click()
    assert "explode failed: no peer 'ghost'" in panel.last_message
    panel._do("throttle", "server", 10)          # what an out-of-range value would reach
    assert "between 0 and 5.0" in panel.last_message
    assert by_click.peer("server").state == "running" and by_click.peer("server").delay == 0
    with pytest.raises(ValueError, match="refresh rate"):
        Panel(by_click, hz=100)
    with pytest.raises(ValueError, match="max_throttle"):
        Panel(by_click, max_throttle=-1)


def test_the_live_plot_moves_while_the_kernel_is_idle(labs):
    by_click, _ = labs
    panel = Panel(by_click, hz=10)
    first = panel.frames
    by_click.wait_for(lambda: panel.frames >= first + 3, 10, "three refreshes")
    assert panel.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert panel.live
    by_click.close()
    assert not panel.live


def test_an_action_can_report_its_result(labs):
    by_click, _ = labs
    panel = Panel(by_click, hz=5, actions={"count peers": lambda lab: f"{len(lab.peers)} peers"})
    panel.action_buttons["count peers"].click()
    assert panel.last_message == "count peers: 2 peers"


def test_live_plot_shows_only_what_happened_since_the_panel_opened(monkeypatch):
    """A notebook's earlier sections (their kills, their peers' rates) stay out of a later panel's
    live plot, and the rows keep their buttons at full size however many counters a peer has."""
    from zguide_py import widgets
    lab = twin("live-since")
    try:
        lab.kill("client")
        lab.restart("client")                        # two events before the panel exists
        seen, draw = {}, widgets.rates_figure

        def capture(series, events, **kwargs):
            seen.update(series=series, events=list(events), xlim=kwargs.get("xlim"))
            return draw(series, events, **kwargs)

        monkeypatch.setattr(widgets, "rates_figure", capture)
        panel = Panel(lab, hz=5, plot=False)
        panel.rows["server"].throttle.value = 0.001  # one event after it
        panel.render()
        assert [(k, p) for _, k, p, _ in seen["events"]] == [("throttle", "server")]
        assert seen["xlim"][1] == 0 and -1.5 <= seen["xlim"][0] <= -1.0   # grows from the panel's start
        row = panel.rows["server"]
        assert all(w.layout.flex == "0 0 auto" for w in (row.label, row.kill, row.restart, row.throttle))
    finally:
        lab.close()


def test_a_closed_labs_panel_says_so_and_refuses_clicks(labs):
    """After the lab closes (a teardown cell, a re-run), its panel must not look alive."""
    by_click, _ = labs
    panel = Panel(by_click, hz=5, actions={"add": lambda lab: "added"})
    live = panel.image.value
    by_click.close()
    assert not panel.live and panel.image.value != live and panel.image.value[:4] == b"\x89PNG"
    assert "lab closed" in panel.title.value
    assert all("lab closed" in row.label.value for row in panel.rows.values())
    assert panel.rows["server"].kill.disabled and panel.action_buttons["add"].disabled
    panel.rows["server"].kill.click()            # a click that still arrives changes nothing
    panel._do("kill", "server")
    assert "is closed" in panel.last_message
    assert by_click.peer("server").state != "killed" or by_click.peer("server").starts == 1


def test_adder_starts_numbered_peers_after_the_highest(labs):
    by_click, _ = labs
    ep = by_click.endpoint("more", "tcp")
    add = adder("server", reqrep.echo_server, endpoint=ep)
    panel = Panel(by_click, hz=5, plot=False, actions={"add server": add})
    panel.action_buttons["add server"].click()
    assert panel.last_message == "add server: started server1"
    by_click.start("server7", reqrep.echo_server, endpoint=by_click.endpoint("seven", "tcp"))
    panel.action_buttons["add server"].click()
    assert "server8" in by_click.peers and by_click.peer("server8").params["endpoint"] == ep
    panel.refresh(plot=False)
    assert {"server1", "server8"} <= set(panel.rows)


def test_extra_widgets_sit_under_the_panel(labs):
    import ipywidgets as W
    by_click, _ = labs
    verdict = W.HTML("verdict")
    panel = Panel(by_click, hz=5, plot=False, extra=[verdict])
    assert verdict in panel.children


def test_a_waiting_req_client_shows_how_long_it_has_waited():
    """The row of a REQ client whose server died says how long it has waited, and the wait grows;
    once the client has ended, its row says nothing of waiting."""
    with Lab("waiting-row") as lab:
        ep = lab.endpoint("echo", "tcp")
        lab.start("server", reqrep.echo_server, endpoint=ep)
        lab.start("client", reqrep.client, endpoint=ep, requests=10**6, timeout=60)
        lab.wait_for(lambda: lab.peer("client").get("replies") > 3, 5)
        panel = Panel(lab, hz=5, plot=False)

        def waited() -> float:
            panel.refresh(plot=False)
            found = re.search(r"waiting for a reply for ([\d.]+) s", panel.rows["client"].counters.value)
            return float(found.group(1)) if found else 0.0

        lab.kill("server")
        lab.wait_for(lambda: waited() >= 0.2, 5, what="the client's row to show its wait")
        lab.wait_for(lambda: waited() >= 0.6, 5, what="the wait to grow")
        lab.kill("client")
        panel.refresh(plot=False)
        assert "waiting for a reply" not in panel.rows["client"].counters.value


def test_binary_star_rows_show_the_pair_state_and_the_referee_has_none():
    from zguide_py.patterns import binarystar as bstar
    with Lab("bstar-rows") as lab:
        e = bstar.pair_endpoints(lab)
        for name in ("primary", "backup"):
            lab.start(name, bstar.server, side=name, heartbeat=0.05, **e[name])
        lab.start("referee", bstar.watch, lab=lab)
        lab.wait_for(lambda: lab.peer("primary").data.get("state") == "active"
                     and lab.peer("backup").data.get("state") == "passive", 5, what="the pair")
        panel = Panel(lab, hz=5, plot=False)
        panel.refresh(plot=False)
        assert "referee" not in panel.rows and {"primary", "backup"} <= set(panel.rows)
        assert "<b>active</b>" in panel.rows["primary"].counters.value
        assert "<b>passive</b>" in panel.rows["backup"].counters.value
        lab.kill("primary")
        panel.refresh(plot=False)
        assert "<b>active</b>" not in panel.rows["primary"].counters.value    # a killed peer shows no pattern state


def test_queue_and_broker_rows_show_their_workers():
    """Paranoid Pirate's queue shows each worker and when it was last heard; the Majordomo broker,
    each service with its workers and its queue; both as the pattern's own line above the counters."""
    from zguide_py.patterns import majordomo, paranoidpirate
    with Lab("queue-rows") as lab:
        fe, be = lab.endpoint("frontend", "tcp"), lab.endpoint("backend", "tcp")
        lab.start("queue", paranoidpirate.queue, frontend=fe, backend=be, interval=0.1)
        lab.start("worker1", paranoidpirate.worker, endpoint=be, interval=0.1)
        md = lab.endpoint("broker", "tcp")
        lab.start("broker", majordomo.broker, endpoint=md)
        lab.start("echo1", majordomo.worker, broker=md, service="echo")
        panel = Panel(lab, hz=5, plot=False)

        def line(name: str) -> str:
            panel.refresh(plot=False)
            return panel.rows[name].counters.value

        lab.wait_for(lambda: re.search(r"worker1 heard 0\.\d s ago, ready", line("queue")), 5, what="worker1 heard")
        lab.wait_for(lambda: "echo: workers 1 (idle 1), queued 0" in line("broker"), 5, what="echo's worker")
        lab.kill("worker1")
        lab.wait_for(lambda: "no workers" in line("queue"), 5, what="worker1 purged from the queue's line")


def test_the_live_plot_sums_peers_named_alike_once_there_are_too_many_lines():
    from zguide_py.widgets import MAX_LINES, few_lines
    ticks = [-0.3, -0.2, -0.1]
    series = {(f"worker{i}", "served"): (ticks, [float(i)] * 3) for i in range(1, 9)}
    series[("client", "replies")] = (ticks, [36.0] * 3)
    lines = few_lines(series)
    assert len(lines) <= MAX_LINES
    assert lines[("worker* (8)", "served")] == (ticks, [36.0] * 3)      # 1+2+...+8, tick by tick
    assert lines[("client", "replies")] == (ticks, [36.0] * 3)
    few = {k: series[k] for k in list(series)[:3]}
    assert few_lines(few) == few                                         # a handful: drawn as they are


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.tuples(st.sampled_from(["a", "b1", "b2", "b3", "c10", "c11", "d", "e", "f", "g"]),
                                 st.sampled_from(["x", "y"])),
                       st.lists(st.floats(0, 1e6), min_size=3, max_size=3), max_size=20),
       st.integers(1, 8))
def test_few_lines_never_draws_more_than_its_limit_and_never_invents_a_rate(data, limit):
    from zguide_py.widgets import few_lines
    ticks = [-0.3, -0.2, -0.1]
    series = {k: (ticks, v) for k, v in data.items()}
    lines = few_lines(series, limit)
    assert len(lines) <= max(limit, len(series) if len(series) <= limit else limit)
    total_in = sum(sum(v) for v in data.values())
    total_out = sum(sum(r) for _, r in lines.values())
    assert total_out <= total_in * (1 + 1e-9) + 1e-6          # lines are kept or summed, never made up
    if len(series) <= limit:
        assert lines == series


def test_a_panel_over_eight_clients_draws_them_as_one_line(monkeypatch):
    from zguide_py import widgets
    lab = Lab("many-lines")
    try:
        ep = lab.endpoint("echo", "tcp")
        lab.start("server", reqrep.echo_server, endpoint=ep)
        for i in range(1, 9):
            lab.start(f"client{i}", reqrep.client, endpoint=ep, requests=10**6, timeout=5)
        lab.wait_for(lambda: all(lab.peer(f"client{i}").get("replies") > 0 for i in range(1, 9)), 10)
        lab.wait_for(lambda: len(lab.sampler.counters()) >= 9, 5, "nine sampled counters")
        seen = {}

        def capture(series, events, **kwargs):
            seen.update(series=dict(series), title=kwargs.get("title"))
            return widgets.rates_figure.__wrapped__(series, events, **kwargs)

        capture.__wrapped__ = widgets.rates_figure
        monkeypatch.setattr(widgets, "rates_figure", capture)
        panel = Panel(lab, counters=["replies"], hz=5, plot=False)
        lab.wait_for(lambda: panel.render() and any(t for t, _ in seen["series"].values()), 5, "samples")
        assert ("client* (8)", "replies") in seen["series"] and len(seen["series"]) <= widgets.MAX_LINES
        assert "not drawn" not in seen["title"]
    finally:
        lab.close()


def test_a_req_worker_waits_for_a_request_not_a_reply():
    """A Simple Pirate worker's REQ socket waits for its "reply", which is the next request: its
    row says so in those words."""
    from zguide_py.patterns import simplepirate as sp
    from zguide_py.widgets import pattern_state
    with Lab("req-worker-row") as lab:
        front, back = lab.endpoint("front"), lab.endpoint("back")
        lab.start("queue", sp.queue, frontend=front, backend=back)
        worker = lab.start("worker1", sp.worker, endpoint=back)
        line = lab.wait_for(lambda: "waiting for" in pattern_state(worker) and pattern_state(worker), 5)
        assert "waiting for a request for" in line and "a reply" not in line


def test_offline_a_panel_is_a_card_that_says_where_to_run_it(labs):
    """Without a kernel (the offline slides) a panel cannot be live: its output also carries an HTML
    card, and the slides show that card instead of a blank widget."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    import nbformat
    import publish
    by_click, _ = labs
    bundle = Panel(by_click, hz=5, title="a demo")._repr_mimebundle_()
    assert publish.WIDGET_VIEW in bundle and "make lab" in bundle["text/html"] and "server" in bundle["text/html"]
    cell = nbformat.v4.new_code_cell("panel", outputs=[nbformat.v4.new_output("display_data", data=dict(bundle))])
    nb = publish.without_live_widgets(nbformat.v4.new_notebook(cells=[cell]))
    assert set(nb.cells[0].outputs[0].data) == {"text/plain", "text/html"}
