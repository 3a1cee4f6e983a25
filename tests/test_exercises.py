"""Exercises keep their answers until the learner guesses: grade() and passed() say nothing but
"no guess yet" / "not yet" until then, and every committed notebook's exercise shows only that."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zguide_py.exercise import NO_GUESS, grade, passed, verdict

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SILENT = ("no guess yet", "not yet:")       # what an exercise may print before the learner answers


# ---- the graders ---------------------------------------------------------------------------------

def test_no_guess_says_only_that():
    assert grade(None, 0.41, relative=0.1, unit="s") == NO_GUESS
    assert "0.41" not in NO_GUESS


def test_exact_answers():
    assert grade(0, 0).startswith("right")
    assert grade(1, 0).startswith("not quite")
    assert grade(False, True).startswith("not quite") and grade(True, True).startswith("right")
    assert grade("b", "a").startswith("not quite") and grade("a", "a").startswith("right")


def test_tolerances():
    assert grade(0.40, 0.41, relative=0.1).startswith("right")
    assert grade(0.30, 0.41, relative=0.1).startswith("not quite")
    assert grade(0.5, 0.52, within=0.05).startswith("right")
    assert grade(0.6, 0.52, within=0.05).startswith("not quite")


def test_a_guess_that_is_not_a_number_is_one_clear_line():
    line = grade("soon", 0.41, relative=0.1, unit="s")
    assert line.startswith("not a number") and "\n" not in line
    assert grade(float("nan"), 0.41, relative=0.1).startswith("not quite")


@given(st.floats(min_value=1e-6, max_value=1e6), st.floats(min_value=0.01, max_value=0.5),
       st.floats(min_value=1.05, max_value=100.0))
def test_a_guess_outside_the_tolerance_is_never_right(answer, relative, factor):
    assert grade(answer * (1 + relative * factor), answer, relative=relative).startswith("not quite")
    assert grade(answer * (1 + relative / factor), answer, relative=relative).startswith("right")


@given(st.lists(st.booleans(), max_size=12))
def test_passed_says_not_yet_unless_every_check_passes(results):
    line = passed(results)
    assert line.startswith("all") == (bool(results) and all(results))
    assert line.startswith("not yet") != line.startswith("all")


def test_an_infinite_guess_is_never_right():
    assert grade(float("inf"), 1.0, relative=0.5).startswith("not quite")


def test_a_verdict_is_one_sentence_either_way(capsys):
    assert verdict(True, "All 60 requests were answered.") == True   # noqa: E712 - as a bool
    assert not verdict(0, "All 60 requests were answered.")
    assert verdict([], "Every worker was purged.", "A worker was never purged.") == False   # noqa: E712
    assert capsys.readouterr().out.splitlines() == [
        "All 60 requests were answered.", "Not as expected: all 60 requests were answered.",
        "A worker was never purged."]


# ---- every committed notebook ---------------------------------------------------------------------

def exercises(nb: dict) -> list[tuple[int, list[dict], str]]:
    """(index, code cells, the markdown after them) for each markdown cell that sets an exercise."""
    cells, found = nb["cells"], []
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "markdown" and "**Exercise" in "".join(cell["source"]):
            j = i + 1
            while j < len(cells) and cells[j]["cell_type"] == "code":
                j += 1
            after = "".join(cells[j]["source"]) if j < len(cells) else ""
            found.append((i, cells[i + 1:j], "".join(cell["source"]) + after))
    return found


def printed(cell: dict) -> list[str]:
    lines = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            lines += "".join(out["text"]).splitlines()
        else:
            lines.append(f"<{out['output_type']}>")
    return [line for line in lines if line.strip()]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_each_notebook_asks_and_keeps_its_answers_hidden(path):
    nb = json.loads(path.read_text())
    found = exercises(nb)
    assert found, f"{path.name} has no exercise"
    checked = False
    for index, code, text in found:
        for cell in code:
            shown = [line for line in printed(cell) if not line.startswith(SILENT)]
            assert not shown, f"{path.name}, exercise at cell {index}: before any guess it shows {shown}"
            if "folded" in cell.get("metadata", {}).get("tags", []):
                assert cell["metadata"].get("jupyter", {}).get("source_hidden"), f"{path.name}: a folded cell is open"
            source = "".join(cell["source"])
            checked = checked or "grade(" in source or "passed(" in source
        assert "<details>" in text, f"{path.name}, exercise at cell {index}: no hidden answer"
    assert checked, f"{path.name}: no exercise is checked with grade() or passed()"


def test_notebook_19s_formula_checks_refuse_a_stub_and_a_constant():
    from zguide_py.views.network import detection_checks
    assert detection_checks(lambda ivl: 4 * ivl, 0.36) == [True] * 4
    assert not any(detection_checks(lambda ivl: None, 0.36))              # the stub
    assert not all(detection_checks(lambda ivl: 0.4, 0.36))               # right at 0.1 s only
    assert not all(detection_checks(lambda ivl: 4 * ivl, 0.5))            # below what was measured


BARE_VERDICT = re.compile(r"(:|->|=)\s*(True|False)\s*$")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_verdicts_are_sentences_not_bare_booleans(path):
    """A run's verdict reads as a sentence ("All 60 requests were answered."), not "answered: True"."""
    nb = json.loads(path.read_text())
    bare = [line for cell in nb["cells"] if cell["cell_type"] == "code"
            for line in printed(cell) if BARE_VERDICT.search(line)]
    bare += [f"a cell shows {''.join(out['data']['text/plain'])}" for cell in nb["cells"]
             for out in cell.get("outputs", []) if out["output_type"] == "execute_result"
             and "".join(out["data"].get("text/plain", "")) in ("True", "False")]
    assert not bare, f"{path.name} prints bare booleans: {bare[:5]}"


def panel_notebooks() -> list[Path]:
    return [p for p in LESSONS if "Panel(" in p.read_text()]


@pytest.mark.parametrize("path", panel_notebooks(), ids=lambda p: p.stem)
def test_a_notebook_with_a_panel_leaves_its_playground_open_and_no_other_lab(path):
    """After Run All the learner meets a live panel: the teardown closes the lesson's labs and checks,
    with live_labs(), that the playground is the one lab still open. The checks the notebook makes
    by itself run folded, on a rehearsal lab of their own, never on the learner's panel."""
    nb = json.loads(path.read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    teardown = [src for src in code if "live_labs()" in src]
    assert teardown, f"{path.name}: no teardown checks which labs are still open (live_labs())"
    clicks = [c for c in nb["cells"] if c["cell_type"] == "code"
              and re.search(r"\.(kill|restart)\.click\(\)|\.throttle\.value\s*=", "".join(c["source"]))]
    for cell in clicks:
        source = "".join(cell["source"])
        assert "folded" in cell.get("metadata", {}).get("tags", []), \
            f"{path.name}: a cell that clicks the panel for you is not folded:\n{source[:200]}"
        assert "panel.rows" not in source, f"{path.name}: the notebook clicks the learner's own panel"


def test_a_verdict_at_the_end_of_a_cell_shows_nothing_more():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    shell = InteractiveShell.instance()
    with capture_output() as shown:
        result = shell.run_cell("from zguide_py import verdict\nverdict(1 + 1 == 2, 'Two.')")
    assert bool(result.result) and shown.stdout.startswith("Two.\n") and "True" not in shown.stdout
