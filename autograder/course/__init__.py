"""The curriculum: which notebooks an assignment has, their points and the functions students write.

The hidden suites hold the individual checks; this module is the public
outline that student-side tools (visible checks, ``autograder env``) and the
grader share.  ``autograder validate`` checks that the two agree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class NotebookSpec:
    stem: str
    title: str
    points: int
    extra_credit: int
    functions: tuple[str, ...]
    book_section: str

    @property
    def filename(self) -> str:
        return f"{self.stem}.ipynb"


@dataclass(frozen=True)
class AssignmentSpec:
    name: str
    notebooks: tuple[NotebookSpec, ...]

    @property
    def points(self) -> int:
        return sum(notebook.points for notebook in self.notebooks)

    def subset(self, stems: list[str]) -> "AssignmentSpec":
        """The same assignment restricted to ``stems`` (for grading only some notebooks)."""
        if not stems:
            return self
        return AssignmentSpec(self.name, tuple(self.notebook(stem) for stem in stems))

    def notebook(self, stem: str) -> NotebookSpec:
        for spec in self.notebooks:
            if spec.stem == stem:
                return spec
        raise KeyError(f"assignment {self.name} has no notebook {stem!r}")


APPENDIX_A = AssignmentSpec(
    name="appendix_a",
    notebooks=(
        NotebookSpec("01_setup", "Installing and checking PyTorch", 10, 0,
                     ("version_at_least", "environment_report"), "A.1"),
        NotebookSpec("02_tensors", "Tensors", 20, 0,
                     ("make_tensors", "to_float32", "reshape_to", "transpose", "gram"), "A.2"),
        NotebookSpec("03_autograd", "Computation graphs and autograd", 20, 0,
                     ("logistic_forward", "logistic_loss", "loss_gradients", "backward_gradients"), "A.3-A.4"),
        NotebookSpec("04_mlp", "A multilayer perceptron and its training loop", 35, 0,
                     ("NeuralNetwork", "count_parameters", "ToyDataset", "make_loaders", "train",
                      "compute_accuracy", "save_model", "load_model"), "A.5-A.8"),
        NotebookSpec("05_device", "Training on a GPU", 15, 10,
                     ("get_device", "to_device", "train_on_device"), "A.9"),
    ),
)

ASSIGNMENTS = {APPENDIX_A.name: APPENDIX_A}


def assignment(name: str) -> AssignmentSpec:
    try:
        return ASSIGNMENTS[name]
    except KeyError:
        raise KeyError(f"unknown assignment {name!r}; known: {', '.join(ASSIGNMENTS)}") from None


def secret_paths(*, suites_dir: Path, extra: tuple[Path, ...] = ()) -> tuple[str, ...]:
    """What student code must not see: suites, solutions, sources, tests, git history, and ``extra``.

    Paths that hold the grader's own code or Python (the package, the venv) are left
    out: the sandbox needs them, and they hold nothing secret.
    """
    candidates = [suites_dir, REPO_ROOT / "autograder" / "hidden", REPO_ROOT / "solutions", REPO_ROOT / "source",
                  REPO_ROOT / "tests", REPO_ROOT / ".git", *extra]
    needed = [Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), REPO_ROOT / "autograder"]
    masks = set()
    for path in candidates:
        if not path.exists():
            continue
        path = path.resolve()
        if any(need == path or need.is_relative_to(path) for need in needed):
            continue
        masks.add(str(path))
    return tuple(sorted(masks))


def default_suites_dir(name: str) -> Path:
    """Where the hidden suites of ``name`` live in an instructor checkout (absent in student releases)."""
    return Path(__file__).resolve().parents[1] / "hidden" / name
