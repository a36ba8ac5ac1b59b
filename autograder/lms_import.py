"""Import an LMS bulk download (a zip of student notebooks) as a class directory.

Recognised layouts, by the path of each file in the archive:

- Canvas: ``doejane_12345_6789012_02_tensors.ipynb`` (login, user id, submission
  id, then the file's own name; ``doejane_LATE_12345_...`` for late ones).
- Moodle: ``Jane Doe_12345_assignsubmission_file_/02_tensors.ipynb`` (full name,
  participant id, then the files, possibly in sub-folders).
- A zipped class directory: ``alice/02_tensors.ipynb`` (possibly all inside one
  top folder).

The archive is untrusted.  It is refused as a whole when any member has an
absolute path, a ``..`` component or is a symbolic link (zip-slip), or when it
has too many members, too much uncompressed data or a suspicious compression
ratio (zip bombs); sizes are also counted while extracting, since the sizes an
archive declares can lie.  No path from the archive is ever used to write:
each notebook goes to ``<dest>/<student>/<clean file name>``, created afresh.
Every file that is not imported is reported with the reason.

Identities never merge: each submission (a Canvas user id, a Moodle participant id, a
folder of a zipped class directory) gets a folder of its own, whatever its name cleans to.
Folder names are distinct even with letter case ignored, since results are stored as
``<student>.json`` and a case-insensitive file system (macOS, Windows) would make ``Ann``
and ``ann`` one file.  When names clash, each one keeps its LMS id (``Jane_Doe_12345``),
or a number for folders, which have none (``Jane_Doe-1``); a name that is still taken gets
``-2``, ``-3``, ...  Every clash is reported, and recorded in the manifest's
``name_clash`` column.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from autograder.course import AssignmentSpec
from autograder.errors import UsageError
from autograder.lms_students import MANIFEST, ImportedStudent, clean_name, manifest_text, read_manifest
from autograder.output_encoding import terminal_text

_CANVAS = re.compile(r"^(?P<login>[A-Za-z0-9-]+?)(?:_LATE|_late)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<participant>\d+)_assign(?:submission|feedback)_[a-z]+_?$")
_IGNORED_QUIETLY = ("__MACOSX/", ".DS_Store", "Thumbs.db")


class UnsafeArchive(ValueError):
    """The archive is malicious or too large; nothing was extracted from it."""


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 10_000
    max_total_bytes: int = 1 << 30  # 1 GiB uncompressed in all
    max_member_bytes: int = 64 << 20  # the grader refuses bigger notebooks anyway
    max_ratio: float = 100.0  # uncompressed / compressed, for members over ratio_floor_bytes
    ratio_floor_bytes: int = 1 << 20


@dataclass(frozen=True)
class ImportReport:
    students: tuple[ImportedStudent, ...]
    skipped: tuple[tuple[str, str], ...]  # (member name, reason)
    notes: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """For the terminal: member names come from the archive, so controls in them are shown, not sent."""
        out = [f"imported {sum(len(s.files) for s in self.students)} notebooks of {len(self.students)} students"]
        out += [f"skipped {name}: {reason}" for name, reason in self.skipped]
        out += _clash_lines(self.students)
        out += list(self.notes)
        return [terminal_text(line, keep_newlines=False) for line in out]


_ID_NAMES = {"canvas": "Canvas user", "moodle": "Moodle participant"}
_LISTED = 20  # students named per clash on the terminal; the manifest has them all


def _clash_lines(students: tuple[ImportedStudent, ...]) -> list[str]:
    """One line per folder name that several submitters' names made."""
    groups: dict[str, list[ImportedStudent]] = {}
    for s in students:
        if s.name_clash:
            groups.setdefault(s.name_clash, []).append(s)
    lines = []
    for name, group in groups.items():
        who = "; ".join(f"{_who(s)} as {s.student}" for s in group[:_LISTED])
        more = f"; and {len(group) - _LISTED} more" if len(group) > _LISTED else ""
        lines.append(f"names that make the same folder name {name}, kept apart: {who}{more} (each graded on its "
                     f"own files; see the name_clash column of {MANIFEST})")
    return lines


def _who(student: ImportedStudent) -> str:
    if student.lms in _ID_NAMES:
        return f"{_ID_NAMES[student.lms]} {student.lms_id} {student.display_name!r}"
    return f"folder {student.display_name!r}"


def check_archive(archive: zipfile.ZipFile, limits: ZipLimits = ZipLimits()) -> list[zipfile.ZipInfo]:
    """The archive's members after the zip-slip and zip-bomb checks; raises :class:`UnsafeArchive`."""
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise UnsafeArchive(f"the archive has {len(members)} members, over the limit of {limits.max_members}")
    total = 0
    for info in members:
        name = info.filename
        if "\x00" in name:
            raise UnsafeArchive(f"member {name!r} has a NUL byte in its name")
        unified = name.replace("\\", "/")
        if unified.startswith("/") or re.match(r"^[A-Za-z]:", unified):
            raise UnsafeArchive(f"member {name!r} has an absolute path (zip-slip)")
        if ".." in unified.split("/"):
            raise UnsafeArchive(f"member {name!r} climbs out of the archive with '..' (zip-slip)")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchive(f"member {name!r} is a symbolic link")
        if mode and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)) and stat.S_IFMT(mode):
            raise UnsafeArchive(f"member {name!r} is not a regular file")
        if info.flag_bits & 0x1:
            raise UnsafeArchive(f"member {name!r} is encrypted")
        if info.file_size > limits.max_member_bytes:
            raise UnsafeArchive(f"member {name!r} unpacks to {info.file_size} bytes, over the limit of "
                                f"{limits.max_member_bytes} per file")
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise UnsafeArchive(f"member {name!r} has a compression ratio over {limits.max_ratio:g} (a zip bomb?)")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchive(f"the archive unpacks to more than {limits.max_total_bytes} bytes")
    return members


@dataclass
class _Entry:
    info: zipfile.ZipInfo
    lms: str
    key: str  # who the file belongs to
    lms_id: str
    display_name: str
    filename: str


def _classify(info: zipfile.ZipInfo, strip: str) -> _Entry | str:
    """Which student a member belongs to, or why it is skipped."""
    parts = _parts(info.filename)
    if strip and parts and parts[0] == strip:
        parts = parts[1:]
    if not parts:
        return "empty name"
    base = parts[-1]
    moodle = _MOODLE.match(parts[0]) if len(parts) >= 2 else None
    if moodle:
        return _Entry(info, "moodle", f"moodle:{moodle['participant']}", moodle["participant"],
                      moodle["name"].strip(), base)
    if len(parts) == 1:
        canvas = _CANVAS.match(base)
        if canvas:
            return _Entry(info, "canvas", f"canvas:{canvas['user']}", canvas["user"], canvas["login"],
                          canvas["file"])
        return "not named like a Canvas or Moodle submission, and not in a student's folder"
    return _Entry(info, "directory", f"directory:{parts[0]}", "", parts[0], base)


def _parts(name: str) -> list[str]:
    return [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]


def _common_top(members: list[zipfile.ZipInfo]) -> str:
    """The one folder that wraps the whole download ("submissions/..."), or "" when there is none."""
    files = [_parts(m.filename) for m in members if not m.is_dir()
             and not any(mark in m.filename for mark in _IGNORED_QUIETLY)]
    tops = {parts[0] for parts in files if parts}
    if len(tops) != 1 or _MOODLE.match(next(iter(tops))):
        return ""
    if all(len(parts) >= 3 for parts in files):  # top/student/notebook or top/Moodle folder/notebook
        return tops.pop()
    if all(len(parts) == 2 and _CANVAS.match(parts[1]) for parts in files):  # top/canvas_file
        return tops.pop()
    return ""


def _notebook_name(filename: str, assignment: AssignmentSpec) -> tuple[str, bool]:
    """A clean file name for a submitted notebook, and whether it names a notebook of the assignment."""
    for spec in assignment.notebooks:
        if filename == spec.filename:
            return spec.filename, True
    for spec in assignment.notebooks:  # "02_tensors-1.ipynb", "Copy of 02_tensors.ipynb": kept, the grader finds it
        if spec.stem in filename:
            return clean_name(filename[:-len(".ipynb")], spec.stem) + ".ipynb", True
    return clean_name(filename[:-len(".ipynb")], "notebook") + ".ipynb", False


def extract_submissions(zip_path: Path, dest: Path, *, assignment: AssignmentSpec,
                        limits: ZipLimits = ZipLimits()) -> ImportReport:
    """Extract the notebooks of an LMS bulk download into ``dest/<student>/``; see the module's docstring."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as error:
        raise UsageError(f"{zip_path} is not a readable zip archive: {error}") from None
    with archive:
        members = check_archive(archive, limits)
        strip = _common_top(members)
        skipped: list[tuple[str, str]] = []
        entries: list[_Entry] = []
        for info in members:
            if info.is_dir() or any(mark in info.filename for mark in _IGNORED_QUIETLY):
                continue
            found = _classify(info, strip)
            if isinstance(found, str):
                skipped.append((info.filename, found))
            elif not found.filename.lower().endswith(".ipynb"):
                skipped.append((info.filename, "not a notebook (.ipynb)"))
            elif ".ipynb_checkpoints" in info.filename:
                skipped.append((info.filename, "a Jupyter checkpoint, not the submitted notebook"))
            else:
                entries.append(found)
        names, clashes = _student_names(entries)
        dest.mkdir(parents=True, exist_ok=True)
        budget = limits.max_total_bytes
        students: dict[str, ImportedStudent] = {}
        notes = []
        for entry in sorted(entries, key=lambda e: (names[e.key], e.filename != _notebook_name(e.filename,
                                                                                              assignment)[0])):
            student = names[entry.key]
            filename, known = _notebook_name(entry.filename, assignment)
            folder = dest / student
            folder.mkdir(exist_ok=True)
            target = folder / filename
            if target.exists():
                skipped.append((entry.info.filename, f"{student} already has {filename} from this archive"))
                continue
            budget -= _copy_limited(archive, entry.info, target, min(limits.max_member_bytes, budget))
            if not known:
                notes.append(f"{entry.info.filename}: not named after a notebook of {assignment.name}; "
                             f"kept as {student}/{filename} (the grader looks for its functions)")
            previous = students.get(student)
            if previous is None:
                students[student] = ImportedStudent(student=student, lms=entry.lms, lms_id=entry.lms_id,
                                                    display_name=entry.display_name, files=(filename,),
                                                    name_clash=clashes.get(entry.key, ""))
            else:  # one folder per key (see _student_names): this is the same submitter's next file
                students[student] = replace(previous, files=previous.files + (filename,))
    ordered = tuple(replace(students[name], files=tuple(sorted(students[name].files))) for name in sorted(students))
    return ImportReport(students=ordered, skipped=tuple(skipped),
                        notes=tuple(notes))


def _student_names(entries: list[_Entry]) -> tuple[dict[str, str], dict[str, str]]:
    """A folder name per submitter (per entry key), distinct from every other one with letter case ignored,
    and for each submitter whose name clashed, the folder name the clash was about (see the module)."""
    wanted: dict[str, str] = {}
    for entry in entries:
        wanted.setdefault(entry.key, clean_name(entry.display_name))
    alike: dict[str, list[str]] = {}
    for key in sorted(wanted):
        alike.setdefault(wanted[key].casefold(), []).append(key)
    names: dict[str, str] = {}
    taken: dict[str, str] = {}  # casefolded folder name -> the key holding it
    asks: list[str] = []  # the keys that share their name with another, in the order of their names
    group = {key: key for key in wanted}  # who clashed with whom, joined (a union-find)
    for fold, keys in alike.items():
        if len(keys) == 1:
            names[keys[0]] = wanted[keys[0]]
            taken[fold] = keys[0]
            continue
        for key in keys:
            _join(group, key, keys[0])
        asks += keys
    numbered: dict[str, int] = {}  # the last number given to folders of one name
    for key in asks:  # "Jane Doe" (5) asks for Jane_Doe_5, which "Jane Doe_5" (7) may hold
        for name in _candidates(key, wanted[key], numbered):
            if name.casefold() not in taken:
                break
            _join(group, key, taken[name.casefold()])
        names[key] = name
        taken[name.casefold()] = key
    label: dict[str, str] = {}
    for key in asks:  # a clash is named after the first name that was shared in it
        label.setdefault(_root(group, key), wanted[key])
    clashes = {key: label[_root(group, key)] for key in wanted if _root(group, key) in label}
    return names, clashes


def _candidates(key: str, base: str, numbered: dict[str, int]) -> Iterator[str]:
    """The folder names a submitter whose name ``base`` is shared may take, best first."""
    kind, _, lms_id = key.partition(":")
    if kind == "directory":  # a zipped folder has no id: numbered in the order of its own name
        while True:
            numbered[base.casefold()] = numbered.get(base.casefold(), 0) + 1
            yield f"{base}-{numbered[base.casefold()]}"
    asked = f"{base}_{clean_name(lms_id, 'id')}"
    yield asked
    yield from (f"{asked}-{number}" for number in itertools.count(2))


def _root(group: dict[str, str], key: str) -> str:
    while group[key] != key:
        group[key] = group[group[key]]  # path halving: a chain of joins costs a few steps, not its length
        key = group[key]
    return key


def _join(group: dict[str, str], a: str, b: str) -> None:
    group[_root(group, a)] = _root(group, b)


def _copy_limited(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limit: int) -> int:
    """Copy one member, stopping (and refusing the archive) past ``limit`` bytes whatever the header says."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    written = 0
    try:
        with archive.open(info) as source, os.fdopen(os.open(target, flags, 0o644), "wb") as sink:
            while chunk := source.read(1 << 16):
                written += len(chunk)
                if written > limit:
                    raise UnsafeArchive(f"member {info.filename!r} unpacks to more than its limit of {limit} bytes "
                                        "(its header understates its size: a zip bomb?)")
                sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
        target.unlink(missing_ok=True)
        raise UnsafeArchive(f"member {info.filename!r} cannot be extracted: {error}") from None
    except UnsafeArchive:
        target.unlink(missing_ok=True)
        raise
    return written


def write_manifest(report: ImportReport, path: Path) -> None:
    """Write the import's ``lms_students.csv`` (columns: :func:`autograder.lms_students.manifest_text`)."""
    from autograder.files import write_atomically

    write_atomically(path, manifest_text(report.students))


__all__ = ["UnsafeArchive", "ZipLimits", "ImportReport", "ImportedStudent", "check_archive", "clean_name",
           "extract_submissions", "write_manifest", "read_manifest", "MANIFEST"]
