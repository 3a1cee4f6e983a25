"""zguide_py: a lab for running ZeroMQ's patterns live in Jupyter.

    from zguide_py import Lab, Scenario
    lab = Lab("my-notebook")

See ``Lab`` for the controls, ``Scenario`` for scripted faults, ``zguide_py.patterns`` for the roles.
This much is headless and needs pyzmq only. The notebook side (``zguide_py.widgets.Panel``,
``zguide_py.plots``, ``zguide_py.views``) needs the ``notebook`` extra: ``pip install zguide_py[notebook]``.
"""
from .errors import LabError, PeerFailed, UnknownPeer
from .events import Event
from .lab import Lab, close_all, live_labs
from .metrics import SeqChecker, summarize
from .peer import Peer
from .scenario import Report, Scenario

__all__ = ["Lab", "LabError", "PeerFailed", "UnknownPeer", "Peer", "Scenario", "Report", "Event",
           "SeqChecker", "summarize", "close_all", "live_labs", "show_source"]
__version__ = "0.1.0"


def show_source(*objects):
    """Display the source of roles (functions) or modules with syntax highlighting."""
    import inspect
    from IPython.display import Code, display
    for obj in objects:
        display(Code(inspect.getsource(obj), language="python"))
