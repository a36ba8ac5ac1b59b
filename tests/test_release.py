"""`autograder release`: the student repository holds no hidden material, and its own tooling works."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import APPENDIX_A, REPO_ROOT
from autograder.release import ReleaseError, release
from tests.conftest import EXERCISES, SOLUTIONS, SUITES
from tests.leaks import hidden_lines, leaked, solution_lines


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student-repo")
    done = subprocess.run([sys.executable, "-m", "autograder", "release", str(out)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return out


def released_cli(repo: Path, *args: str) -> subprocess.CompletedProcess:
    """The released copy of the package, run from the student repository's top directory."""
    env = {**os.environ, "PYTHONPATH": str(repo)}
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True, cwd=repo,
                          env=env, timeout=600)


def test_the_release_has_the_student_layout(released):
    files = {path.relative_to(released).as_posix() for path in released.rglob("*") if path.is_file()}
    assert {f"exercises/appendix_a/{nb.filename}" for nb in APPENDIX_A.notebooks} <= files
    assert {"README.md", "pyproject.toml", ".gitignore", "docs/api.md", ".github/workflows/grade-pr.yml",
            "autograder/check.py", "autograder/visible.py", "autograder/cli.py"} <= files
    assert not any(part in {"hidden", "solutions", "source", "tests", "__pycache__"}
                   for path in files for part in Path(path).parts)
    assert not any(path.endswith(".pyc") for path in files)
    readme = (released / "README.md").read_text()
    for step in ("autograder env", "autograder check exercises/", "pull request", "Fork this repository"):
        assert step in readme


def test_no_released_file_holds_hidden_suite_or_solution_content(released):
    # Public already: what the student notebooks show (the stubs' docstrings and hints, the book's code in
    # the explanations) and the package's own code, which any wheel of it ships (generic lines such as
    # `if isinstance(value, dict):` occur in both). Every other line of the suites and solutions must stay out.
    public = "\n".join([cell.source for path in EXERCISES.glob("*.ipynb")
                        for cell in nbformat.read(path, as_version=4).cells] +
                       [path.read_text() for path in (REPO_ROOT / "autograder").rglob("*.py")
                        if "hidden" not in path.relative_to(REPO_ROOT).parts])
    secret = {line for line in hidden_lines() | solution_lines() if line not in public}
    assert len(secret) > 50  # the scan has plenty to look for
    suite_names = {path.name for path in SUITES.glob("*.py")}
    for path in released.rglob("*"):
        if path.is_file():
            assert path.name not in suite_names, path
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert [line for line in secret if line in text] == [], path
            assert "BEGIN SOLUTION" not in text or path.suffix == ".py", path  # the builder's own code names it


def test_released_workflow_is_pinned_and_least_privilege(released):
    text = (released / ".github" / "workflows" / "grade-pr.yml").read_text()
    uses = re.findall(r"uses:\s*(\S+)", text)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", use) for use in uses), uses
    assert "pull_request_target:" in text and "\n  pull_request:" not in text
    assert "permissions: {}" in text and "id-token" not in text
    assert text.count("persist-credentials: false") == 3
    assert "--isolation strict" in text and "github.event.pull_request.head.sha" in text
    assert re.search(r"run:.*\$\{\{", text) is None  # expressions reach scripts only through env


@pytest.mark.skipif(shutil.which("zizmor") is None and not (Path(sys.executable).parent / "zizmor").exists(),
                    reason="zizmor is not installed (pip install -e '.[dev]')")
def test_zizmor_finds_nothing_in_any_workflow(released):
    zizmor = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    for target in (released, REPO_ROOT):
        done = subprocess.run([zizmor, "--offline", "--no-progress", str(target / ".github" / "workflows")],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_release_passes_its_visible_checks_with_solutions_and_fails_with_stubs(released, tmp_path):
    stubs = released_cli(released, "check", "exercises/", "--jobs", "2", "--notebook", "01_setup",
                         "--notebook", "02_tensors")
    assert stubs.returncode == 1, stubs.stdout + stubs.stderr
    assert "0 of 7 functions pass their visible checks; 7 not implemented yet" in stubs.stdout

    solved = tmp_path / "solved"
    shutil.copytree(released, solved)
    for notebook in SOLUTIONS.glob("*.ipynb"):
        shutil.copy(notebook, solved / "exercises" / "appendix_a" / notebook.name)
    done = released_cli(solved, "check", "exercises/", "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    functions = sum(len(notebook.functions) for notebook in APPENDIX_A.notebooks)
    assert f"{functions} of {functions} functions pass their visible checks" in done.stdout
    assert leaked(done.stdout + done.stderr) == []


def test_check_reports_a_wrong_answer_and_a_broken_cell(released, tmp_path):
    from tests.conftest import write_variant

    wrong = write_variant(tmp_path / "nb", "02_tensors", {"gram": "def gram(t):\n    return t.T @ t\n",
                                                          "transpose": "def transpose(t)\n    return t.T\n"})
    done = released_cli(released, "check", str(wrong))
    assert done.returncode == 1
    assert "\u2717 gram: compute t @ t.T, not t.T @ t" in done.stdout  # the hidden checks' words for t.T @ t
    assert "SyntaxError" in done.stdout and "\u2713 make_tensors" in done.stdout


def test_env_works_in_the_release(released):
    done = released_cli(released, "env")
    assert done.returncode == 0 and "[OK]   torch" in done.stdout


def test_release_refuses_a_non_empty_directory_and_instructor_notebooks(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(ReleaseError, match="not empty"):
        release(tmp_path / "taken", spec=APPENDIX_A)
    with pytest.raises(ReleaseError, match="solution or hidden-test region"):
        release(tmp_path / "new", spec=APPENDIX_A, exercises=REPO_ROOT / "source" / "appendix_a")
    assert not (tmp_path / "new").exists()
