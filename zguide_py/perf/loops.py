"""The measuring loops: what notebook 16 teaches, as libzmq's perf tools measure.

* **throughput** (``local_thr``/``remote_thr``): a PUSH socket sends ``count`` messages back to back
  to a PULL socket. The receiver counts: its clock starts when the first message arrives and stops at
  the last one, so connecting and queueing never flatter the figure.
* **latency** (``local_lat``/``remote_lat``): a REQ socket and a REP echo play ping-pong, one message
  in flight. One warm-up round trip (it connects), then ``count`` timed ones; one-way = round trip / 2.

``zero_copy`` means ``copy=False`` on both sides: pyzmq hands libzmq our buffer on the way out and
gives us a ``zmq.Frame`` on the way in (it still copies frames under ``zmq.COPY_THRESHOLD``, 64 kB).
The same four functions run in a thread, in the far side's child process, and in the notebook.
"""
from __future__ import annotations

import time

import zmq


def recv_stream(pull: zmq.Socket, count: int, zero_copy: bool) -> float:
    """local_thr: receive ``count`` messages; messages/s from the first arrival to the last."""
    copy = not zero_copy
    recv = pull.recv
    recv(copy=copy)                     # the clock starts when traffic arrives
    started = time.perf_counter()
    for _ in range(count - 1):
        recv(copy=copy)
    return (count - 1) / (time.perf_counter() - started)


def send_stream(push: zmq.Socket, body: bytes, count: int, zero_copy: bool) -> None:
    """remote_thr: send ``count`` messages back to back."""
    copy = not zero_copy
    send = push.send
    for _ in range(count):
        send(body, copy=copy)


def echo(rep: zmq.Socket, count: int, zero_copy: bool) -> None:
    """local_lat: send every request straight back (one warm-up + ``count``)."""
    copy = not zero_copy
    for _ in range(count + 1):
        rep.send(rep.recv(copy=copy), copy=copy)


def ping(req: zmq.Socket, body: bytes, count: int, zero_copy: bool) -> float:
    """remote_lat: one warm-up round trip, then ``count`` timed ones; returns one-way µs."""
    copy = not zero_copy
    req.send(body, copy=copy)
    req.recv(copy=copy)
    started = time.perf_counter()
    for _ in range(count):
        req.send(body, copy=copy)
        req.recv(copy=copy)
    return (time.perf_counter() - started) / count / 2 * 1e6
