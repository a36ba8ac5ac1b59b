"""What a mutation run found, as frozen dataclasses; counts and scores are derived here, in one place.

mutation score = killed / (mutants - equivalent): the share of the mutants that can be caught
that the suites did catch.  A timed-out mutant counts against the score (it was stopped by a
time limit, not caught by a check), and so does a survivor.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from autograder.mutation.mutants import Mutant


class MutantOutcome(str, Enum):
    KILLED = "killed"          # a check the reference passed lost points, or the notebook crashed
    SURVIVED = "survived"      # full marks, like the reference: the suites cannot tell it from a correct solution
    TIMED_OUT = "timed out"    # it lost points only to time limits
    EQUIVALENT = "equivalent"  # listed as reviewed equivalent: not graded, left out of the score


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    outcome: MutantOutcome
    passed_checks: tuple[str, ...] = ()  # the checks it passed (those of its function when it has any)
    lost_checks: tuple[str, ...] = ()    # the checks the reference passed and it did not
    why: str = ""                        # a crash's reason, or the reviewed reason it is equivalent


class Counts:
    """Counts over ``self.results`` (a tuple of :class:`MutantResult`)."""

    results: tuple[MutantResult, ...]

    def _count(self, outcome: MutantOutcome) -> int:
        return sum(result.outcome is outcome for result in self.results)

    @property
    def mutants(self) -> int:
        return len(self.results)

    @property
    def killed(self) -> int:
        return self._count(MutantOutcome.KILLED)

    @property
    def survived(self) -> int:
        return self._count(MutantOutcome.SURVIVED)

    @property
    def timed_out(self) -> int:
        return self._count(MutantOutcome.TIMED_OUT)

    @property
    def equivalent(self) -> int:
        return self._count(MutantOutcome.EQUIVALENT)

    @property
    def score(self) -> float | None:
        """killed / (mutants - equivalent); None when no mutant can be caught."""
        catchable = self.mutants - self.equivalent
        return self.killed / catchable if catchable else None

    @property
    def survivors(self) -> tuple[MutantResult, ...]:
        return tuple(result for result in self.results if result.outcome is MutantOutcome.SURVIVED)


@dataclass(frozen=True)
class FunctionSummary(Counts):
    function: str
    results: tuple[MutantResult, ...]


@dataclass(frozen=True)
class NotebookSummary(Counts):
    notebook: str
    functions: tuple[FunctionSummary, ...]
    seed: int
    seconds: float
    notes: tuple[str, ...] = ()  # for the instructor: stale equivalent entries, checks the reference lost

    @property
    def results(self) -> tuple[MutantResult, ...]:  # type: ignore[override]
        return tuple(result for function in self.functions for result in function.results)


@dataclass(frozen=True)
class MutationReport:
    notebooks: tuple[NotebookSummary, ...]
    seed: int
