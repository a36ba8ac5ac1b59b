"""Every student's cost is bounded before grading starts: per check, per notebook's checks, per submission.

A notebook whose functions sleep just under the call limit would otherwise cost every check's full
limit; the notebook's budget for its checks and the submission's budget cap it, and each check that
was not run says so.
"""

from __future__ import annotations

import time

import pytest

from autograder.course import APPENDIX_A, secret_paths
from autograder.grading.results import FailureKind, Status
from autograder.grading.runner import grade_submission
from autograder.sandbox.client import Sandbox
from autograder.sandbox.isolation import IsolationPlan
from autograder.sandbox.limits import Limits
from tests.conftest import SUITES, write_variant

SLEEPER = "import time\n\ndef {name}(*args, **kwargs):\n    time.sleep(0.9)\n    raise ValueError('slow')\n"


def sleeping(tmp_path, stem: str):
    return write_variant(tmp_path, stem, {name: SLEEPER.format(name=name) for name in APPENDIX_A.notebook(stem).functions})


def graded(tmp_path, stems: list[str], **limits):
    plan = IsolationPlan(mask_paths=secret_paths(suites_dir=SUITES))
    with Sandbox(plan=plan, limits=Limits(call_seconds=1.0, **limits)) as box:
        started = time.monotonic()
        result = grade_submission(submission=tmp_path, student="sleeper", assignment=APPENDIX_A.subset(stems),
                                  suites_dir=SUITES, sandbox=box, seed=1)
        return result, time.monotonic() - started


@pytest.mark.slow
def test_a_notebook_that_sleeps_in_every_call_costs_at_most_its_checks_budget(tmp_path):
    stem = "02_tensors"
    sleeping(tmp_path, stem)
    result, seconds = graded(tmp_path, [stem], checks_seconds=4.0)
    checks = result.notebook(stem).checks
    cells = result.notebook(stem).seconds  # its visible checks call the sleeping functions too
    assert seconds < 4.0 + cells + 15.0, (seconds, cells)  # a bound, not a speed target: the budget, the cells,
    # and starting the sandbox; without the budget the checks alone would take about 20 s
    not_run = [check for check in checks if check.message.startswith("not run:")]
    assert not_run and all("for all checks of this notebook (--limit checks=)" in c.message for c in not_run)
    assert all(check.status is Status.FAILED for check in checks)
    assert {check.kind for check in not_run} == {FailureKind.TIMEOUT}
    assert result.max_points == APPENDIX_A.notebook(stem).points


@pytest.mark.slow
def test_a_submission_costs_at_most_its_budget_whatever_its_notebooks_do(tmp_path):
    stems = ["02_tensors", "03_autograd"]
    for stem in stems:
        sleeping(tmp_path, stem)
    result, seconds = graded(tmp_path, stems, checks_seconds=60.0, student_seconds=5.0)
    assert seconds < 5.0 + 15.0, seconds  # the budget covers cells and checks; plus starting the sandbox
    later = result.notebook("03_autograd").checks
    assert later and all(check.status is Status.FAILED for check in later)
    assert any("the submission's 5 s for all its notebooks (--limit student=)" in check.message for check in later)


def test_the_budgets_are_limits_named_like_the_others():
    limits = Limits().with_overrides(["checks=30", "student=90"], source="--limit")
    assert (limits.checks_seconds, limits.student_seconds) == (30.0, 90.0)
    with pytest.raises(ValueError, match="--limit: limit student_seconds must be positive"):
        Limits().with_overrides(["student=0"], source="--limit")
