"""A graded class as reports, exports and feedback see it, built from the stored results.

The per-student results (:mod:`autograder.results_folder`, format in docs/results.md) are
the only input, so reports work on classes graded elsewhere or merged from shards, without
the submissions or the hidden suites.  Every field comes from the results model; nothing
is guessed from names or message texts.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from autograder.course import AssignmentSpec
from autograder.grading.results import CellStatus, FailureKind, Status, SubmissionResult
from autograder.results_folder import read_results

#: shown instead of an extra-credit score where the grading machine could award none of it (every
#: extra-credit check "not available"); numeric CSV columns leave such a cell empty instead (docs/results.md)
NOT_AVAILABLE_MARK = "n/a"


@dataclass(frozen=True)
class CheckRecord:
    notebook: str
    name: str
    function: str
    description: str
    message: str  # why it did not pass ("" when it passed)
    hint: str
    score: float
    max_score: float
    status: str  # a Status value: "passed", "failed", "not available" or "grader error"
    extra_credit: bool
    kind: FailureKind | None = None  # why it did not pass (None when it passed)

    @property
    def passed(self) -> bool:
        return self.status == Status.PASSED.value


@dataclass(frozen=True)
class Problem:
    notebook: str
    kind: str  # "crash", "limit", "restart", "grader" or "problem"
    text: str


@dataclass(frozen=True)
class StudentRecord:
    student: str
    checks: tuple[CheckRecord, ...]
    notebook_points: dict[str, float]
    notebook_max: dict[str, float]
    extra_credit: float
    max_points: float
    problems: tuple[Problem, ...]
    seed: int | None
    grading_failed: bool = False
    extra_credit_unavailable: bool = False  # SubmissionResult.extra_credit_unavailable

    @property
    def total(self) -> float:
        """Points including extra credit."""
        return sum(self.notebook_points.values()) + self.extra_credit

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max_points if self.max_points else 0.0

    @property
    def status(self) -> str:
        if self.grading_failed:
            return "grading failed"
        kinds = [kind for kind in ("crash", "limit") if any(p.kind == kind for p in self.problems)]
        if kinds:
            return " and ".join(dict(crash="crashed", limit="hit a limit")[k] for k in kinds)
        if self.problems:
            return "graded with problems"
        return "graded"


_CELL_KIND = {CellStatus.TIMEOUT: "limit", CellStatus.MEMORY: "limit", CellStatus.SKIPPED: "limit",
              CellStatus.EXIT: "crash", CellStatus.DIED: "crash", CellStatus.ERROR: "problem"}


def record_from_result(result: SubmissionResult) -> StudentRecord:
    checks, problems = [], []
    for notebook in result.notebooks:
        by_cell = {cell.message: _CELL_KIND[cell.status] for cell in notebook.cells if cell.status in _CELL_KIND}
        for text in notebook.problems:
            kind = by_cell.get(text) or ("restart" if text in notebook.restarts else "problem")
            problems.append(Problem(notebook.notebook, kind, text))
        for check in notebook.checks:
            if check.status is Status.GRADER_ERROR:
                problems.append(Problem(notebook.notebook, "grader", f"{check.name}: {check.message}"))
            checks.append(CheckRecord(
                notebook=check.notebook, name=check.name, function=check.function, description=check.description,
                message="" if check.status is Status.PASSED else check.message, hint=check.hint,
                score=check.points, max_score=check.max_points, status=check.status.value,
                extra_credit=check.extra_credit, kind=check.kind))
    return StudentRecord(
        student=result.student, checks=tuple(checks),
        notebook_points={notebook.notebook: notebook.points for notebook in result.notebooks},
        notebook_max={notebook.notebook: notebook.possible for notebook in result.notebooks},
        extra_credit=result.extra_credit, max_points=result.max_points, problems=tuple(problems),
        seed=result.seed, grading_failed=bool(result.problems),
        extra_credit_unavailable=result.extra_credit_unavailable)


def load_results(out_dir: Path, *, assignment: AssignmentSpec | None = None) -> list[StudentRecord]:
    """The latest result of every student in ``out_dir``, as records sorted by student."""
    return [record_from_result(result) for result in read_results(out_dir)]


def notebook_stems(records: list[StudentRecord], assignment: AssignmentSpec | None = None) -> list[str]:
    """The notebooks present in the results, in the assignment's order."""
    seen = {stem for record in records for stem in record.notebook_points}
    ordered = [nb.stem for nb in assignment.notebooks if nb.stem in seen] if assignment else []
    return ordered + sorted(seen - set(ordered))


@dataclass(frozen=True)
class CheckStats:
    notebook: str
    name: str
    function: str
    description: str
    max_score: float
    passed: int
    graded: int  # students for whom the check ran and was not "not available"
    extra_credit: bool

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


def check_stats(records: list[StudentRecord]) -> list[CheckStats]:
    """Pass counts per check, hardest first (lowest pass rate, then most points)."""
    table: dict[tuple[str, str], dict] = {}
    for record in records:
        for check in record.checks:
            entry = table.setdefault((check.notebook, check.name), {
                "function": check.function, "description": check.description, "max": 0.0, "passed": 0,
                "graded": 0, "extra": check.extra_credit})
            entry["max"] = max(entry["max"], check.max_score)
            if check.status not in (Status.NOT_AVAILABLE.value, Status.GRADER_ERROR.value):
                entry["graded"] += 1
                entry["passed"] += check.passed
    stats = [CheckStats(notebook=nb, name=name, function=e["function"], description=e["description"],
                        max_score=e["max"], passed=e["passed"], graded=e["graded"], extra_credit=e["extra"])
             for (nb, name), e in table.items()]
    return sorted(stats, key=lambda s: (s.graded == 0, s.rate, -s.max_score, s.notebook, s.name))


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "median": 0.0, "min": 0.0, "max": 0.0}
    return {"mean": statistics.fmean(values), "median": statistics.median(values),
            "min": min(values), "max": max(values)}


