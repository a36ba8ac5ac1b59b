"""The mutants of one notebook as a class directory: one "student" folder per mutant, and the reference.

``<directory>/reference/<stem>.ipynb`` is the reference notebook as it is, graded with the
same seed as the mutants so that each mutant is compared with what the reference scored;
``<directory>/mutant-0001/<stem>.ipynb`` ... hold the reference with one solution cell mutated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from autograder.course import NotebookSpec
from autograder.mutation.mutants import Mutant

REFERENCE_STUDENT = "reference"


@dataclass(frozen=True)
class MutantClass:
    directory: Path
    students: tuple[tuple[str, Mutant], ...]  # (folder name, the mutant in it), the reference not included


def write_class(directory: Path, *, notebook, spec: NotebookSpec, mutants: list[Mutant]) -> MutantClass:
    """Write the reference and each of ``mutants`` of ``notebook`` (read with nbformat) under ``directory``."""
    import nbformat

    _write(nbformat, notebook, directory / REFERENCE_STUDENT / spec.filename)
    width = max(4, len(str(len(mutants))))
    students = []
    for number, mutant in enumerate(mutants, start=1):
        changed = copy.deepcopy(notebook)
        changed.cells[mutant.cell_index].source = mutant.source
        student = f"mutant-{number:0{width}d}"
        _write(nbformat, changed, directory / student / spec.filename)
        students.append((student, mutant))
    return MutantClass(directory=directory, students=tuple(students))


def _write(nbformat, notebook, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
