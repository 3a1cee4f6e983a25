"""Command line: list the patterns, run one role as its own process, run the benchmarks.

    python -m zguide_py list
    python -m zguide_py run reqrep echo_server endpoint=tcp://127.0.0.1:5555
    python -m zguide_py run reqrep client endpoint=tcp://127.0.0.1:5555 requests=100 timeout=2.5
    python -m zguide_py bench

``run`` starts the very role function that the notebook runs as a thread, in a lab of its own, and
prints its counters once a second until the role ends or you press Ctrl-C. Parameters are
``name=value``; values are read as Python literals when they parse (``100``, ``2.5``, ``True``,
``['a','b']``) and as strings otherwise.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import signal
import sys
import time

from . import patterns


def parse_params(items: list[str]) -> dict:
    params = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"parameter {item!r} must look like name=value")
        key, value = item.split("=", 1)
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def cmd_list(_args) -> int:
    for name in patterns.names():
        roles = patterns.roles(name)
        print(f"{name}:")
        for role_name, fn in roles.items():
            params = [p for p in inspect.signature(fn).parameters if p != "peer"]
            print(f"    {role_name}({', '.join(params)})")
    return 0


def _terminate(signum, frame):
    raise KeyboardInterrupt


def cmd_run(args) -> int:
    from .lab import Lab
    try:
        fn = patterns.role(args.pattern, args.role)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    params = parse_params(args.params)
    if args.seconds is not None and args.seconds <= 0:
        print("error: --seconds must be positive", file=sys.stderr)
        return 2
    try:
        inspect.signature(fn).bind(None, **params)
    except TypeError as exc:
        print(f"error: bad parameters for {args.pattern}.{args.role}: {exc}", file=sys.stderr)
        return 2
    name = args.name or args.role
    signal.signal(signal.SIGTERM, _terminate)      # `kill` or a supervisor: stop like Ctrl-C does
    with Lab(f"cli-{name}") as lab:
        peer = lab.start(name, fn, **params)
        started = time.monotonic()
        last = 0.0
        try:
            while peer.alive:
                time.sleep(0.05)
                now = time.monotonic()
                if now - last >= args.every:
                    last = now
                    counts = ", ".join(f"{k}={v}" for k, v in sorted(peer.snapshot().items()))
                    print(f"[{now - started:7.1f} s] {name} {peer.state}: {counts}", flush=True)
                if args.seconds is not None and now - started >= args.seconds:
                    break
        except KeyboardInterrupt:
            pass
        if peer.alive:
            lab.kill(name)
        counts = ", ".join(f"{k}={v}" for k, v in sorted(peer.snapshot().items()))
        print(f"{name} {peer.state}: {counts}", flush=True)
        for key, value in peer.data.items():
            text = repr(value)
            print(f"  {key} = {text if len(text) < 300 else text[:300] + '...'}")
        if peer.error:
            print(peer.error, file=sys.stderr)
            return 1
    return 0


def cmd_bench(args) -> int:
    from .perf import bench_overhead, sweep, sweep_table
    status = bench_overhead(messages=args.messages, rounds=args.rounds)
    if args.sweep:
        print()
        print("Throughput and latency by message size (talk = the seed talk's C# figures on localhost)")
        print(sweep_table(sweep(transports=args.sweep.split(","), seconds=0.2)))
    if args.majordomo:
        from .patterns.majordomo import bench_table
        print()
        print(bench_table(seconds=1.0))
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zguide_py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list patterns and their roles").set_defaults(func=cmd_list)
    run = sub.add_parser("run", help="run one role as this process")
    run.add_argument("pattern")
    run.add_argument("role")
    run.add_argument("params", nargs="*", help="name=value parameters of the role")
    run.add_argument("--name", help="peer name (default: the role's)")
    run.add_argument("--seconds", type=float, default=None, help="stop after this long")
    run.add_argument("--every", type=float, default=1.0, help="print counters this often (s)")
    run.set_defaults(func=cmd_run)
    bench = sub.add_parser("bench", help="message rate: bare pyzmq against a lab role")
    bench.add_argument("--messages", type=int, default=200_000)
    bench.add_argument("--rounds", type=int, default=5)
    bench.add_argument("--sweep", default="inproc,ipc,tcp",
                       help="transports for the size sweep, comma-separated ('' to skip)")
    bench.add_argument("--no-majordomo", dest="majordomo", action="store_false",
                       help="skip the Majordomo broker's request rate")
    bench.set_defaults(func=cmd_bench)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
