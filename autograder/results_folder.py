"""A results folder: ``<student>.json`` (the latest result of each student), ``history/`` and ``grades.csv``.

Grading into a folder that already holds a student's result keeps the earlier one under
``history/<student>/`` and reports what changed, so an instructor who fixed a suite sees
whose score moved and why.  Exports and reports read the latest results only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autograder.course import AssignmentSpec
from autograder.errors import UsageError
from autograder.files import write_atomically
from autograder.grading import schema
from autograder.grading.results import SubmissionResult

HISTORY = "history"
GRADES = "grades.csv"


@dataclass(frozen=True)
class Regrade:
    """How a student's result changed between two gradings."""

    student: str
    old_total: float
    new_total: float
    changed: tuple[tuple[str, str, str], ...]  # (check id, old status, new status)

    @property
    def moved(self) -> bool:
        return self.old_total != self.new_total or bool(self.changed)


def result_path(out_dir: Path, student: str) -> Path:
    return out_dir / f"{student}.json"


def write_result(out_dir: Path, result: SubmissionResult) -> Regrade | None:
    """Store ``result`` as the student's latest; an earlier result moves to ``history/``."""
    target = result_path(out_dir, result.student)
    regrade = None
    if target.exists():
        try:
            previous = schema.read(target)
        except schema.ResultsFormatError:
            previous = None  # unreadable or of an older format: kept in history all the same
        keep = out_dir / HISTORY / result.student
        keep.mkdir(parents=True, exist_ok=True)
        os.replace(target, keep / f"{len(list(keep.glob('*.json'))) + 1:03d}.json")
        if previous is not None:
            regrade = compare(previous, result)
    write_atomically(target, schema.dumps(result))
    return regrade


def compare(old: SubmissionResult, new: SubmissionResult) -> Regrade:
    before = {check.id: check.status.value for notebook in old.notebooks for check in notebook.checks}
    after = {check.id: check.status.value for notebook in new.notebooks for check in notebook.checks}
    changed = tuple((check, before.get(check, "absent"), after.get(check, "absent"))
                    for check in sorted(set(before) | set(after)) if before.get(check) != after.get(check))
    return Regrade(student=new.student, old_total=old.points + old.extra_credit,
                   new_total=new.points + new.extra_credit, changed=changed)


def read_results(out_dir: Path) -> list[SubmissionResult]:
    """The latest result of every student in ``out_dir``, sorted by student."""
    if not out_dir.is_dir():
        raise UsageError(f"{out_dir} is not a directory: give the --out directory of a graded class")
    results = [schema.read(path) for path in sorted(out_dir.glob("*.json"))]
    if not results:
        raise UsageError(f"{out_dir} holds no results: grade a class with `autograder grade CLASS --out {out_dir}`")
    return sorted(results, key=lambda result: result.student)


def finished_students(out_dir: Path) -> set[str]:
    """Students whose result in ``out_dir`` is readable (``--resume`` leaves them out)."""
    done = set()
    for path in out_dir.glob("*.json"):
        try:
            done.add(schema.read(path).student)
        except schema.ResultsFormatError:
            pass  # graded again
    return done


def write_grades(out_dir: Path, *, assignment: AssignmentSpec) -> Path:
    """``grades.csv`` from the latest results in ``out_dir``."""
    from autograder.reporters.csvfile import grades_csv

    target = out_dir / GRADES
    write_atomically(target, grades_csv(read_results(out_dir), assignment=assignment))
    return target


def merge(*, sources: list[Path], out_dir: Path, assignment: AssignmentSpec) -> list[str]:
    """Combine the results of disjoint shards into ``out_dir``; rebuild ``grades.csv``."""
    seen: dict[str, Path] = {}
    for source in sources:
        for result in read_results(source):
            if result.student in seen:
                raise UsageError(f"student {result.student} appears in both {seen[result.student]} and {source}: "
                                 "merge the results of disjoint shards only")
            seen[result.student] = source
            write_result(out_dir, result)
    write_grades(out_dir, assignment=assignment)
    return sorted(seen)
