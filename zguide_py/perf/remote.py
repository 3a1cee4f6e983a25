"""The talk's "Remote" tables on one machine: throughput and latency between two hosts of a Net.

The seed talk measured ZeroMQ between two PCs on 100 Mbit Ethernet. Here the PCs are two hosts of a
:class:`~zguide_py.net.Net` (network namespaces on a bridge) and the cable is their veth links, each
held to the talk's 100 Mbit/s by a tbf queue (``net.rate(name, "100mbit")``).

Both sides of every measurement are child processes (:class:`~zguide_py.perf.farside.RemotePeer`
started through ``host.exec_prefix()``): the measuring side (PULL, REQ) on host ``near``, the far side
(PUSH, REP) on host ``far``. The caller only sends them commands, over ipc; the measured bytes cross the
shaped link and nothing else. The loops are those of notebook 16 (:mod:`zguide_py.perf.loops`).

    with two_hosts("100mbit") as (near, far):
        result = remote_sweep(near, far, rate="100mbit")
    print(remote_table(result))

A link of ``rate`` moves a few messages of 8 MB a second at best, so where the link is the limit the
message counts come from its rate (:func:`link_count`), not from trial runs: an 8 MB throughput point
is 3 messages (2 s at 100 Mbit/s), timed from the first arrival to the last.
"""
from __future__ import annotations

import contextlib
import re
import time
from functools import partial
from typing import Iterator

import zmq

from .bench import PointBench
from .common import SEED_REMOTE_LATENCY_US, SEED_REMOTE_MBIT, SEED_REMOTE_MSGS, SIZES, human_size
from .farside import RemotePeer
from .progress import Progress
from .sweeps import FORMAT, Point, Retrying, build_row, meta, next_guess, plan

#: The talk's link.
TALK_RATE = "100mbit"
#: The figures a point needs before the link, not trial runs, sets its message count.
LINK_BOUND_BELOW = 64
#: The sizes from which ``make bench`` wants the link nearly full (Mbit/s >= 90% of its rate).
LINK_FULL_FROM = 4 << 10

_UNITS = {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "bps": 8, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9}


def rate_bps(rate: str) -> float:
    """tc's rate words in bits per second: "100mbit" -> 100e6, "512kbit" -> 512e3, "1mbps" -> 8e6."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]+)", str(rate).strip().lower())
    if not m or m.group(2) not in _UNITS:
        raise ValueError(f"a rate is like '100mbit' or '512kbit', not {rate!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def framing(size: int) -> int:
    """The bytes ZMTP adds to a one-frame message: a flags byte and the length, in 1 byte up to
    255 bytes of body, else in 8."""
    return 2 if size <= 255 else 9


def wire_mbit(size: int, msgs_per_s: float) -> float:
    """Mbit/s of ZMTP on the link for ``msgs_per_s`` messages of ``size``: body and framing (TCP, IP
    and Ethernet headers not counted)."""
    return msgs_per_s * (size + framing(size)) * 8 / 1e6


def link_count(kind: str, size: int, link_bps: float, seconds: float) -> int | None:
    """A message count for a point the link bounds: as many messages (kind "thr") or round trips
    ("lat") as the link carries in ``seconds``, at least 3 messages or 1 round trip. None when the
    link allows so many that trial runs can size the point as on loopback. Three, not two: the clock
    starts when the first message is received, and a receiver that was a little late for it (a busy
    machine) would shorten a one-message interval, and flatter it, twice as much."""
    per_message = (size + framing(size)) * 8 / link_bps          # seconds on the link, one way
    per_s = 1 / per_message if kind == "thr" else 1 / (2 * per_message)
    if per_s * seconds >= LINK_BOUND_BELOW:
        return None
    return max(3 if kind == "thr" else 1, round(per_s * seconds))


class HostBench(PointBench):
    """Measures points over tcp between two hosts: ``near`` measures (PULL bound, REQ connected), ``far``
    is the other side (PUSH, REP), each a child process on its host. ``link_bps``: the link's rate, so
    that big messages are counted from it (:func:`link_count`). Use with ``with``."""

    def __init__(self, near, far, link_bps: float | None = None, start_timeout: float = 30.0):
        super().__init__("tcp")
        self.processes = True
        self.near_host, self.far_host, self.link_bps = near, far, link_bps
        self.ctx = zmq.Context()
        self.near = self.far = None
        try:
            self.near = RemotePeer(self.ctx, start_timeout, prefix=near.exec_prefix())
            self.far = RemotePeer(self.ctx, start_timeout, prefix=far.exec_prefix())
        except BaseException:
            self.close()
            raise

    def _measure(self, kind: str, size: int, zero_copy: bool, count: int | None, seconds: float,
                 guess: float | None) -> dict:
        if count is None and self.link_bps:
            count = link_count(kind, size, self.link_bps, seconds)
        return super()._measure(kind, size, zero_copy, count, seconds, guess)

    def _deadline(self, size: int, count: int) -> float:
        """How long to wait for a run's result: the time its bytes need on the link, and 30 s more."""
        if not self.link_bps:
            return 60.0
        return 30.0 + 2 * (count + 1) * (size + framing(size)) * 8 / self.link_bps

    def run(self, kind: str, size: int, count: int, zero_copy: bool) -> dict:
        cmd = {"size": size, "count": count, "zero_copy": zero_copy}
        wait = self._deadline(size, count)
        if kind == "thr":
            self.near.send(op="pull", endpoint=f"tcp://{self.near_host.address}:*", **cmd)
            self.far.send(op="push", endpoint=self.near.recv()["endpoint"], **cmd)
            result = self.near.recv(wait)
        else:
            self.far.send(op="echo", endpoint=f"tcp://{self.far_host.address}:*", **cmd)
            self.near.send(op="ping", endpoint=self.far.recv()["endpoint"], **cmd)
            result = self.near.recv(wait)
        self.far.recv(wait)
        return {k: result[k] for k in ("msgs_per_s", "latency_us") if k in result}

    def close(self) -> None:
        """Stop both children (asked to quit, then killed, always reaped) and the control sockets."""
        try:
            for peer in (self.near, self.far):
                if peer is not None:
                    peer.close()
        finally:
            self.ctx.destroy(linger=0)
            super().close()


@contextlib.contextmanager
def two_hosts(rate: str | None = TALK_RATE, lab=None) -> Iterator[tuple]:
    """A Net of two hosts, ``near`` and ``far``, both links limited to ``rate`` (None: unlimited),
    closed on the way out, whatever happens. Needs what a Net needs (``zguide_py.net.missing()``)."""
    from ..net import Net
    net = Net(lab)
    try:
        near, far = net.host("near"), net.host("far")
        if rate is not None:
            net.rate("near", rate)
            net.rate("far", rate)
        yield near, far
    finally:
        net.close()


def remote_row(row: dict, link_bps: float | None) -> dict:
    """A sweep's row with what the link adds: ZMTP's Mbit/s on the wire, and the share of the link."""
    row = dict(row, wire_mbit_per_s=wire_mbit(row["size"], row["msgs_per_s"]))
    row["link_pct"] = row["mbit_per_s"] * 1e6 / link_bps * 100 if link_bps else None
    return row


def remote_sweep(near, far, rate: str | None = TALK_RATE, sizes=SIZES, modes=("copy",), seconds: float = 0.3,
                 latency: bool = True, latency_sizes=None, repeats: int = 1, progress: bool | None = None) -> dict:
    """Throughput (and latency) from ``near`` to ``far`` for every size and mode: the talk's Remote
    table. ``rate``: what the hosts' links are limited to (it sizes the big points and gives each row
    its share of the link; None for an unlimited link). ``latency_sizes``: the sizes whose latency is
    measured (default: all). ``repeats``: best of that many throughput runs from 512 kB up.
    Returns the JSON-ready result of :func:`~zguide_py.perf.sweeps.sweep`, with ``settings["rate"]``
    and each row's ``wire_mbit_per_s`` and ``link_pct``."""
    sizes, modes = list(sizes), list(modes)
    points = plan(["tcp"], sizes, modes)
    if not seconds > 0:
        raise ValueError("seconds must be positive")
    link_bps = rate_bps(rate) if rate is not None else None
    with_latency = set(sizes if latency_sizes is None else latency_sizes) if latency else set()
    bar = Progress(len(points), "remote sweep", enabled=progress is not False)
    rows, notes = [], []
    started = time.perf_counter()
    guesses: dict[str, dict] = {}
    try:
        with Retrying(partial(HostBench, near, far, link_bps), notes) as bench:
            for point in points:
                bar.show(point.label)
                row = build_row(_measure(point, bench, seconds, point.size in with_latency, repeats,
                                         guesses.get(point.mode)))
                following = sizes[min(sizes.index(point.size) + 1, len(sizes) - 1)]
                guesses[point.mode] = next_guess(row, following / point.size)
                rows.append(remote_row(row, link_bps))
                bar.advance()
    finally:
        bar.close()
    return {"format": FORMAT, "meta": meta(None, "not measured between hosts"),
            "settings": {"transports": ["tcp"], "sizes": sizes, "modes": modes, "seconds": seconds,
                         "latency": latency, "latency_sizes": sorted(with_latency), "repeats": repeats,
                         "rate": rate, "near": near.address, "far": far.address},
            "rows": rows, "elapsed_s": {"remote": time.perf_counter() - started}, "notes": notes}


def _measure(point: Point, bench: Retrying, seconds: float, latency: bool, repeats: int, guess: dict | None) -> dict:
    """One point as :func:`~zguide_py.perf.sweeps.measure` makes it, without C: best of ``repeats``
    throughput runs from 512 kB up (where a run is a few messages), then the latency."""
    guess = guess or {}
    runs = {"py": [], "c": [], "lat": None, "c_lat": None}
    for _ in range(repeats if point.size >= 512 << 10 else 1):
        runs["py"].append(bench.throughput(point, seconds=seconds, guess=guess.get("py")))
    if latency:
        runs["lat"] = bench.latency(point, seconds=seconds, guess=guess.get("py lat"))
    return runs


def link_shares(result: dict, from_size: int = LINK_FULL_FROM, mode: str = "copy") -> dict[int, float]:
    """Size -> Mbit/s as % of the link's rate, from ``from_size`` up (the target of ``make bench``)."""
    return {r["size"]: r["link_pct"] for r in result["rows"]
            if r["mode"] == mode and r["size"] >= from_size and r.get("link_pct") is not None}


def _cell(value, fmt: str, width: int) -> str:
    return f"{'-' if value is None else format(value, fmt):>{width}}"


def _msgs(value, width: int = 12) -> str:
    """Messages a second: whole numbers, but 2 decimals under 100 (an 8 MB point is 1.5 msg/s)."""
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width},.{0 if value >= 100 else 2}f}"


def _pct(value) -> str:
    return f"{'-' if value is None else f'{value:.0f}%':>7}"


def _us(value) -> str:
    if value is None:
        return f"{'-':>10}"
    return f"{value:>10,.{1 if value < 1000 else 0}f}"


def remote_table(result: dict, seed: bool = True) -> str:
    """The sweep as a table: msg/s, Mbit/s (the bodies), wire Mbit/s (with ZMTP's framing), % of the
    link, one-way µs, and the talk's 100 Mbit LAN figures beside them."""
    s = result["settings"]
    link = f"a {s['rate']} link (tbf)" if s.get("rate") else "an unlimited link"
    took = result.get("elapsed_s", {}).get("remote")
    lines = [f"tcp between two hosts ({s['near']} measures, {s['far']} sends), {link}"
             + (f", swept in {took:.1f} s" if took is not None else ""),
             f"{'size':>7}  {'mode':<9}{'msg/s':>12}{'Mbit/s':>9}{'wire':>9}{'link':>7}{'µs':>10}"
             + (f"  {'talk msg/s':>11}{'talk Mbit/s':>12}{'talk µs':>10}" if seed else "")]
    for r in result["rows"]:
        line = (f"{human_size(r['size']):>7}  {r['mode']:<9}{_msgs(r['msgs_per_s'])}{r['mbit_per_s']:>9.1f}"
                f"{r['wire_mbit_per_s']:>9.1f}{_pct(r.get('link_pct'))}"
                f"{_us(r.get('latency_us'))}")
        if seed:
            line += (f"  {_msgs(SEED_REMOTE_MSGS.get(r['size']), 11)}"
                     f"{_cell(SEED_REMOTE_MBIT.get(r['size']), '.1f', 12)}{_us(SEED_REMOTE_LATENCY_US.get(r['size']))}")
        lines.append(line.rstrip())
    lines.append("Mbit/s counts message bodies; wire adds ZMTP's framing (2 bytes a message up to 255 B, "
                 "9 above); link = Mbit/s as % of the link's rate.")
    if seed:
        lines.append("talk = the seed talk's 100 Mbit LAN run (C# on clrzmq, Windows 8.1, two PCs).")
    for note in result.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def expected_latency_us(size: int, link_bps: float) -> float:
    """The least one-way time a message of ``size`` needs on a link of ``link_bps``: its bytes, body
    and framing, one after another (no propagation delay, no headers: a floor, not a forecast)."""
    return (size + framing(size)) * 8 / link_bps * 1e6

