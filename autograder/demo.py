"""A small demo class built from the reference solutions: one correct, one flawed, one blank student.

``autograder demo`` grades it so a newcomer sees the whole pipeline, partial
credit and feedback messages in one command.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat

from autograder.course import REPO_ROOT, AssignmentSpec
from autograder.errors import UsageError
from autograder.options import Output, SandboxOptions

# Typical mistakes, as replacements of solution cells (by nbgrader grade_id).
FLAWED_CELLS = {
    "01_setup": {
        "version_at_least": (
            "def version_at_least(version: str, minimum: str) -> bool:\n"
            "    return version >= minimum  # compares text, not versions\n"
        ),
    },
    "02_tensors": {
        "gram": "def gram(t):\n    return t.T @ t  # the wrong order\n",
        "reshape_to": "def reshape_to(t, rows, cols):\n    return t.view(rows, cols)  # fails on non-contiguous input\n",
    },
}


def build_demo_class(directory: Path, *, assignment: AssignmentSpec) -> Path:
    """Write ``reference/``, ``flawed/`` and ``blank/`` submissions into ``directory``."""
    solutions = REPO_ROOT / "solutions" / assignment.name
    exercises = REPO_ROOT / "exercises" / assignment.name
    if not solutions.is_dir():
        raise UsageError(f"no reference solutions at {solutions}: the demo needs an instructor checkout "
                         "(a clone of the course repository, not a student release)")
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(solutions, directory / "reference")
    shutil.copytree(exercises, directory / "blank")
    flawed = directory / "flawed"
    shutil.copytree(solutions, flawed)
    for stem, replacements in FLAWED_CELLS.items():
        path = flawed / f"{stem}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in replacements:
                cell.source = replacements[grade_id]
        nbformat.write(notebook, path)
    (flawed / "06_distributed.ipynb").unlink(missing_ok=True)  # forgot to submit one notebook
    return directory


def run_demo(*, out: Path | None, sandbox: SandboxOptions, output: Output) -> int:
    """Build the demo class (in ``out``, or a temporary directory), grade it and print the score table."""
    from autograder.grade_command import GradeRequest, grade

    with tempfile.TemporaryDirectory(prefix="autograder-demo-") as scratch:
        root = out or Path(scratch)
        class_dir = build_demo_class(root / "class", assignment=sandbox.spec())
        request = GradeRequest(path=class_dir, out=root / "results", jobs=1, explain=("flawed",))
        code = grade(request, sandbox=sandbox, output=output)
        if code == 0:
            output.say(f"per-student results.json and grades.csv: {root / 'results'}" if out else
                       "(rerun with --out DIR to keep the class and its results)")
        return code
