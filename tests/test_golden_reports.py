"""Every reporter renders the results model the same way, read back through the stored schema.

A small class (full marks with extra credit, a wrong answer, a crash, a failed grading, a grader
error) is written as result files, read back with ``autograder.grading.schema``, and rendered by
every reporter; each rendering is compared with its golden file in ``tests/golden/``. After an
intended change of a format, rewrite them with ``AUTOGRADER_UPDATE_GOLDENS=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A
from autograder.grading.results import FailureKind, Status
from autograder.reporters.csvfile import grades_csv
from autograder.reporters.feedback import write_feedback
from autograder.reporters.gradescope import to_gradescope
from autograder.reporters.lms import export_grades
from autograder.reporters.text import details, render, score_table
from autograder.results_folder import read_results
from tests.results_factory import check, small_class, submission, write_results

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("AUTOGRADER_UPDATE_GOLDENS") == "1"
SPEC = APPENDIX_A.subset(["02_tensors", "05_device"])


def faulty_submission():
    """eve: a check of the suite failed on its own (a grader error), the rest as ann's."""
    result = submission("eve", gpu=Status.PASSED)
    tensors = result.notebook("02_tensors")
    broken = replace(check("02_tensors", "gram", "with_a_bug", 5, Status.GRADER_ERROR,
                           "this check could not run because of a fault in the grader"),
                     kind=FailureKind.GRADER, grader_error="Traceback ...\nTypeError: hidden")
    tensors = replace(tensors, checks=tensors.checks + (broken,))
    return replace(result, notebooks=(tensors, result.notebook("05_device")))


@pytest.fixture(scope="module")
def renderings(tmp_path_factory) -> dict[str, str]:
    out = small_class(tmp_path_factory.mktemp("results"))
    write_results(out, [faulty_submission()])
    results = read_results(out)  # through the schema, as every reporter reads them
    rendered = {
        "score_table.txt": render(score_table(results), color=False) + "\n",
        "details.txt": "".join(f"{r.student}:\n" + "".join(f"  {line}\n" for line in details(r, verbose=True))
                               for r in results),
        "grades.csv": grades_csv(results, assignment=SPEC),
        "gradescope.json": json.dumps({r.student: to_gradescope(r) for r in results}, indent=2, sort_keys=True)
                           + "\n",
    }
    for fmt in ("plain", "canvas", "moodle"):
        rendered[f"export_{fmt}.csv"] = export_grades(out, fmt=fmt, assignment=SPEC, column=None)
    for path in write_feedback(out, assignment=SPEC, target=out / "feedback"):
        if path.suffix == ".md":
            rendered[f"feedback_{path.name}"] = path.read_text(encoding="utf-8")
    return rendered


def test_every_rendering_matches_its_golden_file(renderings):
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        for name, text in renderings.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
    missing = sorted(name for name in renderings if not (GOLDEN / name).is_file())
    assert not missing, f"no golden file for {missing}: run with AUTOGRADER_UPDATE_GOLDENS=1 and review them"
    changed = sorted(name for name, text in renderings.items() if (GOLDEN / name).read_text(encoding="utf-8") != text)
    assert not changed, f"renderings differ from tests/golden/: {changed} (intended? AUTOGRADER_UPDATE_GOLDENS=1)"


def test_what_students_see_holds_no_grader_traceback(renderings):
    for name, text in renderings.items():
        if name != "details.txt":  # the instructor's terminal view
            assert "TypeError: hidden" not in text, name
