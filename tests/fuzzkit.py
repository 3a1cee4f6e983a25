"""The fuzz suite's kit: hostile messages as hypothesis strategies, and the checks every role must
pass after them (still running, still serving a correct peer in time, memory bounded).

    from fuzzkit import hostile, mutated, rss_mb

    @pytest.mark.fuzz
    @given(batch=hostile(tokens=[b"MDPW01", b"\\x01"]) | mutated([[b"", b"MDPC01", b"echo", b"hi"]]))
    def test_broker_survives(broker, batch): ...

Examples per test: a few in ``make test`` (the ``ci`` profile, derandomized so CI is repeatable),
many more in ``make fuzz`` (``ZGUIDE_FUZZ=fuzz``, random). Profiles are registered in conftest.py.
"""
from __future__ import annotations

import ctypes
import gc
import os

from hypothesis import strategies as st

#: Frames that break naive parsers: empty, not UTF-8, not a number, a huge number, NULs, stray '='.
NASTY = [b"", b"\xff", b"\xff\xfe\x00", b"\x00", b"0", b"-1", b"x", b"99", b"9" * 40, b"nan",
         b"\x00" * 5, b"=", b"key=", b"a" * 300]


#: The big frames, made once: hypothesis keeps what it generated for the whole run, so a fresh
#: 2 MB frame per example would grow this process by hundreds of MB and hide what a role keeps.
BIG = [b"\xa5" * (64 * 1024), b"\x00" * (1024 * 1024 + 7), b"\xa5" * (2 * 1024 * 1024)]


def frame(tokens: list[bytes] | tuple[bytes, ...] = (), big: bool = True) -> st.SearchStrategy[bytes]:
    """One frame: often a protocol token or a nasty value, sometimes random bytes, rarely big
    (64 kB to 2 MB, to catch a role that keeps what it should drop)."""
    choices = [st.sampled_from(NASTY), st.binary(max_size=64)]
    if tokens:
        choices = [st.sampled_from(list(tokens))] * 2 + choices
    if big:
        choices.append(st.sampled_from(BIG))
    return st.one_of(*choices)


def hostile(tokens: list[bytes] | tuple[bytes, ...] = (), max_frames: int = 6,
            max_messages: int = 8) -> st.SearchStrategy[list[list[bytes]]]:
    """A batch of messages of 1..``max_frames`` frames each, built from tokens and junk."""
    message = st.lists(frame(tokens), min_size=1, max_size=max_frames)
    return st.lists(message, min_size=1, max_size=max_messages)


@st.composite
def _mutation(draw, valid: list[list[bytes]], tokens: tuple[bytes, ...]) -> list[bytes]:
    message = list(draw(st.sampled_from(valid)))
    how = draw(st.sampled_from(["drop", "junk", "extra", "swap", "truncate", "duplicate"]))
    i = draw(st.integers(0, max(0, len(message) - 1)))
    if how == "drop" and len(message) > 1:
        del message[i]
    elif how == "junk":
        message[i] = draw(frame(tokens, big=False))
    elif how == "extra":
        message.insert(i, draw(frame(tokens, big=False)))
    elif how == "swap" and len(message) > 1:
        j = draw(st.integers(0, len(message) - 1))
        message[i], message[j] = message[j], message[i]
    elif how == "truncate":
        message[i] = message[i][: draw(st.integers(0, max(0, len(message[i]) - 1)))]
    else:
        message.append(message[-1])
    return message or [b""]


def mutated(valid: list[list[bytes]], tokens: list[bytes] | tuple[bytes, ...] = (),
            max_messages: int = 8) -> st.SearchStrategy[list[list[bytes]]]:
    """Batches of almost-valid messages: a valid one with a frame dropped, replaced by junk, added,
    swapped, cut short or repeated. What a buggy or hostile peer of the same protocol sends."""
    return st.lists(_mutation(valid, tuple(tokens)), min_size=1, max_size=max_messages)


def rss_mb() -> float:
    """This process's resident memory in MB (the roles under test run as its threads), after the
    garbage collector and glibc's ``malloc_trim`` have given back what nothing holds any more: what
    is left is what a role keeps."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:                     # not glibc: the number is only less tight
        pass
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
