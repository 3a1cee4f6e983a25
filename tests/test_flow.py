"""The message-flow recorder: recording, bounds, thread safety, short frame forms, table, figure."""
from __future__ import annotations

import threading

import pytest
import zmq
from matplotlib.figure import Figure

from zguide_py.flow import Flow, FlowTable, short_frame, short_frames
from zguide_py.plots import to_png



def test_short_frame_forms():
    assert short_frame(b"") == "''"
    assert short_frame(b"hello") == '"hello"'
    assert short_frame("text") == '"text"'
    assert short_frame(b"\x00\x80\x00\x00\x29") == "0x0080000029"
    long_text = short_frame(b"a" * 40, width=10)
    assert long_text.startswith('"aaaaaaaaa') and long_text.endswith('…"') and len(long_text) == 12
    long_binary = short_frame(bytes(range(20)), width=8)
    assert long_binary == "0x00010203…(20 B)"
    assert short_frame(memoryview(b"mv")) == '"mv"'
    assert short_frames([b"\x00\x80\x00\x00\x29", b"", b"hello"]) == "[0x0080000029|''|\"hello\"]"
    assert short_frames([b"x"] * 8, max_frames=3) == '["x"|"x"|"x"|…+5]'


def test_record_orders_by_time_and_names_identities():
    clock = iter([0.3, 0.1, 0.2]).__next__
    flow = Flow(clock=clock)
    flow.record("a", "b", [b"first recorded"])
    flow.record(b"client-1", "server", [b"client-1", b"req"])
    flow.record(b"\x00\x01\x02\x03\x04", "server", b"single frame")
    events = flow.events()
    assert [e.t for e in events] == [0.1, 0.2, 0.3]
    assert events[0].sender == "client-1"                 # printable identity -> its text
    assert events[1].sender == "0x0001020304"             # binary identity -> hex
    assert events[1].frames == (b"single frame",)         # a single frame is wrapped in a tuple
    assert flow.peers() == ["client-1", "server", "0x0001020304", "a", "b"]
    assert flow.total == 3 and len(flow) == 3


def test_zmq_frames_are_copied_to_bytes(lab):
    flow = Flow(lab)
    a, b = lab.socket(zmq.PAIR), lab.socket(zmq.PAIR)
    a.bind("inproc://flow-pair")
    b.connect("inproc://flow-pair")
    a.send_multipart([b"one", b"two"])
    frames = b.recv_multipart(copy=False)                # zmq.Frame objects
    flow.record("a", "b", frames)
    assert flow.events()[0].frames == (b"one", b"two")


def test_bounded_and_thread_safe():
    flow = Flow(maxlen=500)
    threads_n, per_thread = 8, 1000

    def hammer(k):
        for i in range(per_thread):
            flow.record(f"t{k}", "sink", [str(i).encode()])

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(threads_n)]
    for t in threads:
        t.start()
    for _ in range(50):                                   # reads while writers run must not fail
        flow.events()
        flow.table()
    for t in threads:
        t.join(10)
    assert len(flow) == 500                               # bounded: the newest 500 are kept
    assert flow.total == threads_n * per_thread           # but every message was counted
    assert len({e.seq for e in flow.events()}) == 500     # no duplicate sequence numbers


def test_disable_and_clear():
    flow = Flow()
    flow.enabled = False
    flow.record("a", "b", [b"x"])
    assert len(flow) == 0
    flow.enabled = True
    flow.record("a", "b", [b"x"])
    flow.clear()
    assert len(flow) == 0 and flow.total == 0
    with pytest.raises(ValueError):
        Flow(maxlen=0)


def test_table_rows_and_text():
    times = iter([1.0, 1.0125, 1.5]).__next__
    flow = Flow(clock=times)
    flow.record(b"\x00\x80\x00\x00\x29", "server", [b"\x00\x80\x00\x00\x29", b"", b"hello"])
    flow.record("server", "client", [b"world"], note="as received")
    flow.record("x", "y", [b"z"])
    table = flow.table()
    assert isinstance(table, FlowTable) and len(table) == 3
    assert table[0]["t (ms)"] == "~0.00" and table[1]["t (ms)"] == "~12.50"
    assert table[0]["frames"] == 3 and table[0]["bytes"] == 10
    assert table[0]["message"] == "[0x0080000029|''|\"hello\"]"
    assert table[1]["note"] == "as received"
    per_frame = flow.table(per_frame=True, first=1)
    assert [r["content"] for r in per_frame] == ["0x0080000029", "''", '"hello"']
    assert [r["bytes"] for r in per_frame] == [5, 0, 5]
    assert flow.table(last=1)[0]["from"] == "x"
    assert flow.table(peers=["server", "client"]).column("to") == ["client"]
    assert flow.table(where=lambda e: e.sender == "x").column("to") == ["y"]
    # the text form lines up once measured numbers are masked, so notebook outputs compare equal
    text = repr(table)
    assert text.splitlines()[0].split()[:3] == ["#", "t", "(ms)"]
    assert "<table>" in table._repr_html_()
    assert repr(FlowTable([])) == "(no messages)"


def test_figure_draws_lifelines_and_arrows():
    flow = Flow()
    for n in range(3):
        body = f"req {n}".encode()
        flow.record("client", "server", [b"client", body])
        flow.record("server", "worker", [b"client", body])
        flow.record("worker", "server", [b"client", body + b" done"])
        flow.record("server", "client", [body + b" done"])
    fig = flow.figure(title="test")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["client", "server", "worker"]
    assert len(ax.get_yticks()) == 12
    assert len([c for c in ax.get_children() if type(c).__name__ == "Annotation"]) == 12
    assert "test (12 messages)" == ax.get_title()
    assert ax.get_ylabel() and ax.get_xlabel()
    assert to_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"
    # choosing lifelines filters messages; max_events cuts and says so; key colours by group
    fig = flow.figure(peers=["client", "server"], max_events=2, key=lambda e: e.frames[-1][:5],
                      legend_title="request")
    ax = fig.axes[0]
    assert ax.get_title() == "message flow (2 messages, 4 more not shown)"
    assert ax.get_legend() is not None
    # a message to oneself and an empty flow both draw
    flow.record("server", "server", [b"tick"])
    assert to_png(flow.figure(last=1))
    assert "no messages recorded" in [t.get_text() for t in Flow().figure().axes[0].texts]
    with pytest.raises(ValueError):
        flow.figure(max_events=0)


def test_flow_uses_the_lab_clock(lab):
    flow = Flow(lab)
    before = lab.now()
    flow.record("a", "b", [b"x"])
    assert before <= flow.events()[0].t <= lab.now()
