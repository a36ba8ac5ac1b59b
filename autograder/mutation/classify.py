"""Killed, survived or timed out: a mutant's grading result against the reference's, check by check.

The reference is graded with the same seed in the same run, and a mutant is compared only on
the checks the reference passed (a check "not available" on this machine, or one the reference
failed, tells nothing).  Then:

* killed: the notebook crashed (grading failed as a whole, the process died, ran out of memory
  or exited), or a check the reference passed lost points for any reason but a time limit;
* timed out: it lost points only to time limits (a call, a check, a cell or the submission's budget);
* survived: it passed every check the reference passed.
"""

from __future__ import annotations

from autograder.grading.results import CellStatus, FailureKind, NotebookResult, Status, SubmissionResult
from autograder.mutation.mutants import Mutant
from autograder.mutation.outcomes import MutantOutcome, MutantResult

_CRASHED_CELLS = {CellStatus.MEMORY, CellStatus.EXIT, CellStatus.DIED}


def baseline_checks(reference: SubmissionResult, stem: str) -> frozenset[str]:
    """The checks of ``stem`` the reference passed: what every mutant is held to."""
    return frozenset(check.name for check in reference.notebook(stem).checks if check.status is Status.PASSED)


def classify(mutant: Mutant, result: SubmissionResult, *, baseline: frozenset[str]) -> MutantResult:
    notebook = result.notebook(mutant.notebook)
    by_name = {check.name: check for check in notebook.checks}
    lost = tuple(sorted(name for name in baseline
                        if name not in by_name or by_name[name].status is not Status.PASSED))
    passed = [check for check in notebook.checks if check.status is Status.PASSED]
    own = [check.name for check in passed if check.function == mutant.function]
    passed_names = tuple(own or [check.name for check in passed])
    crash = _crash(result, notebook)
    if crash:
        return MutantResult(mutant=mutant, outcome=MutantOutcome.KILLED, passed_checks=passed_names,
                            lost_checks=lost, why=crash)
    timed_out = {name for name in lost if by_name.get(name) is not None and by_name[name].kind is FailureKind.TIMEOUT}
    cell_timeout = any(cell.status is CellStatus.TIMEOUT for cell in notebook.cells)
    if set(lost) - timed_out:
        outcome = MutantOutcome.KILLED
    elif lost or cell_timeout:
        outcome = MutantOutcome.TIMED_OUT
    else:
        outcome = MutantOutcome.SURVIVED
    return MutantResult(mutant=mutant, outcome=outcome, passed_checks=passed_names, lost_checks=lost)


def _crash(result: SubmissionResult, notebook: NotebookResult) -> str:
    """Why the mutant's notebook crashed, or "" when it did not."""
    if result.problems:
        return result.problems[0]
    for cell in notebook.cells:
        if cell.status in _CRASHED_CELLS:
            return f"cell {cell.index}: {cell.status.value}" + (f" ({cell.message})" if cell.message else "")
    for check in notebook.checks:
        if check.kind is FailureKind.CRASH:
            return f"{check.name}: the notebook process died"
    return ""
