"""LMS round trip: importing a Canvas or Moodle bulk download (safely), and exporting grades for upload."""

from __future__ import annotations

import csv
import json
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A
from autograder.lms_import import (ImportedStudent, ImportReport, UnsafeArchive, ZipLimits, extract_submissions,
                                   read_manifest, write_manifest)
from autograder.lms_roster import RosterError, read_roster
from autograder.reporters.lms import build_export, export_grades, missing_id_warnings
from tests.conftest import EXERCISES, SOLUTIONS
from tests.results_factory import small_class, submission, write_results

NOTEBOOK = (SOLUTIONS / "01_setup.ipynb").read_bytes()


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, timeout=600)


# --- import -----------------------------------------------------------------------------------------------


def test_canvas_names_map_to_students(tmp_path):
    archive = make_zip(tmp_path / "canvas.zip", {
        "doejane_12345_6789012_02_tensors.ipynb": NOTEBOOK,
        "doejane_12345_6789012_01_setup.ipynb": NOTEBOOK,
        "smithbob_LATE_222_333_02_tensors-1.ipynb": NOTEBOOK,
        "notes.txt": b"hello",
        "mystery.ipynb": NOTEBOOK,
        "__MACOSX/._doejane_12345_6789012_01_setup.ipynb": b"",
    })
    report = extract_submissions(archive, tmp_path / "class", assignment=APPENDIX_A)
    assert [(s.student, s.lms, s.lms_id, s.files) for s in report.students] == [
        ("doejane", "canvas", "12345", ("01_setup.ipynb", "02_tensors.ipynb")),
        ("smithbob", "canvas", "222", ("02_tensors-1.ipynb",)),
    ]
    assert (tmp_path / "class" / "doejane" / "02_tensors.ipynb").read_bytes() == NOTEBOOK
    skipped = dict(report.skipped)
    assert set(skipped) == {"notes.txt", "mystery.ipynb"}, "unknown names are reported, not dropped silently"
    assert "not named like a Canvas or Moodle submission" in skipped["mystery.ipynb"]


def test_moodle_folders_map_to_students_and_same_names_stay_apart(tmp_path):
    archive = make_zip(tmp_path / "moodle.zip", {
        "Jane Doe_12345_assignsubmission_file_/02_tensors.ipynb": NOTEBOOK,
        "Jane Doe_12345_assignsubmission_file_/work/01_setup.ipynb": NOTEBOOK,
        "Jane Doe_12345_assignsubmission_onlinetext_/onlinetext.html": b"<p>see attached</p>",
        "Jane Doe_67890_assignsubmission_file_/02_tensors.ipynb": NOTEBOOK,
        "Ünal Çelik_555_assignsubmission_file_/Copy of 02_tensors.ipynb": NOTEBOOK,
    })
    report = extract_submissions(archive, tmp_path / "class", assignment=APPENDIX_A)
    by_name = {s.student: s for s in report.students}
    assert sorted(by_name) == ["Jane_Doe_12345", "Jane_Doe_67890", "Unal_Celik"]
    assert by_name["Jane_Doe_12345"].files == ("01_setup.ipynb", "02_tensors.ipynb")
    assert by_name["Jane_Doe_12345"].display_name == "Jane Doe" and by_name["Jane_Doe_12345"].lms == "moodle"
    assert by_name["Unal_Celik"].files == ("Copy_of_02_tensors.ipynb",)
    assert dict(report.skipped) == {"Jane Doe_12345_assignsubmission_onlinetext_/onlinetext.html":
                                    "not a notebook (.ipynb)"}


def test_a_zipped_class_directory_with_a_wrapping_folder(tmp_path):
    archive = make_zip(tmp_path / "class.zip", {"submissions/alice/01_setup.ipynb": NOTEBOOK,
                                                "submissions/bob/01_setup.ipynb": NOTEBOOK,
                                                "submissions/bob/.ipynb_checkpoints/01_setup-checkpoint.ipynb": b"{}"})
    report = extract_submissions(archive, tmp_path / "class", assignment=APPENDIX_A)
    assert [s.student for s in report.students] == ["alice", "bob"]
    assert len(report.skipped) == 1 and "checkpoint" in report.skipped[0][1]


def test_manifest_round_trip(tmp_path):
    report = ImportReport(students=(ImportedStudent("Jane_Doe", "moodle", "12", "Jane Doe", ("01_setup.ipynb",)),),
                          skipped=())
    write_manifest(report, tmp_path / "lms_students.csv")
    assert read_manifest(tmp_path) == {"Jane_Doe": report.students[0]}


def _symlink_member(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("name", ["../evil.ipynb", "doejane_1_2_../../evil.ipynb", "/tmp/evil.ipynb",
                                  "alice/../../evil.ipynb", "C:\\evil.ipynb", "alice\\..\\..\\evil.ipynb"])
def test_zip_slip_paths_are_refused(tmp_path, name):
    archive = make_zip(tmp_path / "slip.zip", {"alice/01_setup.ipynb": NOTEBOOK, name: NOTEBOOK})
    with pytest.raises(UnsafeArchive, match="zip-slip"):
        extract_submissions(archive, tmp_path / "deep" / "class", assignment=APPENDIX_A)
    assert not (tmp_path / "deep" / "class").exists(), "nothing is extracted from a malicious archive"
    assert not list(tmp_path.rglob("evil.ipynb"))


def test_symlinks_are_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("alice/01_setup.ipynb", NOTEBOOK)
        archive.writestr(_symlink_member("alice/02_tensors.ipynb", "/etc/passwd"), "/etc/passwd")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        extract_submissions(path, tmp_path / "class", assignment=APPENDIX_A)


def test_zip_bombs_are_refused(tmp_path):
    bomb = make_zip(tmp_path / "bomb.zip", {"alice/01_setup.ipynb": b"\0" * (8 << 20)})  # 8 MiB -> ~8 KiB
    with pytest.raises(UnsafeArchive, match="compression ratio"):
        extract_submissions(bomb, tmp_path / "a", assignment=APPENDIX_A)
    many = make_zip(tmp_path / "many.zip", {f"s{i}/01_setup.ipynb": b"{}" for i in range(30)})
    with pytest.raises(UnsafeArchive, match="over the limit of 20"):
        extract_submissions(many, tmp_path / "b", assignment=APPENDIX_A, limits=ZipLimits(max_members=20))
    big = make_zip(tmp_path / "big.zip", {f"s{i}/01_setup.ipynb": NOTEBOOK for i in range(5)})
    with pytest.raises(UnsafeArchive, match="unpacks to more than"):
        extract_submissions(big, tmp_path / "c", assignment=APPENDIX_A,
                            limits=ZipLimits(max_total_bytes=3 * len(NOTEBOOK)))


def test_a_header_that_understates_the_size_is_caught_while_extracting(tmp_path):
    """The declared sizes are checked first, but a forged header must not get a big file through."""
    path = make_zip(tmp_path / "forged.zip", {"alice/01_setup.ipynb": b"x" * 100_000})
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local and central headers
        start = data.index(signature)
        data[start + offset:start + offset + 4] = (1000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(UnsafeArchive):
        extract_submissions(path, tmp_path / "class", assignment=APPENDIX_A)
    assert not list((tmp_path / "class").rglob("*.ipynb"))


def test_member_names_reach_the_terminal_shown_not_obeyed(tmp_path):
    archive = make_zip(tmp_path / "canvas.zip", {"doejane_12345_6789012_02_tensors.ipynb": NOTEBOOK,
                                                  "notes\x1b]0;owned\x07\x1b[2J.txt": b"hello"})
    report = extract_submissions(archive, tmp_path / "class", assignment=APPENDIX_A)
    lines = report.lines()
    assert not any(ch in line for line in lines for ch in "\x1b\x07")
    assert any("notes\\x1b]0;owned\\x07\\x1b[2J.txt" in line for line in lines), lines


def test_not_a_zip(tmp_path):
    (tmp_path / "fake.zip").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable zip"):
        extract_submissions(tmp_path / "fake.zip", tmp_path / "class", assignment=APPENDIX_A)


def test_grade_a_canvas_zip_end_to_end_with_json_output(tmp_path):
    archive = make_zip(tmp_path / "canvas.zip", {
        "doejane_12345_6789012_01_setup.ipynb": NOTEBOOK,
        "smithbob_222_333_01_setup.ipynb": (EXERCISES / "01_setup.ipynb").read_bytes(),
        "stray.pdf": b"%PDF",
    })
    out = tmp_path / "out"
    done = run_cli("grade", str(archive), "--out", str(out), "--notebook", "01_setup", "--jobs", "1",
                   "--seed", "3", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "skipped stray.pdf" in done.stderr
    data = json.loads(done.stdout)
    assert [(r["student"], r["score"]["points"]) for r in data["results"]] == [("doejane", 10), ("smithbob", 0)]
    assert sorted(p.name for p in out.iterdir()) == ["doejane.json", "grades.csv", "lms_students.csv",
                                                     "smithbob.json"]
    done = run_cli("export", str(out), "--lms", "canvas", "--column", "Appendix A (4711)")
    rows = list(csv.reader(done.stdout.splitlines()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Appendix A (4711)"]
    assert rows[2] == ["doejane", "12345", "", "", "", "10"] and rows[3][1:2] == ["222"]


def test_grading_a_malicious_zip_grades_nothing(tmp_path):
    archive = make_zip(tmp_path / "evil.zip", {"doejane_1_2_01_setup.ipynb": NOTEBOOK,
                                               "../../escaped.ipynb": NOTEBOOK})
    done = run_cli("grade", str(archive), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "refusing" in done.stderr and "zip-slip" in done.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.parent.rglob("escaped.ipynb"))


# --- export -----------------------------------------------------------------------------------------------


@pytest.fixture
def class_results(tmp_path):
    return small_class(tmp_path / "out")


def test_plain_export_has_every_column(class_results):
    rows = list(csv.DictReader(export_grades(class_results, fmt="plain", assignment=APPENDIX_A).splitlines()))
    assert list(rows[0]) == ["student", "02_tensors", "05_device", "extra_credit", "total", "max_points",
                             "percent", "status"]
    by = {row["student"]: row for row in rows}
    assert by["ann"] == {"student": "ann", "02_tensors": "20", "05_device": "15", "extra_credit": "10",
                         "total": "45", "max_points": "35", "percent": "128.57", "status": "graded"}
    assert by["ben"]["total"] == "25" and by["cid"]["status"] == "crashed"
    assert by["dee"]["status"] == "grading failed" and by["dee"]["total"] == "0"


def test_canvas_and_moodle_layouts(class_results):
    write_manifest(ImportReport(students=(ImportedStudent("ben", "moodle", "77", "Ben Bell", ()),), skipped=()),
                   class_results / "lms_students.csv")
    canvas = list(csv.reader(export_grades(class_results, fmt="canvas", assignment=APPENDIX_A).splitlines()))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "appendix_a"]
    assert canvas[1] == ["    Points Possible", "", "", "", "", "35"]
    assert canvas[2] == ["ann", "", "", "ann", "", "45"]
    moodle = list(csv.DictReader(export_grades(class_results, fmt="moodle", assignment=APPENDIX_A).splitlines()))
    ben = next(row for row in moodle if row["Full name"] == "Ben Bell")
    assert ben == {"Identifier": "Participant 77", "Full name": "Ben Bell", "Grade": "25", "Maximum Grade": "35",
                   "Feedback comments": "25/35 + extra credit n/a (not available on the grading machine)"}
    assert moodle[0]["Feedback comments"] == "35/35 + 10 extra credit"


def test_the_export_command(class_results, tmp_path):
    done = run_cli("export", str(class_results), "--lms", "moodle", "--to", str(tmp_path / "grades.csv"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "grades.csv").read_text().startswith("Identifier,Full name,Grade")
    done = run_cli("export", str(class_results), "--lms", "blackboard")
    assert done.returncode == 2 and "invalid choice" in done.stderr


# --- export with the LMS's own roster ---------------------------------------------------------------------

CANVAS_GRADEBOOK = (  # Canvas's "Export Entire Gradebook": a posting-policy row and "Points Possible" under the header
    "Student,ID,SIS User ID,SIS Login ID,Integration ID,Section,Appendix A (4711),Current Score\n"
    ",,,,,,Manual Posting,\n"
    "    Points Possible,,,,,,35.00,\n"
    '"Doe, Jane",101,S-101,jdoe1,,Section 1,,\n'
    '"Smith, Bob",102,S-102,bsmith,,Section 1,,\n'
    '"Wu, Chen",103,S-103,cwu,,Section 2,,\n'
    '"Student, Test",199,,,,Section 1,,\n')
MOODLE_WORKSHEET = (  # Moodle's "Download grading worksheet" of the assignment
    "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
    "Last modified (submission),Online text,Last modified (grade),Feedback comments\n"
    "Participant 7,Jane Doe,jane.doe@uni.example,Submitted for grading,,35.00,Yes,-,,-,\n"
    "Participant 8,Chen Wu,cwu@uni.example,Submitted for grading,,35.00,Yes,-,,-,\n"
    '"Participant 9",Ünal Çelik,ucelik@uni.example,No submission,,35.00,Yes,-,"two\nlines",-,\n')


def named_class(directory: Path, *students: str) -> Path:
    return write_results(directory, [submission(student) for student in students])


def export_cli(out: Path, lms: str, *extra: str) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    done = run_cli("export", str(out), "--lms", lms, *extra)
    return done, list(csv.reader(done.stdout.splitlines()))


def test_a_canvas_gradebook_export_fills_in_the_ids_and_every_student_without_one_is_named(tmp_path):
    out = named_class(tmp_path / "out", "doejane", "Bob_Smith", "cwu", "nobody")
    (tmp_path / "gradebook.csv").write_text(CANVAS_GRADEBOOK, encoding="utf-8")
    done, rows = export_cli(out, "canvas", "--roster", str(tmp_path / "gradebook.csv"))
    assert done.returncode == 0, done.stderr
    by_id = {row[1]: row for row in rows[2:]}
    # Canvas's download-name form, the name in first-last order, the SIS login: each finds its row.
    assert by_id["101"][:5] == ["Doe, Jane", "101", "S-101", "jdoe1", "Section 1"]
    assert by_id["102"][:5] == ["Smith, Bob", "102", "S-102", "bsmith", "Section 1"]
    assert by_id["103"][:5] == ["Wu, Chen", "103", "S-103", "cwu", "Section 2"]
    assert by_id[""][:5] == ["nobody", "", "", "nobody", ""]
    assert "nobody has no Canvas user id: no row of gradebook.csv matches" in done.stderr
    assert "no Canvas user id for 1 of 4 students" in done.stderr
    assert "Student, Test" in done.stderr  # in the roster, but no results: not in the export
    assert not any(name in done.stderr for name in ("doejane has", "Bob_Smith has", "cwu has"))


def test_without_ids_every_student_is_named_and_the_roster_option_suggested(tmp_path):
    out = named_class(tmp_path / "out", "ann", "ben")
    for lms, id_name in (("canvas", "Canvas user id"), ("moodle", "Moodle participant id")):
        done, _ = export_cli(out, lms)
        assert done.returncode == 0, done.stderr
        for student in ("ann", "ben"):
            assert f"{student} has no {id_name}: the class did not come from a" in done.stderr
        assert "--roster FILE" in done.stderr


def test_a_moodle_worksheet_fills_in_participants_and_never_gives_one_id_to_two_students(tmp_path):
    out = named_class(tmp_path / "out", "Jane_Doe", "jane.doe", "cwu", "Unal_Celik")
    (tmp_path / "worksheet.csv").write_text(MOODLE_WORKSHEET, encoding="utf-8")
    done, rows = export_cli(out, "moodle", "--roster", str(tmp_path / "worksheet.csv"))
    assert done.returncode == 0, done.stderr
    by_student = {row[1]: row[0] for row in rows[1:]}
    assert by_student["Chen Wu"] == "Participant 8"      # the e-mail's part before the "@"
    assert by_student["Ünal Çelik"] == "Participant 9"   # the full name, cleaned as the zip import cleans it
    # Both "Jane_Doe" (the name) and "jane.doe" (the e-mail) match participant 7: neither gets it.
    assert by_student["Jane_Doe"] == "Jane_Doe" and by_student["jane.doe"] == "jane.doe"
    assert "Participant 7" not in done.stdout
    assert "Jane_Doe has no Moodle participant id: jane.doe also matched Moodle participant id 7" in done.stderr
    assert "jane.doe has no Moodle participant id: Jane_Doe also matched" in done.stderr
    assert "no Moodle participant id for 2 of 4 students" in done.stderr


def test_a_name_that_matches_two_rows_gets_no_id(tmp_path):
    roster = tmp_path / "gradebook.csv"
    roster.write_text(CANVAS_GRADEBOOK + '"Doe, Jane",104,S-104,jdoe2,,Section 2,,\n', encoding="utf-8")
    export = build_export(named_class(tmp_path / "out", "doejane"), fmt="canvas", roster=roster)
    assert export.matching.ids == {}
    assert missing_id_warnings(export.matching)[0] == ("warning: doejane has no Canvas user id: lines 4 and 8 of "
                                                       "gradebook.csv all match this name")


def test_ids_from_the_zip_import_still_work_and_the_roster_adds_the_sis_columns(tmp_path):
    out = named_class(tmp_path / "out", "doejane", "smithbob")
    write_manifest(ImportReport(students=(ImportedStudent("doejane", "canvas", "101", "doejane", ()),
                                          ImportedStudent("smithbob", "canvas", "102", "smithbob", ())), skipped=()),
                   out / "lms_students.csv")
    alone = build_export(out, fmt="canvas")
    assert [row[:2] for row in csv.reader(alone.text.splitlines())][2:] == [["doejane", "101"], ["smithbob", "102"]]
    assert missing_id_warnings(alone.matching) == []
    (tmp_path / "gradebook.csv").write_text(CANVAS_GRADEBOOK, encoding="utf-8")
    both = build_export(out, fmt="canvas", roster=tmp_path / "gradebook.csv")
    assert [row[:4] for row in csv.reader(both.text.splitlines())][2:] == [
        ["Doe, Jane", "101", "S-101", "jdoe1"], ["Smith, Bob", "102", "S-102", "bsmith"]]


def test_extra_credit_that_could_not_be_earned_is_never_text_in_a_numeric_column(tmp_path):
    # Graded on a machine without CUDA: both extra-credit checks "not available".
    out = write_results(tmp_path / "out", [submission("ben", gram_ok=False)])
    plain = next(csv.DictReader(export_grades(out, fmt="plain").splitlines()))
    assert plain["extra_credit"] == "" and plain["total"] == "25"
    canvas = list(csv.reader(export_grades(out, fmt="canvas").splitlines()))
    assert canvas[2][-1] == "25"
    moodle = next(csv.DictReader(export_grades(out, fmt="moodle").splitlines()))
    assert moodle["Grade"] == "25" and "extra credit n/a" in moodle["Feedback comments"]


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "roster.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


@pytest.mark.parametrize("lms, text, expected", [
    ("canvas", "", "roster.csv: the file is empty: download it from Canvas with Grades > Export"),
    ("canvas", MOODLE_WORKSHEET, "roster.csv, line 1: this is a Moodle export, not a Canvas one: use --lms moodle"),
    ("moodle", CANVAS_GRADEBOOK, "roster.csv, line 1: this is a Canvas export, not a Moodle one: use --lms canvas"),
    ("canvas", "Name,Email\nJane,j@x\n", "roster.csv, line 1: no 'Student' or 'ID' column, so this is not a Canvas "
                                         "gradebook export (its header: 'Name', 'Email')"),
    ("canvas", CANVAS_GRADEBOOK.replace("103,S-103", "Wu,S-103"),
     "roster.csv, line 6: ID 'Wu' is not a Canvas user id (a number)"),
    ("canvas", CANVAS_GRADEBOOK.replace("103,S-103", "101,S-103"),
     "roster.csv, line 6: Canvas user id 101 is already on line 4"),
    ("canvas", CANVAS_GRADEBOOK.replace("103,S-103", ",S-103"), "roster.csv, line 6: 'Wu, Chen' has no ID"),
    ("canvas", CANVAS_GRADEBOOK.splitlines(keepends=True)[0] + "    Points Possible,,,,,,35.00,\n",
     "roster.csv: the file has a header but no student rows"),
    ("moodle", MOODLE_WORKSHEET.replace("Participant 8", "8"),
     "roster.csv, line 3: Identifier '8' is not \"Participant <number>\""),
    ("moodle", MOODLE_WORKSHEET.replace('"Participant 9"', "Participant 8"),
     "roster.csv, line 4: Moodle participant id 8 is already on line 3"),
    ("moodle", MOODLE_WORKSHEET.encode("utf-8") + "Participant 10,Zoë,,,,,,,,,\n".encode("latin-1"),
     "roster.csv, line 6: not UTF-8 text"),
])
def test_a_roster_that_cannot_be_used_is_refused_with_its_line_and_what_to_do(tmp_path, lms, text, expected):
    with pytest.raises(RosterError) as error:
        read_roster(write(tmp_path, text), lms=lms)
    assert expected in str(error.value)
    assert str(error.value).count(": ") >= 2  # where, what is wrong, what to do


def test_the_export_command_refuses_a_bad_or_misplaced_roster(tmp_path):
    out = named_class(tmp_path / "out", "ann")
    done, _ = export_cli(out, "canvas", "--roster", str(tmp_path / "missing.csv"))
    assert done.returncode == 2 and "missing.csv: cannot read the roster" in done.stderr
    assert "Traceback" not in done.stderr
    done, _ = export_cli(out, "plain", "--roster", str(write(tmp_path, CANVAS_GRADEBOOK)))
    assert done.returncode == 2 and "use it with --lms canvas or --lms moodle" in done.stderr


def test_roster_names_reach_the_terminal_shown_not_obeyed(tmp_path):
    out = named_class(tmp_path / "out", "ann")
    roster = write(tmp_path, CANVAS_GRADEBOOK + '"Evil\x1b[2J, Eve",105,,,,,,\n')
    done, _ = export_cli(out, "canvas", "--roster", str(roster))
    assert done.returncode == 0 and "\x1b" not in done.stderr and "Evil\\x1b[2J, Eve" in done.stderr
