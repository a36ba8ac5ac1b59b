"""Grade a class of mutants with the batch grader: in the sandbox, in parallel workers, one seed for all.

This is ``autograder grade CLASS`` without the results folder: the same
:func:`autograder.grading.batch.grade_class`, the same sandbox setup (the class directory is
masked from the notebooks, as ``grade`` masks a class), the same limits and isolation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from autograder.grading.results import SubmissionResult
from autograder.mutation.class_folder import MutantClass
from autograder.options import SandboxOptions


def grade_mutant_class(mutant_class: MutantClass, *, stem: str, sandbox: SandboxOptions, workers: int,
                       on_result: Callable[[SubmissionResult], None] = lambda result: None
                       ) -> dict[str, SubmissionResult]:
    """Each student of ``mutant_class`` (the reference and every mutant) graded on notebook ``stem``.

    ``sandbox.seed`` must be set: every mutant is compared with the reference on the same inputs."""
    from autograder.grading.batch import grade_class

    if sandbox.seed is None:
        raise ValueError("grade_mutant_class needs SandboxOptions with a seed: every mutant is compared with the "
                         "reference on the same inputs")
    setup = replace(sandbox, notebooks=(stem,)).setup(extra_masks=(mutant_class.directory.resolve(),))
    results = grade_class(class_dir=mutant_class.directory, setup=setup, jobs=workers, on_result=on_result)
    return {result.student: result for result in results}
