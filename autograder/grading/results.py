"""Grading results as plain frozen dataclasses.

Scores are resolved here, in one place; formatting lives in
:mod:`autograder.reporters`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from typing import TYPE_CHECKING

from autograder.sandbox.client import CellReport

if TYPE_CHECKING:
    from autograder.course import AssignmentSpec


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_AVAILABLE = "not available"  # extra credit that this grading machine cannot award


@dataclass(frozen=True)
class CheckResult:
    notebook: str
    name: str
    function: str
    description: str
    max_points: float
    extra_credit: bool
    status: Status
    message: str = ""

    @property
    def points(self) -> float:
        return self.max_points if self.status is Status.PASSED else 0.0


@dataclass(frozen=True)
class NotebookResult:
    notebook: str
    max_points: float
    path: str | None
    checks: tuple[CheckResult, ...]
    cells: tuple[CellReport, ...] = ()
    problems: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def points(self) -> float:
        return sum(check.points for check in self.checks if not check.extra_credit)

    @property
    def extra_credit(self) -> float:
        return sum(check.points for check in self.checks if check.extra_credit)

    @property
    def passed(self) -> int:
        return sum(check.status is Status.PASSED for check in self.checks)


@dataclass(frozen=True)
class SubmissionResult:
    student: str
    assignment: str
    notebooks: tuple[NotebookResult, ...]
    seed: int
    seconds: float
    protections: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def points(self) -> float:
        return sum(notebook.points for notebook in self.notebooks)

    @property
    def max_points(self) -> float:
        return sum(notebook.max_points for notebook in self.notebooks)

    @property
    def extra_credit(self) -> float:
        return sum(notebook.extra_credit for notebook in self.notebooks)

    def notebook(self, stem: str) -> NotebookResult:
        for result in self.notebooks:
            if result.notebook == stem:
                return result
        raise KeyError(stem)


def zero_result(*, student: str, assignment: "AssignmentSpec", reason: str, seed: int = 0) -> SubmissionResult:
    """The catastrophic-failure path: a score of 0 with the reason, for every notebook."""
    notebooks = tuple(NotebookResult(notebook=spec.stem, max_points=spec.points, path=None, checks=(),
                                     problems=(reason,)) for spec in assignment.notebooks)
    return SubmissionResult(student=student, assignment=assignment.name, notebooks=notebooks, seed=seed,
                            seconds=0.0, problems=(reason,))
