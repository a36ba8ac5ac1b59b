"""A placeholder submission scores 0 in every notebook.

The placeholder keeps every function and class the notebook asks for, with its name, but
does no work: functions return ``torch.zeros(1)`` (or a tuple of them), classes are a
trivial ``nn.Module`` or ``Dataset``.  Checks of an aspect ("returns a tuple of four
tensors", "the gradients carry no graph") must not pay for structure without a right answer.
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from autograder.course import APPENDIX_A
from tests.conftest import SOLUTIONS, write_variant

RETURNS = {
    "zeros": "torch.zeros(1)",
    "pair": "(torch.zeros(1), torch.zeros(1))",
    "four": "(torch.zeros(1), torch.zeros(1), torch.zeros(1), torch.zeros(1))",
}

_MODULE = '''
class {name}(torch.nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, *args, **kwargs):
        return {value}
'''

_DATASET = '''
class {name}(torch.utils.data.Dataset):
    def __init__(self, *args, **kwargs):
        pass

    def __len__(self):
        return 1

    def __getitem__(self, index):
        return {value}
'''

_FUNCTION = '''
def {name}(*args, **kwargs):
    return {value}
'''


def placeholder_cells(stem: str, value: str) -> dict[str, str]:
    """grade_id -> a placeholder for every definition in the notebook's solution cells."""
    notebook = nbformat.read(SOLUTIONS / f"{stem}.ipynb", as_version=4)
    cells = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("solution"):
            continue
        parts = ["import torch", "import torch.utils.data"]
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef):
                parts.append(_FUNCTION.format(name=node.name, value=value))
            elif isinstance(node, ast.ClassDef):
                bases = " ".join(ast.unparse(base) for base in node.bases)
                template = _DATASET if "Dataset" in bases else _MODULE
                parts.append(template.format(name=node.name, value=value))
        cells[meta["grade_id"]] = "\n".join(parts)
    return cells


@pytest.mark.parametrize("kind", sorted(RETURNS))
@pytest.mark.parametrize("stem", [spec.stem for spec in APPENDIX_A.notebooks])
def test_a_placeholder_scores_nothing(stem, kind, grade, tmp_path, seed):
    cells = placeholder_cells(stem, RETURNS[kind])
    assert set(cells) == set(APPENDIX_A.notebook(stem).functions), "every student function gets a placeholder"
    write_variant(tmp_path, stem, cells)
    result = grade(tmp_path, stem).notebook(stem)
    earned = [f"{check.name} ({check.points:g})" for check in result.checks if check.points]
    assert result.points == 0 and not earned, f"seed {seed}: a {kind} placeholder earned points: {earned}"
