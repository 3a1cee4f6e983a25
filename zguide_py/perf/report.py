"""Reports of a sweep: its table (Python beside C, the talk's figures beside tcp) and its JSON file.
The figures are in :mod:`zguide_py.perf.figures` (they need matplotlib)."""
from __future__ import annotations

import json
from pathlib import Path

from .common import SEED_LOCALHOST_LATENCY_US, SEED_LOCALHOST_MSGS, human_size
from .sweeps import FORMAT


def save_json(result: dict, path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path


def load_json(path) -> dict:
    result = json.loads(Path(path).read_text())
    if not isinstance(result, dict) or result.get("format") != FORMAT or "rows" not in result:
        raise ValueError(f"{path} is not a zguide_py perf result")
    return result


def _num(value, fmt: str = ",.0f", width: int = 12) -> str:
    return f"{'-' if value is None else format(value, fmt):>{width}}"


def _us(value, width: int = 10) -> str:
    if value is None:
        return f"{'-':>{width}}"
    return f"{value:>{width},.{2 if value < 10 else 1 if value < 1000 else 0}f}"


def _pct(value, width: int = 7) -> str:
    return f"{'-' if value is None else f'{value:.0f}%':>{width}}"


def ratio(py, c) -> float | None:
    """Python as a percentage of C (for latency pass C / Python: lower is better there)."""
    return None if py is None or c is None or c == 0 else py / c * 100


def sweep_table(result: dict, seed: bool = True) -> str:
    """Python beside C for every row (msg/s, Mbit/s, µs; Python as % of C), the talk's localhost
    figures beside tcp."""
    m = result["meta"]
    lines = [f"Python {m['python']} + pyzmq {m['pyzmq']} (libzmq {m['libzmq']})  vs  " +
             (f"C baseline zperf (libzmq {m['c_libzmq']})" if m.get("c_libzmq")
              else f"C baseline skipped: {m['c_skipped']}"),
             "throughput counted at the receiver (local_thr); latency = REQ/REP round trip / 2 (local_lat)"]
    talk = f"  {'talk msg/s':>11}{'talk µs':>10}"
    head = (f"{'size':>7}  {'mode':<9}{'msg/s':>12}{'Mbit/s':>12}{'µs':>10}  {'C msg/s':>12}{'C Mbit/s':>12}"
            f"{'C µs':>10}  {'thr/C':>6}{'C/lat':>7}")
    by_transport: dict[str, list[dict]] = {}
    for r in result["rows"]:
        by_transport.setdefault(r["transport"], []).append(r)
    for transport, rows in by_transport.items():
        where = "two processes" if rows[0].get("processes") else "two threads of one process"
        took = result.get("elapsed_s", {}).get(transport)
        lines += ["", f"{transport} ({where})" + (f", swept in {took:.1f} s" if took is not None else ""),
                  head + (talk if seed and transport == "tcp" else "")]
        last_size = None
        for r in rows:
            s = r["size"]
            line = (f"{human_size(s):>7}  {r['mode']:<9}{_num(r['msgs_per_s'])}{_num(r['mbit_per_s'])}"
                    f"{_us(r.get('latency_us'))}  {_num(r.get('c_msgs_per_s'))}"
                    f"{_num(r.get('c_mbit_per_s'))}{_us(r.get('c_latency_us'))}"
                    f"  {_pct(ratio(r['msgs_per_s'], r.get('c_msgs_per_s')), 6)}"
                    f"{_pct(ratio(r.get('c_latency_us'), r.get('latency_us')))}")
            if seed and transport == "tcp" and s != last_size:
                line += f"  {_num(SEED_LOCALHOST_MSGS.get(s), width=11)}{_us(SEED_LOCALHOST_LATENCY_US.get(s))}"
            last_size = s
            lines.append(line.rstrip())
    lines += ["", "thr/C = Python's msg/s as % of C's; C/lat = C's latency as % of Python's "
              "(both: 100% = as fast as C)."]
    if seed and "tcp" in by_transport:
        lines.append("talk = the seed talk's localhost figures (C# on clrzmq, Windows 8.1, i7-4702MQ).")
    return "\n".join(lines)
