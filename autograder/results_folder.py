"""A results folder: ``<student>.json`` (the latest result of each student), ``history/`` and ``grades.csv``.

Grading into a folder that already holds a student's result keeps the earlier one under
``history/<student>/`` and reports what changed, so an instructor who fixed a suite sees
whose score moved and why.  Exports and reports read the latest results only.

Two students never share a results file.  Names that differ only in letter case (``Ann`` and
``ann``) are one file on a case-insensitive file system (macOS, Windows) and on any copy of the
folder made there, so they are refused wherever the folder lives: before a class is graded
(:func:`check_distinct`) and again by :func:`write_result`, which never takes another
student's result for an earlier one of this student.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import UsageError
from autograder.files import write_atomically
from autograder.grading import schema
from autograder.grading.results import SubmissionResult

HISTORY = "history"
GRADES = "grades.csv"  # written by autograder.reporters.csvfile.write_grades


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


class SharedResultsFile(UsageError):
    """Two students' results would be one file; nothing of the second was written."""


def result_path(out_dir: Path, student: str) -> Path:
    return out_dir / f"{student}.json"


def file_key(student: str) -> str:
    """What a file system that ignores letter case (and Unicode normal forms) sees of a student's name."""
    return unicodedata.normalize("NFC", student).casefold()


def check_distinct(students: list[str], *, where: Path) -> None:
    """Refuse a class whose students' results would share a file (see the module's docstring)."""
    seen: dict[str, str] = {}
    for student in students:
        other = seen.setdefault(file_key(student), student)
        if other != student:
            raise SharedResultsFile(
                f"{where}: the folders {other!r} and {student!r} differ only in letter case, so their results "
                f"would be one file on a case-insensitive file system (macOS, Windows): rename one of them (for "
                f"example after the student's LMS id) and grade again; nothing was graded")


def write_result(out_dir: Path, result: SubmissionResult) -> Regrade | None:
    """Store ``result`` as the student's latest; an earlier result of the same student moves to ``history/``.
    Raises :class:`SharedResultsFile` rather than replace another student's result."""
    _refuse_other_student(out_dir, result.student)
    target = result_path(out_dir, result.student)
    regrade = None
    if target.exists():
        try:
            previous = schema.read(target)
        except schema.ResultsFormatError:
            previous = None  # unreadable or of an older format: kept in history all the same
        if previous is not None and previous.student != result.student:  # the file system ignores case
            raise _shared(out_dir, previous.student, result.student)
        keep = out_dir / HISTORY / result.student
        keep.mkdir(parents=True, exist_ok=True)
        os.replace(target, keep / f"{len(list(keep.glob('*.json'))) + 1:03d}.json")
        if previous is not None:
            regrade = compare(previous, result)
    write_atomically(target, schema.dumps(result))
    return regrade


def _refuse_other_student(out_dir: Path, student: str) -> None:
    """Another student's ``*.json`` whose name differs only in letter case would be this student's file."""
    if not out_dir.is_dir():
        return
    key = file_key(student)
    for path in out_dir.glob("*.json"):
        if path.stem != student and file_key(path.stem) == key:
            raise _shared(out_dir, path.stem, student)


def _shared(out_dir: Path, other: str, student: str) -> SharedResultsFile:
    return SharedResultsFile(
        f"{out_dir} already holds the result of {other!r}, and {student!r} differs from it only in letter case: "
        f"on a case-insensitive file system (macOS, Windows) one would replace the other, so {student!r} was not "
        f"stored. If they are two students, rename one of the two folders and grade {student!r} again (or grade "
        f"it into another --out); if {other!r} is this student's earlier name, move {other}.json out of {out_dir}")


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


def merge(*, sources: list[Path], out_dir: Path) -> list[str]:
    """Combine the results of disjoint shards into ``out_dir``; the merged students, sorted.
    ``grades.csv`` is then rebuilt by the caller (:func:`autograder.reporters.csvfile.write_grades`)."""
    seen: dict[str, Path] = {}
    for source in sources:
        for result in read_results(source):
            if result.student in seen:
                raise UsageError(f"student {result.student} appears in both {seen[result.student]} and {source}: "
                                 "merge the results of disjoint shards only")
            seen[result.student] = source
            write_result(out_dir, result)
    return sorted(seen)
