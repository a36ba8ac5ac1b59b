"""Finding and reading a student's notebooks, with limits and clear complaints.

Nothing here executes student code: a notebook is read as JSON, checked, and
reduced to the list of its code cells' sources.  Files are opened only through
:mod:`autograder.submission_files` (regular files inside the submission, bounded
in size, time and nesting), so a file can only fail its own notebook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.course import AssignmentSpec, NotebookSpec
from autograder.submission_files import MAX_FILE_BYTES, FileRefused, Refusal, read_json

MAX_NOTEBOOK_BYTES = MAX_FILE_BYTES
MAX_CODE_CELLS = 2_000
MAX_GUESSES = 32  # unclaimed files opened to guess a notebook that lost its name


class NotebookProblem(Exception):
    """A notebook cannot be graded; the message tells the student what to do.

    ``refusal`` says why, when the file itself was refused (see :mod:`autograder.submission_files`).
    """

    def __init__(self, message: str, *, refusal: Refusal | None = None) -> None:
        super().__init__(message)
        self.refusal = refusal


@dataclass(frozen=True)
class LoadedNotebook:
    stem: str
    path: Path
    code_cells: tuple[str, ...]
    cell_ids: tuple[str, ...]  # nbgrader grade_id per code cell, "" where there is none


def load_notebook(path: Path, *, stem: str, root: Path | None = None) -> LoadedNotebook:
    """Read ``path`` as a notebook; raise :class:`NotebookProblem` with a helpful reason."""
    name = path.name
    try:
        document = read_json(path, root=root, max_bytes=MAX_NOTEBOOK_BYTES)
    except FileRefused as refused:
        raise NotebookProblem(refused.describe(), refusal=refused.kind) from None
    data, text = document.value, document.text
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookProblem(f"{name} is JSON but not a Jupyter notebook: submit the .ipynb file")
    cells = _cells_of(data, text, name)
    sources, ids = [], []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        sources.append(source if isinstance(source, str) else "".join(source))
        metadata = cell.get("metadata")
        grader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        ids.append(str(grader.get("grade_id", "")) if isinstance(grader, dict) else "")
    if len(sources) > MAX_CODE_CELLS:
        raise NotebookProblem(f"{name} has {len(sources)} code cells, over the limit of {MAX_CODE_CELLS}")
    return LoadedNotebook(stem=stem, path=path, code_cells=tuple(sources), cell_ids=tuple(ids))


def _cells_of(data: dict, text: str, name: str) -> list[dict[str, Any]]:
    """The cells of a version 4 notebook, read directly; older versions are converted by nbformat."""
    unreadable = NotebookProblem(f"{name} is not a notebook nbformat can read: open it in Jupyter, save it, "
                                 "and submit again")
    if data.get("nbformat", 4) != 4 or "cells" not in data:
        import nbformat  # slow to import; only old notebooks need it

        try:
            data = nbformat.reads(text, as_version=4)
        except Exception:
            raise unreadable from None
    cells = data.get("cells")
    if not isinstance(cells, list) or not all(isinstance(cell, dict) for cell in cells):
        raise unreadable
    for cell in cells:
        source = cell.get("source", "")
        if not isinstance(source, str) and not (isinstance(source, list)
                                                and all(isinstance(line, str) for line in source)):
            raise unreadable
    return cells


def locate(submission: Path, spec: NotebookSpec, *, others: AssignmentSpec | None = None) -> Path | None:
    """Find the file of notebook ``spec`` in a submission directory.

    Exact name first; then a file whose name contains the stem ("Copy of
    02_tensors.ipynb", "02_tensors (1).ipynb"); then, for notebooks that lost
    their name, the unclaimed file that defines most of the notebook's functions.
    """
    if not submission.is_dir():  # one file, whatever it is: reading it decides whether it is a notebook
        return submission if _stem_matches(submission.name, spec.stem) else None
    try:
        candidates = sorted(p for p in submission.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    except OSError:  # an unreadable folder in the submission: nothing found there
        candidates = []
    for path in candidates:
        if path.name == spec.filename:
            return path
    for path in candidates:
        if _stem_matches(path.name, spec.stem):
            return path
    claimed = {p for p in candidates for other in (others.notebooks if others else ())
               if _stem_matches(p.name, other.stem)}
    best, best_hits = None, 0
    for path in [p for p in candidates if p not in claimed][:MAX_GUESSES]:
        hits = _defined_names(path, root=submission) & set(spec.functions)
        if len(hits) > best_hits:
            best, best_hits = path, len(hits)
    return best if best_hits >= max(1, len(spec.functions) // 2) else None


def _stem_matches(filename: str, stem: str) -> bool:
    return stem in filename and filename.endswith(".ipynb")


def _defined_names(path: Path, *, root: Path) -> set[str]:
    """Top-level functions and classes defined in a notebook's code cells (empty if unreadable)."""
    try:
        data = read_json(path, root=root, max_bytes=MAX_NOTEBOOK_BYTES).value
        cells = data.get("cells") or [c for sheet in data.get("worksheets", []) for c in sheet.get("cells", [])]
        sources = ["".join(c.get("source") or c.get("input") or "") for c in cells if c.get("cell_type") == "code"]
    except (FileRefused, AttributeError, TypeError):
        return set()
    return set(re.findall(r"^(?:def|class)\s+([A-Za-z_]\w*)", "\n".join(sources), flags=re.M))


def students_in(class_dir: Path) -> list[tuple[str, Path]]:
    """One (student, directory) per sub-directory of ``class_dir``, sorted by name."""
    return [(path.name, path) for path in sorted(class_dir.iterdir())
            if path.is_dir() and not path.name.startswith(".")]


def is_class_directory(path: Path) -> bool:
    """A class holds sub-directories of notebooks; a single submission holds notebooks itself."""
    return path.is_dir() and not any(path.glob("*.ipynb")) and bool(students_in(path))
