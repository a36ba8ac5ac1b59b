"""Grades as CSV for an LMS upload: ``autograder export RESULTS --lms plain|canvas|moodle [--roster FILE]``.

- ``plain``: ``student, <notebook>..., extra_credit, total, max_points, percent, status``.
- ``canvas``: Canvas's gradebook import layout (``Student, ID, SIS User ID,
  SIS Login ID, Section, <assignment>``) with a ``Points Possible`` row; Canvas
  matches rows by ``ID`` or else by the SIS columns.
- ``moodle``: Moodle's offline grading worksheet (``Identifier, Full name,
  Grade, Maximum Grade, Feedback comments``); ``Identifier`` is
  ``Participant <id>``.

The ids come from the zip import's ``lms_students.csv`` (:mod:`autograder.lms_students`)
or from the LMS's own export given as a roster (:mod:`autograder.lms_roster`); every
student left without one is reported (:func:`missing_id_warnings`), never dropped silently.

Totals include extra credit, so a total can exceed the maximum.  Numeric
columns hold numbers or nothing: extra credit that the grading machine could not
award is an empty cell (an import reads it as "no grade"; "n/a" would stop it),
and "n/a" appears only in Moodle's feedback comment, which is text.  Every text
cell (names, ids, statuses, comments, the column name) goes through
:func:`~autograder.output_encoding.csv_text`; numbers are written as they are.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from autograder.course import AssignmentSpec
from autograder.errors import UsageError
from autograder.lms_roster import (ID_NAMES, LMS_NAMES, LmsIdentity, Matching, Unmatched, match_students,
                                   read_roster)
from autograder.lms_students import read_manifest
from autograder.output_encoding import csv_text, terminal_text
from autograder.reporters.classdata import NOT_AVAILABLE_MARK, StudentRecord, load_results, notebook_stems

FORMATS = ("plain", "canvas", "moodle")


@dataclass(frozen=True)
class LmsExport:
    text: str
    matching: Matching | None  # who got an LMS id (canvas and moodle only)


def _n(value: float) -> str:
    return f"{round(value, 4):g}"


def build_export(out_dir: Path, *, fmt: str = "plain", assignment: AssignmentSpec | None = None,
                 column: str | None = None, roster: Path | None = None) -> LmsExport:
    """The CSV for the class graded into ``out_dir``, and how its students were matched to LMS ids."""
    if fmt not in FORMATS:
        raise UsageError(f"--lms: {fmt!r} is not one of {', '.join(FORMATS)}")
    if roster is not None and fmt == "plain":
        raise UsageError("--roster maps students to Canvas or Moodle ids: use it with --lms canvas or --lms moodle")
    records = load_results(out_dir, assignment=assignment)
    if fmt == "plain":
        return LmsExport(text=plain_csv(records, stems=notebook_stems(records, assignment)), matching=None)
    manifest = read_manifest(out_dir)
    matching = match_students([r.student for r in records], lms=fmt, manifest=manifest,
                              roster=read_roster(roster, lms=fmt) if roster is not None else None)
    names = {student: known.display_name for student, known in manifest.items() if known.display_name}
    if fmt == "canvas":
        text = canvas_csv(records, ids=matching.ids, names=names,
                          column=column or (assignment.name if assignment else "grade"))
    else:
        text = moodle_csv(records, ids=matching.ids, names=names)
    return LmsExport(text=text, matching=matching)


def export_grades(out_dir: Path, *, fmt: str = "plain", assignment: AssignmentSpec | None = None,
                  column: str | None = None, roster: Path | None = None) -> str:
    """The CSV text only (see :func:`build_export`)."""
    return build_export(out_dir, fmt=fmt, assignment=assignment, column=column, roster=roster).text


def _writer() -> tuple[io.StringIO, "csv._writer"]:
    buffer = io.StringIO()
    return buffer, csv.writer(buffer, lineterminator="\n")


def _extra(record: StudentRecord) -> str:
    return "" if record.extra_credit_unavailable else _n(record.extra_credit)


def plain_csv(records: list[StudentRecord], *, stems: list[str]) -> str:
    buffer, writer = _writer()
    writer.writerow(["student", *stems, "extra_credit", "total", "max_points", "percent", "status"])
    for r in records:
        writer.writerow([csv_text(r.student), *(_n(r.notebook_points.get(s, 0.0)) for s in stems),
                         _extra(r), _n(r.total), _n(r.max_points), f"{r.percent:.2f}", csv_text(r.status)])
    return buffer.getvalue()


def canvas_csv(records: list[StudentRecord], *, ids: dict[str, LmsIdentity], column: str,
               names: dict[str, str] | None = None) -> str:
    """``ids``: the students' Canvas identities; ``names``: display names (from a zip import) for the others."""
    buffer, writer = _writer()
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", csv_text(column)])
    maximum = max((r.max_points for r in records), default=0.0)
    writer.writerow(["    Points Possible", "", "", "", "", _n(maximum)])
    for r in records:
        known = ids.get(r.student)
        if known is None:  # Canvas can still match the row by login when the folder is named after it
            cells = ((names or {}).get(r.student, r.student), "", "", r.student, "")
        else:
            cells = (known.name or r.student, known.lms_id, known.sis_user_id, known.sis_login_id, known.section)
        writer.writerow([*(csv_text(cell) for cell in cells), _n(r.total)])
    return buffer.getvalue()


def moodle_csv(records: list[StudentRecord], *, ids: dict[str, LmsIdentity], names: dict[str, str] | None = None) -> str:
    """``ids``: the students' Moodle identities; ``names``: display names (from a zip import) for the others."""
    buffer, writer = _writer()
    writer.writerow(["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"])
    for r in records:
        known = ids.get(r.student)
        identifier = f"Participant {known.lms_id}" if known else r.student
        if r.extra_credit_unavailable:
            extra = f" + extra credit {NOT_AVAILABLE_MARK} (not available on the grading machine)"
        else:
            extra = f" + {_n(r.extra_credit)} extra credit" if r.extra_credit else ""
        comment = (f"{_n(r.total - r.extra_credit)}/{_n(r.max_points)}{extra}"
                   + ("" if r.status == "graded" else f"; {r.status}"))
        name = known.name if known and known.name else (names or {}).get(r.student, r.student)
        writer.writerow([csv_text(identifier), csv_text(name),
                         _n(r.total), _n(r.max_points), csv_text(comment)])
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------ warnings


def missing_id_warnings(matching: Matching) -> list[str]:
    """One line per student left without an LMS id, saying why, then what that row does and what to do;
    a note naming the roster's students who have no results.  For the terminal (names are shown, not obeyed)."""
    lms, id_name = LMS_NAMES[matching.lms], ID_NAMES[matching.lms]
    roster = matching.roster.name if matching.roster else ""
    lines = []
    for item in matching.missing:
        if item.why is Unmatched.NO_ROSTER:
            why = f"the class did not come from a {lms} download and no --roster was given"
        elif item.why is Unmatched.NOT_IN_ROSTER:
            why = f"no row of {roster} matches this name"
        elif item.why is Unmatched.AMBIGUOUS:
            why = f"lines {_and(item.lines)} of {roster} all match this name"
        else:
            where = f" ({roster}, line {_and(item.lines)})" if item.lines else ""
            why = (f"{_and(item.others)} also matched {id_name} {item.lms_id}{where}, and one id never gets two "
                   "students' grades")
        lines.append(f"warning: {item.student} has no {id_name}: {why}")
    if matching.missing:
        row = ("carries the folder name as SIS Login ID, which Canvas matches only if it is the student's login"
               if matching.lms == "canvas" else
               "carries the folder name as Identifier, which Moodle's worksheet upload does not recognise")
        todo = (f"give {lms}'s own export with --roster FILE" if matching.roster is None else
                f"look their ids up in {roster} and fill them in by hand before uploading")
        lines.append(f"warning: no {id_name} for {len(matching.missing)} of {matching.students} students: each "
                     f"such row {row}; {todo}")
    if matching.not_graded:
        names = "; ".join(entry.identity.name or entry.identity.lms_id for entry in matching.not_graded)
        lines.append(f"note: no results for these students of {roster}, so they are not in the export: {names}")
    return [terminal_text(line, keep_newlines=False) for line in lines]


def _and(items) -> str:
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
