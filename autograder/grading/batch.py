"""Grade a whole class: each student of a class directory (of one shard), in parallel workers.

This module runs in the coordinating process, which never imports torch, pytest or a
hidden suite: the grading happens in :mod:`autograder.grading.pool`.  It hands each result
to ``on_result`` as it finishes; storing and reporting are the caller's (see
:mod:`autograder.results_folder`), so a crash or Ctrl-C keeps everything finished so far.
A student whose grading fails for any reason still gets a result: a score of 0 with the reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

from autograder.grading.pool import GradingSetup, grade_all
from autograder.grading.results import SubmissionResult
from autograder.notebooks import students_in
from autograder.sandbox.isolation import Protections


def shard_of(student: str, count: int) -> int:
    """The shard (1..count) a student belongs to: stable, whoever else is in the class."""
    return int.from_bytes(hashlib.sha256(student.encode()).digest()[:8], "big") % count + 1


def grade_class(*, class_dir: Path, setup: GradingSetup, jobs: int = 1, shard: tuple[int, int] = (1, 1),
                skip: frozenset[str] | set[str] = frozenset(),
                on_result: Callable[[SubmissionResult], None] = lambda result: None,
                on_plan: Callable[[int], None] = lambda total: None,
                on_protections: Callable[[Protections], None] = lambda protections: None) -> list[SubmissionResult]:
    """Grade every student of ``class_dir`` in this shard, except those in ``skip``; return their results.

    ``on_protections`` is handed the protections the sandbox reported, once grading is done."""
    index, count = shard
    todo = [(name, path) for name, path in students_in(class_dir)
            if (count == 1 or shard_of(name, count) == index) and name not in skip]
    on_plan(len(todo))
    results = []
    for result in grade_all(todo, setup=setup, jobs=jobs, on_protections=on_protections):
        results.append(result)
        on_result(result)
    return results
