"""Grading workers that share one warm sandbox process.

With one job, grading happens in the calling process with a sandbox of its own.

With more, the calling process only coordinates: it never imports torch,
pytest or a hidden suite.  It starts the sandbox's warm process, then ``jobs``
fresh worker processes (``spawn``: nothing is inherited from this process).
Each worker joins the warm process through a control connection of its own,
imports torch and the suites once, and grades the submissions it is handed,
one at a time, in a single pytest session (the suites are collected once);
results come back as data as they finish.  So a class costs
one warm process and one ``import torch`` per worker, however many
submissions it has.

A worker that dies costs only the submission it was grading (a zero with the
reason) and is replaced; a grader fault (broken suites, a sandbox that cannot
give the required protections) stops the run with its message.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from autograder.course import AssignmentSpec
from autograder.grading.results import SubmissionResult, Task, zero_result
from autograder.sandbox.client import Sandbox, SandboxSettings, SharedSandbox
from autograder.sandbox.errors import SandboxUnavailable
from autograder.sandbox.isolation import Protections


@dataclass(frozen=True)
class GradingSetup:
    """Everything a worker needs to grade, as plain picklable data."""

    assignment: AssignmentSpec
    suites_dir: Path
    sandbox_settings: SandboxSettings
    seed: int | None = None

    def sandbox(self) -> Sandbox:
        return self.sandbox_settings.sandbox()

    def joining(self, shared: SharedSandbox) -> Sandbox:
        return self.sandbox_settings.joining(shared)




def grade_all(tasks: Iterable[Task], *, setup: GradingSetup, jobs: int,
              on_protections: Callable[[Protections], None] = lambda protections: None) -> Iterator[SubmissionResult]:
    """Yield one result per task, in the order they finish; then hand ``on_protections`` the protections
    the sandbox reported (never those of a student's result, which a failed submission lacks)."""
    tasks = list(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        from autograder.grading.runner import grade_one

        with setup.sandbox() as sandbox:
            for student, submission in tasks:
                yield grade_one(student=student, submission=submission, assignment=setup.assignment,
                                suites_dir=setup.suites_dir, sandbox=sandbox, seed=setup.seed)
            _report(sandbox, on_protections)
        return
    with setup.sandbox() as sandbox, _Workers(setup, sandbox, count=min(jobs, len(tasks))) as workers:
        yield from workers.grade(tasks)
        _report(sandbox, on_protections)


def reported_protections(sandbox: Sandbox) -> Protections | None:
    """The protections ``sandbox``'s warm process reported (this process's own copy of its ready
    message), or None when it is gone before it said: results are kept, with nothing claimed about them."""
    try:
        return sandbox.protections
    except SandboxUnavailable:
        return None


def _report(sandbox: Sandbox, on_protections: Callable[[Protections], None]) -> None:
    protections = reported_protections(sandbox)
    if protections is not None:
        on_protections(protections)


class _Worker:
    """One worker process and the pipe its tasks and results travel through."""

    def __init__(self, context: multiprocessing.context.SpawnContext, setup: GradingSetup,
                 shared: SharedSandbox) -> None:
        self.pipe, theirs = context.Pipe()
        self.process = context.Process(target=_work, args=(setup, shared, theirs), daemon=True,
                                       name="autograder-worker")
        self.process.start()
        theirs.close()
        shared.connection.close()  # the worker holds its own copy now
        self.task: Task | None = None

    def stop(self, *, now: bool) -> None:
        if not now:
            try:
                self.pipe.send(None)
            except OSError:
                pass
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.pipe.close()


class _Workers:
    def __init__(self, setup: GradingSetup, sandbox: Sandbox, *, count: int) -> None:
        self._setup = setup
        self._sandbox = sandbox
        self._count = count
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []

    def __enter__(self) -> "_Workers":
        for _ in range(self._count):  # they import torch while the warm process does
            self._workers.append(self._start())
        return self

    def __exit__(self, *exc_info: object) -> None:
        interrupted = exc_info[0] is not None
        for worker in self._workers:
            worker.stop(now=interrupted or worker.task is not None)
        self._workers.clear()

    def _start(self) -> _Worker:
        return _Worker(self._context, self._setup, self._sandbox.share())

    def grade(self, tasks: list[Task]) -> Iterator[SubmissionResult]:
        waiting = deque(tasks)
        while waiting or any(worker.task for worker in self._workers):
            for worker in self._workers:
                if worker.task is None and waiting:
                    try:
                        worker.pipe.send(waiting[0])
                    except OSError:  # it died while idle: nothing was lost, start another
                        self._restart(worker)
                        continue
                    worker.task = waiting.popleft()
            busy = [worker for worker in self._workers if worker.task is not None]
            if not busy:
                continue  # every idle worker had to be restarted; hand out work again
            ready = multiprocessing.connection.wait([w.pipe for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.pipe in ready or worker.pipe.poll():
                    yield self._collect(worker)
                elif worker.process.sentinel in ready:
                    yield self._replace(worker)

    def _restart(self, worker: _Worker) -> None:
        worker.stop(now=True)
        self._workers[self._workers.index(worker)] = self._start()

    def _collect(self, worker: _Worker) -> SubmissionResult:
        try:
            kind, value = worker.pipe.recv()
        except (EOFError, OSError):
            return self._replace(worker)
        if kind == "error":  # the grader is broken, not this submission: stop the run
            worker.task = None
            raise value
        worker.task = None
        return value

    def _replace(self, worker: _Worker) -> SubmissionResult:
        student, _ = worker.task
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        worker.task = None
        self._restart(worker)
        return zero_result(student=student, assignment=self._setup.assignment,
                           reason=f"the grading worker stopped while grading this submission (exit code {code}); "
                                  "the rest of the class is not affected")


def _work(setup: GradingSetup, shared: SharedSandbox, pipe: multiprocessing.connection.Connection) -> None:
    """A worker's life: join the warm process, then grade what arrives until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    import torch

    from autograder.grading.runner import grade_stream

    # Workers already fill the cores; more threads per worker only make them wait on each other.
    torch.set_num_threads(1)
    sandbox = setup.joining(shared)

    def tasks() -> Iterator[Task]:
        try:
            while (task := pipe.recv()) is not None:
                yield task
        except EOFError:  # the coordinator went away
            return

    try:
        grade_stream(tasks(), assignment=setup.assignment, suites_dir=setup.suites_dir, sandbox=sandbox,
                     seed=setup.seed, on_result=lambda result: pipe.send(("result", result)))
    except Exception as error:  # noqa: BLE001 - a grader fault, reported to the coordinator
        from autograder.grading.errors import GraderError

        try:
            pipe.send(("error", error))
        except Exception:  # noqa: BLE001 - an exception that does not pickle
            pipe.send(("error", GraderError(f"{type(error).__name__}: {error}")))
    finally:
        sandbox.close()
