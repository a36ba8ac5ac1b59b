"""Adding a notebook is a short, safe job: `autograder new`, build, validate, grade; no file edited by hand.

Runs in a copy of the course (the copy's own package, through PYTHONPATH), so the repository
itself is never changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import REPO_ROOT
from tests.test_doc_commands import SCAFFOLD, environment, run_block


def course_copy(target: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = REPO_ROOT / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
    return target


def autograder(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(course)}
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=900)


@pytest.mark.slow
def test_a_seventh_notebook_from_the_scaffold_builds_validates_and_grades(tmp_path):
    course = course_copy(tmp_path / "course")
    before = {path.relative_to(course) for path in course.rglob("*") if path.is_file()}

    # the instructor guide's block, as written: new, build, validate
    done = run_block(SCAFFOLD, course, env=environment(PYTHONPATH=str(course)))
    assert "solutions/07_attention: 10/10" in done.stdout and "exercises/07_attention: 0/10" in done.stdout
    added = {path.relative_to(course) for path in course.rglob("*") if path.is_file()} - before
    assert {str(path) for path in added if "__pycache__" not in str(path)} == {
        "source/appendix_a/07_attention.ipynb", "exercises/appendix_a/07_attention.ipynb",
        "solutions/appendix_a/07_attention.ipynb", "autograder/hidden/appendix_a/test_07_attention.py"}
    outline = json.loads((course / "autograder" / "course" / "appendix_a.json").read_text())
    assert outline["notebooks"][-1]["functions"] == ["attention_weights"]

    graded = autograder(course, "grade", "solutions/appendix_a", "--notebook", "07_attention", "--json", "r.json")
    assert graded.returncode == 0, graded.stderr
    assert json.loads((course / "r.json").read_text())["score"]["points"] == 10
    two = autograder(course, "new", "08_pair", "--title", "Two functions", "--section", "A.2.1",
                     "--function", "first_one", "--function", "second_one", "--points", "3")
    assert two.returncode == 0, two.stderr
    assert '"points": 2' in (course / "source" / "appendix_a" / "08_pair.ipynb").read_text()  # 3 = 2 + 1

    again = autograder(course, "new", "07_attention", "--title", "x", "--section", "A.2")
    assert again.returncode == 2 and "already has a notebook 07_attention" in again.stderr
    clash = autograder(course, "new", "09_clash", "--title", "x", "--section", "A.2", "--function", "gram")
    assert clash.returncode == 2 and "unique across the course" in clash.stderr


def test_a_malformed_book_section_is_reported_by_validate_not_by_a_crash_later(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO_ROOT / "autograder", course / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__", "hidden"))
    outline = course / "autograder" / "course" / "appendix_a.json"
    data = json.loads(outline.read_text())
    data["notebooks"][3]["book_section"] = "A.5 (Exercise A.3)"
    outline.write_text(json.dumps(data))
    done = autograder(course, "validate")
    assert done.returncode == 1
    assert "notebooks[3]: book section 'A.5 (Exercise A.3)' should look like A.9.3" in done.stdout
    assert "Traceback" not in done.stderr
    shutil.copy(REPO_ROOT / "autograder" / "course" / "appendix_a.json", outline)
    bad = autograder(course, "new", "07_x", "--title", "x", "--section", "A.5 (Exercise A.3)")
    assert bad.returncode == 2 and "--section: book section 'A.5 (Exercise A.3)'" in bad.stderr
