"""The course as an nbgrader course: the real nbgrader commands, with the hidden suites deciding every score.

One temporary course (01_setup, 02_tensors, 05_device, 06_distributed) goes through generate_assignment,
the exchange round trip (release, fetch and submit as a student, collect), autograde,
generate_feedback and export, for a class of nine submissions.
"""

from __future__ import annotations

import csv
import getpass
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveAutoGrades

from autograder.course import APPENDIX_A, REPO_ROOT
from autograder.grading.results import CheckResult, NotebookResult, Status, SubmissionResult
from autograder.nbgrader.preprocessors import GradeWithSuites, RecordGraderResults
from tests.conftest import EXERCISES, SOLUTIONS, write_variant
from tests.leaks import hidden_lines
from tests.mutants.m02_tensors import MUTANTS

ASSIGNMENT = "appendix_a"
COURSE_ID = "pytorch-appendix-a"
STEMS = ("01_setup", "02_tensors", "05_device", "06_distributed")
POINTS = {stem: APPENDIX_A.notebook(stem).points for stem in STEMS}
SLOW = "06_distributed"
MUTANT_A = next(m for m in MUTANTS if m.name == "make_tensors_float")
MUTANT_B = MUTANTS[-1]

CHEAT = '''
import sys, torch
try:
    get_ipython().ast_node_interactivity = "none"
except NameError:
    pass
torch.equal = lambda *args, **kwargs: True
torch.testing.assert_close = lambda *args, **kwargs: None
print("Score: 20/20 -- all checks passed")
sys.stdout.write("4\\n")

def {name}(*args, **kwargs):
    return None
'''


def nbgrader(*args: str, cwd: Path, env: dict | None = None, timeout: float = 400) -> subprocess.CompletedProcess:
    environment = dict(env or os.environ)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def ok(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert done.returncode == 0, f"{done.args}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done


def make_course(root: Path, stems: tuple[str, ...], *, extra_config: str = "") -> Path:
    """A course directory with the repository's nbgrader_config.py and the instructor notebooks ``stems``."""
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    for stem in stems:
        shutil.copy(REPO_ROOT / "source" / ASSIGNMENT / f"{stem}.ipynb", root / "source" / ASSIGNMENT)
    config = (REPO_ROOT / "nbgrader_config.py").read_text()
    (root / "nbgrader_config.py").write_text(config + "\n" + extra_config)
    ok(nbgrader("generate_assignment", ASSIGNMENT, cwd=root))
    return root


def submit(course: Path, student: str, files: dict[str, Path | bytes]) -> None:
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    for stem, content in files.items():
        target = folder / f"{stem}.ipynb"
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            shutil.copy(content, target)


def solutions(*stems: str) -> dict[str, Path]:
    """The reference notebooks of ``stems``; the blank stub for 06_distributed (see the course fixture)."""
    return {stem: (EXERCISES if stem == SLOW else SOLUTIONS) / f"{stem}.ipynb" for stem in stems}


def edited_test_cells(directory: Path) -> Path:
    """02_tensors solved, with check_gram deleted, check_to_float32 renamed and check_transpose edited."""
    notebook = nbformat.read(SOLUTIONS / "02_tensors.ipynb", as_version=4)
    kept = []
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "check_gram":
            continue
        if grade_id == "check_to_float32":
            cell.metadata.nbgrader["grade_id"] = "my_check"
        if grade_id == "check_transpose":
            cell.source = "print('edited')\n100"
            cell.metadata.nbgrader["points"] = 100
        kept.append(cell)
    # move the reshape check to the very end of the notebook
    moved = next(c for c in kept if c.metadata.get("nbgrader", {}).get("grade_id") == "check_reshape_to")
    kept.remove(moved)
    notebook.cells = kept + [moved]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "02_tensors.ipynb"
    nbformat.write(notebook, path)
    return path


def cheat_notebook(directory: Path) -> Path:
    functions = ("make_tensors", "to_float32", "reshape_to", "transpose", "gram")
    return write_variant(directory, "02_tensors", {name: CHEAT.format(name=name) for name in functions})


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The graded class: (course directory, timings, outputs of the commands)."""
    scratch = tmp_path_factory.mktemp("nbgrader")
    course = make_course(scratch / "course", STEMS, extra_config='c.GradeWithSuites.limits = ["cell=4"]\n')
    timings, outputs = {}, {}

    # The exchange round trip for one student (this user), with a private exchange and home.
    exchange, home, work = scratch / "exchange", scratch / "home", scratch / "student"
    for folder in (home, work):
        folder.mkdir()
    env = dict(os.environ, AUTOGRADER_EXCHANGE=str(exchange), HOME=str(home),
               JUPYTER_CONFIG_DIR=str(home / ".jupyter"), JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"))
    student_flags = [f"--Exchange.root={exchange}", f"--CourseDirectory.course_id={COURSE_ID}"]
    ok(nbgrader("release_assignment", ASSIGNMENT, cwd=course, env=env))
    ok(nbgrader("fetch_assignment", ASSIGNMENT, *student_flags, cwd=work, env=env))
    for stem in STEMS:
        assert (work / ASSIGNMENT / f"{stem}.ipynb").read_bytes() == (EXERCISES / f"{stem}.ipynb").read_bytes()
        shutil.copy(SOLUTIONS / f"{stem}.ipynb", work / ASSIGNMENT / f"{stem}.ipynb")
    ok(nbgrader("submit", ASSIGNMENT, *student_flags, cwd=work, env=env))
    ok(nbgrader("collect", ASSIGNMENT, cwd=course, env=env))

    # The rest of the class drops its files into submitted/. Only the exchange student above hands in a
    # solved 06_distributed (each grading of it starts several processes); the others keep its stub.
    variants = scratch / "variants"
    submit(course, "blank", {stem: EXERCISES / f"{stem}.ipynb" for stem in STEMS})
    submit(course, "mutant_a", {**solutions(*STEMS),
                                "02_tensors": write_variant(variants / "a", "02_tensors", MUTANT_A.cells)})
    submit(course, "mutant_b", {**solutions(*STEMS),
                                "02_tensors": write_variant(variants / "b", "02_tensors", MUTANT_B.cells)})
    submit(course, "cheat", {**{s: EXERCISES / f"{s}.ipynb" for s in STEMS}, "02_tensors": cheat_notebook(variants / "c")})
    submit(course, "edited_cells", {**solutions(*STEMS), "02_tensors": edited_test_cells(variants / "d")})
    submit(course, "loop", {**solutions(*STEMS),
                            "01_setup": write_variant(variants / "e", "01_setup",
                                                      {"version_at_least": "while True:\n    pass\n"})})
    submit(course, "broken_json", {**solutions(*STEMS), "02_tensors": b'{"cells": [\n  {"cell_type": "code",'})
    submit(course, "warns", {**solutions(*STEMS), "02_tensors": write_variant(
        variants / "f", "02_tensors", {}, extra_cells=(
            "import sys, warnings\nwarnings.warn('this is deprecated')\nprint('a warning', file=sys.stderr)",))})

    started = time.monotonic()
    outputs["autograde"] = ok(nbgrader("autograde", ASSIGNMENT, cwd=course))
    timings["autograde"] = time.monotonic() - started
    outputs["feedback"] = ok(nbgrader("generate_feedback", ASSIGNMENT, cwd=course))
    outputs["export"] = ok(nbgrader("export", "--to", "grades.csv", cwd=course))
    return course, timings, outputs


def gradebook_table(course: Path) -> dict[str, dict]:
    table = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", COURSE_ID) as gradebook:
        for student in gradebook.students:
            submission = gradebook.find_submission(ASSIGNMENT, student.id)
            grades = {grade.name: grade for notebook in submission.notebooks for grade in notebook.grades}
            extra = sum(grade.extra_credit or 0 for grade in grades.values())
            table[student.id] = {
                "total": submission.score - extra,
                "extra_credit": extra,
                "extra_credit_cells": {name: grade.extra_credit for name, grade in grades.items()
                                       if grade.extra_credit is not None},
                "notebooks": {nb.name: nb.score - sum(g.extra_credit or 0 for g in nb.grades)
                              for nb in submission.notebooks},
                "manual": [name for name, grade in grades.items() if grade.needs_manual_grade],
                "auto": {name: grade.auto_score for name, grade in grades.items()},
                "comments": {f"{nb.name}/{c.name}": c.comment for nb in submission.notebooks
                             for c in nb.comments if c.comment},
            }
    return table


def test_the_class_through_real_nbgrader_commands(course, grade):
    course, timings, outputs = course
    me = getpass.getuser()
    table = gradebook_table(course)
    print(f"\nnbgrader autograde of {len(table)} students x {len(STEMS)} notebooks: {timings['autograde']:.1f} s")
    for student, row in sorted(table.items()):
        print(f"  {student:14} {row['notebooks']} total {row['total']:g} extra {row['extra_credit']:g}")

    assert set(table) == {me, "blank", "mutant_a", "mutant_b", "cheat", "edited_cells", "loop", "broken_json",
                          "warns"}
    full = sum(POINTS.values())
    others = full - POINTS[SLOW]  # everyone but the exchange student kept the 06 stub
    # no grade is left to a human: the suites decided every cell
    assert all(row["manual"] == [] for row in table.values()), {s: r["manual"] for s, r in table.items()}
    # the exchange round trip and the solutions
    assert table[me]["total"] == full
    assert table["blank"]["total"] == 0
    # mutants lose exactly what the engine takes off
    for student, mutant, directory in (("mutant_a", MUTANT_A, "a"), ("mutant_b", MUTANT_B, "b")):
        engine = grade(course.parent / "variants" / directory, "02_tensors").notebook("02_tensors")
        assert table[student]["notebooks"]["02_tensors"] == engine.points < 20, student
        assert table[student]["total"] == others - 20 + engine.points
    # the cheat's kernel tricks change nothing
    assert table["cheat"]["total"] == 0
    # deleted, renamed, moved and edited test cells: graded against the instructor's cells, full marks
    edited = table["edited_cells"]
    assert edited["total"] == others and edited["notebooks"]["02_tensors"] == 20
    assert edited["auto"]["check_gram"] == 4 and edited["auto"]["check_transpose"] == 3
    # an infinite loop costs only that notebook's checks, with the reason recorded
    assert table["loop"]["notebooks"]["01_setup"] < 10
    assert table["loop"]["total"] == others - 10 + table["loop"]["notebooks"]["01_setup"]
    assert "time limit" in " ".join(table["loop"]["comments"].values())
    # an unreadable notebook: 0 for it with its reason, the student's other notebooks graded
    assert table["broken_json"]["notebooks"] == {**POINTS, "02_tensors": 0, SLOW: 0}
    assert "not valid JSON" in " ".join(table["broken_json"]["comments"].values())
    # warnings and stderr output do not zero a correct answer
    assert table["warns"]["total"] == others
    # extra credit: recorded on the extra-credit cell, 0 on a CPU-only grader
    assert all(row["extra_credit_cells"] == {"check_train_on_device": 0} for student, row in table.items()
               if row["notebooks"].get("05_device") is not None)

    # the exported CSV: one row per student with score and extra credit
    rows = {row["student_id"]: row for row in csv.DictReader((course / "grades.csv").open())}
    assert set(rows) == set(table)
    for student, row in rows.items():
        assert float(row["score"]) == table[student]["total"]
        assert float(row["extra_credit"]) == 0 and float(row["max_score"]) == full

    # the autograded notebooks carry exactly one verified result per grade cell, nothing on stderr
    cheat = nbformat.read(course / "autograded" / "cheat" / ASSIGNMENT / "02_tensors.ipynb", as_version=4)
    for cell in cheat.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            results = [o for o in cell.outputs if o.output_type == "execute_result"]
            assert [o.data["text/plain"] for o in results] == ["0.0"]
            assert not any(o.output_type == "error" or o.get("name") == "stderr" for o in cell.outputs)

    # feedback: every check with its verdict, never the hidden suites' code
    feedback = {path: path.read_text() for path in (course / "feedback").rglob("*.html")}
    assert len(feedback) == len(table) * len(STEMS)
    everything = "\n".join(feedback.values())
    assert [line for line in hidden_lines() if line in everything] == []
    mutant_html = (course / "feedback" / "mutant_a" / ASSIGNMENT / "02_tensors.html").read_text()
    assert "[FAILED]" in mutant_html and "[passed]" in mutant_html and "int64" in mutant_html
    broken_html = (course / "feedback" / "broken_json" / ASSIGNMENT / "02_tensors.html").read_text()
    assert "not valid JSON" in broken_html

    # comments read as sentences, once: a stub is one line (nbgrader's "No response." replaced), any other
    # failed function a sentence and a bullet per failed check, names as code in the rendered feedback
    comments = {f"{student}: {cell}": text for student, row in table.items() for cell, text in row["comments"].items()}
    assert not [key for key, text in comments.items() if "No response." in text], comments
    blank = table["blank"]["comments"]
    assert blank["02_tensors/gram"] == "`gram` is not implemented yet."
    assert blank["02_tensors/reshape_to"] == "`reshape_to` is not implemented yet."  # no hint about .view()
    mutant = table["mutant_a"]["comments"]["02_tensors/make_tensors"]
    assert mutant.startswith("`make_tensors` failed 1 of its 4 hidden checks:\n\n- ") and "int64" in mutant
    blank_html = (course / "feedback" / "blank" / ASSIGNMENT / "02_tensors.html").read_text()
    assert "<code>gram</code> is not implemented yet." in blank_html and "No response" not in blank_html
    assert blank_html.count("is not implemented yet") == 2 * len(APPENDIX_A.notebook("02_tensors").functions)
    mutant_comment = mutant_html.split("<b>Comments:</b>", 1)[1].split("</div>", 1)[0]
    assert "<code>make_tensors</code> failed 1 of its 4 hidden checks:</p>" in mutant_comment
    assert "<li>item 0 returned by make_tensors has dtype torch.float32" in mutant_comment
    # nothing of the grader's own machinery leaks into what nbgrader printed either
    printed = "".join(done.stdout + done.stderr for done in outputs.values())
    assert [line for line in hidden_lines() if line in printed] == []


class HandResult(GradeWithSuites):
    """GradeWithSuites fed a hand-built result: every check passed, extra credit earned on a GPU."""

    def grade(self, nb, resources):
        checks = []
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade"):
                function = meta["grade_id"].removeprefix("check_")
                checks.append(CheckResult("05_device", f"test_{function}", function, "", float(meta["points"]),
                                          False, Status.PASSED))
        checks.append(CheckResult("05_device", "test_trained_on_gpu", "train_on_device",
                                  "Training ran on the accelerator.", 10.0, True, Status.PASSED))
        notebook = NotebookResult("05_device", 15.0, "05_device.ipynb", tuple(checks))
        return SubmissionResult(student=resources["nbgrader"]["student"], assignment=ASSIGNMENT,
                                notebooks=(notebook,), seed=0, seconds=0.0)


def test_extra_credit_is_written_to_the_gradebook_export_and_feedback(tmp_path):
    course = make_course(tmp_path / "course", ("05_device",))
    student = "gpu_owner"
    submit(course, student, solutions("05_device"))
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url, COURSE_ID) as gradebook:
        gradebook.update_or_create_student(student)
        gradebook.update_or_create_submission(ASSIGNMENT, student)

    notebook = nbformat.read(SOLUTIONS / "05_device.ipynb", as_version=4)
    resources = {"nbgrader": {"student": student, "assignment": ASSIGNMENT, "notebook": "05_device",
                              "db_url": db_url}}
    for preprocessor in (HandResult(), SaveAutoGrades(), RecordGraderResults()):
        notebook, resources = preprocessor.preprocess(notebook, resources)
    autograded = course / "autograded" / student / ASSIGNMENT
    autograded.mkdir(parents=True)
    nbformat.write(notebook, autograded / "05_device.ipynb")

    with Gradebook(db_url, COURSE_ID) as gradebook:
        grade = gradebook.find_grade("check_train_on_device", "05_device", ASSIGNMENT, student)
        assert grade.extra_credit == 10 and grade.auto_score == 7
        assert gradebook.find_submission(ASSIGNMENT, student).score == 25  # nbgrader's own sum includes it

    ok(nbgrader("export", "--to", "grades.csv", cwd=course))
    row = next(csv.DictReader((course / "grades.csv").open()))
    assert (row["student_id"], row["score"], row["max_score"], row["extra_credit"], row["total"]) == \
        (student, "15", "15", "10", "25")

    ok(nbgrader("generate_feedback", ASSIGNMENT, cwd=course))
    html = (course / "feedback" / student / ASSIGNMENT / "05_device.html").read_text()
    assert "Score: 15.0 / 15.0" in html and "Score: 25" not in html
    assert "Extra credit: +10 points" in html
    assert json.dumps(resources["autograder"]["extra_credit"]) == '{"check_train_on_device": 10.0}'
