"""Progress of a class run: a live bar on a terminal, one line per student otherwise."""

from __future__ import annotations

import sys
import time

from autograder.grading.results import SubmissionResult
from autograder.output_encoding import terminal_text


class ClassProgress:
    def __init__(self, *, quiet: bool = False, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = not quiet and self.stream.isatty()
        self.total = 0
        self.done = 0
        self.failures = 0
        self.started = time.monotonic()
        self._bar = None
        self._task = None

    def start(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()
        if self.live and total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                                 TextColumn("{task.fields[failures]}"), console=Console(file=self.stream))
            self._task = self._bar.add_task("grading", total=total, rate="", failures="")
            self._bar.start()

    def update(self, result: SubmissionResult) -> None:
        self.done += 1
        troubled = bool(result.problems) or any(n.problems for n in result.notebooks)
        self.failures += troubled
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        if self._bar is not None:
            self._bar.update(self._task, advance=1, rate=f"{rate:.1f}/s",
                             failures=f"{self.failures} with problems" if self.failures else "")
        elif not self.quiet:
            extra = f" + {result.extra_credit:g} extra" if result.extra_credit else ""
            note = " (with problems)" if troubled else ""
            student = terminal_text(result.student, keep_newlines=False)
            print(f"[{self.done}/{self.total}] {student}: {result.points:g}/{result.max_points:g}"
                  f"{extra}{note}", file=self.stream)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        if not self.quiet and self.total:
            seconds = time.monotonic() - self.started
            print(f"graded {self.done} of {self.total} submissions in {seconds:.1f} s "
                  f"({self.done / max(seconds, 1e-9):.2f}/s), {self.failures} with problems", file=self.stream)
