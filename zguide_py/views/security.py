"""Security (notebook 18): what each peer saw of the handshakes, and what encryption costs.

``measure_throughput`` runs the pattern's ``sink`` and ``source`` roles, plaintext and CURVE, and
``tools/bench_security.py`` prints its table for ``make bench``."""
from __future__ import annotations

from ..lab import Lab
from ..patterns.security import sink, source
from ..plots import new_figure

# kind: (height in the row, colour, marker, legend)
HANDSHAKE_STYLES = {
    "zap_allowed": (-0.36, "tab:olive", "^", "ZAP: key allowed"),
    "zap_denied": (-0.24, "tab:red", "v", "ZAP: key denied"),
    "handshake_ok": (-0.12, "tab:green", "o", "handshake succeeded"),
    "refused_auth": (0.0, "tab:pink", "o", "handshake failed: auth"),
    "refused_protocol": (0.12, "tab:orange", "o", "handshake failed: mechanism"),
    "refused_other": (0.12, "tab:brown", "o", "handshake failed: other"),
    "timeout": (0.24, "tab:gray", "s", "no reply in time"),
    "kill": (0.36, "black", "X", "server killed"),
    "restart": (0.36, "tab:blue", "P", "server restarted"),
}


def handshakes_figure(report, peers: list[str]):
    """The handshake events of a run on a time line, one row per peer. Inside a row each kind of
    event has a height of its own (the order of the legend), so that events at the same moment
    do not hide each other."""
    fig = new_figure(8.5, 4.4)
    ax = fig.add_subplot()
    for kind, (height, colour, marker, label) in HANDSHAKE_STYLES.items():
        marks = [(e.t, peers.index(e.peer) + height) for e in report.events
                 if e.kind == kind and e.peer in peers]
        if marks:
            ax.scatter(*zip(*marks), color=colour, marker=marker, s=32, label=label, zorder=3)
    for y in range(len(peers) - 1):
        ax.axhline(y + 0.5, color="0.85", linewidth=0.8)
    ax.set_yticks(range(len(peers)), peers)
    ax.set_ylim(len(peers) - 0.5, -0.5)
    ax.set_xlabel("time since start of run (s)")
    ax.set_ylabel("peer")
    ax.set_title("handshakes and refusals, as each peer saw them")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


# ---- plaintext against CURVE ------------------------------------------------------------------------
def measure_throughput(keys: dict, sizes=(64, 4096, 131_072), seconds: float = 0.3,
                       lab_name: str = "security-throughput") -> list[dict]:
    """Messages per second of a PUSH -> PULL stream over tcp loopback, plaintext and CURVE, for
    each size, measured at the receiver over about ``seconds`` of steady flow (the connection and
    its handshake are not timed). Runs in a lab of its own: one authenticator per context.
    ``keys`` as ``security.create_keys`` makes them (server, server_public, allowed, alice)."""
    rows = []
    with Lab(lab_name) as lab:
        _stream(lab, 64, 0.05, None)                       # warm up: first connection, allocator, caches
        for size in sizes:
            for mode in ("plaintext", "CURVE"):
                messages, rate = _stream(lab, size, seconds, keys if mode == "CURVE" else None)
                rows.append({"size": size, "mode": mode, "messages": messages, "msgs_per_s": rate,
                             "mbit_per_s": rate * size * 8 / 1e6})
    return rows


def _stream(lab, size: int, seconds: float, keys: dict | None) -> tuple[int, float]:
    """(messages counted, messages per second) of one stream, from the receiver's marks."""
    endpoint = lab.endpoint("stream", "tcp")
    server = dict(cert=keys["server"], allow=keys["allowed"]) if keys else {}
    client_keys = dict(server_key=keys["server_public"], cert=keys["alice"]) if keys else {}
    sink_peer = lab.start("sink", sink, endpoint=endpoint, **server)
    lab.start("source", source, endpoint=endpoint, size=size, **client_keys)
    skip = 0.02                                            # let the stream settle first

    def steady() -> list:
        marks = list(sink_peer.data["marks"])
        return [m for m in marks if m[0] >= marks[0][0] + skip] if marks else []

    def enough() -> bool:                                   # two marks at least, `seconds` apart
        kept = steady()
        return len(kept) >= 2 and kept[-1][0] - kept[0][0] >= seconds

    try:
        lab.wait_for(enough, timeout=30, what=f"{seconds} s of {size} B messages")
    finally:
        lab.remove("source")
        lab.remove("sink")
    (t0, n0), (t1, n1) = (kept := steady())[0], kept[-1]
    return n1 - n0, (n1 - n0) / (t1 - t0)


def throughput_table(rows: list[dict]) -> str:
    """The rows of ``measure_throughput`` as a small text table, one line per size."""
    by = {(r["size"], r["mode"]): r for r in rows}
    lines = [f"{'size':>9}  {'plaintext msg/s':>16}  {'CURVE msg/s':>12}  {'CURVE Mbit/s':>12}  CURVE/plaintext"]
    for size in sorted({r["size"] for r in rows}):
        plain, curve = by[(size, "plaintext")], by[(size, "CURVE")]
        lines.append(f"{size:>7,} B  {plain['msgs_per_s']:>16,.0f}  {curve['msgs_per_s']:>12,.0f}  "
                     f"{curve['mbit_per_s']:>12,.0f}  {curve['msgs_per_s'] / plain['msgs_per_s']:>15.2f}")
    return "\n".join(lines)


def throughput_figure(rows: list[dict]):
    """Bars of messages per second, plaintext beside CURVE, per message size (log scale)."""
    by = {(r["size"], r["mode"]): r for r in rows}
    sizes = sorted({r["size"] for r in rows})
    fig = new_figure(8, 3.6)
    ax = fig.add_subplot()
    width = 0.38
    for i, (mode, colour) in enumerate((("plaintext", "tab:gray"), ("CURVE", "tab:green"))):
        xs = [j + (i - 0.5) * width for j in range(len(sizes))]
        rates = [by[(s, mode)]["msgs_per_s"] for s in sizes]
        bars = ax.bar(xs, rates, width, color=colour, label=mode)
        ax.bar_label(bars, labels=[f"{r:,.0f}" for r in rates], fontsize=7)
    ax.set_xticks(range(len(sizes)), [f"{s:,} B" if s < 1024 else f"{s // 1024} kB" for s in sizes])
    ax.set_yscale("log")
    ax.set_ylim(top=ax.get_ylim()[1] * 3)          # room for the labels and the legend
    ax.set_xlabel("message size")
    ax.set_ylabel("messages per second (log scale)")
    ax.set_title("PUSH → PULL over tcp loopback: plaintext against CURVE")
    ax.legend()
    ax.grid(True, axis="y", which="major", alpha=0.3)
    return fig
