"""``python -m zguide_py.perf``: a sweep from the command line, or the far side of a measurement."""
import sys

from .cli import main

sys.exit(main())
