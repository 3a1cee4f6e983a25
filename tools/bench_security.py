#!/usr/bin/env python3
"""Security bench: a PUSH -> PULL stream over tcp loopback, plaintext against CURVE, per size.

usage: python tools/bench_security.py [--seconds S]      (tools/bench.py calls report())

The roles are the notebook's own (``zguide_py.patterns.security`` sink and source, with a ZAP
authenticator and the keys of a throwaway folder); the measuring is ``measure_throughput`` of
``zguide_py.views.security``, the one notebook 18 runs. Rates are measured at the receiver over
steady flow: the handshake is paid once per connection and is not timed.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zguide_py.patterns.security import create_keys  # noqa: E402
from zguide_py.views.security import measure_throughput, throughput_table  # noqa: E402

SIZES = (64, 4096, 131_072)


def report(seconds: float = 0.3) -> str:
    """The table: messages per second, plaintext and CURVE, for each size."""
    with tempfile.TemporaryDirectory(prefix="zguide-bench-keys-") as folder:
        keys = create_keys(folder, clients=("alice",), strangers=())
        rows = measure_throughput(keys, sizes=SIZES, seconds=seconds, lab_name="bench-security")
    return "security: PUSH -> PULL over tcp loopback, plaintext against CURVE\n" + throughput_table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="steady flow measured per stream")
    args = parser.parse_args(argv)
    print(report(args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
