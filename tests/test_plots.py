"""plots.mark_events, the one way to mark events on a time axis, and the Pirates' and Titanic's
figures built on it from structured events (no text parsed)."""
from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg

from zguide_py.events import Event, Fields
from zguide_py.plots import EVENT_STYLE, FAULTS, STRIP_HEIGHT, event_labels, mark_events, new_figure, to_png
from zguide_py.scenario import Report
from zguide_py.views import pirates, titanic


def ev(t, kind, peer, **fields):
    return Event(t, kind, peer, Fields(fields) if fields else "")


def dashed(ax):
    return [line for line in ax.get_lines() if line.get_linestyle() == "--"]


def test_mark_events_lines_on_every_axes_labels_in_the_strip():
    fig = new_figure(8, 5)
    strip, top, bottom = fig.subplots(3, 1, sharex=True)
    bottom.set_xlim(0, 5)
    events = [Event(1.0, "kill", "server", ""), Event(2.0, "restart", "server", ""),
              Event(2.5, "throttle", "server", 0.5), Event(0.0, "start", "client1", ""),
              Event(3.0, "kill", "other", "")]
    mark_events([top, bottom], events, kinds=FAULTS, peers=["server"], strip=strip)
    for ax in (top, bottom):        # the client's start and the other peer's kill are left out
        assert [line.get_xdata()[0] for line in dashed(ax)] == [1.0, 2.0, 2.5]
        assert [line.get_color() for line in dashed(ax)] == [EVENT_STYLE[k] for k in FAULTS]
        assert not event_labels(ax)
    assert not dashed(strip)
    labels = [label.get_text() for label in event_labels(strip)]
    assert labels == ["kill server", "restart server", "throttle server 0.5"]
    assert not strip.get_yticks().size and strip.get_ylabel() == "events"
    assert to_png(fig)[:4] == b"\x89PNG"


def test_mark_events_on_one_axes_keeps_its_old_form():
    fig = new_figure()
    ax = fig.add_subplot()
    ax.set_xlim(0, 10)
    mark_events(ax, [(1.0, "kill", "w1", ""), (1.0, "kill", "w2", ""), (5.0, "remove", "w1", "")])
    assert len(dashed(ax)) == 3
    assert [label.get_text() for label in event_labels(ax)] == ["kill w1, w2", "remove w1"]
    assert STRIP_HEIGHT > 0
    bare = new_figure().add_subplot()
    mark_events(bare, [(1.0, "kill", "w1", "")], labels=False)      # lines only, for a legend
    assert len(dashed(bare)) == 1 and not event_labels(bare)


def report_of(events, duration=4.0):
    return Report(lab_name="t", scenario="s", start=0.0, duration=duration, series={}, events=events,
                  counts={}, totals={}, states={}, errors={})


def lazy_events():
    return [ev(0.0, "start", "client1"), ev(0.1, "send", "client1", seq=0), ev(0.2, "answered", "client1", seq=0),
            ev(0.3, "send", "client1", seq=1), Event(0.35, "kill", "server", ""),
            ev(0.55, "retry", "client1", seq=1), ev(0.8, "retry", "client1", seq=1),
            ev(1.05, "abandoned", "client1", seq=1), Event(1.2, "restart", "server", ""),
            ev(1.3, "send", "client1", seq=2), ev(1.4, "answered", "client1", seq=2),
            ev(1.4, "served", "worker1", request="client1:2")]


def test_give_up_times_read_the_seq_field_of_this_lab_and_of_a_process():
    events = lazy_events()
    assert [round(t, 3) for t in pirates.give_up_times(events)] == [0.75]
    # a role process sends its events up as JSON: the fields arrive as a plain dict
    from_process = [(t, k, p, dict(d) if isinstance(d, dict) else d) for t, k, p, d in events]
    assert [round(t, 3) for t in pirates.give_up_times(from_process)] == [0.75]
    assert pirates.served_between(events, ["worker1", "worker2"], 1.0, 2.0) == {"worker1": 1, "worker2": 0}


def test_requests_figure_marks_the_faults_of_the_chosen_peers():
    fig = pirates.requests_figure(report_of(lazy_events()), ["client1"], workers=["worker1"],
                                  fault_peers=["server"])
    strip, top, bottom = fig.axes[:3]
    assert [line.get_xdata()[0] for line in dashed(top)] == [0.35, 1.2]
    assert {label.get_text() for label in event_labels(strip)} == {"kill server", "restart server"}
    assert [t.get_text() for t in bottom.get_yticklabels()] == ["client1", "worker1"]
    assert to_png(fig)[:4] == b"\x89PNG"


def test_purge_delays_and_heartbeat_figure_read_worker_fields():
    events = [ev(0.0, "start", "worker1"), ev(0.1, "heard", "queue", worker="worker1/1.1.0"),
              ev(0.2, "liveness", "worker1", left=3), ev(0.3, "heard", "queue", worker="worker1/1.1.0"),
              Event(0.4, "kill", "worker1", ""), ev(0.65, "purge", "queue", worker="worker9/1.1.0"),
              ev(0.7, "purge", "queue", worker="worker1/1.1.0"), Event(0.9, "restart", "worker1", ""),
              ev(1.0, "liveness", "worker1", left=2), ev(1.1, "queue lost", "worker1", backoff=0.1)]
    delays = pirates.purge_delays(events)
    assert list(delays) == ["worker1"] and [round(d, 3) for d in delays["worker1"]] == [0.3]
    fig = pirates.heartbeat_figure(report_of(events, 1.5), ["worker1"])
    strip, top, bottom = fig.axes[:3]
    assert [line.get_xdata()[0] for line in dashed(top)] == [0.4, 0.9]
    steps = [line for line in bottom.get_lines() if line.get_linestyle() != "--"]
    assert steps and max(steps[-1].get_ydata()) > 0
    assert to_png(fig)[:4] == b"\x89PNG"


def test_titanic_down_spans_and_figure():
    events = [ev(0.1, "accepted", "client", ticket="a"), Event(0.5, "kill", "broker", ""),
              Event(0.6, "kill", "w1", ""), Event(0.7, "restart", "broker", ""),
              Event(0.9, "restart", "w1", ""), ev(1.0, "replied", "client", ticket="a")]
    assert [(round(a, 3), round(b, 3)) for a, b in titanic.down_spans(events, ["broker"])] == [(0.5, 0.2)]
    assert [(round(a, 3), round(b, 3)) for a, b in titanic.down_spans(events, ["broker", "w1"])] == [(0.5, 0.4)]
    fig = titanic.tickets_figure(report_of(events, 1.2), requests=1)
    FigureCanvasAgg(fig)
    assert to_png(fig)[:4] == b"\x89PNG"


def test_a_kill_of_many_peers_at_once_is_one_short_label():
    from zguide_py.plots import _event_label
    crash = [(1.0, "kill", f"titanic.{n}", "") for n in ("broker", "request", "reply", "close")]
    crash += [(1.0, "kill", "worker1", ""), (1.0, "kill", "worker2", ""), (1.0, "kill", "client", "")]
    assert _event_label(crash) == "kill 7 peers"
    assert _event_label(crash[:2]) == "kill titanic.broker, titanic.request"
