"""What every student was handed: the exercise notebooks, read once.

A solution cell is a code cell that nbgrader marks ``solution: true``; students' cells are matched
to it by its ``grade_id``.  Its text as handed out (signature, docstring, ``# YOUR CODE HERE``,
``raise NotImplementedError()``) is stub text, and all of the handout's code (stubs, imports, check
cells) is boilerplate: matches in it are no sign of copying.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder.course import AssignmentSpec
from autograder.errors import UsageError
from autograder.submission_files import FileRefused, read_json


@dataclass(frozen=True)
class HandoutNotebook:
    stem: str
    solution_ids: tuple[str, ...]    # grade_id of each solution cell, in the handout's order
    stub_lines: frozenset[str]       # every stripped, non-blank line of the solution cells as handed out
    code: str                        # all code cells of the handout, for the boilerplate filter


@dataclass(frozen=True)
class Handout:
    notebooks: tuple[HandoutNotebook, ...]

    @property
    def boilerplate_code(self) -> str:
        return "\n\n".join(notebook.code for notebook in self.notebooks)


def read_handout(*, exercises_dir: Path, spec: AssignmentSpec) -> Handout:
    """The handout of ``spec`` from ``exercises_dir`` (one ``<stem>.ipynb`` per notebook)."""
    return Handout(notebooks=tuple(_read_notebook(exercises_dir / notebook.filename, stem=notebook.stem)
                                   for notebook in spec.notebooks))


def _read_notebook(path: Path, *, stem: str) -> HandoutNotebook:
    try:
        cells = read_json(path, root=None).value.get("cells", [])
    except (FileRefused, AttributeError) as error:
        detail = error.describe() if isinstance(error, FileRefused) else "not a notebook"
        raise UsageError(f"the exercise notebook {path} cannot be read ({detail}): run `autograder build` "
                         "to regenerate exercises/") from None
    solution_ids, stub_lines, code = [], set(), []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = source if isinstance(source, str) else "".join(source)
        code.append(source)
        grader = (cell.get("metadata") or {}).get("nbgrader") or {}
        if grader.get("solution") and grader.get("grade_id"):
            solution_ids.append(str(grader["grade_id"]))
            stub_lines.update(line.strip() for line in source.splitlines() if line.strip())
    return HandoutNotebook(stem=stem, solution_ids=tuple(solution_ids), stub_lines=frozenset(stub_lines),
                           code="\n\n".join(code))
