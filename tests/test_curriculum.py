"""The exercise set itself: `autograder validate` passes, solutions score 100, stubs score 0."""

from __future__ import annotations

import pytest

from autograder.course import APPENDIX_A, REPO_ROOT
from autograder.grading.results import Status
from autograder.validate import validate
from tests.conftest import EXERCISES, SOLUTIONS, SUITES


@pytest.fixture(scope="module")
def findings(sandbox):
    return validate(repo=REPO_ROOT, assignment=APPENDIX_A, suites_dir=SUITES, sandbox=sandbox)


def test_validate_passes(findings):
    assert [f.text for f in findings if not f.ok] == []


def test_validate_covers_sources_generated_notebooks_solutions_and_stubs(findings):
    texts = " | ".join(f.text for f in findings)
    assert "exercises/ and solutions/ are up to date" in texts
    for spec in APPENDIX_A.notebooks:
        assert f"source/appendix_a/{spec.filename}: well-formed, points agree" in texts
        assert f"solutions/{spec.stem}: {spec.points}/{spec.points}" in texts
        assert f"exercises/{spec.stem}: 0/{spec.points}" in texts


def test_the_reference_solutions_earn_no_extra_credit_on_cpu(grade):
    result = grade(SOLUTIONS, "05_device")
    extra = [c for c in result.notebook("05_device").checks if c.extra_credit]
    assert extra and all(c.status is Status.NOT_AVAILABLE for c in extra)
    assert sum(c.max_points for c in extra) == 10
    assert result.extra_credit == 0


def test_the_released_stubs_say_not_implemented(grade):
    result = grade(EXERCISES, "02_tensors")
    messages = {c.message for c in result.notebook("02_tensors").checks}
    assert any("not implemented yet" in message for message in messages)


@pytest.mark.parametrize("stem", [spec.stem for spec in APPENDIX_A.notebooks])
def test_each_exercise_notebook_has_stubs_and_visible_checks(stem):
    text = (EXERCISES / f"{stem}.ipynb").read_text()
    assert "raise NotImplementedError()" in text
    assert "from autograder.visible import checking" in text
    assert "BEGIN SOLUTION" not in text
