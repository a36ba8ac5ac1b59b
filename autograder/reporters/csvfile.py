"""grades.csv: one row per student, one column per notebook."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

from autograder.course import AssignmentSpec
from autograder.files import write_atomically
from autograder.grading.results import SubmissionResult
from autograder.output_encoding import csv_text
from autograder.results_folder import GRADES, read_results


def write_grades(out_dir: Path, *, assignment: AssignmentSpec) -> Path:
    """``grades.csv`` in the results folder ``out_dir``, from the latest results there."""
    target = out_dir / GRADES
    write_atomically(target, grades_csv(read_results(out_dir), assignment=assignment))
    return target


def grades_csv(results: Iterable[SubmissionResult], *, assignment: AssignmentSpec) -> str:
    """``student, <notebook>..., extra_credit, total`` where total includes extra credit.

    ``extra_credit`` is empty where the grading machine could award none of it: every cell is a number
    or empty, which is what gradebook imports accept ("n/a" would stop them); see docs/results.md.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *(spec.stem for spec in assignment.notebooks), "extra_credit", "total"])
    for result in sorted(results, key=lambda r: r.student):
        points = {notebook.notebook: notebook.points for notebook in result.notebooks}
        writer.writerow([csv_text(result.student), *(_number(points.get(spec.stem, 0.0))
                                                     for spec in assignment.notebooks),
                         "" if result.extra_credit_unavailable else _number(result.extra_credit),
                         _number(result.points + result.extra_credit)])
    return buffer.getvalue()


def _number(value: float) -> str:
    return f"{value:g}"
