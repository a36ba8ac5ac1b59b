"""Identities never merge: two submitters never share a folder, a results file or an id, whatever their names clean to.

The submissions come from the identity corpus (``tests/hostile/identities.py``): Canvas and Moodle
downloads, and zipped class directories, whose names clash once cleaned, differ only in letter
case, or clean to nothing.  Each submitter holds either the solved or the blank ``01_setup``, so
a student graded on another's file, or dropped, shows in the scores.
"""

from __future__ import annotations

import csv
import json
import subprocess
import zipfile
import sys
from pathlib import Path

import pytest

from autograder.ci import read_event
from autograder.course import APPENDIX_A
from autograder.grading import schema
from autograder.lms_import import MANIFEST, ImportedStudent, extract_submissions, read_manifest, write_manifest
from autograder.results_folder import SharedResultsFile, write_result
from tests.hostile.identities import (ATTACKS, CANVAS, MOODLE, NOTEBOOK, Holds, IdentityAttack, Submitter,
                                      build_zip)
from tests.results_factory import submission


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


def imported_as(students, submitter: Submitter) -> ImportedStudent:
    """The one imported student that is ``submitter``: by its LMS id, or a folder by its own name."""
    found = [s for s in students if s.lms == submitter.lms
             and (s.lms_id == submitter.lms_id if submitter.lms_id else s.display_name == submitter.display_name)]
    assert len(found) == 1, f"{submitter} is imported as {found}"
    return found[0]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda attack: attack.name)
def test_every_submitter_gets_a_folder_of_its_own_with_its_own_file(tmp_path, attack: IdentityAttack):
    report = extract_submissions(build_zip(tmp_path / "lms.zip", attack), tmp_path / "class", assignment=APPENDIX_A)
    assert report.skipped == (), "no submission is dropped as a duplicate of another's"
    folders = [s.student for s in report.students]
    assert len(folders) == len(attack.submitters)
    assert len({folder.casefold() for folder in folders}) == len(folders), \
        f"folders that a case-insensitive file system makes one: {folders}"
    assert sorted(path.name for path in (tmp_path / "class").iterdir()) == sorted(folders)
    lines = "\n".join(report.lines())
    for submitter in attack.submitters:
        student = imported_as(report.students, submitter)
        assert (tmp_path / "class" / student.student / NOTEBOOK).read_bytes() == submitter.holds.notebook()
        assert student.name_clash, f"the clash of {student.student} is recorded"
        assert f"as {student.student}" in lines and (submitter.lms_id or submitter.display_name) in lines, lines
    assert "names that make the same folder name" in lines
    write_manifest(report, tmp_path / MANIFEST)
    assert read_manifest(tmp_path) == {s.student: s for s in report.students}, "the manifest keeps ids and clashes"


def test_names_that_stay_apart_once_cleaned_are_not_reported(tmp_path):
    report = extract_submissions(build_zip(tmp_path / "lms.zip", IdentityAttack("plain", "", (
        Submitter(f"Jane Doe_1_assignsubmission_file_/{NOTEBOOK}", "moodle", "1", "Jane Doe", Holds.SOLVED),
        Submitter(f"Jane Roe_2_assignsubmission_file_/{NOTEBOOK}", "moodle", "2", "Jane Roe", Holds.BLANK)))),
        tmp_path / "class", assignment=APPENDIX_A)
    assert [(s.student, s.name_clash) for s in report.students] == [("Jane_Doe", ""), ("Jane_Roe", "")]
    assert not any("same folder name" in line for line in report.lines())


def grade_zip(tmp_path: Path, attacks: tuple[IdentityAttack, ...]) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "out"
    done = run_cli("grade", build_zip(tmp_path / "lms.zip", *attacks), "--out", out, "--notebook", "01_setup",
                   "--jobs", "1", "--seed", "3")
    assert done.returncode == 0, done.stderr
    return done, out


def assert_each_graded_on_its_own_file(done, out: Path, submitters: list[Submitter]) -> dict[str, ImportedStudent]:
    manifest = read_manifest(out)
    assert len(manifest) == len(submitters)
    with (out / "grades.csv").open(newline="") as stream:
        totals = {row["student"]: float(row["total"]) for row in csv.DictReader(stream)}
    assert sorted(totals) == sorted(manifest), "every submitter has a row of its own in grades.csv"
    by_submitter = {}
    for submitter in submitters:
        student = imported_as(manifest.values(), submitter)
        assert totals[student.student] == submitter.holds.value, f"{submitter} was graded on another file"
        assert json.loads((out / f"{student.student}.json").read_text())["student"] == student.student
        assert student.name_clash and f"as {student.student}" in done.stderr, done.stderr
        by_submitter[submitter.member] = student
    return by_submitter


def export(out: Path, lms: str, *extra: str) -> list[dict[str, str]]:
    done = run_cli("export", out, "--lms", lms, *extra)
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(done.stdout.splitlines()))


def test_a_canvas_download_with_clashing_logins_grades_each_user_on_its_own_file(tmp_path):
    done, out = grade_zip(tmp_path, CANVAS)
    submitters = [submitter for attack in CANVAS for submitter in attack.submitters]
    assert_each_graded_on_its_own_file(done, out, submitters)
    rows = {row["ID"]: row for row in export(out, "canvas", "--column", "Setup (4711)") if row["ID"]}
    for submitter in (s for s in submitters if s.lms == "canvas"):
        assert float(rows[submitter.lms_id]["Setup (4711)"]) == submitter.holds.value, rows
        assert rows[submitter.lms_id]["Student"] == submitter.display_name


def test_a_moodle_download_with_clashing_names_grades_each_participant_on_its_own_file(tmp_path):
    done, out = grade_zip(tmp_path, MOODLE)
    submitters = [submitter for attack in MOODLE for submitter in attack.submitters]
    assert_each_graded_on_its_own_file(done, out, submitters)
    rows = {row["Identifier"]: row for row in export(out, "moodle")}
    assert len(rows) == len(submitters)
    for submitter in submitters:
        row = rows[f"Participant {submitter.lms_id}"]
        assert float(row["Grade"]) == submitter.holds.value and row["Full name"] == submitter.display_name


# --- the results folder --------------------------------------------------------------------------------------


def test_a_result_never_replaces_another_students_whose_name_differs_only_in_case(tmp_path):
    write_result(tmp_path, submission("Ann"))
    with pytest.raises(SharedResultsFile, match="differs from it only in letter case"):
        write_result(tmp_path, submission("ann", gram_ok=False))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["Ann.json"]
    assert schema.read(tmp_path / "Ann.json").student == "Ann"


def test_on_a_case_insensitive_file_system_anothers_result_is_not_taken_for_an_earlier_one(tmp_path):
    """What such a file system shows when ``ann.json`` is asked for after ``Ann.json`` was written."""
    (tmp_path / "ann.json").write_text(schema.dumps(submission("Ann")))
    with pytest.raises(SharedResultsFile):
        write_result(tmp_path, submission("ann", gram_ok=False))
    assert schema.read(tmp_path / "ann.json").student == "Ann" and not (tmp_path / "history").exists()


def test_a_class_whose_folders_differ_only_in_case_is_refused_before_grading(tmp_path):
    classroom = tmp_path / "class"
    for name, holds in (("Ann", Holds.SOLVED), ("ann", Holds.BLANK)):
        (classroom / name).mkdir(parents=True)
        (classroom / name / NOTEBOOK).write_bytes(holds.notebook())
    done = run_cli("grade", classroom, "--out", tmp_path / "out", "--notebook", "01_setup")
    assert done.returncode == 2, done.stderr
    assert "'Ann' and 'ann' differ only in letter case" in done.stderr and "rename one" in done.stderr
    assert not list((tmp_path / "out").glob("*.json")), "nobody was graded"


# --- pull requests -------------------------------------------------------------------------------------------


def test_pull_request_authors_without_a_usable_login_keep_apart(tmp_path):
    authors = []
    for user_id in (101, 102):
        event = tmp_path / f"event{user_id}.json"
        event.write_text(json.dumps({"pull_request": {"number": 1, "user": {"login": "", "id": user_id}}}))
        authors.append(read_event({"GITHUB_EVENT_PATH": str(event)}).author)
    assert authors[0] != authors[1] and all(author.endswith(str(uid)) for author, uid in zip(authors, (101, 102)))


def test_a_whole_class_under_one_name_stays_apart_and_its_report_stays_short(tmp_path):
    count = 3000
    path = tmp_path / "lms.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for participant in range(1, count + 1):
            archive.writestr(f"Jane Doe_{participant}_assignsubmission_file_/{NOTEBOOK}", b"{}")
    report = extract_submissions(path, tmp_path / "class", assignment=APPENDIX_A)
    assert len({s.student.casefold() for s in report.students}) == count and not report.skipped
    assert {s.name_clash for s in report.students} == {"Jane_Doe"}
    [line] = [line for line in report.lines() if "same folder name" in line]
    assert f"and {count - 20} more" in line and len(line) < 2000
