"""grades.csv: one row per student, one column per notebook."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Iterable

from autograder.course import AssignmentSpec
from autograder.grading.results import SubmissionResult


@dataclass(frozen=True)
class GradeRow:
    student: str
    notebook_points: dict[str, float]
    extra_credit: float

    @property
    def total(self) -> float:
        return sum(self.notebook_points.values()) + self.extra_credit


def row_from_result(result: SubmissionResult) -> GradeRow:
    return GradeRow(result.student, {n.notebook: n.points for n in result.notebooks}, result.extra_credit)


def row_from_gradescope(student: str, data: dict) -> GradeRow:
    """Rebuild a row from a results.json written earlier (``--resume``)."""
    points: dict[str, float] = {}
    extra = 0.0
    for test in data.get("tests", []):
        tags = test.get("tags") or [""]
        if "extra-credit" in tags:
            extra += float(test.get("score", 0))
        else:
            points[tags[0]] = points.get(tags[0], 0.0) + float(test.get("score", 0))
    return GradeRow(student, points, extra)


def grades_csv(rows: Iterable[GradeRow], *, assignment: AssignmentSpec) -> str:
    """``student, <notebook>..., extra_credit, total`` where total includes extra credit."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *(spec.stem for spec in assignment.notebooks), "extra_credit", "total"])
    for row in sorted(rows, key=lambda r: r.student):
        writer.writerow([row.student, *(_number(row.notebook_points.get(spec.stem, 0.0))
                                        for spec in assignment.notebooks),
                         _number(row.extra_credit), _number(row.total)])
    return buffer.getvalue()


def _number(value: float) -> str:
    return f"{value:g}"
