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
from .exercise import verdict
from .metrics import SeqChecker, summarize
from .peer import Peer
from .scenario import Report, Scenario

__all__ = ["Lab", "LabError", "PeerFailed", "UnknownPeer", "Peer", "Scenario", "Report", "Event",
           "SeqChecker", "summarize", "close_all", "live_labs", "show_source", "show_example", "verdict"]
__version__ = "0.1.0"


def show_source(*objects):
    """Display the source of roles (functions) or modules with syntax highlighting."""
    import inspect
    from IPython.display import Code, display
    for obj in objects:
        display(Code(inspect.getsource(obj), language="python"))


EXAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples"


def show_example(*names: str):
    """Display scripts of ``examples/`` (the pattern in plain pyzmq, without the lab), each under
    the command that runs it. ``names`` are file names without ``.py``: ``show_example("mdworker")``."""
    from IPython.display import Code, Markdown, display
    for name in names:
        path = EXAMPLES / f"{name}.py"
        if not path.is_file():
            raise LabError(f"no example {name!r}: the scripts are in {EXAMPLES} (a clone of the repository)")
        display(Markdown(f"`examples/{name}.py`, run it with `python examples/{name}.py --help`:"))
        display(Code(path.read_text(), language="python"))
