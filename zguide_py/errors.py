"""The lab's exceptions, in a module of their own so that every part of the lab core can raise them
without importing the others."""
from __future__ import annotations


class LabError(Exception):
    """A control was used wrongly: the message says what and how to fix it."""


class UnknownPeer(LabError, KeyError):
    """No peer of that name in this lab."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PeerFailed(LabError):
    """A role raised; the message carries its traceback."""


class Killed(BaseException):
    """Raised inside a role when the lab kills its peer during ``throttle()`` or ``sleep()``, so the
    role stops right there, as a crash would, instead of finishing the message it was working on.
    A BaseException, so that a role's own ``except Exception`` does not swallow it."""
