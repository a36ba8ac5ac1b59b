"""Results directories written from hand-made results, for the reporters' tests (no grading needed)."""

from __future__ import annotations

from pathlib import Path

from autograder.grading.results import CellResult, CellStatus, CheckResult, NotebookResult, Status, SubmissionResult
from autograder.grading.runner import zero_result
from autograder.grading import schema
from autograder.course import APPENDIX_A


# The message of an extra-credit check on a grading machine without CUDA (the 05_device suite's own words).
NO_CUDA = "no CUDA device on the grading machine: this extra credit cannot be earned there"


def check(notebook: str, function: str, name: str, points: float, status: Status, message: str = "",
          extra_credit: bool = False) -> CheckResult:
    return CheckResult(notebook=notebook, name=f"test_{function}_{name}", function=function,
                       description=f"{function}: {name.replace('_', ' ')}.", max_points=points,
                       extra_credit=extra_credit, status=status, message=message)


def submission(student: str, *, gram_ok: bool = True, gpu: Status = Status.NOT_AVAILABLE,
               crash: str = "") -> SubmissionResult:
    """A result for 02_tensors and 05_device; ``crash``: the message of a cell whose process died."""
    cells = (CellResult(index=3, status=CellStatus.EXIT, message=crash),) if crash else ()
    tensors = NotebookResult(notebook="02_tensors", max_points=20, path=None, problems=(crash,) if crash else (),
                             cells=cells, checks=(
        check("02_tensors", "reshape_to", "book_example", 10, Status.PASSED),
        check("02_tensors", "gram", "random_matrices", 10, Status.PASSED if gram_ok else Status.FAILED,
              "gram(t) returned shape (3, 3), expected shape (2, 2): compute t @ t.T (not t.T @ t)"),
    ))
    device = NotebookResult(notebook="05_device", max_points=15, path=None, checks=(
        check("05_device", "train_on_device", "cpu_losses", 15, Status.PASSED),
        check("05_device", "train_on_device", "accelerator_losses", 10, gpu,
              NO_CUDA if gpu is Status.NOT_AVAILABLE else "", True),
    ))
    return SubmissionResult(student=student, assignment="appendix_a", notebooks=(tensors, device), seed=5,
                            seconds=1.0, protections=("separate_process",))


def write_results(directory: Path, results: list[SubmissionResult]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for result in results:
        (directory / f"{result.student}.json").write_text(schema.dumps(result))
    (directory / "grades.csv").write_text("student,total\n")  # not a results file: ignored
    return directory


def small_class(directory: Path) -> Path:
    """ann: full marks + extra credit; ben: a wrong gram; cid: a crash; dee: grading failed."""
    return write_results(directory, [
        submission("ann", gpu=Status.PASSED),
        submission("ben", gram_ok=False),
        submission("cid", crash="the notebook process exited with status 3 while running cell 4 "
                                 "(os._exit or a crash in native code)"),
        zero_result(student="dee", assignment=APPENDIX_A.subset(["02_tensors", "05_device"]),
                    reason="grading failed: the notebook process could not be started"),
    ])
