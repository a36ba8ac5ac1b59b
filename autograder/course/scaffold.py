"""``autograder new``: the skeleton of a new exercise notebook, ready to build, validate and grade.

It writes three things and edits nothing else:

* ``source/<assignment>/<stem>.ipynb``: an instructor notebook in nbgrader's format, one solution
  cell (grade id = the function's name) and one check cell ``check_<function>`` per function;
  the check cell is both the student's visible check and nbgrader's grade cell, worth the
  function's points;
* ``autograder/hidden/<assignment>/test_<stem>.py``: a hidden suite with a check per function
  that compares the student's function with a reference on fixed and random inputs;
* the notebook's entry in the course spec (``autograder/course/<assignment>.json``).

The generated solution and reference are the identity function, so that the course validates
(solutions full marks, stubs 0) before the instructor writes the real exercise.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from autograder.course import REPO_ROOT, NotebookSpec, add_notebook, assignment, check_book_section
from autograder.errors import UsageError

_STEM = re.compile(r"^\d\d_[a-z][a-z0-9_]*$")
_FUNCTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Scaffold:
    notebook: Path
    suite: Path
    spec: NotebookSpec


def new_notebook(*, assignment_name: str, stem: str, title: str, section: str, functions: tuple[str, ...],
                 points: int, repo: Path = REPO_ROOT) -> Scaffold:
    """Write the skeleton of notebook ``stem`` (see the module docstring); refuse to overwrite anything."""
    course = assignment(assignment_name)
    if not _STEM.match(stem):
        raise UsageError(f"{stem!r} is not a notebook stem like 06_attention: two digits, an underscore, "
                         "then lower-case letters, digits and underscores")
    if any(notebook.stem == stem for notebook in course.notebooks):
        raise UsageError(f"{assignment_name} already has a notebook {stem}")
    check_book_section(section, where="--section")
    functions = functions or (stem.split("_", 1)[1],)
    taken = {function for notebook in course.notebooks for function in notebook.functions}
    for function in functions:
        if not _FUNCTION.match(function):
            raise UsageError(f"--function: {function!r} is not a Python name")
        if function in taken:
            raise UsageError(f"--function: {function!r} is already a function of another notebook; function "
                             "names are unique across the course (feedback and reading lists are keyed by them)")
    if points < len(functions):
        raise UsageError(f"--points: {points} is fewer than one point per function ({len(functions)})")
    shares = _split(points, len(functions))
    notebook_path = repo / "source" / assignment_name / f"{stem}.ipynb"
    suite_path = repo / "autograder" / "hidden" / assignment_name / f"test_{stem}.py"
    for path in (notebook_path, suite_path):
        if path.exists():
            raise UsageError(f"{path} already exists: choose another stem, or remove it first")
    spec = NotebookSpec(stem=stem, title=title, points=points, extra_credit=0, functions=tuple(functions),
                        book_section=section)
    notebook_path.write_text(json.dumps(_notebook(spec, shares), indent=1, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    suite_path.write_text(_suite(spec, shares, assignment_name), encoding="utf-8")
    add_notebook(assignment_name, spec, repo=repo)
    return Scaffold(notebook=notebook_path, suite=suite_path, spec=spec)


def _split(points: int, parts: int) -> list[int]:
    base, rest = divmod(points, parts)
    return [base + (1 if index < rest else 0) for index in range(parts)]


def _cell(kind: str, source: str, *, grade_id: str, solution: bool = False, grade: bool = False,
          locked: bool = False, points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    cell = {"cell_type": kind, "id": uuid.uuid4().hex[:8], "metadata": {"nbgrader": meta}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _notebook(spec: NotebookSpec, shares: list[int]) -> dict:
    cells = [
        _cell("markdown", f"# {spec.title} ({spec.points} points)\n\nBook section {spec.book_section}. "
                          "Describe what this notebook teaches, then one section per function.",
              grade_id="md_intro", locked=True),
        _cell("code", "import torch\n\nfrom autograder.visible import checking", grade_id="imports"),
    ]
    for index, (function, share) in enumerate(zip(spec.functions, shares), start=1):
        cells += [
            _cell("markdown", f"## {index}. `{function}` ({share} point{'s' if share != 1 else ''})\n\n"
                              f"Explain what `{function}` must return.", grade_id=f"md_{function}", locked=True),
            _cell("code", f"def {function}(t):\n    \"\"\"Return `t` unchanged (replace with the exercise).\"\"\"\n"
                          "    ### BEGIN SOLUTION\n    return t\n    ### END SOLUTION",
                  grade_id=function, solution=True),
            _cell("code", f"with checking({function!r}) as check:\n"
                          f"    check.equal({function}(torch.tensor([1, 2, 3])), torch.tensor([1, 2, 3]))",
                  grade_id=f"check_{function}", grade=True, locked=True, points=share),
        ]
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                                        "name": "python3"}, "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def _suite(spec: NotebookSpec, shares: list[int], assignment_name: str) -> str:
    checks = []
    for function, share in zip(spec.functions, shares):
        checks.append(f'''

def reference_{function}(t: torch.Tensor) -> torch.Tensor:
    """The trusted answer, computed here in the grader (replace with the exercise's)."""
    return t.clone()


@pytest.mark.grade({share}, fn="{function}")
def test_{function}_fixed_and_random_inputs(nb, rng):
    """`{function}` matches the reference on a fixed example and on random tensors."""
    cases = [torch.tensor([1, 2, 3])] + [torch.randn(int(torch.randint(1, 5, (1,), generator=rng)), generator=rng)
                                          for _ in range(3)]
    for t in cases:
        answer = nb.call("{function}", t)
        expect_tensor(answer, reference_{function}(t), what=f"{function}(t) for t of shape {{tuple(t.shape)}}")''')
    return f'''"""Hidden checks for {spec.stem}.ipynb: {spec.title} ({spec.book_section}).

Written by `autograder new`; replace the references and add a check per defect worth
catching (see docs/writing-a-hidden-suite.md). Call the student's functions with
nb.call("name", ...); compare in this process with the judge helpers.
"""

from __future__ import annotations

import pytest
import torch

from autograder.grading.judge import expect_tensor

NOTEBOOK = "{spec.stem}"
''' + "".join(checks) + "\n"
