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
from autograder.reporters.lms import export_grades
from tests.conftest import EXERCISES, SOLUTIONS
from tests.results_factory import small_class

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
                   "Feedback comments": "25/35"}
    assert moodle[0]["Feedback comments"] == "35/35 + 10 extra credit"


def test_the_export_command(class_results, tmp_path):
    done = run_cli("export", str(class_results), "--lms", "moodle", "--to", str(tmp_path / "grades.csv"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "grades.csv").read_text().startswith("Identifier,Full name,Grade")
    done = run_cli("export", str(class_results), "--lms", "blackboard")
    assert done.returncode == 2 and "invalid choice" in done.stderr
