"""``autograder validate``: the course is consistent and the graders discriminate at the extremes.

Checks, in order: the instructor notebooks are well-formed and agree with the
hidden suites on points; ``exercises/`` and ``solutions/`` are up to date; every
solution scores full marks; every released stub scores 0; no check's own code fails
(a grader error) on either.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.course import REPO_ROOT, AssignmentSpec
from autograder.course.build import BuildError, stale_files
from autograder.grading.plugin import CheckSpec, check_spec
from autograder.grading.results import Status
from autograder.grading.runner import grade_submission, suite_files
from autograder.sandbox.client import Sandbox


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str


class _Collector:
    def __init__(self) -> None:
        self.specs: list[CheckSpec] = []
        self.errors: list[str] = []

    def pytest_collection_modifyitems(self, items):
        for item in items:
            try:
                self.specs.append(check_spec(item))
            except Exception as error:
                self.errors.append(str(error))


def collect_checks(files: list[Path], suites_dir: Path) -> tuple[list[CheckSpec], list[str]]:
    collector = _Collector()
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = pytest.main([*map(str, files), "--collect-only", "-q", "-p", "no:cacheprovider",
                            "--rootdir", str(suites_dir), "--confcutdir", str(suites_dir),
                            "-o", "addopts=", "--assert=plain"], plugins=[collector])
    if code not in (0, 5):
        collector.errors.append(f"the hidden suites do not import (pytest exit {int(code)})")
    return collector.specs, collector.errors


def check_sources(*, repo: Path, assignment: AssignmentSpec, checks: list[CheckSpec]) -> list[Finding]:
    findings = []
    for spec in assignment.notebooks:
        path = repo / "source" / assignment.name / spec.filename
        if not path.is_file():
            findings.append(Finding(False, f"missing instructor notebook {path.relative_to(repo)}"))
            continue
        notebook = nbformat.read(path, as_version=4)
        problems = []
        solution_ids = set()
        grade_points = {}
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                solution_ids.add(meta.get("grade_id"))
                if "### BEGIN SOLUTION" not in cell.source:
                    problems.append(f"solution cell {meta.get('grade_id')} has no ### BEGIN SOLUTION region")
            if meta.get("grade"):
                grade_points[meta.get("grade_id")] = float(meta.get("points", 0))
        for function in spec.functions:
            if function not in solution_ids:
                problems.append(f"no solution cell with grade_id {function!r}")
            suite_points = sum(c.points for c in checks if c.notebook == spec.stem and c.function == function
                               and not c.extra_credit)
            cell_points = grade_points.get(f"check_{function}")
            if cell_points is None:
                problems.append(f"no visible-check cell check_{function}")
            elif abs(cell_points - suite_points) > 1e-9:
                problems.append(f"check_{function} is worth {cell_points:g} points but its hidden checks "
                                f"add up to {suite_points:g}")
        total = sum(c.points for c in checks if c.notebook == spec.stem and not c.extra_credit)
        extra = sum(c.points for c in checks if c.notebook == spec.stem and c.extra_credit)
        if total != spec.points or extra != spec.extra_credit:
            problems.append(f"hidden checks give {total:g} points + {extra:g} extra credit; "
                            f"the course outline says {spec.points} + {spec.extra_credit}")
        findings.append(Finding(not problems, f"{path.relative_to(repo)}: "
                                + ("; ".join(problems) if problems else "well-formed, points agree")))
    return findings


def validate(*, repo: Path = REPO_ROOT, assignment: AssignmentSpec, suites_dir: Path,
             sandbox: Sandbox) -> list[Finding]:
    files = suite_files(suites_dir, assignment)
    checks, errors = collect_checks(list(files.values()), suites_dir)
    findings = [Finding(False, error) for error in errors]
    findings += check_sources(repo=repo, assignment=assignment, checks=checks)
    try:
        stale = stale_files(repo=repo, assignment=assignment.name)
        findings.append(Finding(not stale, "exercises/ and solutions/ are up to date" if not stale else
                                "stale generated notebooks (run `autograder build`): " + ", ".join(stale)))
    except BuildError as error:
        findings.append(Finding(False, str(error)))
    for folder, want_full in (("solutions", True), ("exercises", False)):
        result = grade_submission(submission=repo / folder / assignment.name, student=folder,
                                  assignment=assignment, suites_dir=suites_dir, sandbox=sandbox)
        for notebook in result.notebooks:
            faulty = [check for check in notebook.checks if check.status is Status.GRADER_ERROR]
            if faulty:
                findings.append(Finding(False, f"{folder}/{notebook.notebook}: the suite's own code failed in "
                                        + "; ".join(f"{check.name} ({_last_line(check.grader_error)})"
                                                    for check in faulty)))
            expected = notebook.max_points if want_full else 0
            ok = notebook.points == expected and not faulty
            detail = "" if ok else " (" + "; ".join(
                f"{c.name}: {c.message}" for c in notebook.checks if (c.points == 0) == want_full
                and not c.extra_credit)[:600] + ")"
            findings.append(Finding(ok, f"{folder}/{notebook.notebook}: {notebook.points:g}/{notebook.max_points:g}"
                                    f" (expected {expected:g}){detail}"))
    return findings


def _last_line(trace: str) -> str:
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no traceback"
