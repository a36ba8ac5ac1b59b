"""A whole mutation run, notebook by notebook: mutants, equivalents, one graded class, outcomes.

For each notebook: every mutant of the reference's solution cells is generated (ids and
equivalent entries are checked against that full list), the requested functions and sample are
picked, the reviewed equivalents are set aside ungraded, and the rest are graded as one class
with the reference, under one seed; then each mutant is classified against the reference.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from autograder.course import REPO_ROOT, NotebookSpec
from autograder.errors import UsageError
from autograder.grading.errors import GraderError
from autograder.grading.results import Status, SubmissionResult
from autograder.mutation.class_folder import REFERENCE_STUDENT, write_class
from autograder.mutation.classify import baseline_checks, classify
from autograder.mutation.engine import require_engine
from autograder.mutation.equivalent import EQUIVALENT_DIR, equivalent_file, load_equivalents, match_equivalents
from autograder.mutation.grading import grade_mutant_class
from autograder.mutation.mutants import Mutant, mutants_of, read_reference
from autograder.mutation.outcomes import (FunctionSummary, MutantOutcome, MutantResult, MutationReport,
                                          NotebookSummary)
from autograder.mutation.selection import Sample, notebooks_to_mutate, pick
from autograder.options import SandboxOptions


@dataclass(frozen=True)
class MutationRequest:
    """What to mutate and how to grade it (the notebooks, suites, seed and limits are in SandboxOptions)."""

    functions: tuple[str, ...] = ()
    workers: int = 1
    sample: Sample | None = None
    equivalents: Path = EQUIVALENT_DIR


@dataclass(frozen=True)
class Progress:
    """Callbacks while a run goes: a notebook's class is about to be graded; one of its students is done."""

    plan: Callable[[str, int], None] = lambda stem, total: None
    graded: Callable[[str, SubmissionResult], None] = lambda stem, result: None
    done: Callable[[str], None] = lambda stem: None


def reference_notebooks(suites_dir: Path, assignment: str) -> Path:
    """Where the reference notebooks are: ``<suites>/reference/``, else the checkout's ``solutions/<assignment>/``
    (the places the grader looks when it settles a check's fault on the reference)."""
    for candidate in (suites_dir / "reference", REPO_ROOT / "solutions" / assignment):
        if candidate.is_dir():
            return candidate
    raise UsageError(f"no reference notebooks to mutate: put them in {suites_dir / 'reference'}, or run from a "
                     f"checkout of the course repository (solutions/{assignment}/; `autograder build` writes it)")


def run_mutation(request: MutationRequest, *, sandbox: SandboxOptions, progress: Progress = Progress()
                 ) -> MutationReport:
    """Mutate, grade and classify every selected notebook; one seed for the whole run (``--seed`` or drawn)."""
    require_engine()
    if request.workers < 1:
        raise UsageError(f"--workers: must be at least 1, got {request.workers}")
    if request.sample is not None and request.sample.limit < 1:
        raise UsageError(f"--limit-mutants: must be at least 1, got {request.sample.limit}")
    suites = sandbox.suites_dir()
    if not suites.is_dir():
        raise UsageError(f"hidden suites directory {suites} does not exist: pass --suites DIR (mutation testing "
                         "grades the mutants with the hidden suites)")
    spec = sandbox.spec()
    notebooks = notebooks_to_mutate(spec, functions=request.functions, named_notebooks=bool(sandbox.notebooks))
    references = reference_notebooks(suites, spec.name)
    seed = sandbox.seed if sandbox.seed is not None else secrets.randbits(32)
    sandbox = replace(sandbox, seed=seed)
    summaries = tuple(_mutate_notebook(notebook, references=references, request=request, sandbox=sandbox,
                                       progress=progress) for notebook in notebooks)
    return MutationReport(notebooks=summaries, seed=seed)


def _mutate_notebook(spec: NotebookSpec, *, references: Path, request: MutationRequest, sandbox: SandboxOptions,
                     progress: Progress) -> NotebookSummary:
    started = time.monotonic()
    path = references / spec.filename
    if not path.is_file():
        raise UsageError(f"{path} is missing: the reference notebook of {spec.stem} is what gets mutated "
                         "(`autograder build` writes solutions/)")
    notebook = read_reference(path)
    every = mutants_of(notebook, spec)
    equivalents = match_equivalents(load_equivalents(spec.stem, directory=request.equivalents), every,
                                    path=equivalent_file(spec.stem, directory=request.equivalents))
    chosen = pick(every, functions=request.functions, sample=request.sample)
    to_grade = [mutant for mutant in chosen if equivalents.reason(mutant.id) is None]
    results: dict[str, MutantResult] = {}
    notes = list(equivalents.stale)
    if to_grade:
        graded, reference_notes = _grade(spec, to_grade, notebook=notebook, sandbox=sandbox, request=request,
                                         progress=progress, reference_path=path)
        results.update(graded)
        notes += reference_notes
    for mutant in chosen:
        reason = equivalents.reason(mutant.id)
        if reason is not None:
            results[mutant.id] = MutantResult(mutant=mutant, outcome=MutantOutcome.EQUIVALENT, why=reason)
    functions = _function_order(spec, chosen, request.functions)
    summaries = tuple(FunctionSummary(function=function,
                                      results=tuple(results[m.id] for m in chosen if m.function == function))
                      for function in functions)
    return NotebookSummary(notebook=spec.stem, functions=summaries, seed=sandbox.seed,
                           seconds=time.monotonic() - started, notes=tuple(notes))


def _grade(spec: NotebookSpec, mutants: list[Mutant], *, notebook, sandbox: SandboxOptions,
           request: MutationRequest, progress: Progress, reference_path: Path
           ) -> tuple[dict[str, MutantResult], list[str]]:
    with tempfile.TemporaryDirectory(prefix=f"autograder-mutate-{spec.stem}-") as scratch:
        mutant_class = write_class(Path(scratch), notebook=notebook, spec=spec, mutants=mutants)
        progress.plan(spec.stem, len(mutants) + 1)
        try:
            graded = grade_mutant_class(mutant_class, stem=spec.stem, sandbox=sandbox, workers=request.workers,
                                        on_result=lambda result: progress.graded(spec.stem, result))
        finally:
            progress.done(spec.stem)
    reference = graded[REFERENCE_STUDENT]
    if reference.problems:
        raise GraderError(f"the reference notebook {reference_path} could not be graded ({reference.problems[0]}); "
                          f"run `autograder grade {reference_path.parent} --notebook {spec.stem} --seed "
                          f"{sandbox.seed}` to see why")
    baseline = baseline_checks(reference, spec.stem)
    notes = []
    lost = sorted(check.name for check in reference.notebook(spec.stem).checks
                  if check.status not in (Status.PASSED, Status.NOT_AVAILABLE))
    if lost:
        notes.append(f"the reference lost {', '.join(lost)} with seed {sandbox.seed}: mutants are compared only on "
                     f"the checks it passed; fix the suite or the reference (`autograder grade "
                     f"{reference_path.parent} --notebook {spec.stem} --seed {sandbox.seed} --verbose`)")
    results = {mutant.id: classify(mutant, graded[student], baseline=baseline)
               for student, mutant in mutant_class.students}
    return results, notes


def _function_order(spec: NotebookSpec, mutants: list[Mutant], functions: tuple[str, ...]) -> list[str]:
    """The outline's functions (those asked for, when some are), then any other cell's label that has mutants."""
    order = [function for function in spec.functions if not functions or function in functions]
    order += [mutant.function for mutant in mutants if mutant.function not in order]
    return list(dict.fromkeys(order))
