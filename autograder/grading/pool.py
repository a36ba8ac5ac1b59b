"""Warm grading workers: each pays torch's import and the sandbox's start once, then grades many.

With one job, grading happens in this process.  With more, a pool of fresh
worker processes (``spawn``: nothing is inherited from this process) each keeps
its own sandbox and pytest, and results come back as they finish.
"""

from __future__ import annotations

import atexit
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from autograder.course import AssignmentSpec
from autograder.grading.results import SubmissionResult
from autograder.sandbox.client import Sandbox
from autograder.sandbox.isolation import IsolationPlan
from autograder.sandbox.limits import Limits


@dataclass(frozen=True)
class GradingSetup:
    """Everything a worker needs to grade, as plain picklable data."""

    assignment: AssignmentSpec
    suites_dir: Path
    limits: Limits
    plan: IsolationPlan
    require: tuple[str, ...] = ()
    seed: int | None = None

    def sandbox(self) -> Sandbox:
        return Sandbox(limits=self.limits, plan=self.plan, require=self.require)


Task = tuple[str, Path]  # (student, submission)


def grade_all(tasks: Iterable[Task], *, setup: GradingSetup, jobs: int) -> Iterator[SubmissionResult]:
    """Yield one result per task, in the order they finish."""
    from autograder.grading.batch import grade_one

    tasks = list(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        with setup.sandbox() as sandbox:
            for student, submission in tasks:
                yield grade_one(student=student, submission=submission, assignment=setup.assignment,
                                suites_dir=setup.suites_dir, sandbox=sandbox, seed=setup.seed)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context,
                             initializer=_start_worker, initargs=(setup,)) as pool:
        pending = {pool.submit(_grade_in_worker, student, submission) for student, submission in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()


_WORKER: dict = {}


def _start_worker(setup: GradingSetup) -> None:
    import torch

    # Workers already fill the cores; more threads per worker only make them wait on each other.
    torch.set_num_threads(1)
    sandbox = setup.sandbox()
    sandbox.start()
    atexit.register(sandbox.close)
    _WORKER.update(setup=setup, sandbox=sandbox)


def _grade_in_worker(student: str, submission: Path) -> SubmissionResult:
    from autograder.grading.batch import grade_one

    setup: GradingSetup = _WORKER["setup"]
    return grade_one(student=student, submission=submission, assignment=setup.assignment,
                     suites_dir=setup.suites_dir, sandbox=_WORKER["sandbox"], seed=setup.seed)
