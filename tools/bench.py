"""`make bench`: the project's own performance targets, measured and judged in one run.

    .venv/bin/python tools/bench.py [--transports inproc,ipc,tcp] [--json FILE]

1. What the lab costs on the message path: bare pyzmq against the same loop as two lab roles
   (target: under 10%).
2. Throughput and latency from 1 B to 8 MB, Python beside the native C baseline, on every transport
   (best of three from 512 kB up), the batching demo, and notebook 16's quick sweep; the targets of
   issue 7 are judged on the ratios measured in this same run.
3. The talk's remote table: tcp between two hosts (network namespaces) over a link limited to
   100 Mbit/s; from 4 kB up the data must fill at least 90% of the link (skipped, with the reason, where
   the machine cannot make namespaces).
4. The benches of other parts of the project, each in a file of its own beside this one
   (``tools/bench_majordomo.py``, ``tools/bench_brokers.py``: the brokers against their floor,
   ``tools/bench_security.py``), when they are there.

Exit status 1 when a target that could be measured was missed.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path[:0] = [str(TOOLS.parent), str(TOOLS)]      # this checkout's zguide_py, and the benches beside us

from zguide_py import perf  # noqa: E402

TARGET_OVERHEAD = 10.0          # % the lab's roles may cost over bare pyzmq
TARGET_RATIO = 90.0             # % of C, tcp, zero-copy, sizes >= 512 kB
TARGET_BATCH = 2_000_000        # logical 64 B records/s over inproc
TARGET_SWEEP_S = 60.0           # one transport's full sweep
TARGET_QUICK_S = 15.0           # the notebook's quick sweep
TARGET_LINK = 90.0              # % of the link's rate, between two hosts, from 4 kB up
REMOTE_RATE = "100mbit"         # the talk's LAN
BATCH_PER_FRAME = 100           # 64 B records per 6.4 kB frame in the batching demo
#: Benches that live beside this file: each has ``main(argv) -> int`` (it prints) or ``report() -> str``.
OTHER_BENCHES = ("bench_majordomo", "bench_brokers", "bench_security")


def targets(result: dict | None = None, batch: dict | None = None, quick_s: float | None = None,
            overhead: dict | None = None, remote: dict | None = None) -> list[dict]:
    """Each target: ``{"target", "measured", "met"}`` (``met`` is None when it could not be measured)."""
    out = []
    if overhead is not None:
        pct = overhead["overhead_pct"]
        out.append({"target": f"the lab's roles cost under {TARGET_OVERHEAD:.0f}% of bare pyzmq's message rate",
                    "measured": f"{pct:.1f}%", "met": pct < TARGET_OVERHEAD})
    if result is not None:
        big = [r for r in result["rows"] if r["transport"] == "tcp" and r["mode"] == "zero-copy"
               and r["size"] >= perf.REPEAT_FROM]
        text = f"tcp loopback, two processes, zero-copy, >= 512 kB: Python >= {TARGET_RATIO:.0f}% of C's msg/s"
        if not big:
            out.append({"target": text, "measured": "not in this sweep", "met": None})
        elif big[0].get("c_msgs_per_s") is None:
            out.append({"target": text, "measured": f"skipped: {result['meta']['c_skipped']}", "met": None})
        else:
            pcts = {r["size"]: perf.ratio(r["msgs_per_s"], r["c_msgs_per_s"]) for r in big}
            out.append({"target": text, "met": all(p >= TARGET_RATIO for p in pcts.values()),
                        "measured": ", ".join(f"{perf.human_size(s)} {p:.0f}%" for s, p in pcts.items())})
        for transport, took in result.get("elapsed_s", {}).items():
            full = len(result["settings"]["sizes"]) == len(perf.SIZES) and len(result["settings"]["modes"]) == 2
            out.append({"target": f"full sweep of {transport} (10 sizes x copy/zero-copy x thr+lat, "
                                  f"Python and C) < {TARGET_SWEEP_S:.0f} s",
                        "measured": f"{took:.1f} s" + ("" if full else " (partial sweep)"),
                        "met": took < TARGET_SWEEP_S if full else None})
    if batch is not None:
        out.append({"target": f"batching over inproc >= {TARGET_BATCH:,} logical {batch['record_size']} B msg/s",
                    "measured": f"{batch['records_per_s']:,.0f} msg/s ({batch['per_frame']} per frame)",
                    "met": batch["records_per_s"] >= TARGET_BATCH})
    if quick_s is not None:
        out.append({"target": f"the notebook's quick sweep < {TARGET_QUICK_S:.0f} s",
                    "measured": f"{quick_s:.1f} s", "met": quick_s < TARGET_QUICK_S})
    if remote is not None:
        text = (f"between two hosts over a {remote.get('rate', REMOTE_RATE)} link, from "
                f"{perf.human_size(perf.remote.LINK_FULL_FROM)} up: Mbit/s >= {TARGET_LINK:.0f}% of the link's rate")
        if "skipped" in remote:
            out.append({"target": text, "measured": f"skipped: {remote['skipped']}", "met": None})
        else:
            shares = perf.link_shares(remote["result"])
            out.append({"target": text, "met": bool(shares) and all(p >= TARGET_LINK for p in shares.values()),
                        "measured": ", ".join(f"{perf.human_size(s)} {p:.0f}%" for s, p in shares.items())})
    return out


def targets_table(items: list[dict]) -> str:
    verdict = {True: "MET", False: "NOT MET", None: "skipped"}
    width = max(len(t["target"]) for t in items)
    return "\n".join(f"{verdict[t['met']]:<8} {t['target']:<{width}}  {t['measured']}" for t in items)


def bench_overhead(messages: int = 200_000, rounds: int = 5) -> dict:
    """The lab's overhead, printed with its verdict."""
    result = perf.measure_overhead(messages=messages, rounds=rounds)
    ok = result["overhead_pct"] < TARGET_OVERHEAD
    print(perf.overhead_table(result) + f" (target: under {TARGET_OVERHEAD:.0f}%) -> {'OK' if ok else 'TOO SLOW'}",
          flush=True)
    return result


def bench_sweep(transports=perf.TRANSPORTS, seconds: float = 0.25, repeats: int = 3,
                json_path: str | None = None) -> tuple[dict, dict, float]:
    """The sweep against C, the batching demo and the notebook's quick sweep, printed."""
    print("Throughput and latency, 1 B to 8 MB, Python beside the native C baseline "
          f"(best of {repeats} from {perf.human_size(perf.REPEAT_FROM)} up)", flush=True)
    result = perf.sweep(transports=transports, seconds=seconds, repeats=repeats)
    print(perf.sweep_table(result), flush=True)
    for note in result["notes"]:
        print(f"note: {note}", flush=True)
    one = perf.batched_records(records=200_000, per_frame=1, record_size=64)
    batch = perf.batched_records(records=2_000_000, per_frame=BATCH_PER_FRAME, record_size=64)
    print(f"\nbatching over inproc, 64 B records: 1 per frame {one['records_per_s']:,.0f} records/s; "
          f"{BATCH_PER_FRAME} per frame {batch['records_per_s']:,.0f} records/s "
          f"({batch['frames_per_s']:,.0f} frames/s)", flush=True)
    started = time.perf_counter()
    perf.quick_sweep(progress=False)
    quick_s = time.perf_counter() - started
    print(f"the notebook's quick sweep ({', '.join(perf.QUICK['transports'])}, {len(perf.QUICK['sizes'])} sizes, "
          f"both modes, ~{perf.QUICK['seconds']} s per measurement): {quick_s:.1f} s", flush=True)
    if json_path:
        perf.save_json(result, json_path)
        print(f"sweep saved to {json_path}")
    return result, batch, quick_s


def bench_remote(rate: str = REMOTE_RATE, seconds: float = 1.0, repeats: int = 3) -> dict:
    """The talk's remote table, printed: ``{"rate", "result"}``, or ``{"rate", "skipped"}`` with the
    reason where this machine cannot make hosts."""
    from zguide_py import net
    print(f"\nThe talk's remote table: tcp between two hosts (network namespaces) over a {rate} tbf link "
          f"(best of {repeats} from {perf.human_size(perf.REPEAT_FROM)} up)", flush=True)
    problem = net.missing()
    if problem:
        print(f"skipped: {problem}", flush=True)
        return {"rate": rate, "skipped": problem}
    with perf.two_hosts(rate) as (near, far):
        result = perf.remote_sweep(near, far, rate=rate, seconds=seconds, repeats=repeats)
    print(perf.remote_table(result), flush=True)
    return {"rate": rate, "result": result}


def other_benches(names=OTHER_BENCHES) -> int:
    """Run each bench module beside this file that exists; its exit status (0 for a report)."""
    status = 0
    for name in names:
        if not (TOOLS / f"{name}.py").exists():
            print(f"\n({name}: tools/{name}.py is not here, skipped)")
            continue
        module = importlib.import_module(name)
        print(flush=True)
        if hasattr(module, "main"):
            status |= module.main([]) or 0
        else:
            print(module.report(), flush=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tools/bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000, help="messages per overhead round")
    parser.add_argument("--rounds", type=int, default=5, help="overhead rounds (median)")
    parser.add_argument("--transports", default="inproc,ipc,tcp", help="the sweep's transports ('' to skip it)")
    parser.add_argument("--seconds", type=float, default=0.25, help="about how long each measurement runs")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many from 512 kB up")
    parser.add_argument("--json", metavar="FILE", help="also write the sweep as JSON to FILE")
    parser.add_argument("--remote-rate", default=REMOTE_RATE,
                        help="the remote sweep's link rate, as tc writes it ('' to skip the remote sweep)")
    parser.add_argument("--no-others", dest="others", action="store_false",
                        help="skip the other benches (" + ", ".join(f"tools/{n}.py" for n in OTHER_BENCHES) + ")")
    args = parser.parse_args(argv)
    overhead = bench_overhead(args.messages, args.rounds)
    result = batch = quick_s = None
    transports = [t for t in args.transports.split(",") if t.strip()]
    if transports:
        print(flush=True)
        result, batch, quick_s = bench_sweep(transports, args.seconds, args.repeats, args.json)
    remote = bench_remote(args.remote_rate) if args.remote_rate else None
    status = other_benches() if args.others else 0
    items = targets(result, batch, quick_s, overhead, remote)
    print("\nTargets")
    print(targets_table(items))
    return 1 if status or any(t["met"] is False for t in items) else 0


if __name__ == "__main__":
    sys.exit(main())
