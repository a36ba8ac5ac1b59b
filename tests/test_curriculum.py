"""The exercise set itself: generated notebooks are current, solutions score 100, stubs score 0."""

from __future__ import annotations

import pytest

from autograder.course import APPENDIX_A, REPO_ROOT
from autograder.course.build import stale_files
from autograder.grading.results import Status
from tests.conftest import EXERCISES, SOLUTIONS, SUITES
from autograder.validate import check_sources, collect_checks


def test_generated_notebooks_match_the_sources():
    assert stale_files(repo=REPO_ROOT, assignment="appendix_a") == [], "run `autograder build` and commit"


def test_instructor_sources_agree_with_the_hidden_suites_on_points():
    files = [SUITES / f"test_{spec.stem}.py" for spec in APPENDIX_A.notebooks]
    checks, errors = collect_checks(files, SUITES)
    assert errors == []
    findings = check_sources(repo=REPO_ROOT, assignment=APPENDIX_A, checks=checks)
    assert [f.text for f in findings if not f.ok] == []


def test_the_reference_solutions_score_full_marks_and_no_extra_credit_on_cpu(grade):
    result = grade(SOLUTIONS)
    failed = [f"{c.notebook}/{c.name}: {c.message}" for n in result.notebooks for c in n.checks
              if c.status is Status.FAILED]
    assert failed == []
    assert (result.points, result.max_points) == (100, 100)
    assert result.extra_credit == 0
    extra = [c for c in result.notebook("05_device").checks if c.extra_credit]
    assert extra and all(c.status is Status.NOT_AVAILABLE for c in extra)
    assert sum(c.max_points for c in extra) == 10


def test_the_released_stubs_score_zero_with_not_implemented_messages(grade):
    result = grade(EXERCISES)
    assert result.points == 0
    messages = {c.message for n in result.notebooks for c in n.checks if c.status is Status.FAILED}
    assert any("not implemented yet" in message for message in messages)


@pytest.mark.parametrize("stem", [spec.stem for spec in APPENDIX_A.notebooks])
def test_each_exercise_notebook_has_stubs_and_visible_checks(stem):
    text = (EXERCISES / f"{stem}.ipynb").read_text()
    assert "raise NotImplementedError()" in text
    assert "from autograder.visible import checking" in text
    assert "BEGIN SOLUTION" not in text
