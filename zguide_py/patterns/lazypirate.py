"""Lazy Pirate: reliable request-reply done entirely in the client.

A plain REQ client that loses its request (the server crashed, or is stuck) waits forever, and it
cannot even ask again: REQ refuses a second ``send`` before the reply (``EFSM``). The Lazy Pirate
client gets out of that corner by itself:

1. send the request, then ``poll`` for the reply with a timeout;
2. on timeout, **close** the REQ socket (linger 0, so the stale request is dropped), open a new one,
   connect it and send the same request again;
3. after ``retries`` tries in all, give up on that request, report it **abandoned**, and go on.

The server is a plain REP echo server; nothing about it changes. A reply to an earlier try cannot
reach the new socket: it was addressed to the socket we closed. Every request carries the client's
name and a sequence number (``b"client1:17"``), and the client checks that each reply is the echo of
the request it is waiting for, so "a reply that belongs to another request" would be counted, never
mistaken for an answer.

Roles: ``server`` (REP) and ``client`` (REQ, Lazy Pirate). The helpers ``tally`` (the verdict over
every request of every client), ``give_up_times`` and ``requests_figure`` are shared with the Simple
and Paranoid Pirate notebooks, which put the same client in front of a queue.

    python -m zguide_py run lazypirate server endpoint=tcp://127.0.0.1:5555
    python -m zguide_py run lazypirate client endpoint=tcp://127.0.0.1:5555 requests=20
"""
from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

import zmq

REQUEST_TIMEOUT = 0.25   # seconds to wait for a reply before trying again
REQUEST_RETRIES = 3      # tries in all (the first send and two resends), then the request is abandoned


def server(peer, endpoint: str):
    """REP: echo every request back. Kill it to crash it; throttle it to make it stall."""
    rep = peer.socket(zmq.REP)
    rep.bind(endpoint)
    for name in ("requests", "replies"):     # counters exist from the start, even at 0
        peer.counter(name)
    while peer.running:
        if rep.poll(50):                    # poll, so a kill takes effect within 50 ms
            request = rep.recv_multipart()
            peer.count("requests")
            peer.throttle()                 # a stalled server: the client's timeout fires
            if not peer.running:            # killed while stalled: a crash sends nothing
                break
            rep.send_multipart(request)
            peer.count("replies")


def client(peer, endpoint: str, requests: int = 200, timeout: float = REQUEST_TIMEOUT,
           retries: int = REQUEST_RETRIES, pause: float = 0.0):
    """REQ with the Lazy Pirate loop: poll with ``timeout``; on timeout close, reopen, resend;
    after ``retries`` tries give the request up as abandoned and go on with the next one.

    Leaves in ``peer.data``: ``sent`` (sequence numbers), ``answered`` (Counter: seq -> matching
    replies), ``abandoned`` (seqs), ``mismatched`` ((seq, reply) pairs) and ``done``.
    Events: ``send``, ``answered``, ``retry``, ``abandoned``, ``mismatched`` with the seq.
    """
    sent: list[int] = []
    answered: Counter = Counter()
    abandoned: list[int] = []
    mismatched: list[tuple[int, bytes]] = []
    peer.data.update(sent=sent, answered=answered, abandoned=abandoned, mismatched=mismatched,
                     done=False, retries=retries, timeout=timeout)
    for name in ("requests", "replies", "retries", "abandoned", "mismatched"):
        peer.counter(name)                    # counters exist from the start, even at 0

    req = peer.socket(zmq.REQ)
    req.connect(endpoint)
    for seq in range(requests):
        if not peer.running:
            return
        request = f"{peer.name}:{seq}".encode()
        sent.append(seq)
        peer.count("requests")
        peer.log("send", seq)
        started = time.perf_counter()
        tries = 0
        while peer.running:
            req.send(request)
            tries += 1
            deadline = time.monotonic() + timeout
            reply = None
            while peer.running:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if req.poll(min(50, math.ceil(left * 1000))):
                    reply = req.recv()
                    break
            if not peer.running:
                return
            if reply == request:                           # the answer to this very request
                answered[seq] += 1
                peer.count("replies")
                peer.latency("rtt", time.perf_counter() - started)
                peer.log("answered", seq)
                break
            if reply is not None:                          # someone else's reply: never accept it
                mismatched.append((seq, reply))
                peer.count("mismatched")
                peer.log("mismatched", seq)
            # No (good) reply in time: the REQ socket is stuck waiting, so throw it away.
            peer.close_socket(req)
            req = peer.socket(zmq.REQ)
            req.connect(endpoint)
            if tries >= retries:
                abandoned.append(seq)
                peer.count("abandoned")
                peer.log("abandoned", seq)
                break
            peer.count("retries")
            peer.log("retry", seq)
        peer.throttle()
        if pause and not peer.sleep(pause):
            return
    peer.data["done"] = True


ROLES = {"server": server, "client": client}


# ---- the verdict over every request ----------------------------------------------------------

@dataclass
class Tally:
    """What happened to every request of some Lazy Pirate clients."""

    requests: int = 0                 # requests the clients started
    answered: int = 0                 # answered exactly once
    abandoned: int = 0                # given up after the last try, and reported
    unresolved: list = field(default_factory=list)   # (client, seq): neither answered nor abandoned
    duplicates: list = field(default_factory=list)   # (client, seq): answered more than once
    mismatched: int = 0               # replies that belonged to another request
    finished: bool = True             # every client's role ran to its end

    @property
    def ok(self) -> bool:
        return (not self.unresolved and not self.duplicates and self.mismatched == 0 and self.finished
                and self.answered + self.abandoned == self.requests)

    def lines(self, retries: int = REQUEST_RETRIES) -> str:
        """The verdict as text: fixed counts plainly, varying ones after a ``~``."""
        rows = [
            ("requests sent", f"{self.requests}"),
            ("answered exactly once", f"~{self.answered}"),
            (f"abandoned after {retries} tries, and reported", f"~{self.abandoned}"),
            ("left unanswered and not reported", f"{len(self.unresolved)}"),
            ("answered more than once", f"{len(self.duplicates)}"),
            ("answered with another request's reply", f"{self.mismatched}"),
            ("every client finished", f"{self.finished}"),
        ]
        width = max(len(label) for label, _ in rows) + 2
        lines = [f"{label + ':':<{width}}{value}" for label, value in rows]
        lines.append(f"every request answered once or reported abandoned: {self.ok}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.lines()


def tally(lab, clients: Iterable[str]) -> Tally:
    """Account for every request of the named client peers."""
    result = Tally()
    for name in clients:
        peer = lab.peer(name)
        data = peer.data
        sent, answered, abandoned = data.get("sent", []), data.get("answered", Counter()), \
            set(data.get("abandoned", []))
        result.requests += len(sent)
        result.mismatched += len(data.get("mismatched", []))
        result.finished = result.finished and bool(data.get("done")) and peer.state == "done"
        for seq in sent:
            n = answered.get(seq, 0)
            if n == 1 and seq not in abandoned:
                result.answered += 1
            elif n == 0 and seq in abandoned:
                result.abandoned += 1
            elif n > 1:
                result.duplicates.append((name, seq))
            else:
                result.unresolved.append((name, seq))
    return result


def give_up_times(events: Iterable[tuple[float, str, str, Any]]) -> list[float]:
    """Seconds from the first send of a request to its ``abandoned`` event, for every abandoned one."""
    first_send: dict[tuple[str, Any], float] = {}
    times = []
    for t, kind, peer, detail in events:
        if kind == "send":
            first_send[(peer, detail)] = t
        elif kind == "abandoned" and (peer, detail) in first_send:
            times.append(t - first_send[(peer, detail)])
    return times


# ---- the timeline figure --------------------------------------------------------------------

FAULT_COLOURS = {"kill": "tab:red", "restart": "tab:green", "throttle": "tab:orange"}


def fault_marks(events, peers: set[str] | None = None) -> list[tuple[float, str, str, Any]]:
    """The kill/restart/throttle events of ``peers``; a kill immediately followed by a restart of the
    same peer (what ``lab.restart`` of a live peer records) counts as one restart."""
    marks: list[tuple[float, str, str, Any]] = []
    for event in events:
        t, kind, peer, _detail = event
        if kind not in FAULT_COLOURS or (peers is not None and peer not in peers):
            continue
        if (kind == "restart" and marks and marks[-1][1] == "kill" and marks[-1][2] == peer
                and t - marks[-1][0] < 0.1):
            marks[-1] = event
        else:
            marks.append(event)
    return marks


def fault_lines(ax, events, peers: set[str] | None = None) -> None:
    """A dashed vertical line at every fault (kill red, restart green, throttle orange)."""
    for t, kind, _peer, _detail in fault_marks(events, peers):
        ax.axvline(t, color=FAULT_COLOURS[kind], linestyle="--", linewidth=0.9, alpha=0.7)


STRIP_HEIGHT = 1.3   # inches: room for a rotated label of ~24 characters


def _fault_text(kind: str, peers: list[str], detail: Any) -> str:
    """'kill worker1, 2, 3' for several peers with a common prefix; throttles show their value."""
    if kind == "throttle":
        return f"throttle {peers[0]} {detail:g} s/msg" if detail else f"unthrottle {peers[0]}"
    first = peers[0].rstrip("0123456789")
    rest = [p[len(first):] if p.startswith(first) and p[len(first):].isdigit() else p for p in peers[1:]]
    return f"{kind} " + ", ".join([peers[0]] + rest)


def fault_strip(ax, events, peers: set[str] | None = None, span: float = 5.0) -> None:
    """Label the faults in a thin axis of their own (above the plots, so no label hides data).
    Faults closer than 2% of the time span share one label, a line per kind of fault."""
    groups: list[list] = []
    for mark in fault_marks(events, peers):
        if groups and mark[0] - groups[-1][-1][0] < 0.02 * span:
            groups[-1].append(mark)
        else:
            groups.append([mark])
    for group in groups:
        lines: dict[tuple, list[str]] = {}
        for _t, kind, peer, detail in group:
            key = (kind, detail if kind == "throttle" else None)
            if peer not in lines.setdefault(key, []):
                lines[key].append(peer)
        kinds = {k for k, _ in lines}
        colour = FAULT_COLOURS[group[0][1]] if len(kinds) == 1 else "dimgray"
        text = "\n".join(_fault_text(kind, sorted(names), detail) for (kind, detail), names in lines.items())
        ax.text(group[0][0], 0.02, text, rotation=90, va="bottom", ha="center", fontsize=7, color=colour,
                transform=ax.get_xaxis_transform(), linespacing=1.0)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", length=0)
    ax.set_ylabel("faults", rotation=0, ha="right", va="center", fontsize=8)


def requests_figure(report, clients: list[str], workers: list[str] | None = None,
                    fault_peers: list[str] | None = None, title: str = "Lazy Pirate: every request"):
    """Top: requests answered over time, per client (flat stretches are outages).
    Bottom: one row per client with its retries and abandoned requests, and (optionally) one row
    per worker with the requests it served. Faults are dashed lines, labelled in a strip on top."""
    from ..plots import new_figure
    workers = workers or []
    events, end = report.events, max(report.duration, 0.1)
    rows = list(clients) + list(workers)
    heights = [STRIP_HEIGHT, 2.3, 0.7 + 0.32 * len(rows)]
    fig = new_figure(9, sum(heights) + 0.9)
    strip, top, bottom = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": heights})
    faults = set(fault_peers) if fault_peers is not None else None
    fault_strip(strip, events, faults, span=end)
    strip.set_title(title)
    # clients often answer in step, and equal lines would hide each other: the first is a wide pale
    # band, each later one thinner and dashed, drawn on top of it
    for i, name in enumerate(clients):
        times = [t for t, k, p, _ in events if k == "answered" and p == name]
        wide = i == 0 and len(clients) > 1
        top.step([0.0] + times, range(len(times) + 1), where="post", color=f"C{i}", label=name,
                 linewidth=5 if wide else max(1.0, 1.8 - 0.2 * i), alpha=0.45 if wide else 1.0,
                 linestyle=("-", "--", "-.", ":")[min(i, 3)], zorder=2 + i)
    fault_lines(top, events, faults)
    top.set_ylabel("requests answered\n(cumulative)")
    top.set_ylim(bottom=0)
    top.grid(True, alpha=0.3)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)

    styles = {"retry": ("tab:orange", "|", 60), "abandoned": ("tab:red", "x", 40),
              "mismatched": ("black", "D", 30), "served": ("tab:gray", "|", 30)}
    handles = {}
    for y, name in enumerate(rows):
        kinds = ("retry", "abandoned", "mismatched") if name in clients else ("served",)
        for kind in kinds:
            xs = [t for t, k, p, _ in events if k == kind and p == name]
            if xs:
                colour, marker, size = styles[kind]
                handles[kind] = bottom.scatter(xs, [y] * len(xs), color=colour, marker=marker, s=size,
                                               linewidths=1.2)
    fault_lines(bottom, events, faults)
    bottom.set_yticks(range(len(rows)), rows)
    bottom.set_ylim(-0.6, len(rows) - 0.4)
    bottom.invert_yaxis()
    bottom.set_xlabel("time since start of run (s)")
    bottom.set_ylabel("peer")
    bottom.set_xlim(0, end)
    bottom.grid(True, axis="x", alpha=0.3)
    if handles:
        labels = {"retry": "retry (timeout, new socket)", "abandoned": "abandoned",
                  "mismatched": "wrong reply", "served": "request served"}
        bottom.legend(handles.values(), [labels[k] for k in handles], loc="upper left",
                      bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig
