"""One lossless results model: grader faults are the grader's, regrading keeps history, every output is derived.

A deliberately broken check in a temporary copy of the suites must cost no student a point,
reach the instructor with its traceback, and make the run exit non-zero; grading again into the
same folder keeps the earlier results and says what changed; every reporter renders from
results read back through the schema.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A
from autograder.grading import schema
from autograder.grading.results import FailureKind, Status
from autograder.reporters.feedback import write_feedback
from autograder.reporters.gradescope import to_gradescope
from autograder.reporters.lms import export_grades
from autograder.results_folder import read_results
from tests.conftest import EXERCISES, SOLUTIONS, SUITES
from tests.leaks import leaked

STEM = "02_tensors"
BROKEN_CHECK = '''

@pytest.mark.grade(1, fn="gram")
def test_gram_with_a_bug_of_its_own(nb):
    """A check whose own code fails, whatever the student wrote."""
    answer = nb.call("gram", torch.ones(2, 3))
    answer + None


@pytest.mark.grade(1, fn="gram")
def test_gram_with_a_typo(nb):
    """A check that calls a function the notebook does not have."""
    nb.call("gramm", torch.ones(2, 3))
'''


def autograder(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def broken_suites(tmp_path_factory) -> Path:
    suites = tmp_path_factory.mktemp("suites") / "appendix_a"
    shutil.copytree(SUITES, suites, ignore=shutil.ignore_patterns("__pycache__"))
    suite = suites / f"test_{STEM}.py"
    text = suite.read_text()
    if "import torch" not in text:
        text = "import torch\n" + text
    suite.write_text(text + BROKEN_CHECK)
    return suites


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("class")
    shutil.copytree(SOLUTIONS, root / "alice")
    shutil.copytree(EXERCISES, root / "bob")
    return root


def test_a_broken_check_costs_no_one_a_point_and_reaches_the_instructor(broken_suites, klass, tmp_path):
    out = tmp_path / "results"
    done = autograder("grade", str(klass), "--out", str(out), "--notebook", STEM, "--suites", str(broken_suites),
                      "--seed", "3", "--jobs", "1")
    assert done.returncode == 1, done.stderr
    assert "test_gram_with_a_bug_of_its_own" in done.stderr and "fault in the suite" in done.stderr

    alice = schema.read(out / "alice.json")
    notebook = alice.notebook(STEM)
    broken = next(check for check in notebook.checks if check.name == "test_gram_with_a_bug_of_its_own")
    assert broken.status is Status.GRADER_ERROR and broken.kind is FailureKind.GRADER
    assert "TypeError" in broken.grader_error and "answer + None" in broken.grader_error
    assert "answer + None" not in broken.message  # the student's message holds no hidden code
    typo = next(check for check in notebook.checks if check.name == "test_gram_with_a_typo")
    assert typo.status is Status.GRADER_ERROR and "'gramm'" in typo.grader_error  # not "gramm is not defined"
    # the reference keeps full marks on every other check, out of a maximum without the broken one
    assert notebook.points == notebook.possible == notebook.max_points == 20
    assert alice.points == alice.max_points == 20
    assert all(check.status is Status.PASSED for check in notebook.checks if check not in (broken, typo))

    data = json.loads((out / "alice.json").read_text())
    assert [entry["check"] for entry in data["instructor"]["grader_errors"]] == [broken.id, typo.id]
    # what students see never holds the traceback
    feedback = write_feedback(out, assignment=APPENDIX_A.subset([STEM]), target=tmp_path / "feedback")
    shown = "".join(path.read_text() for path in feedback) + json.dumps(to_gradescope(alice))
    assert "answer + None" not in shown and "Traceback" not in shown
    assert leaked(shown) == []


def test_validate_fails_on_a_check_that_errors_on_the_reference(broken_suites):
    done = autograder("validate", "--suites", str(broken_suites), "--notebook", STEM)
    assert done.returncode == 1
    assert "the suite's own code failed in test_gram_with_a_bug_of_its_own (TypeError" in done.stdout


def test_grading_again_keeps_history_and_reports_what_changed(broken_suites, klass, tmp_path):
    out = tmp_path / "results"
    first = autograder("grade", str(klass), "--out", str(out), "--notebook", STEM, "--suites", str(broken_suites),
                       "--seed", "3", "--jobs", "1")
    assert first.returncode == 1
    second = autograder("grade", str(klass), "--out", str(out), "--notebook", STEM, "--seed", "3", "--jobs", "1")
    assert second.returncode == 0, second.stderr
    assert "regraded" in second.stderr
    assert f"{STEM}::test_gram_with_a_bug_of_its_own: grader error -> absent" in second.stderr
    assert f"{STEM}::test_gram_with_a_typo: grader error -> absent" in second.stderr
    earlier = schema.read(out / "history" / "alice" / "001.json")
    assert any(check.status is Status.GRADER_ERROR for check in earlier.grader_errors)
    latest = read_results(out)
    assert [result.student for result in latest] == ["alice", "bob"]  # history is not a student
    assert not latest[0].grader_errors
    assert (out / "grades.csv").read_text().splitlines()[1:] == ["alice,20,0,20", "bob,0,0,0"]


def test_every_output_is_derived_from_results_read_back(klass, tmp_path):
    out = tmp_path / "results"
    done = autograder("grade", str(klass), "--out", str(out), "--notebook", STEM, "--seed", "3", "--jobs", "1")
    assert done.returncode == 0, done.stderr
    for path in out.glob("*.json"):
        result = schema.read(path)
        assert schema.to_dict(result) == json.loads(path.read_text())
    for fmt in ("plain", "canvas", "moodle"):
        assert "alice" in export_grades(out, fmt=fmt, assignment=APPENDIX_A.subset([STEM]), column=None)
    report = autograder("report", str(out))
    assert report.returncode == 0, report.stderr
    feedback = autograder("feedback", str(out))
    assert feedback.returncode == 0, feedback.stderr
    assert "not implemented" in (out / "feedback" / "bob.md").read_text()
