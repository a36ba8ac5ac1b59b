"""Who is who in an LMS: its own gradebook export read as a roster, and the graded students matched to it.

An export for Canvas or Moodle needs each student's id in that LMS.  A class imported from the LMS's
bulk download has them (``lms_students.csv``, written by :mod:`autograder.lms_import`); for any other
class, the LMS's own export gives them (``autograder export --roster FILE``):

- Canvas: the gradebook export (Grades > Export > Export Entire Gradebook): ``Student, ID, SIS User ID,
  SIS Login ID, [Integration ID,] Section, <assignments>...``.  The rows right after the header that
  have no ``ID`` ("Points Possible", a row of posting policies) are not students.
- Moodle: the assignment's grading worksheet (View all submissions > Download grading worksheet):
  ``Identifier, Full name, Email address, ...`` with ``Identifier`` like ``Participant 12345``.

A student's folder matches a roster row when its name, cleaned as the zip import cleans names
(:func:`~autograder.lms_students.clean_name`) and with letter case ignored, is one of the row's names:
for Canvas the user id, SIS user id, SIS login id, the name as Canvas writes it (``Doe, Jane``), in
"first last" order, or as it appears in Canvas's download file names (``doejane``); for Moodle the
participant id, the full name (``Jane Doe``), the e-mail address or its part before the "@".  A
student with no matching row, with several, or whose id another student also matched gets no id,
with the reason: two students are never given one id, since one upload would overwrite the other.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from autograder.errors import UsageError
from autograder.lms_students import ImportedStudent, clean_name

LMS_NAMES = {"canvas": "Canvas", "moodle": "Moodle"}
ID_NAMES = {"canvas": "Canvas user id", "moodle": "Moodle participant id"}
WHERE = {"canvas": "download it from Canvas with Grades > Export > Export Entire Gradebook",
         "moodle": "download it from the Moodle assignment with View all submissions > Download grading worksheet"}
_REQUIRED = {"canvas": ("Student", "ID"), "moodle": ("Identifier", "Full name")}
_PARTICIPANT = re.compile(r"^Participant (\d+)$")
_NOT_STUDENTS = ("", "Points Possible")  # Canvas's rows under the header; posting-policy rows have an empty Student


class RosterError(UsageError):
    """The roster file cannot be used; the message names the file and line, and what to do."""


@dataclass(frozen=True)
class LmsIdentity:
    """What the LMS knows a student by: the identifying columns of its import file."""

    lms_id: str                 # Canvas user id, Moodle participant id
    name: str = ""              # the name the LMS shows
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


@dataclass(frozen=True)
class RosterEntry:
    line: int                   # where the row starts in the file
    identity: LmsIdentity
    names: frozenset[str]       # normalised names a student's folder may have (see the module's docstring)


@dataclass(frozen=True)
class Roster:
    path: Path
    lms: str
    entries: tuple[RosterEntry, ...]


class Unmatched(str, Enum):
    """Why a graded student has no LMS id."""

    NO_ROSTER = "no roster"          # the class did not come from the LMS's download, and no roster was given
    NOT_IN_ROSTER = "not in roster"  # no row of the roster matches the student
    AMBIGUOUS = "ambiguous"          # several rows match the student
    SHARED_ID = "shared id"          # another student matched the same id


@dataclass(frozen=True)
class MissingId:
    student: str
    why: Unmatched
    lines: tuple[int, ...] = ()      # the roster rows that matched (AMBIGUOUS, SHARED_ID)
    others: tuple[str, ...] = ()     # the other students that matched the same id (SHARED_ID)
    lms_id: str = ""                 # the id they shared (SHARED_ID)


@dataclass(frozen=True)
class Matching:
    """The LMS identity of each graded student that has one, and why the others have none."""

    lms: str
    ids: dict[str, LmsIdentity]
    missing: tuple[MissingId, ...] = ()
    not_graded: tuple[RosterEntry, ...] = ()   # roster rows that no graded student matched
    roster: Path | None = None
    students: int = 0


def normalise(name: str) -> str:
    """A name as a student folder would have it: cleaned as the zip import does, letter case ignored."""
    return clean_name(name, "").casefold()


# ------------------------------------------------------------------------------------------ reading


def read_roster(path: Path, *, lms: str) -> Roster:
    """Read the LMS's own export at ``path``; raises :class:`RosterError` saying which line is wrong."""
    if lms not in _REQUIRED:
        raise ValueError(f"no roster layout for {lms!r}: rosters are Canvas's or Moodle's ({', '.join(_REQUIRED)})")
    rows = _records(path, lms)
    if not rows:
        raise RosterError(f"{path}: the file is empty: {WHERE[lms]}")
    header_line, header = rows[0]
    header = [cell.strip() for cell in header]
    _check_header(path, lms, header, line=header_line)
    column = {name: index for index, name in reversed(list(enumerate(header)))}
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for line, cells in rows[1:]:
        if not any(cell.strip() for cell in cells):
            continue
        values = {name: (cells[index].strip() if index < len(cells) else None) for name, index in column.items()}
        entry = (_canvas_entry if lms == "canvas" else _moodle_entry)(path, line, values)
        if entry is None:
            continue
        lms_id = entry.identity.lms_id
        if lms_id in seen:
            raise RosterError(f"{path}, line {line}: {ID_NAMES[lms]} {lms_id} is already on line {seen[lms_id]}: "
                              f"each student has one row; {WHERE[lms]} again rather than joining exports")
        seen[lms_id] = line
        entries.append(entry)
    if not entries:
        raise RosterError(f"{path}: the file has a header but no student rows: {WHERE[lms]}, from a course with "
                          "students enrolled")
    return Roster(path=path, lms=lms, entries=tuple(entries))


def _records(path: Path, lms: str) -> list[tuple[int, list[str]]]:
    """The file's CSV records, each with the line it starts on (a quoted cell may hold line breaks)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RosterError(f"{path}: cannot read the roster ({error.strerror or error}): give the path of the "
                          f"CSV file; {WHERE[lms]}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise RosterError(f"{path}, line {line}: not UTF-8 text: {WHERE[lms]} again, or save it from the "
                          "spreadsheet as \"CSV UTF-8\"") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    records, start = [], 1
    try:
        for cells in reader:
            records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as error:
        raise RosterError(f"{path}, line {start}: not readable as CSV ({error}): {WHERE[lms]} again") from None
    return records


def _check_header(path: Path, lms: str, header: list[str], *, line: int) -> None:
    missing = [name for name in _REQUIRED[lms] if name not in header]
    if not missing:
        return
    other = next((name for name, required in _REQUIRED.items()
                  if name != lms and all(column in header for column in required)), None)
    if other is not None:
        raise RosterError(f"{path}, line {line}: this is a {LMS_NAMES[other]} export, not a {LMS_NAMES[lms]} one: "
                          f"use --lms {other}, or give {LMS_NAMES[lms]}'s own export ({WHERE[lms]})")
    found = ", ".join(repr(cell) for cell in header[:8]) + (", ..." if len(header) > 8 else "")
    raise RosterError(f"{path}, line {line}: no {' or '.join(repr(name) for name in missing)} column, so this is not "
                      f"a {LMS_NAMES[lms]} {'gradebook export' if lms == 'canvas' else 'grading worksheet'} "
                      f"(its header: {found}): {WHERE[lms]}")


def _canvas_entry(path: Path, line: int, values: dict[str, str | None]) -> RosterEntry | None:
    student, user_id = values["Student"] or "", values["ID"] or ""
    if not user_id:
        if student in _NOT_STUDENTS:
            return None  # "Points Possible" and posting-policy rows
        raise RosterError(f"{path}, line {line}: {student!r} has no ID: {WHERE['canvas']} again without editing "
                          "the ID column")
    if not user_id.isdigit():
        raise RosterError(f"{path}, line {line}: ID {user_id!r} is not a Canvas user id (a number): the columns were "
                          f"moved or edited; {WHERE['canvas']} again")
    identity = LmsIdentity(lms_id=user_id, name=student, sis_user_id=values.get("SIS User ID") or "",
                           sis_login_id=values.get("SIS Login ID") or "", section=values.get("Section") or "")
    last, _, first = student.partition(",")
    login = re.sub(r"\W", "", student).lower()  # how Canvas names a student in its download's file names
    names = {student, f"{first} {last}", login, f"{login}_{user_id}", user_id, identity.sis_user_id,
             identity.sis_login_id}
    return RosterEntry(line=line, identity=identity, names=_normalised(names))


def _moodle_entry(path: Path, line: int, values: dict[str, str | None]) -> RosterEntry:
    identifier, full_name = values["Identifier"] or "", values["Full name"] or ""
    found = _PARTICIPANT.match(identifier)
    if not found:
        raise RosterError(f"{path}, line {line}: Identifier {identifier!r} is not \"Participant <number>\": the "
                          f"columns were moved or edited, or Moodle is not set to English; {WHERE['moodle']} again")
    participant = found.group(1)
    email = values.get("Email address") or ""
    names = {participant, full_name, f"{full_name} {participant}", email, email.partition("@")[0],
             values.get("ID number") or "", values.get("Username") or ""}
    return RosterEntry(line=line, identity=LmsIdentity(lms_id=participant, name=full_name), names=_normalised(names))


def _normalised(names: set[str]) -> frozenset[str]:
    return frozenset(filter(None, (normalise(name) for name in names)))


# ------------------------------------------------------------------------------------------ matching


def match_students(students: list[str], *, lms: str, manifest: dict[str, ImportedStudent],
                   roster: Roster | None) -> Matching:
    """Each student's identity in ``lms``: from the zip import's manifest, else from the roster's one matching
    row; a student matched to an id that another student also matched keeps none (see the module)."""
    entries = roster.entries if roster else ()
    by_name: dict[str, list[RosterEntry]] = {}
    for entry in entries:
        for name in entry.names:
            by_name.setdefault(name, []).append(entry)
    by_id = {entry.identity.lms_id: entry for entry in entries}
    found: dict[str, LmsIdentity] = {}
    lines: dict[str, tuple[int, ...]] = {}
    missing: list[MissingId] = []
    for student in students:
        known = manifest.get(student)
        if known is not None and known.lms == lms and known.lms_id:
            entry = by_id.get(known.lms_id)
            found[student] = entry.identity if entry else LmsIdentity(lms_id=known.lms_id, name=known.display_name)
            lines[student] = (entry.line,) if entry else ()
        elif roster is None:
            missing.append(MissingId(student, Unmatched.NO_ROSTER))
        else:
            candidates = by_name.get(normalise(student), [])
            if not candidates:
                missing.append(MissingId(student, Unmatched.NOT_IN_ROSTER))
            elif len(candidates) > 1:
                missing.append(MissingId(student, Unmatched.AMBIGUOUS,
                                         lines=tuple(sorted(entry.line for entry in candidates))))
            else:
                found[student], lines[student] = candidates[0].identity, (candidates[0].line,)
    holders: dict[str, list[str]] = {}
    for student, identity in found.items():
        holders.setdefault(identity.lms_id, []).append(student)
    for lms_id, names in holders.items():
        if len(names) > 1:
            for student in names:
                del found[student]
                missing.append(MissingId(student, Unmatched.SHARED_ID, lines=lines[student], lms_id=lms_id,
                                         others=tuple(other for other in names if other != student)))
    claimed = {line for item in missing for line in item.lines} | {line for s in found for line in lines[s]}
    return Matching(lms=lms, ids=found, missing=tuple(sorted(missing, key=lambda item: item.student)),
                    not_graded=tuple(entry for entry in entries if entry.line not in claimed),
                    roster=roster.path if roster else None, students=len(students))


__all__ = ["LmsIdentity", "Matching", "MissingId", "Roster", "RosterEntry", "RosterError", "Unmatched",
           "match_students", "normalise", "read_roster"]
