"""Plain-text score tables for the terminal (rich is used for colour only on a TTY).

Every string from a submission (student names, messages) passes through
:func:`~autograder.output_encoding.terminal_text` here, once: escape
sequences are shown, never sent to the terminal, and a message stays on its line.
"""

from __future__ import annotations

from typing import Iterable

from autograder.grading.results import Status, SubmissionResult
from autograder.output_encoding import terminal_text
from autograder.reporters.classdata import NOT_AVAILABLE_MARK


def score_table(results: Iterable[SubmissionResult]) -> list[list[str]]:
    """Rows of (student, notebook scores..., extra credit, total) with a header row; the extra credit is
    "n/a" where the grading machine could award none of it."""
    results = list(results)
    if not results:
        return [["student", "total"]]
    stems = [notebook.notebook for notebook in results[0].notebooks]
    rows = [["student", *stems, "extra", "total"]]
    for result in results:
        rows.append([result.student,
                     *(f"{n.points:g}/{n.possible:g}" for n in result.notebooks),
                     NOT_AVAILABLE_MARK if result.extra_credit_unavailable else f"{result.extra_credit:g}",
                     f"{result.points:g}/{result.max_points:g}"])
    return rows


def details(result: SubmissionResult, *, verbose: bool = False) -> list[str]:
    """What went wrong, one line per notebook problem and per (function, message) of failed checks;
    with ``verbose``, also checks that are not available and one line per passed check."""
    lines = []
    for notebook in result.notebooks:
        for problem in notebook.problems:
            lines.append(_line(f"{notebook.notebook}: {problem}"))
        groups: dict[tuple[str, str], list[float]] = {}
        for check in notebook.checks:
            if check.status is Status.FAILED and check.message not in notebook.problems:
                groups.setdefault((check.function, check.message), []).append(check.max_points)
            elif verbose and check.status is Status.NOT_AVAILABLE:
                groups.setdefault((check.function, f"not available: {check.message}"), []).append(0.0)
        for (function, message), points in groups.items():
            count = f", {len(points)} checks" if len(points) > 1 else ""
            lines.append(_line(f"{notebook.notebook} {function} (-{sum(points):g}{count}): {message}"))
        if verbose:
            for check in notebook.checks:
                if check.status is Status.PASSED:
                    lines.append(_line(f"{notebook.notebook} {check.function} (+{check.points:g}): passed: "
                                       f"{check.description}"))
    return lines


def heading(result: SubmissionResult) -> str:
    """The line that introduces a student's details: ``<student>:``."""
    return f"{_line(result.student)}:"


def _line(text: str) -> str:
    return terminal_text(text, keep_newlines=False)


def render(rows: list[list[str]], *, color: bool) -> str:
    rows = [[_line(cell) for cell in row] for row in rows]
    if color:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        # Text objects, not strings: rich reads "[bold]" in a plain string as markup.
        table = Table()
        for cell in rows[0]:
            table.add_column(Text(cell))
        for row in rows[1:]:
            table.add_row(*(Text(cell) for cell in row))
        console = Console(record=True, force_terminal=True)
        with console.capture() as capture:
            console.print(table)
        return capture.get()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)
