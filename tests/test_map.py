"""The workbook's map: every notebook says where it sits (what to read before, what comes next, where
the guide or the protocol explains it, the glossary's words it uses) and ends with a link to the next
one; every link between notebooks and into the glossary lands somewhere."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "notebooks" / "src"
LESSONS = sorted(SRC.glob("[0-9][0-9]_*.py"))
GLOSSARY = SRC / "glossary.py"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def markdown_cells(path: Path) -> list[str]:
    """The markdown cells of a notebook source, as text without the leading '# '."""
    cells, current = [], None
    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            current = [] if "[markdown]" in line else None
            if current is not None:
                cells.append(current)
        elif current is not None:
            current.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
    return [" ".join(cell) for cell in cells]


def glossary_anchors() -> set[str]:
    return {m.group(1).replace(" ", "-") for m in re.finditer(r"^# ### (.+)$", GLOSSARY.read_text(), re.M)}


def test_the_glossary_has_the_terms_the_issue_names():
    anchors = {a.lower() for a in glossary_anchors()}
    for term in ("envelope", "identity", "delimiter", "hwm", "linger", "liveness", "heartbeat", "efsm",
                 "slow-joiner", "fair-queueing", "lru", "ticket", "split-brain"):
        assert term in anchors, term


def test_every_glossary_link_lands_on_a_term():
    anchors = glossary_anchors()
    for path in [*LESSONS, GLOSSARY]:
        for target in LINK.findall(path.read_text().replace("\n# ", " ")):
            if "#" in target and target.split("#")[0] in ("glossary.ipynb", ""):
                assert target.split("#", 1)[1] in anchors, f"{path.name}: {target} is not a term of the glossary"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_a_notebook_says_where_it_sits_and_links_the_next(path):
    cells = markdown_cells(path)
    opening, closing = cells[0], cells[-1]
    names = [p.stem for p in LESSONS]
    following = names[names.index(path.stem) + 1] if path.stem != names[-1] else None
    links = LINK.findall(opening)
    assert "glossary.ipynb" in {t.split("#")[0] for t in links}, f"{path.name} does not link the glossary"
    assert any(t.startswith(("https://zguide.zeromq.org/", "https://rfc.zeromq.org/")) for t in links) \
        or path.stem.startswith(("16_", "18_")), f"{path.name} names no section of the guide or protocol"
    if following:
        assert f"{following}.ipynb" in links, f"{path.name} does not say what comes next ({following})"
        assert f"{following}.ipynb" in LINK.findall(closing), f"{path.name} does not end with a link to {following}"
    else:
        assert "Next:" in closing and LINK.findall(closing), f"{path.name} does not end with where to go"
    for cell in cells:
        for target in LINK.findall(cell):
            name = target.split("#")[0]
            if name.endswith(".ipynb"):
                assert (SRC / name.replace(".ipynb", ".py")).is_file(), f"{path.name} links {name}, which is not there"
