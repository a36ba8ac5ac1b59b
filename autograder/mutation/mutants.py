"""The mutants of a reference notebook: each cosmic-ray operator at each place in each solution cell.

A solution cell is a code cell with nbgrader's ``solution`` flag.  The function it defines is
its ``grade_id`` when that is one of the notebook's functions in the course outline (as
``autograder new`` writes them), otherwise the first function of the outline the cell
defines.  A mutant's id, ``<grade_id>:<operator>:<occurrence>``, stays the same from run to
run as long as the cell's text does; reviewed equivalent mutants are listed by it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from autograder.course import NotebookSpec
from autograder.mutation.engine import mutations_of


@dataclass(frozen=True)
class SolutionCell:
    index: int       # the cell's position in the notebook, from 0
    grade_id: str
    function: str
    source: str


@dataclass(frozen=True)
class Mutant:
    notebook: str    # the notebook's stem
    function: str
    grade_id: str
    cell_index: int
    operator: str    # cosmic-ray's operator name
    occurrence: int  # which of the operator's places in the cell, from 0
    line: int        # where in the cell the change starts, from 1
    column: int
    original: str    # the cell's text in the reference
    source: str      # the cell's text in this mutant

    @property
    def id(self) -> str:
        return mutant_id(grade_id=self.grade_id, operator=self.operator, occurrence=self.occurrence)

    @property
    def position(self) -> str:
        return f"{self.line}:{self.column}"


def mutant_id(*, grade_id: str, operator: str, occurrence: int) -> str:
    return f"{grade_id}:{operator}:{occurrence}"


def read_reference(path: Path):
    """The reference notebook at ``path`` (an nbformat node)."""
    import nbformat

    return nbformat.read(path, as_version=4)


def solution_cells(notebook, spec: NotebookSpec) -> list[SolutionCell]:
    """The solution cells of ``notebook`` (read with nbformat), each with the function it defines."""
    cells = []
    for index, cell in enumerate(notebook.cells):
        nbgrader = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not nbgrader.get("solution"):
            continue
        grade_id = str(nbgrader.get("grade_id") or f"cell-{index}")
        cells.append(SolutionCell(index=index, grade_id=grade_id, function=_function_of(grade_id, cell.source, spec),
                                  source=cell.source))
    return cells


def mutants_of(notebook, spec: NotebookSpec) -> list[Mutant]:
    """Every mutant of every solution cell of ``notebook``, in cell order, then cosmic-ray's operator order."""
    return [Mutant(notebook=spec.stem, function=cell.function, grade_id=cell.grade_id, cell_index=cell.index,
                   operator=mutation.operator, occurrence=mutation.occurrence, line=mutation.line,
                   column=mutation.column, original=cell.source, source=mutation.source)
            for cell in solution_cells(notebook, spec) for mutation in mutations_of(cell.source)]


def _function_of(grade_id: str, source: str, spec: NotebookSpec) -> str:
    if grade_id in spec.functions:
        return grade_id
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return grade_id
    defined = {node.name for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return next((function for function in spec.functions if function in defined), grade_id)
