"""The import contracts of pyproject.toml ([tool.importlinter], docs/architecture.md "Layers") hold,
a back arrow breaks them, and the hidden suites' contract (tests/importlinter-suites.toml) says what the
suites still import besides the judge."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# import-linter's own entry point, in a fresh interpreter: the package it analyses is the one found
# from the working directory, never the one this test process has already imported.
LINT = ("import sys\n"
        "from importlinter.cli import lint_imports\n"
        "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True))\n")


def lint_imports(*, config: Path, root: Path) -> subprocess.CompletedProcess:
    """Check the contracts of ``config`` on the ``autograder`` package found in ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", LINT, str(config)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    done = lint_imports(config=REPO_ROOT / "pyproject.toml", root=REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout, done.stdout


def test_a_back_arrow_into_the_sandbox_breaks_the_contracts(tmp_path):
    shutil.copytree(REPO_ROOT / "autograder", tmp_path / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    wire = tmp_path / "autograder" / "sandbox" / "wire.py"
    wire.write_text(wire.read_text(encoding="utf-8") + "\nimport autograder.cli  # a back arrow\n", encoding="utf-8")

    done = lint_imports(config=tmp_path / "pyproject.toml", root=tmp_path)

    report = done.stdout + done.stderr
    assert done.returncode == 1, report
    assert "Each layer imports only the layers below it BROKEN" in report
    assert "The sandbox never imports the grading side or the reports BROKEN" in report
    assert "autograder.sandbox.wire -> autograder.cli" in report  # only the copy has this import


def test_the_hidden_suites_import_only_the_judge():
    done = lint_imports(config=REPO_ROOT / "tests" / "importlinter-suites.toml", root=REPO_ROOT)
    if "The hidden suites import only autograder.grading.judge of the package" not in done.stdout:
        pytest.fail(f"the suites' contract could not be checked:\n{done.stdout}{done.stderr}")
    assert done.returncode == 0, done.stdout
