"""A mutation run for people (a table per notebook, each survivor's diff) and for programs (one JSON document).

The JSON document is described field by field in docs/instructor-guide.md ("How strong are my
hidden suites?").  Both show the reference solution's code in diffs: they are for instructors.
"""

from __future__ import annotations

import difflib
import json

from autograder.mutation.mutants import Mutant
from autograder.mutation.outcomes import Counts, FunctionSummary, MutantOutcome, MutationReport, NotebookSummary

_COLUMNS = ("mutants", "killed", "survived", "timed out", "equivalent", "score")


def cell_diff(mutant: Mutant) -> str:
    """The unified diff of the mutant's cell against the reference's."""
    where = f"{mutant.notebook}.ipynb ({mutant.grade_id})"
    return "\n".join(difflib.unified_diff(mutant.original.splitlines(), mutant.source.splitlines(),
                                          fromfile=f"a/{where}", tofile=f"b/{where}", lineterm=""))


def score_text(counts: Counts) -> str:
    return "n/a" if counts.score is None else f"{counts.score * 100:.1f}%"


# ------------------------------------------------------------------------------------------ text


def to_text(report: MutationReport, *, verbose: bool = False) -> str:
    """A table per notebook, then each survivor (its diff and the checks it passed) and each timed-out mutant;
    ``verbose`` also lists each killed mutant with the checks it lost."""
    blocks = [_notebook_text(notebook, verbose=verbose) for notebook in report.notebooks]
    if len(report.notebooks) > 1:
        blocks.append("all notebooks: " + _counts_line(_Total(report)))
    if not report.notebooks:
        blocks.append("nothing to mutate")
    return "\n\n".join(blocks)


def _notebook_text(notebook: NotebookSummary, *, verbose: bool) -> str:
    lines = [f"{notebook.notebook}: {_counts_line(notebook)} (seed {notebook.seed}, {notebook.seconds:.1f} s)"]
    width = max([len("function")] + [len(function.function) for function in notebook.functions])
    lines.append("  " + "function".ljust(width) + "".join(f"  {column:>10}" for column in _COLUMNS))
    for function in notebook.functions:
        values = (function.mutants, function.killed, function.survived, function.timed_out, function.equivalent,
                  score_text(function))
        lines.append("  " + function.function.ljust(width) + "".join(f"  {value!s:>10}" for value in values))
    for function in notebook.functions:
        lines += _details(function, verbose=verbose)
    lines += [f"  note: {note}" for note in notebook.notes]
    return "\n".join(lines)


def _details(function: FunctionSummary, *, verbose: bool) -> list[str]:
    lines = []
    for result in function.results:
        mutant = result.mutant
        if verbose and result.outcome is MutantOutcome.KILLED:
            lost = ", ".join(result.lost_checks) or "no check"
            lines.append(f"  killed: {mutant.id} (line {mutant.line}, column {mutant.column}); lost {lost}"
                         + (f"; crashed: {result.why}" if result.why else ""))
        if verbose and result.outcome is MutantOutcome.EQUIVALENT:
            lines.append(f"  equivalent: {mutant.id}: {result.why}")
        if result.outcome is MutantOutcome.SURVIVED:
            lines += ["", f"  survived: {mutant.id} (line {mutant.line}, column {mutant.column})",
                      f"    passed: {', '.join(result.passed_checks) or 'no check'}"]
            lines += [f"    {line}" for line in cell_diff(mutant).splitlines()]
        elif result.outcome is MutantOutcome.TIMED_OUT:
            lines += ["", f"  timed out: {mutant.id} (line {mutant.line}, column {mutant.column}); "
                          f"lost to time limits: {', '.join(result.lost_checks) or 'a cell'}"]
    return lines


def _counts_line(counts: Counts) -> str:
    return (f"{counts.mutants} mutants, {counts.killed} killed, {counts.survived} survived, "
            f"{counts.timed_out} timed out, {counts.equivalent} equivalent; mutation score {score_text(counts)}")


class _Total(Counts):
    def __init__(self, report: MutationReport) -> None:
        self.results = tuple(result for notebook in report.notebooks for result in notebook.results)


# ------------------------------------------------------------------------------------------ JSON


def to_json(report: MutationReport) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False)


def to_dict(report: MutationReport) -> dict:
    return {"seed": report.seed, "notebooks": [_notebook_dict(notebook) for notebook in report.notebooks]}


def _counts_dict(counts: Counts) -> dict:
    return {"mutants": counts.mutants, "killed": counts.killed, "survived": counts.survived,
            "equivalent": counts.equivalent, "timed_out": counts.timed_out, "score": counts.score}


def _notebook_dict(notebook: NotebookSummary) -> dict:
    return {"notebook": notebook.notebook, **_counts_dict(notebook), "notes": list(notebook.notes),
            "functions": [_function_dict(function) for function in notebook.functions]}


def _function_dict(function: FunctionSummary) -> dict:
    return {"function": function.function, **_counts_dict(function),
            "survivors": [{"id": result.mutant.id, "operator": result.mutant.operator,
                           "position": result.mutant.position, "diff": cell_diff(result.mutant),
                           "passed_checks": list(result.passed_checks)} for result in function.survivors]}
