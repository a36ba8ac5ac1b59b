"""The batch grader's gradebook matches `nbgrader autograde`'s, score for score; shards merge into one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from tests.conftest import EXERCISES, SOLUTIONS, write_variant
from tests.mutants.m01_setup import MUTANTS as SETUP_MUTANTS
from tests.mutants.m02_tensors import MUTANTS as TENSOR_MUTANTS
from tests.test_nbgrader import ASSIGNMENT, make_course, nbgrader, ok

STEMS = ("01_setup", "02_tensors")
SEED = 7


def grades(db_url: str) -> dict[tuple[str, str, str], tuple[float | None, float | None]]:
    with Gradebook(db_url) as gradebook:
        return {(submission.student.id, notebook.name, grade.name): (grade.auto_score, grade.extra_credit)
                for submission in gradebook.assignment_submissions(ASSIGNMENT)
                for notebook in submission.notebooks for grade in notebook.grades}


def autograder(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def class_of_ten(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ten")
    for index in range(10):
        folder = root / f"student{index}"
        if index == 0:
            shutil.copytree(EXERCISES, folder)
        else:
            folder.mkdir()
            for stem, mutants in (("01_setup", SETUP_MUTANTS), ("02_tensors", TENSOR_MUTANTS)):
                if index % 3 == 0:
                    shutil.copy(SOLUTIONS / f"{stem}.ipynb", folder)
                else:
                    mutant = mutants[(index * 5) % len(mutants)]
                    write_variant(folder, stem, mutant.cells, mutant.extra_cells)
        for extra in folder.glob("*.ipynb"):
            if extra.stem not in STEMS:
                extra.unlink()
    return root


def test_batch_gradebook_matches_nbgrader_autograde(class_of_ten, tmp_path):
    course = make_course(tmp_path / "course", STEMS, extra_config=f"c.GradeWithSuites.seed = {SEED}\n")
    shutil.copy(course / "gradebook.db", tmp_path / "batch.db")  # same assignment, no submissions yet
    for folder in class_of_ten.iterdir():
        shutil.copytree(folder, course / "submitted" / folder.name / ASSIGNMENT)
    ok(nbgrader("autograde", ASSIGNMENT, cwd=course))

    batch_url = f"sqlite:///{tmp_path / 'batch.db'}"
    done = autograder("grade", str(class_of_ten), "--out", str(tmp_path / "out"), "--gradebook", batch_url,
                      "--seed", str(SEED), "--jobs", "2", *(f"--notebook={stem}" for stem in STEMS))
    assert done.returncode == 0, done.stderr

    expected = grades(f"sqlite:///{course / 'gradebook.db'}")
    assert len({key[0] for key in expected}) == 10
    assert grades(batch_url) == expected
    scores = {}
    for (student, _, _), (score, _) in expected.items():
        scores[student] = scores.get(student, 0) + score
    assert scores["student0"] == 0 and scores["student3"] == 30 and 0 < scores["student1"] < 30


def test_shards_merge_into_one_csv_and_gradebook(class_of_ten, tmp_path):
    course = make_course(tmp_path / "course", STEMS)
    urls = []
    for index in (1, 2):
        shutil.copy(course / "gradebook.db", tmp_path / f"shard{index}.db")
        urls.append(f"sqlite:///{tmp_path / f'shard{index}.db'}")
        done = autograder("grade", str(class_of_ten), "--out", str(tmp_path / f"out{index}"), "--shard", f"{index}/2",
                          "--gradebook", urls[-1], "--seed", str(SEED), "--jobs", "1",
                          *(f"--notebook={stem}" for stem in STEMS))
        assert done.returncode == 0, done.stderr
    first = {p.name for p in (tmp_path / "out1").glob("*.json")}
    second = {p.name for p in (tmp_path / "out2").glob("*.json")}
    assert first and second and not first & second and len(first | second) == 10

    merged_url = f"sqlite:///{course / 'gradebook.db'}"
    done = autograder("merge", str(tmp_path / "out1"), str(tmp_path / "out2"), "--out", str(tmp_path / "merged"),
                      "--gradebook", merged_url, *(f"--from-gradebook={url}" for url in urls))
    assert done.returncode == 0, done.stderr
    rows = (tmp_path / "merged" / "grades.csv").read_text().splitlines()
    assert len(rows) == 11
    merged = grades(merged_url)
    assert merged == {**grades(urls[0]), **grades(urls[1])}
    assert len({key[0] for key in merged}) == 10


def test_a_gradebook_without_the_assignment_is_refused_before_grading(tmp_path, class_of_ten):
    done = autograder("grade", str(class_of_ten), "--out", str(tmp_path / "out"), "--gradebook",
                      f"sqlite:///{tmp_path / 'empty.db'}", "--notebook", "01_setup")
    assert done.returncode == 2
    assert "nbgrader generate_assignment appendix_a" in done.stderr
    assert not (tmp_path / "out").exists()
