"""The stored form of a :class:`SubmissionResult`: versioned JSON, lossless both ways.

Every front door writes this (``results/<student>.json``, ``--json``, ``autograder ci``, the
nbgrader preprocessor), and every output format is derived from the model read back from
it.  The fields are documented in ``docs/results.md``.  A file of another schema or of a
newer version is refused with a message saying what to do; nothing is guessed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autograder.errors import UsageError
from autograder.grading.results import (CellResult, CellStatus, CheckResult, FailureKind, NotebookResult, Provenance,
                                        Status, SubmissionResult)

SCHEMA = "pytorch-autograder/results"
VERSION = 2


class ResultsFormatError(UsageError):
    """A results file this version cannot read; the message says why and what to do."""


def to_dict(result: SubmissionResult, *, for_student: bool = False) -> dict[str, Any]:
    """The stored form of ``result``; ``for_student``: without the instructor section (its tracebacks show
    hidden source, its notes the student's exception texts, which may spell hidden inputs)."""
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "student": result.student,
        "assignment": result.assignment,
        "score": {"points": result.points, "max_points": result.max_points, "extra_credit": result.extra_credit},
        "seed": result.seed,
        "seconds": round(result.seconds, 3),
        "protections": list(result.protections),
        "problems": list(result.problems),
        "provenance": {
            "grader_version": result.provenance.grader_version,
            "suites": dict(result.provenance.suites),
            "torch_version": result.provenance.torch_version,
            "devices": dict(result.provenance.devices),
            "started_at": result.provenance.started_at,
            "finished_at": result.provenance.finished_at,
        },
        "notebooks": [_notebook_dict(notebook) for notebook in result.notebooks],
        "instructor": {"grader_errors": [] if for_student else [{"check": check.id, "traceback": check.grader_error}
                                                                for check in result.grader_errors],
                       "notes": [] if for_student else [{"check": check.id, "note": check.instructor_note}
                                                        for notebook in result.notebooks for check in notebook.checks
                                                        if check.instructor_note]},
    }


def _notebook_dict(notebook: NotebookResult) -> dict[str, Any]:
    return {
        "notebook": notebook.notebook,
        "points": notebook.points,
        "max_points": notebook.max_points,
        "possible": notebook.possible,
        "extra_credit": notebook.extra_credit,
        "path": notebook.path,
        "seconds": round(notebook.seconds, 3),
        "problems": list(notebook.problems),
        "restarts": list(notebook.restarts),
        "cells": [{"index": cell.index, "status": cell.status.value, "message": cell.message,
                   "seconds": round(cell.seconds, 3), "output": cell.output} for cell in notebook.cells],
        "checks": [{"id": check.id, "name": check.name, "function": check.function,
                    "description": check.description, "points": check.points, "max_points": check.max_points,
                    "extra_credit": check.extra_credit, "status": check.status.value, "message": check.message,
                    "hint": check.hint, "kind": check.kind.value if check.kind else None}
                   for check in notebook.checks],
    }


def from_dict(data: Any, *, source: str = "results") -> SubmissionResult:
    """The result stored in ``data``; :class:`ResultsFormatError` for anything else."""
    if not isinstance(data, dict):
        raise ResultsFormatError(f"{source} is not a results file (a JSON object is expected)")
    if data.get("schema") != SCHEMA:
        if "tests" in data:  # Gradescope's format, which results folders held before version 2
            raise ResultsFormatError(f"{source} is in Gradescope's format, written by grader 0.1: grade the class "
                                     "again into a new folder (the old folder is left as it is)")
        raise ResultsFormatError(f"{source} is not a results file of this grader (no schema {SCHEMA!r})")
    if data.get("version") != VERSION:
        raise ResultsFormatError(f"{source} has results version {data.get('version')!r}; this grader reads "
                                 f"version {VERSION}: use the grader that wrote it, or grade again")
    try:
        errors = {entry["check"]: entry["traceback"] for entry in data["instructor"]["grader_errors"]}
        notes = {entry["check"]: entry["note"] for entry in data["instructor"].get("notes", [])}
        provenance = data["provenance"]
        return SubmissionResult(
            student=str(data["student"]), assignment=str(data["assignment"]),
            notebooks=tuple(_notebook(raw, errors, notes) for raw in data["notebooks"]),
            seed=int(data["seed"]), seconds=float(data["seconds"]),
            protections=tuple(map(str, data["protections"])), problems=tuple(map(str, data["problems"])),
            provenance=Provenance(
                grader_version=str(provenance["grader_version"]),
                suites=tuple(sorted((str(k), str(v)) for k, v in provenance["suites"].items())),
                torch_version=str(provenance["torch_version"]),
                devices=tuple((str(k), bool(v)) for k, v in provenance["devices"].items()),
                started_at=str(provenance["started_at"]), finished_at=str(provenance["finished_at"])),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ResultsFormatError(f"{source} is damaged ({type(error).__name__}: {error}): grade that student "
                                 "again") from None


def _notebook(raw: dict, errors: dict[str, str], notes: dict[str, str]) -> NotebookResult:
    checks = []
    for check in raw["checks"]:
        checks.append(CheckResult(
            notebook=str(raw["notebook"]), name=str(check["name"]), function=str(check["function"]),
            description=str(check["description"]), max_points=float(check["max_points"]),
            extra_credit=bool(check["extra_credit"]), status=Status(check["status"]), message=str(check["message"]),
            hint=str(check["hint"]), kind=FailureKind(check["kind"]) if check["kind"] else None,
            grader_error=errors.get(str(check["id"]), ""), instructor_note=notes.get(str(check["id"]), "")))
    cells = tuple(CellResult(index=int(cell["index"]), status=CellStatus(cell["status"]), message=str(cell["message"]),
                             seconds=float(cell["seconds"]), output=str(cell["output"])) for cell in raw["cells"])
    return NotebookResult(notebook=str(raw["notebook"]), max_points=float(raw["max_points"]), path=raw["path"],
                          checks=tuple(checks), cells=cells, problems=tuple(map(str, raw["problems"])),
                          seconds=float(raw["seconds"]), restarts=tuple(map(str, raw["restarts"])))


def dumps(result: SubmissionResult, *, for_student: bool = False) -> str:
    return json.dumps(to_dict(result, for_student=for_student), indent=2, ensure_ascii=False) + "\n"


def read(path: Path) -> SubmissionResult:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ResultsFormatError(f"{path} cannot be read as JSON ({error}): grade that student again") from None
    return from_dict(data, source=str(path))
