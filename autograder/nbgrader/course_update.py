"""``autograder update-course``: take edited or added instructor notebooks into a running nbgrader course.

``nbgrader generate_assignment --force`` alone refuses to add a notebook to an assignment
that has submissions.  This runs it so that it can: the gradebook first learns the new
notebooks, nbgrader then regenerates ``release/`` and the grade cells as for an edit, and
every earlier submission finally gets empty rows for the notebooks it predates.  No existing
submission, grade or tracked file is changed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import UsageError
from autograder.nbgrader.gradebook import complete_submissions, register_new_notebooks


@dataclass(frozen=True)
class CourseUpdate:
    added: tuple[str, ...]                       # notebooks the gradebook learned
    completed: dict[str, list[str]] = field(default_factory=dict)  # student -> notebooks added to their submission


class NbgraderFailed(Exception):
    """nbgrader generate_assignment failed; the message carries its own complaint."""


def update_course(*, course_dir: Path, assignment: str, db_url: str) -> CourseUpdate:
    source = course_dir / "source" / assignment
    stems = sorted(path.stem for path in source.glob("*.ipynb"))
    if not stems:
        raise UsageError(f"{source} holds no notebooks: run this in the course directory (where "
                         "nbgrader_config.py is), or give --course DIR")
    added = register_new_notebooks(db_url=db_url, assignment_id=assignment, stems=stems)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
                           f"--db={db_url}"], cwd=course_dir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise NbgraderFailed(f"nbgrader generate_assignment failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return CourseUpdate(added=tuple(added), completed=complete_submissions(db_url=db_url, assignment_id=assignment))
