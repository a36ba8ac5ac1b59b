"""Grading results as plain frozen dataclasses: the one model every output is derived from.

Scores are resolved here, in one place.  Formatting lives in :mod:`autograder.reporters`;
the stored form (``results/<student>.json``) in :mod:`autograder.grading.schema`, documented
in ``docs/results.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autograder.course import AssignmentSpec


Task = tuple[str, Path]  # what to grade: (student, submission: a notebook or a directory)


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_AVAILABLE = "not available"  # extra credit that this grading machine cannot award
    GRADER_ERROR = "grader error"    # the check's own code failed: counted neither for nor against anyone


class FailureKind(str, Enum):
    """Why a check did not pass, for reports that group failures (never parsed from messages)."""

    WRONG_ANSWER = "wrong answer"            # the check compared the student's data and found a defect
    STUDENT_ERROR = "student error"          # the student's function raised
    NOT_IMPLEMENTED = "not implemented"      # ... NotImplementedError: the stub is still there
    MISSING = "missing"                      # the function or class is not defined in the notebook
    TIMEOUT = "timeout"                      # a call or the check ran past its time limit
    CRASH = "crash"                          # the notebook process died during the check
    UNREADABLE_ANSWER = "unreadable answer"  # the answer could not cross back as data (too large, not data)
    NOTEBOOK = "notebook"                    # the notebook is missing, unreadable or did not run
    UNUSABLE_VALUE = "unusable value"        # the check could not handle what the student's code returned or did
    NOT_AVAILABLE = "not available"          # extra credit this machine cannot award
    GRADER = "grader"                        # a fault of the hidden suite


class CellStatus(str, Enum):
    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    EXIT = "exit"
    DIED = "died"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CellResult:
    """How one code cell of the student's notebook ran (its printed output is the student's own)."""

    index: int
    status: CellStatus
    message: str = ""
    seconds: float = 0.0
    output: str = ""


@dataclass(frozen=True)
class CheckResult:
    notebook: str
    name: str
    function: str
    description: str
    max_points: float
    extra_credit: bool
    status: Status
    message: str = ""                 # for the student
    hint: str = ""                    # for the student: what to read or try
    kind: FailureKind | None = None   # None when passed
    grader_error: str = ""            # for the instructor only: the suite's traceback
    instructor_note: str = ""         # for the instructor only: the student's exception as raised, or the
                                      # suite's traceback on a value the reference solution never produces

    @property
    def id(self) -> str:
        return f"{self.notebook}::{self.name}"

    @property
    def points(self) -> float:
        return self.max_points if self.status is Status.PASSED else 0.0

    @property
    def counts(self) -> bool:
        """Whether the check is part of the maximum (a grader error is not)."""
        return self.status is not Status.GRADER_ERROR


@dataclass(frozen=True)
class NotebookResult:
    notebook: str
    max_points: float                 # the notebook's points in the course spec
    path: str | None
    checks: tuple[CheckResult, ...]
    cells: tuple[CellResult, ...] = ()
    problems: tuple[str, ...] = ()    # for the student: cells that failed, a missing notebook, restarts
    seconds: float = 0.0
    restarts: tuple[str, ...] = ()    # why the notebook process was started again (also in problems)

    @property
    def points(self) -> float:
        return sum(check.points for check in self.checks if not check.extra_credit)

    @property
    def possible(self) -> float:
        """The maximum this notebook counts for: the points of its checks, less those that had grader errors
        (the course's points when no check ran, as after a failure to grade)."""
        graded = [check for check in self.checks if not check.extra_credit]
        if not graded:
            return self.max_points
        return sum(check.max_points for check in graded if check.counts)

    @property
    def extra_credit(self) -> float:
        return sum(check.points for check in self.checks if check.extra_credit)

    @property
    def passed(self) -> int:
        return sum(check.status is Status.PASSED for check in self.checks)


@dataclass(frozen=True)
class Provenance:
    """What produced a result: enough to reproduce it, or to know that it cannot be compared."""

    grader_version: str = ""
    suites: tuple[tuple[str, str], ...] = ()   # (file name, sha256) of each hidden suite and helper
    torch_version: str = ""
    devices: tuple[tuple[str, bool], ...] = ()  # ("cuda", False), ("mps", False): observed by the grader
    started_at: str = ""                        # ISO 8601, UTC
    finished_at: str = ""


@dataclass(frozen=True)
class SubmissionResult:
    student: str
    assignment: str
    notebooks: tuple[NotebookResult, ...]
    seed: int
    seconds: float
    protections: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())  # why grading failed as a whole (then every notebook is 0)
    provenance: Provenance = field(default_factory=Provenance)

    @property
    def points(self) -> float:
        return sum(notebook.points for notebook in self.notebooks)

    @property
    def max_points(self) -> float:
        return sum(notebook.possible for notebook in self.notebooks)

    @property
    def extra_credit(self) -> float:
        return sum(notebook.extra_credit for notebook in self.notebooks)

    @property
    def extra_credit_unavailable(self) -> bool:
        """Whether this grading machine could award none of the student's extra credit: every extra-credit
        check is "not available" (reports then show "n/a", not 0). False when there is no extra credit."""
        extra = [check for notebook in self.notebooks for check in notebook.checks if check.extra_credit]
        return bool(extra) and all(check.status is Status.NOT_AVAILABLE for check in extra)

    @property
    def grader_errors(self) -> tuple[CheckResult, ...]:
        return tuple(check for notebook in self.notebooks for check in notebook.checks
                     if check.status is Status.GRADER_ERROR)

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
