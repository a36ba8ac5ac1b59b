"""Every way the grader is installed works: from the repository or from a student release, editable or not.

In each layout a fresh venv gets the grader installed the way that layout's docs say, and, run from a
directory outside the source tree, grades one notebook with the hidden suites and runs the visible checks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A, REPO_ROOT
from autograder.release import release
from tests.conftest import SOLUTIONS, SUITES
from tests.venvs import fresh_venv, pip_install

STEM = "02_tensors"
pytestmark = pytest.mark.slow


def tracked_copy(target: Path) -> Path:
    """The repository's files as a fresh clone of the working tree would have them (no venv, no build output)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                           capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def layout(tmp_path: Path, source: str, editable: bool) -> tuple[Path, Path]:
    """Install the grader from ``source`` ("repository" or "release"); return (its bin folder, the tree)."""
    if source == "repository" and editable:
        return Path(sys.executable).parent, REPO_ROOT  # the test environment itself: the README's install
    tree = tracked_copy(tmp_path / "repo") if source == "repository" else tmp_path / "release"
    if source == "release":
        release(tree, spec=APPENDIX_A)
    bin_dir = fresh_venv(tmp_path / "venv")
    pip_install(bin_dir, *(["-e", str(tree)] if editable else [str(tree)]))
    return bin_dir, tree


def autograder(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_dir / "autograder"), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("source, editable", [("repository", True), ("repository", False), ("release", True),
                                              ("release", False)],
                         ids=["repository-editable", "repository-installed", "release-editable", "release-installed"])
def test_grade_and_check_work_in_every_install_layout(tmp_path, source, editable):
    bin_dir, tree = layout(tmp_path, source, editable)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(bin_dir / "python"), "-c", "import autograder; print(autograder.__file__)"],
                           capture_output=True, text=True, check=True, cwd=elsewhere).stdout
    assert (str(tree) in where) == editable, where

    graded = autograder(bin_dir, "grade", str(SOLUTIONS / f"{STEM}.ipynb"), "--notebook", STEM,
                        "--suites", str(SUITES), cwd=elsewhere)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    points = APPENDIX_A.notebook(STEM).points
    assert f"{points}/{points}" in graded.stdout.replace(" ", ""), graded.stdout

    if not editable:  # the wheel holds no hidden suites: the grader says what to pass
        bare = autograder(bin_dir, "grade", str(SOLUTIONS / f"{STEM}.ipynb"), "--notebook", STEM, cwd=elsewhere)
        assert bare.returncode == 2 and "--suites" in bare.stderr and "Traceback" not in bare.stderr, bare.stderr

    checked = autograder(bin_dir, "check", str(SOLUTIONS / f"{STEM}.ipynb"), cwd=elsewhere)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    functions = len(APPENDIX_A.notebook(STEM).functions)
    assert f"{functions} of {functions} functions pass their visible checks" in checked.stdout
