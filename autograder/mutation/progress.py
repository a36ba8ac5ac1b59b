"""A progress line on a terminal while mutants are graded (stderr, and only when it is a terminal)."""

from __future__ import annotations

import sys
import time

from autograder.grading.results import SubmissionResult
from autograder.mutation.run import Progress


class ProgressLine:
    def __init__(self, *, quiet: bool = False, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.live = not quiet and self.stream.isatty()
        self.total = self.done = 0
        self.started = time.monotonic()

    def callbacks(self) -> Progress:
        return Progress(plan=self.plan, graded=self.graded, done=self.finish)

    def plan(self, stem: str, total: int) -> None:
        self.stem, self.total, self.done, self.started = stem, total, 0, time.monotonic()
        self._show()

    def graded(self, stem: str, result: SubmissionResult) -> None:
        self.done += 1
        self._show()

    def finish(self, stem: str) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _show(self) -> None:
        if not self.live:
            return
        seconds = time.monotonic() - self.started
        self.stream.write(f"\r\033[Kmutate {self.stem}: {self.done}/{self.total} graded "
                          f"(the reference and {self.total - 1} mutants), {seconds:.0f} s")
        self.stream.flush()
