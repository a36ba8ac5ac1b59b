"""A student's value can only fail a check, and no text computed from a hidden input reaches the student.

Every function of every notebook is made to return values that trusted code might trip over
(tests/hostile/values.py): each check must then be failed and counted, never left out of the maximum
as a grader error.  Functions that raise with the hidden input spelled out in the message, in the
exception's class name or in the exit status must leave none of it in what the student sees, while
the instructor keeps the full text.
"""

from __future__ import annotations

import json

import pytest

from autograder.course import APPENDIX_A
from autograder.grading import schema
from autograder.grading.results import FailureKind, Status
from autograder.reporters.classdata import record_from_result
from autograder.reporters.feedback import feedback_markdown
from tests.conftest import write_variant
from tests.hostile.values import HOSTILE_VALUES, LEAK_MARKER, LEAKING_RAISES, SPELL_INPUT
from tests.test_placeholders import placeholder_cells

VALUES = sorted(HOSTILE_VALUES)
ROUNDS = 3  # each round gives every function another value, so that together they meet them all


def rotated_cells(stem: str, rotation: int) -> dict[str, str]:
    """grade_id -> placeholder cells whose functions return hostile values, a different one per function."""
    cells = {}
    for index, grade_id in enumerate(sorted(APPENDIX_A.notebook(stem).functions)):
        value = HOSTILE_VALUES[VALUES[(index * ROUNDS + rotation) % len(VALUES)]]
        cells[grade_id] = placeholder_cells(stem, value)[grade_id]
    return cells


@pytest.mark.parametrize("rotation", range(ROUNDS))
@pytest.mark.parametrize("stem", [spec.stem for spec in APPENDIX_A.notebooks])
def test_hostile_return_values_fail_their_checks_and_never_shrink_the_maximum(stem, rotation, grade, tmp_path, seed):
    write_variant(tmp_path, stem, rotated_cells(stem, rotation))
    result = grade(tmp_path, stem)
    notebook = result.notebook(stem)
    errors = [f"{check.name}: {check.grader_error.strip().splitlines()[-1]}" for check in notebook.checks
              if check.status is Status.GRADER_ERROR]
    assert errors == [], f"seed {seed}: a student's value made checks uncounted: {errors}"
    assert result.max_points == APPENDIX_A.notebook(stem).points
    assert notebook.points == 0, [check.name for check in notebook.checks if check.points]


def leaking_notebook(tmp_path, stem: str, mode: str):
    body = LEAKING_RAISES[mode]
    cells = {grade_id: SPELL_INPUT + f"\ndef {grade_id}(*args, **kwargs):\n    {body}\n"
             for grade_id in APPENDIX_A.notebook(stem).functions}
    # classes are called as constructors: the same function body raises there too
    return write_variant(tmp_path, stem, cells)


def student_visible(result) -> str:
    """What grading tells the student: the stored student view and the feedback, less the printed output of
    the notebook's own cells (its visible checks call the functions on the public example, not hidden inputs)."""
    stored = json.loads(schema.dumps(result, for_student=True))
    for notebook in stored["notebooks"]:
        for cell in notebook["cells"]:
            cell["output"] = ""
    record = record_from_result(result)
    return json.dumps(stored) + feedback_markdown(record, assignment=APPENDIX_A,
                                                  stems=[nb.notebook for nb in result.notebooks])


@pytest.mark.parametrize("mode", sorted(LEAKING_RAISES))
def test_exceptions_computed_from_hidden_inputs_reach_only_the_instructor(mode, grade, tmp_path):
    stem = "02_tensors"
    leaking_notebook(tmp_path, stem, mode)
    result = grade(tmp_path, stem)
    shown = student_visible(result)
    assert LEAK_MARKER not in shown and "point" not in shown.replace("points", "").replace("pointer", "")
    for check in result.notebook(stem).checks:  # a cell's exit status may show (no hidden input there), a call's not
        assert "exited with status" not in check.message or "while running cell" in check.message, check.message
    assert all(check.status is Status.FAILED for check in result.notebook(stem).checks)
    if mode == "message":
        notes = [check.instructor_note for check in result.notebook(stem).checks]
        assert any(LEAK_MARKER in note for note in notes), "the instructor keeps the student's exception text"
        stored = json.loads(schema.dumps(result))
        assert any(LEAK_MARKER in entry["note"] for entry in stored["instructor"]["notes"])
        assert json.loads(schema.dumps(result, for_student=True))["instructor"] == {"grader_errors": [], "notes": []}


def test_a_builtin_exception_is_named_with_its_cell_and_line(grade, tmp_path):
    write_variant(tmp_path, "02_tensors", {"gram": "def gram(t):\n    x = 1\n    raise IndexError('secret 42')\n"})
    check = next(c for c in grade(tmp_path, "02_tensors").notebook("02_tensors").checks if c.function == "gram")
    assert check.kind is FailureKind.STUDENT_ERROR
    assert "`gram` raised IndexError" in check.message and ", line 3, in gram" in check.message
    assert "secret" not in check.message and "42" not in check.message


def test_a_value_the_check_cannot_use_is_named_to_the_student(grade, tmp_path):
    write_variant(tmp_path, "04_mlp", {"count_parameters": "def count_parameters(model):\n    return float('nan')\n"})
    checks = [c for c in grade(tmp_path, "04_mlp").notebook("04_mlp").checks if c.function == "count_parameters"]
    assert checks and all(check.status is Status.FAILED for check in checks)
    assert any("`count_parameters` returned nan" in check.message for check in checks), [c.message for c in checks]
