"""``lms_students.csv``: who each student of a class imported from an LMS download is in that LMS.

The zip import (:mod:`autograder.lms_import`) writes it beside the results; the LMS exports
(:mod:`autograder.reporters.lms`) and the roster matching (:mod:`autograder.lms_roster`) read it.
The file's columns, and how an LMS name becomes a folder name (:func:`clean_name`), live here so
that both sides agree without the exports depending on the importer.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from autograder.output_encoding import csv_text

MANIFEST = "lms_students.csv"

_COLUMNS = ("student", "lms", "lms_id", "display_name", "files", "name_clash")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ImportedStudent:
    student: str  # the sub-directory's name, used as the student's name in results
    lms: str  # "canvas", "moodle" or "directory"
    lms_id: str  # Canvas user id, Moodle participant id, or ""
    display_name: str
    files: tuple[str, ...]
    name_clash: str = ""  # the folder name that several submitters' names made (all kept apart), or ""


def clean_name(text: str, fallback: str = "student") -> str:
    """Letters, digits, '.', '_' and '-' only ("Ünal Çelik" -> "Unal_Celik"), never starting with a dot."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _SAFE.sub("_", ascii_text).strip("._-")
    return cleaned[:80] or fallback


def manifest_text(students: Iterable[ImportedStudent]) -> str:
    """``student, lms, lms_id, display_name, files, name_clash``: how the archive's names were mapped to
    students; ``name_clash`` is the folder name that several submitters' names made, the same in each of
    their rows (each got a folder of its own), and empty for a name that clashed with none."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_COLUMNS)
    for s in students:
        # Names come from the archive: a display name "=HYPERLINK(...)" must stay text in a spreadsheet.
        cells = (s.student, s.lms, s.lms_id, s.display_name, " ".join(s.files), s.name_clash)
        writer.writerow([csv_text(cell) for cell in cells])
    return buffer.getvalue()


def read_manifest(out_dir: Path) -> dict[str, ImportedStudent]:
    """The students of a graded zip import, by student name ({} when the class was not imported from a zip)."""
    path = out_dir / MANIFEST
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as stream:
        return {row["student"]: ImportedStudent(student=row["student"], lms=row["lms"], lms_id=row["lms_id"],
                                                display_name=row["display_name"],
                                                files=tuple(row["files"].split()),
                                                name_clash=row.get("name_clash") or "")
                for row in csv.DictReader(stream)}
