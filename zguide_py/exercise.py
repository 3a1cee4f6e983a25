"""Exercises that keep their answer until the learner has guessed.

A notebook's exercise is three cells: the learner's guess (``my_guess = None``), a folded cell that
runs the experiment and keeps its result in a variable without printing it, and a check::

    print(grade(my_guess, answer, within=0.1, unit="s"))

``grade`` says "no guess yet" and nothing else until ``my_guess`` is set, so a committed run (or a
Run All) never shows the answer. For code to write, the check counts the cases that pass::

    print(passed([split_envelope(f) == want for f, want in CASES]))
"""
from __future__ import annotations

import math
from collections.abc import Iterable

NO_GUESS = "no guess yet: set my_guess in the cell above, run it, then run this cell again"


def _show(value, unit: str) -> str:
    if isinstance(value, float):
        value = f"{value:.3g}"
    return f"{value} {unit}".strip()


def grade(guess, answer, *, within: float | None = None, relative: float | None = None, unit: str = "") -> str:
    """One line judging ``guess`` against the run's ``answer``.

    Exact comparison by default; ``within`` allows an absolute difference, ``relative`` a fraction
    of the answer (0.1: 10%). Until a guess is made, the line says only that (never the answer)."""
    if guess is None:
        return NO_GUESS
    close = guess == answer
    if not close and (within is not None or relative is not None):
        try:
            diff = abs(float(guess) - float(answer))
        except (TypeError, ValueError):
            return f"not a number: my_guess = {guess!r}; this exercise wants a number" + (f" of {unit}" if unit else "")
        allowed = max(within or 0.0, (relative or 0.0) * abs(float(answer)))
        close = math.isfinite(diff) and diff <= allowed
    measured = f"you said {_show(guess, unit)}; the run gave ~{_show(answer, unit)}"
    if close:
        return f"right: {measured}"
    return f"not quite: {measured}. The answer below explains why."


def passed(results: Iterable[bool]) -> str:
    """One line for a code exercise: how many of its checks pass ("not yet" until all do)."""
    results = [bool(r) for r in results]
    if results and all(results):
        return f"all {len(results)} checks pass: well done"
    return f"not yet: {sum(results)} of {len(results)} checks pass (write the function above, run it, then this cell)"


class Verdict:
    """What :func:`verdict` returns: true or false as the check was, and nothing on screen when a
    notebook cell ends with it (the sentence was printed already; a bare ``True`` under it would
    only repeat it)."""

    __slots__ = ("ok",)

    def __init__(self, ok: bool):
        self.ok = ok

    def __bool__(self) -> bool:
        return self.ok

    def __eq__(self, other) -> bool:
        return self.ok == bool(other) if isinstance(other, (bool, Verdict)) else NotImplemented

    def __hash__(self) -> int:
        return hash(self.ok)

    def __repr__(self) -> str:
        return f"Verdict({self.ok})"

    def _ipython_display_(self) -> None:
        pass


def verdict(ok, yes: str, no: str | None = None) -> Verdict:
    """Print what a run showed as a sentence, not as ``...: True``: ``yes`` when ``ok`` holds,
    otherwise ``no`` (by default "Not as expected: " and ``yes``). Returns whether it held (true or
    false, shown as nothing at the end of a cell), so a check can go on to ``assert``::

        assert verdict(answered == 60, "All 60 requests were answered, in order.")
    """
    ok = bool(ok)
    print(yes if ok else (no or f"Not as expected: {yes[0].lower() + yes[1:] if yes else yes}"))
    return Verdict(ok)
