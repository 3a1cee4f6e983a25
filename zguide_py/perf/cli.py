"""The command line of a sweep: ``python -m zguide_py perf ...`` (and ``python -m zguide_py.perf ...``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import zmq

from .common import MODES, SIZES, TRANSPORTS, human_size, parse_size
from .report import save_json, sweep_table
from .sweeps import REPEAT_FROM, sweep


def _transports_arg(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in names if t not in TRANSPORTS]
    if not names or bad:
        raise argparse.ArgumentTypeError(f"unknown transport {', '.join(map(repr, bad)) or repr(text)}: "
                                         "use inproc, ipc and/or tcp, comma-separated")
    return list(dict.fromkeys(names))


def _sizes_arg(text: str) -> list[int]:
    try:
        sizes = [parse_size(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given: use e.g. 1,64,4k,8M")
    return list(dict.fromkeys(sizes))


def _seconds_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.005 <= value <= 10:
        raise argparse.ArgumentTypeError(f"seconds per measurement must be 0.005 to 10, not {text}")
    return value


def _repeats_arg(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 9:
        raise argparse.ArgumentTypeError(f"repeats must be 1 to 9, not {text!r}")
    return int(text)


def _link_arg(text: str) -> str:
    if text.strip().lower() == "none":
        return "none"
    from .remote import rate_bps
    try:
        rate_bps(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip().lower()


def run_between_hosts(args: argparse.Namespace) -> int:
    """The remote sweep (``--between-hosts RATE``): two hosts made for it, removed after it."""
    from ..net import NetError, missing
    from .remote import remote_sweep, remote_table, two_hosts
    problem = missing()
    if problem:
        print(f"error: --between-hosts: {problem}", file=sys.stderr)
        return 2
    rate = None if args.link == "none" else args.link
    try:
        with two_hosts(rate) as (near, far):
            result = remote_sweep(near, far, rate=rate, sizes=args.sizes, modes=args.modes, seconds=args.seconds,
                                  latency=args.latency, repeats=args.repeats)
    except (TimeoutError, RuntimeError, OSError, zmq.ZMQError, NetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(remote_table(result))
    if args.json:
        save_json(result, args.json)
        print(f"results written to {args.json}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m zguide_py perf``."""
    parser.add_argument("--transport", "--transports", dest="transports", type=_transports_arg,
                        default=list(TRANSPORTS), metavar="LIST",
                        help="inproc,ipc,tcp (default: all three; ipc and tcp run two processes)")
    parser.add_argument("--sizes", type=_sizes_arg, default=list(SIZES), metavar="LIST",
                        help="message sizes, e.g. 1,64,4k,8M (default: the talk's ten, 1 B to 8 MB)")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--copy", dest="modes", action="store_const", const=["copy"],
                       help="copying sends only (copy=True)")
    modes.add_argument("--zero-copy", dest="modes", action="store_const", const=["zero-copy"],
                       help="zero-copy sends only (copy=False)")
    modes.add_argument("--both", dest="modes", action="store_const", const=list(MODES),
                       help="both, as separate rows (the default)")
    parser.set_defaults(modes=list(MODES))
    parser.add_argument("--seconds", type=_seconds_arg, default=0.25,
                        help="about how long each measurement runs (default 0.25)")
    parser.add_argument("--repeats", type=_repeats_arg, default=1,
                        help=f"best of this many throughput runs from {human_size(REPEAT_FROM)} up (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--no-c", dest="c_baseline", action="store_false",
                        help="skip the native C baseline")
    parser.add_argument("--no-latency", dest="latency", action="store_false", help="throughput only")
    parser.add_argument("--threads", action="store_true",
                        help="run the far side of ipc/tcp as a thread of this process (to see the GIL's cost)")
    parser.add_argument("--between-hosts", dest="link", metavar="RATE", type=_link_arg,
                        help="tcp between two hosts in network namespaces over a link limited to RATE (e.g. "
                             "100mbit, the seed talk's LAN; 'none' for no limit): the talk's remote table. "
                             "Needs root or CAP_NET_ADMIN; --transport and --no-c do not apply")


def run_cli(args: argparse.Namespace) -> int:
    """Run a sweep from parsed arguments; print the table, write the JSON. Exit status."""
    if args.json and not Path(args.json).resolve().parent.is_dir():
        print(f"error: --json: directory {str(Path(args.json).parent)!r} does not exist", file=sys.stderr)
        return 2
    if getattr(args, "link", None):
        return run_between_hosts(args)
    try:
        result = sweep(transports=args.transports, sizes=args.sizes, modes=args.modes, seconds=args.seconds,
                       latency=args.latency, c_baseline=args.c_baseline,
                       processes=False if args.threads else None, repeats=args.repeats)
    except (TimeoutError, RuntimeError, OSError, zmq.ZMQError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(sweep_table(result))
    if args.json:
        save_json(result, args.json)
        print(f"results written to {args.json}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m zguide_py.perf [options]``, or ``... peer CONTROL``: the far side's child process."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["peer"]:                    # the far side of a measurement, started by RemotePeer
        if len(argv) != 2:
            print("usage: python -m zguide_py.perf peer CONTROL_ENDPOINT", file=sys.stderr)
            return 2
        from .farside import peer_main
        return peer_main(argv[1])
    parser = argparse.ArgumentParser(prog="python -m zguide_py.perf",
                                     description="Throughput and latency, 1 B to 8 MB, Python beside C.")
    add_arguments(parser)
    return run_cli(parser.parse_args(argv))
