"""How long grading the solved 06_distributed notebook takes, next to running it in a Jupyter kernel.

    python benchmarks/distributed_notebook.py                 # 3 gradings and 3 kernel runs, alternating
    python benchmarks/distributed_notebook.py --repeat 5 --seed 11
    python benchmarks/distributed_notebook.py --suites OLD_SUITES    # an earlier suite, for before/after
    python benchmarks/distributed_notebook.py --without-visible-checks  # what the visible check cells cost

Grades ``solutions/appendix_a/06_distributed.ipynb`` with the hidden suite in the sandbox
(``grade_submission``, as ``autograder grade`` does, one warm sandbox for all rounds) and runs the
same notebook in a Jupyter kernel as ``nbgrader autograde`` would (nbclient: start a kernel,
execute every cell, shut it down). The two alternate, round by round, so that a busy machine
slows both alike. Prints each round's seconds, the medians and their ratio (target: grading
at most 0.7 s per notebook on two quiet cores), then where grading's time went in the fastest
round: process starts, the notebook's cells (its visible checks run DDP too), each hidden check
(its time in the notebook process's calls, the calls that ran into a time limit, and the
grader's own waits for worker processes to end), and the notebook process's closing.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STEM = "06_distributed"
SOLVED = REPO / "solutions" / "appendix_a" / f"{STEM}.ipynb"
TARGET_SECONDS = 0.7
# The suite's helpers that wait for the notebook's worker processes to end (timed as "waits").
WAIT_HELPERS = ("_leftovers", "_stop_leftovers")


def visible_check_cells(notebook_path: Path) -> frozenset[int]:
    """Indices (among code cells) of the notebook's locked visible check cells (nbgrader grade cells)."""
    import json

    code = [cell for cell in json.loads(notebook_path.read_text())["cells"] if cell["cell_type"] == "code"]
    return frozenset(index for index, cell in enumerate(code)
                     if cell.get("metadata", {}).get("nbgrader", {}).get("grade")
                     and not cell["metadata"]["nbgrader"].get("solution"))


@contextlib.contextmanager
def without_visible_checks(enabled: bool):
    """While the block runs, grading runs the visible check cells as empty cells (to measure what they cost)."""
    from dataclasses import replace

    from autograder.grading import runner

    if not enabled:
        yield
        return
    original = runner.load_notebook

    def load_notebook(path, **kwargs):
        loaded = original(path, **kwargs)
        checks = visible_check_cells(path)
        return replace(loaded, code_cells=tuple("" if index in checks else source
                                                for index, source in enumerate(loaded.code_cells)))

    runner.load_notebook = load_notebook
    try:
        yield
    finally:
        runner.load_notebook = original


@dataclass
class CheckTiming:
    seconds: float = 0.0
    calls: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    timed_out: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    waits: dict[str, float] = field(default_factory=lambda: defaultdict(float))


@dataclass
class GradingTiming:
    """Where one grading's time went, in seconds."""

    total: float = 0.0
    points: str = ""
    starts: list[float] = field(default_factory=list)
    closes: list[float] = field(default_factory=list)
    cells: list[tuple[int, float]] = field(default_factory=list)  # the latest run's (index, seconds)
    cell_runs: list[float] = field(default_factory=list)  # seconds of each run of all the cells
    checks: dict[str, CheckTiming] = field(default_factory=dict)
    current: CheckTiming | None = None


class _Recorder:
    """Wraps the sandbox and session methods whose time is of interest; one grading at a time."""

    def __init__(self) -> None:
        self.timing = GradingTiming()

    def start(self) -> None:
        self.timing = GradingTiming()

    @contextlib.contextmanager
    def installed(self):
        from autograder.grading import runner
        from autograder.grading.session import StudentNotebook
        from autograder.sandbox.client import NotebookProcess, Sandbox

        patches = [
            (Sandbox, "open_notebook", self._timed(lambda seconds, *_: self.timing.starts.append(seconds))),
            (NotebookProcess, "close", self._timed(lambda seconds, *_: self.timing.closes.append(seconds))),
            (StudentNotebook, "_run_cells", self._timed(self._after_cells)),
            (NotebookProcess, "request", self._request_wrapper),
            (runner, "_run_pytest", self._pytest_wrapper),
        ]
        originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
        try:
            for owner, name, replacement_for in patches:
                setattr(owner, name, replacement_for(getattr(owner, name)))
            yield self
        finally:
            for owner, name, original in originals:
                setattr(owner, name, original)

    # ------------------------------------------------------------ wrappers

    @staticmethod
    def _timed(record):
        def wrap(original):
            @functools.wraps(original)
            def timed(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    record(time.perf_counter() - started, *args)
            return timed
        return wrap

    def _after_cells(self, seconds: float, session, *_args) -> None:
        self.timing.cells = [(report.index, report.seconds) for report in session.cell_reports]
        self.timing.cell_runs.append(seconds)

    def _request_wrapper(self, original):
        from autograder.sandbox.errors import CallTimeout

        @functools.wraps(original)
        def request(process, header, value=None, *, what, timeout=None):
            started = time.perf_counter()
            try:
                return original(process, header, value, what=what, timeout=timeout)
            except CallTimeout:
                if self.timing.current is not None:
                    self.timing.current.timed_out[what] += time.perf_counter() - started
                raise
            finally:
                if self.timing.current is not None:
                    self.timing.current.calls[what] += time.perf_counter() - started

        return request

    def _pytest_wrapper(self, original):
        import pytest

        recorder = self

        class Timing:
            def pytest_collection_modifyitems(self, items) -> None:
                for module in {item.module for item in items}:
                    for name in WAIT_HELPERS:
                        helper = getattr(module, name, None)
                        if callable(helper) and not hasattr(helper, "__wrapped__"):
                            setattr(module, name, recorder._wait_wrapper(name, helper))

            def pytest_runtest_setup(self, item) -> None:
                recorder.timing.current = recorder.timing.checks.setdefault(item.name, CheckTiming())

            @pytest.hookimpl(hookwrapper=True)
            def pytest_runtest_call(self, item):
                yield from recorder._call_hook(item)

            def pytest_runtest_teardown(self, item) -> None:
                recorder.timing.current = None

        @functools.wraps(original)
        def run(files, suites_dir, plugins):
            return original(files, suites_dir, [*plugins, Timing()])

        return run

    def _call_hook(self, item):
        before = self._outside_checks()
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        # A check that found no notebook process started one and ran the cells first: counted there.
        self.timing.checks[item.name].seconds += elapsed - (self._outside_checks() - before)

    def _outside_checks(self) -> float:
        return sum(self.timing.starts) + sum(self.timing.cell_runs)

    def _wait_wrapper(self, name: str, helper):
        @functools.wraps(helper)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return helper(*args, **kwargs)
            finally:
                if self.timing.current is not None:
                    self.timing.current.waits[name] += time.perf_counter() - started
        return timed


# ====================================================================== the two ways to run the notebook


def grade_once(*, sandbox, submission: Path, seed: int, recorder: _Recorder, suites: Path) -> GradingTiming:
    from autograder.course import APPENDIX_A
    from autograder.grading.runner import grade_submission

    recorder.start()
    started = time.perf_counter()
    result = grade_submission(submission=submission, student="solved", assignment=APPENDIX_A.subset([STEM]),
                              suites_dir=suites, sandbox=sandbox, seed=seed)
    recorder.timing.total = time.perf_counter() - started
    notebook = result.notebook(STEM)
    recorder.timing.points = f"{notebook.points:g}/{notebook.max_points:g}"
    return recorder.timing


@dataclass
class KernelTiming:
    start: float
    execute: float
    shutdown: float

    @property
    def total(self) -> float:
        return self.start + self.execute + self.shutdown


def run_in_kernel(notebook_path: Path) -> KernelTiming:
    """Start a kernel, execute every cell, shut the kernel down: nbgrader autograde's way."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(notebook_path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="ddp-kernel-") as workdir:
        client = NotebookClient(copy.deepcopy(notebook), timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": workdir}})
        started = time.perf_counter()
        with client.setup_kernel():
            running = time.perf_counter()
            for index, cell in enumerate(client.nb.cells):
                client.execute_cell(cell, index)
            executed = time.perf_counter()
        stopped = time.perf_counter()
    return KernelTiming(start=running - started, execute=executed - running, shutdown=stopped - executed)


# ====================================================================== report


def _print_breakdown(timing: GradingTiming, checks_cells: frozenset[int]) -> None:
    print(f"\nwhere grading's time went (fastest round, {timing.total:.2f} s, {timing.points}):")
    print(f"  process starts: {len(timing.starts)} taking {sum(timing.starts):.2f} s")
    visible = sum(seconds for index, seconds in timing.cells if index in checks_cells)
    print(f"  cells: {sum(timing.cell_runs):.2f} s in {len(timing.cell_runs)} run(s); in the latest, the "
          f"{len(checks_cells)} visible check cells took {visible:.2f} s (the slowest cells: "
          + ", ".join(f"{index + 1} {seconds:.2f} s" for index, seconds in
                      sorted(timing.cells, key=lambda pair: -pair[1])[:3]) + ")")
    checks_total = sum(check.seconds for check in timing.checks.values())
    print(f"  checks: {checks_total:.2f} s")
    for name, check in timing.checks.items():
        calls = ", ".join(f"{what} {seconds:.2f}" for what, seconds in
                          sorted(check.calls.items(), key=lambda pair: -pair[1])[:3] if seconds >= 0.01)
        extra = [f"calls: {calls}"] if calls else []
        extra += [f"timed out: {what} {seconds:.2f}" for what, seconds in check.timed_out.items()]
        extra += [f"wait {what} {seconds:.2f}" for what, seconds in check.waits.items() if seconds >= 0.01]
        print(f"    {check.seconds:5.2f} s  {name}" + (f"  ({'; '.join(extra)})" if extra else ""))
    print(f"  closes: {len(timing.closes)} taking {sum(timing.closes):.2f} s")
    other = timing.total - sum(timing.starts) - sum(timing.cell_runs) - checks_total
    print(f"  the rest (pytest, fixtures, results): {other:.2f} s")


def main() -> int:
    from autograder.course import default_suites_dir, secret_paths
    from autograder.sandbox.client import Sandbox
    from autograder.sandbox.isolation import IsolationPlan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds: one grading and one kernel run each")
    parser.add_argument("--seed", type=int, default=7, help="the hidden suite's seed, the same in every round")
    parser.add_argument("--suites", type=Path, default=default_suites_dir("appendix_a"),
                        help="the hidden suites' folder (default: the bundled ones), e.g. an earlier version's")
    parser.add_argument("--without-visible-checks", action="store_true",
                        help="grade with the notebook's visible check cells left empty (what running them costs)")
    args = parser.parse_args()

    recorder = _Recorder()
    gradings: list[GradingTiming] = []
    kernels: list[KernelTiming] = []
    plan = IsolationPlan(mask_paths=secret_paths(suites_dir=args.suites))
    with tempfile.TemporaryDirectory(prefix="ddp-grade-") as scratch, Sandbox(plan=plan) as sandbox, \
            recorder.installed(), without_visible_checks(args.without_visible_checks):
        submission = Path(scratch) / "solved"
        submission.mkdir()
        (submission / SOLVED.name).write_bytes(SOLVED.read_bytes())
        rounds = {"sandbox": sandbox, "submission": submission, "seed": args.seed, "recorder": recorder,
                  "suites": args.suites}
        grade_once(**rounds)  # warms collection and imports
        run_in_kernel(SOLVED)  # and the kernel's files in the page cache
        for round_number in range(1, args.repeat + 1):
            gradings.append(grade_once(**rounds))
            kernels.append(run_in_kernel(SOLVED))
            kernel = kernels[-1]
            print(f"round {round_number}: grading {gradings[-1].total:5.2f} s ({gradings[-1].points})   "
                  f"Jupyter kernel {kernel.total:5.2f} s (start {kernel.start:.2f}, cells {kernel.execute:.2f}, "
                  f"shutdown {kernel.shutdown:.2f})")
    grading = statistics.median(timing.total for timing in gradings)
    kernel = statistics.median(timing.total for timing in kernels)
    print(f"\nper notebook (median of {args.repeat}): grading {grading:.2f} s, Jupyter kernel {kernel:.2f} s, "
          f"ratio {grading / kernel:.2f} (target: grading <= {TARGET_SECONDS} s on two quiet cores)")
    _print_breakdown(min(gradings, key=lambda timing: timing.total), visible_check_cells(SOLVED))
    short = [timing.points for timing in gradings if timing.points.split("/")[0] != timing.points.split("/")[1]]
    if short:
        print(f"the solved notebook lost points ({', '.join(short)}): these timings are not of a full grading")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
