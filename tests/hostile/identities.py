"""The identity corpus: LMS downloads in which different submitters' names make one folder name.

Each :class:`IdentityAttack` is data: the submitters of a Canvas or Moodle bulk download (or
of a zipped class directory), each with the zip member that is theirs and what it holds, the
solved ``01_setup`` (full marks) or the blank one (0).  :func:`build_zip` writes one or more
attacks as one archive.  Whatever the names clean to, every submitter must get a folder of
its own, distinct from the others even with letter case ignored, be graded on its own file
with its own id in the manifest and the exports, and the clash must be reported.
``tests/test_identities.py`` imports each attack and grades the Canvas and Moodle ones.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from tests.conftest import EXERCISES, SOLUTIONS

NOTEBOOK = "01_setup.ipynb"


class Holds(Enum):
    SOLVED = 10  # the reference notebook: its points
    BLANK = 0    # the student stub

    def notebook(self) -> bytes:
        return ((SOLUTIONS if self is Holds.SOLVED else EXERCISES) / NOTEBOOK).read_bytes()


@dataclass(frozen=True)
class Submitter:
    member: str        # the zip member holding this submitter's notebook
    lms: str           # "canvas", "moodle" or "directory" (a zipped class directory)
    lms_id: str        # the Canvas user id or Moodle participant id; "" for a folder
    display_name: str  # the name the LMS (or the folder) gives
    holds: Holds


def canvas(login: str, user_id: int, holds: Holds, *, late: bool = False) -> Submitter:
    return Submitter(f"{login}{'_LATE' if late else ''}_{user_id}_{900 + user_id}_{NOTEBOOK}", "canvas",
                     str(user_id), login, holds)


def moodle(full_name: str, participant: int, holds: Holds) -> Submitter:
    return Submitter(f"{full_name}_{participant}_assignsubmission_file_/{NOTEBOOK}", "moodle", str(participant),
                     full_name, holds)


def folder(name: str, holds: Holds) -> Submitter:
    return Submitter(f"{name}/{NOTEBOOK}", "directory", "", name, holds)


@dataclass(frozen=True)
class IdentityAttack:
    name: str
    merges: str  # how the names would make one folder
    submitters: tuple[Submitter, ...]


CANVAS_SAME_LOGIN = IdentityAttack(
    "canvas_same_login", "one login, three user ids (one late, one in capitals)",
    (canvas("doejane", 31, Holds.SOLVED), canvas("doejane", 32, Holds.BLANK, late=True),
     canvas("DoeJane", 33, Holds.SOLVED)))
CANVAS_ID_SUFFIX_TAKEN = IdentityAttack(
    "canvas_id_suffix_taken", "two users with one login, and a folder already named like the first with its id",
    (canvas("roebob", 41, Holds.SOLVED), canvas("roebob", 42, Holds.BLANK), folder("roebob_41", Holds.BLANK)))
MOODLE_SAME_DISPLAY_NAME = IdentityAttack(
    "moodle_same_display_name", "one display name twice, and once in other letter case and spacing",
    (moodle("Jane Doe", 11, Holds.SOLVED), moodle("Jane Doe", 12, Holds.BLANK), moodle("jane  doe", 13, Holds.SOLVED)))
MOODLE_ID_SUFFIX_TAKEN = IdentityAttack(
    "moodle_id_suffix_taken", "a participant whose display name is another's name with that one's id",
    (moodle("Ann Lee", 5, Holds.SOLVED), moodle("Ann Lee", 6, Holds.BLANK), moodle("Ann Lee_5", 7, Holds.BLANK)))
MOODLE_NAMES_REMOVED = IdentityAttack(
    "moodle_names_removed", "names that cleaning removes entirely, and one that is the fallback name",
    (moodle("李雷", 21, Holds.SOLVED), moodle("王芳", 22, Holds.BLANK), moodle("Student", 23, Holds.BLANK)))
MOODLE_LONG_NAMES = IdentityAttack(
    "moodle_long_names", "names that differ only after the length a folder name is cut to",
    (moodle("K" * 90 + " One", 51, Holds.SOLVED), moodle("K" * 90 + " Two", 52, Holds.BLANK)))
FOLDERS_ALIKE = IdentityAttack(
    "folders_alike", "a zipped class directory whose folders clean to one name, differ in case or clean to nothing",
    (folder("Mia Roe", Holds.SOLVED), folder("Mia_Roe", Holds.BLANK), folder("mia_roe", Holds.SOLVED),
     folder("Mia_Roe-1", Holds.BLANK), folder("Ann", Holds.SOLVED), folder("ann", Holds.BLANK),
     folder("李雷", Holds.BLANK), folder("王芳", Holds.SOLVED)))

CANVAS = (CANVAS_SAME_LOGIN, CANVAS_ID_SUFFIX_TAKEN)
MOODLE = (MOODLE_SAME_DISPLAY_NAME, MOODLE_ID_SUFFIX_TAKEN, MOODLE_NAMES_REMOVED, MOODLE_LONG_NAMES)
ATTACKS = CANVAS + MOODLE + (FOLDERS_ALIKE,)


def build_zip(path: Path, *attacks: IdentityAttack) -> Path:
    """One archive holding every submitter of ``attacks`` (their members must not overlap)."""
    members = [submitter.member for attack in attacks for submitter in attack.submitters]
    assert len(members) == len(set(members)), "attacks combined in one zip must not share a member"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for attack in attacks:
            for submitter in attack.submitters:
                archive.writestr(submitter.member, submitter.holds.notebook())
    return path
