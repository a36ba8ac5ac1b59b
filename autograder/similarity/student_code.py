"""Per student and notebook, only the code the student wrote in solution cells.

Cells are read through :func:`autograder.notebooks.load_notebook` (bounded, never executed) and
matched to the handout's solution cells by nbgrader ``grade_id``; check cells and cells of the
student's own are left out.  From each solution cell the handout's stub lines, import lines and
notebook magics are removed, so an untouched handout extracts to nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.course import AssignmentSpec
from autograder.notebooks import NotebookProblem, load_notebook, locate, students_in
from autograder.similarity.handout import Handout, HandoutNotebook

_IMPORT_LINE = re.compile(r"^\s*(import\s|from\s+[\w.]+\s+import\s)")
_MAGIC_LINE = re.compile(r"^\s*[%!]")


@dataclass(frozen=True)
class StudentCode:
    """One student's extracted code, by notebook stem ("" where there is none)."""

    student: str
    code: tuple[tuple[str, str], ...]          # (stem, extracted code)
    unreadable: tuple[tuple[str, str], ...]    # (stem, why the notebook could not be read)

    def of(self, stem: str) -> str:
        return dict(self.code).get(stem, "")


def extract_class(*, class_dir: Path, spec: AssignmentSpec, handout: Handout) -> tuple[StudentCode, ...]:
    """The extracted code of every student directory of ``class_dir``, sorted by name."""
    return tuple(extract_student(student=name, submission=path, spec=spec, handout=handout)
                 for name, path in students_in(class_dir))


def extract_student(*, student: str, submission: Path, spec: AssignmentSpec, handout: Handout) -> StudentCode:
    code, unreadable = [], []
    for notebook in handout.notebooks:
        path = locate(submission, spec.notebook(notebook.stem), others=spec)
        if path is None:
            continue
        try:
            loaded = load_notebook(path, stem=notebook.stem, root=submission)
        except NotebookProblem as problem:
            unreadable.append((notebook.stem, str(problem)))
            continue
        cells = [(grade_id, source) for source, grade_id in zip(loaded.code_cells, loaded.cell_ids)
                 if grade_id in notebook.solution_ids]
        code.append((notebook.stem, written_code(cells, handout=notebook)))
    return StudentCode(student=student, code=tuple(code), unreadable=tuple(unreadable))


def written_code(cells: list[tuple[str, str]], *, handout: HandoutNotebook) -> str:
    """The ``(grade_id, source)`` solution cells' text without stub lines, imports and magics.

    Each cell that keeps any code is headed by a comment naming its grade id (one of the handout's),
    for the reader; the tokeniser drops comments, so it never matches.
    """
    kept = []
    for grade_id, source in cells:
        imports = _import_lines(source)
        lines = [line.rstrip() for number, line in enumerate(source.splitlines(), start=1)
                 if line.strip() not in handout.stub_lines and number not in imports and not _MAGIC_LINE.match(line)]
        if any(line.strip() for line in lines):
            kept += [f"# {grade_id}", *lines, ""]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
    return text + "\n" if text.strip() else ""


def _import_lines(source: str) -> set[int]:
    """Line numbers (from 1) of import statements, parenthesised ones included."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {number for number, line in enumerate(source.splitlines(), start=1) if _IMPORT_LINE.match(line)}
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines
