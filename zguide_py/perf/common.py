"""What every part of the perf package shares: sizes, transports, modes, the socket options of a
measurement, and the seed talk's figures."""
from __future__ import annotations

from pathlib import Path

import zmq

#: The message sizes of the seed talk's tables, 1 B to 8 MB.
SIZES = [1, 8, 64, 512, 4 << 10, 32 << 10, 128 << 10, 512 << 10, 2 << 20, 8 << 20]
TRANSPORTS = ("inproc", "ipc", "tcp")
#: "copy": send(copy=True)/recv(copy=True); "zero-copy": send(copy=False)/recv(copy=False).
MODES = ("copy", "zero-copy")
#: The largest message the command line accepts.
MAX_SIZE = 64 << 20
#: A send or receive that waits longer than this fails the measurement (a dead peer, not a slow one).
TIMEOUT_MS = 10_000

#: The checkout this package runs from (the C baseline's source is in its tools/).
ROOT = Path(__file__).resolve().parent.parent.parent

#: The seed talk's measurements (C# on clrzmq, Windows 8.1, i7-4702MQ): size -> value.
SEED_LOCALHOST_MSGS = {1: 4138129, 8: 4197820, 64: 2392897, 512: 819342, 4096: 150987, 32768: 16160,
                       131072: 5405, 524288: 1374, 2097152: 327, 8388608: 78}
SEED_LOCALHOST_MBIT = {1: 33, 8: 268, 64: 1225, 512: 3356, 4096: 4947, 32768: 4236, 131072: 5667,
                       524288: 5762, 2097152: 5486, 8388608: 5234}
SEED_LOCALHOST_LATENCY_US = {8: 41.24, 64: 42.55, 512: 52.48, 4096: 89.03, 32768: 275.2, 131072: 1265.0,
                             524288: 1888.3, 2097152: 5531.4, 8388608: 25366.2}
SEED_REMOTE_MSGS = {1: 3562066, 8: 1176237, 64: 178276.2, 512: 22323.69, 4096: 2841.988, 32768: 359.1445,
                    131072: 86.9327, 524288: 22.3024, 2097152: 5.752958, 8388608: 1.544604}
SEED_REMOTE_MBIT = {1: 28.50, 8: 75.28, 64: 91.28, 512: 91.44, 4096: 93.13, 32768: 94.15, 131072: 91.16,
                    524288: 93.54, 2097152: 96.52, 8388608: 103.66}
SEED_REMOTE_LATENCY_US = {1: 399.9, 8: 404.5, 64: 377.4, 512: 562.9, 4096: 1073.4, 32768: 3668.6,
                          131072: 12305.7, 524288: 47084.2, 2097152: 186710.4, 8388608: 742378.3}


def human_size(size: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("kB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} B"


def parse_size(text: str) -> int:
    """``"64"``, ``"4k"``, ``"4kB"``, ``"8M"``, ``"8 MB"`` -> bytes (k = 1024, M = 1024²)."""
    t = text.strip().replace(" ", "")
    scale = 1
    for suffix, factor in (("kB", 1 << 10), ("KB", 1 << 10), ("k", 1 << 10), ("K", 1 << 10),
                           ("MB", 1 << 20), ("M", 1 << 20), ("m", 1 << 20), ("B", 1)):
        if t.endswith(suffix):
            t, scale = t[: -len(suffix)], factor
            break
    if not t.isdigit():
        raise ValueError(f"bad message size {text!r}: use bytes or a k/M suffix, like 64, 4k, 8M")
    size = int(t) * scale
    if not 1 <= size <= MAX_SIZE:
        raise ValueError(f"message size {text!r} is out of range: 1 B to {human_size(MAX_SIZE)}")
    return size


def hwm_for(size: int) -> int:
    """High-water mark for a size: 1000 messages (libzmq's default), but at most ~64 MB queued per
    socket, so that copying 8 MB messages cannot pile up gigabytes on a shared machine."""
    return max(4, min(1000, (64 << 20) // size))


def check(transport: str, size: int) -> None:
    """ValueError unless ``transport`` is one of :data:`TRANSPORTS` and ``size`` at least 1 byte."""
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}: use inproc, ipc or tcp")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"message size must be at least 1 byte, not {size!r}")


def mode_name(zero_copy: bool) -> str:
    return "zero-copy" if zero_copy else "copy"


def data_socket(ctx: zmq.Context, kind: int, size: int, linger: int = 0) -> zmq.Socket:
    """A socket for measuring: a send or receive that waits :data:`TIMEOUT_MS` fails (zmq.Again),
    and its queues hold at most :func:`hwm_for` messages of ``size``."""
    sock = ctx.socket(kind)
    sock.linger = linger
    sock.rcvtimeo = sock.sndtimeo = TIMEOUT_MS
    sock.sndhwm = sock.rcvhwm = hwm_for(size)
    return sock
