"""zguide_py: a lab for running ZeroMQ's patterns live in Jupyter.

    from zguide_py import Lab, Scenario
    lab = Lab("my-notebook")

See ``Lab`` for the controls, ``Scenario`` for scripted faults, ``zguide_py.patterns`` for the roles.
"""
from .lab import Lab, LabError, PeerFailed, UnknownPeer, close_all, live_labs
from .metrics import SeqChecker, summarize
from .peer import Peer
from .scenario import Report, Scenario
import sys as _sys

if "IPython" in _sys.modules:   # in a notebook: register the PNG formatter for figures now. A role
    from . import plots  # noqa: F401  run as a process (python -m zguide_py run) skips matplotlib.

__all__ = ["Lab", "LabError", "PeerFailed", "UnknownPeer", "Peer", "Scenario", "Report",
           "SeqChecker", "summarize", "close_all", "live_labs", "show_source"]
__version__ = "0.1.0"


def show_source(*objects):
    """Display the source of roles (functions) or modules with syntax highlighting."""
    import inspect
    from IPython.display import Code, display
    for obj in objects:
        display(Code(inspect.getsource(obj), language="python"))
