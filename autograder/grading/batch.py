"""Grade a whole class, writing each result atomically as it finishes.

A student whose grading fails for any reason still gets a result file: a
score of 0 with the reason.  One bad submission never stops the batch.
This module runs in the coordinating process, which never imports torch,
pytest or a hidden suite: the grading happens in :mod:`autograder.grading.pool`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

from autograder.course import AssignmentSpec
from autograder.files import write_atomically
from autograder.grading.pool import GradingSetup, grade_all
from autograder.grading.results import SubmissionResult
from autograder.notebooks import students_in
from autograder.reporters.csvfile import GradeRow, grades_csv, row_from_gradescope, row_from_result
from autograder.reporters.gradescope import to_gradescope


def _previous_row(path: Path, student: str) -> GradeRow | None:
    try:
        return row_from_gradescope(student, json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, AttributeError):
        return None  # unreadable: grade again


def shard_of(student: str, count: int) -> int:
    """The shard (1..count) a student belongs to: stable, whoever else is in the class."""
    return int.from_bytes(hashlib.sha256(student.encode()).digest()[:8], "big") % count + 1


def grade_class(*, class_dir: Path, out_dir: Path, setup: GradingSetup, jobs: int = 1, resume: bool = False,
                shard: tuple[int, int] = (1, 1),
                on_result: Callable[[SubmissionResult], None] = lambda result: None,
                on_plan: Callable[[int], None] = lambda total: None) -> list[SubmissionResult]:
    """Grade every student of ``class_dir`` (of this shard); each result is written as it finishes.

    With ``resume``, results already in ``out_dir`` are kept and not graded again.
    """
    index, count = shard
    students = [(name, path) for name, path in students_in(class_dir) if count == 1 or shard_of(name, count) == index]
    rows, todo = [], []
    for student, submission in students:
        target = out_dir / f"{student}.json"
        previous = _previous_row(target, student) if resume and target.exists() else None
        if previous is not None:
            rows.append(previous)
        else:
            todo.append((student, submission))
    on_plan(len(todo))
    results = []
    for result in grade_all(todo, setup=setup, jobs=jobs):
        write_atomically(out_dir / f"{result.student}.json", json.dumps(to_gradescope(result), indent=2) + "\n")
        results.append(result)
        rows.append(row_from_result(result))
        on_result(result)
    write_atomically(out_dir / "grades.csv", grades_csv(rows, assignment=setup.assignment))
    return results


def merge_results(*, sources: list[Path], out_dir: Path, assignment: AssignmentSpec) -> list[str]:
    """Combine the per-student results of several shards into one directory and one grades.csv."""
    rows, seen = [], {}
    for source in sources:
        for path in sorted(source.glob("*.json")):
            if path.stem in seen:
                raise ValueError(f"student {path.stem} appears in both {seen[path.stem]} and {source}: "
                                 "merge the results of disjoint shards only")
            seen[path.stem] = source
            text = path.read_text(encoding="utf-8")
            row = _previous_row(path, path.stem)
            if row is None:
                raise ValueError(f"{path} is not a readable results.json: grade that shard again")
            write_atomically(out_dir / path.name, text)
            rows.append(row)
    write_atomically(out_dir / "grades.csv", grades_csv(rows, assignment=assignment))
    return sorted(seen)
