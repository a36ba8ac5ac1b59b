"""Grades as CSV for an LMS upload: ``autograder export OUTDIR --format plain|canvas|moodle --to FILE``.

- ``plain``: ``student, <notebook>..., extra_credit, total, max_points, percent, status``.
- ``canvas``: Canvas's gradebook import layout (``Student, ID, SIS User ID,
  SIS Login ID, Section, <assignment>``) with a ``Points Possible`` row; Canvas
  matches rows by ``ID`` (filled in when the class came from a Canvas zip) or
  by the SIS columns.
- ``moodle``: Moodle's offline grading worksheet (``Identifier, Full name,
  Grade, Maximum Grade, Feedback comments``); ``Identifier`` is
  ``Participant <id>`` when the class came from a Moodle zip.

Totals include extra credit, so a total can exceed the maximum.  Every text cell
(student and display names, ids, statuses, comments, the column name) goes
through :func:`~autograder.reporters.encoding.csv_text`; numbers are written as
they are.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from autograder.course import AssignmentSpec
from autograder.lms_import import ImportedStudent, read_manifest
from autograder.reporters.classdata import StudentRecord, load_results, notebook_stems
from autograder.reporters.encoding import csv_text

FORMATS = ("plain", "canvas", "moodle")


def _n(value: float) -> str:
    return f"{round(value, 4):g}"


def export_grades(out_dir: Path, *, fmt: str = "plain", assignment: AssignmentSpec | None = None,
                  column: str | None = None) -> str:
    """The CSV text for the class graded into ``out_dir``."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    records = load_results(out_dir, assignment=assignment)
    roster = read_manifest(out_dir)
    name = column or (assignment.name if assignment else "grade")
    if fmt == "canvas":
        return canvas_csv(records, roster=roster, column=name)
    if fmt == "moodle":
        return moodle_csv(records, roster=roster)
    return plain_csv(records, stems=notebook_stems(records, assignment))


def _writer() -> tuple[io.StringIO, "csv._writer"]:
    buffer = io.StringIO()
    return buffer, csv.writer(buffer, lineterminator="\n")


def plain_csv(records: list[StudentRecord], *, stems: list[str]) -> str:
    buffer, writer = _writer()
    writer.writerow(["student", *stems, "extra_credit", "total", "max_points", "percent", "status"])
    for r in records:
        writer.writerow([csv_text(r.student), *(_n(r.notebook_points.get(s, 0.0)) for s in stems),
                         _n(r.extra_credit), _n(r.total), _n(r.max_points), f"{r.percent:.2f}", csv_text(r.status)])
    return buffer.getvalue()


def canvas_csv(records: list[StudentRecord], *, roster: dict[str, ImportedStudent], column: str) -> str:
    buffer, writer = _writer()
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", csv_text(column)])
    maximum = max((r.max_points for r in records), default=0.0)
    writer.writerow(["    Points Possible", "", "", "", "", _n(maximum)])
    for r in records:
        known = roster.get(r.student)
        canvas_id = known.lms_id if known and known.lms == "canvas" else ""
        writer.writerow([csv_text(known.display_name if known else r.student), csv_text(canvas_id), "",
                         "" if canvas_id else csv_text(r.student), "", _n(r.total)])
    return buffer.getvalue()


def moodle_csv(records: list[StudentRecord], *, roster: dict[str, ImportedStudent]) -> str:
    buffer, writer = _writer()
    writer.writerow(["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"])
    for r in records:
        known = roster.get(r.student)
        identifier = f"Participant {known.lms_id}" if known and known.lms == "moodle" else r.student
        extra = f" + {_n(r.extra_credit)} extra credit" if r.extra_credit else ""
        comment = (f"{_n(r.total - r.extra_credit)}/{_n(r.max_points)}{extra}"
                   + ("" if r.status == "graded" else f"; {r.status}"))
        writer.writerow([csv_text(identifier), csv_text(known.display_name if known else r.student), _n(r.total),
                         _n(r.max_points), csv_text(comment)])
    return buffer.getvalue()
