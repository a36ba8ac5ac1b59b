"""What must never appear in anything produced for a student: the hidden suites' code and the solutions."""

from __future__ import annotations

import ast

import nbformat

from tests.conftest import SOLUTIONS, SUITES


def hidden_lines() -> set[str]:
    """Every line of code in the hidden suites that is not a student-facing string or docstring."""
    lines = set()
    for path in SUITES.glob("*.py"):
        source = path.read_text()
        docstrings = {ast.get_docstring(node) or "" for node in ast.walk(ast.parse(source))
                      if isinstance(node, (ast.FunctionDef, ast.Module, ast.ClassDef))}
        for line in source.splitlines():
            text = line.strip()
            if len(text) < 25 or text.startswith(("#", '"', "'", 'f"', "f'", ")", "import ", "from ")) or \
                    any(text in doc for doc in docstrings):
                continue
            lines.add(text)
    return lines


def solution_lines() -> set[str]:
    """Distinctive lines of the reference solutions' filled-in cells (longer than a stub could be)."""
    lines = set()
    for path in SOLUTIONS.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                lines |= {line.strip() for line in cell.source.splitlines()
                          if len(line.strip()) >= 30 and not line.strip().startswith(("#", '"', "'", "def "))}
    return lines


def leaked(text: str) -> list[str]:
    """The hidden or solution lines found in ``text``."""
    return sorted(line for line in hidden_lines() | solution_lines() if line in text)
