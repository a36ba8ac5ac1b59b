"""Grade a synthetic class with the batch grader and compare it with stock `nbgrader autograde`.

    python benchmarks/grade_class.py                 # 200 students x 5 notebooks, 10 for nbgrader
    python benchmarks/grade_class.py --students 40 --nbgrader-sample 3
    python benchmarks/grade_class.py --students 40 --nbgrader-sample 3 --notebook 01_setup --notebook 02_tensors

The class is built from the reference solutions and the mutant corpus (each
student gets a random mix). Both graders run in this one invocation, on this
machine, so the ratios compare like with like. Prints:

- per-notebook seconds for the batch grader and for nbgrader, and the speed-up;
- what the per-notebook isolation costs: opening, running one cell in and closing a notebook
  process in a warm sandbox with every protection this machine allows, against the same with
  the per-notebook protections off (one process, no uid, namespaces or private scratch of its own);
- peak memory (RSS summed over the whole process tree) of the batch run;
- a single student's cold `autograder grade` against `python -c "import torch"`, with the
  student code's own time taken out: the time plain `python` needs to run that student's
  code cells (each notebook in a namespace of its own, one process), minus its `import torch`.
  That own time includes what the student's code makes torch load on first use (an
  optimizer's first `step()` imports torch._dynamo, about a second).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.course import APPENDIX_A  # noqa: E402

SOLUTIONS = REPO / "solutions" / "appendix_a"


# ---------------------------------------------------------------- the class


def build_class(root: Path, *, students: int, seed: int, spec) -> Path:
    """``root/student0000/<notebook>.ipynb`` ...: solutions with mutants mixed in."""
    import nbformat

    import tests.mutants as mutants_package

    mutants: dict[str, list] = {}
    for info in pkgutil.iter_modules(mutants_package.__path__):
        module = importlib.import_module(f"tests.mutants.{info.name}")
        mutants[module.NOTEBOOK] = list(module.MUTANTS)
    chooser = random.Random(seed)
    originals = {notebook.stem: nbformat.read(SOLUTIONS / notebook.filename, as_version=4)
                 for notebook in spec.notebooks}
    for index in range(students):
        folder = root / f"student{index:04d}"
        folder.mkdir(parents=True)
        for stem, notebook in originals.items():
            if mutants.get(stem) and chooser.random() < 0.5:
                mutant = chooser.choice(mutants[stem])
                variant = nbformat.from_dict(notebook)
                for cell in variant.cells:
                    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                    if grade_id in mutant.cells:
                        cell.source = mutant.cells[grade_id]
                nbformat.write(variant, folder / f"{stem}.ipynb")
            else:
                shutil.copy(SOLUTIONS / f"{stem}.ipynb", folder / f"{stem}.ipynb")
    return root


# ---------------------------------------------------------------- measuring


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            time.sleep(self.interval)

    def sample(self) -> int:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as stat:
                        parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            current = frontier.pop()
            for child, parent in parents.items():
                if parent == current and child not in tree:
                    tree.add(child)
                    frontier.append(child)
        total = 0
        for pid in tree:
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total


def run(command: list[str], *, cwd: Path | None = None, env: dict | None = None) -> tuple[float, int]:
    """Wall seconds and peak tree RSS of a command; fails loudly if it fails."""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    with TreeMemory(process.pid) as memory:
        _, errors = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{errors[-3000:]}")
    return time.monotonic() - started, memory.peak


def stock_nbgrader(class_dir: Path, *, sample: int, scratch: Path, spec) -> tuple[float, int]:
    """`nbgrader autograde` as shipped (notebooks run in a Jupyter kernel), on ``sample`` students."""
    course = scratch / "stock-course"
    (course / "source" / "appendix_a").mkdir(parents=True)
    for notebook in spec.notebooks:
        shutil.copy(REPO / "source" / "appendix_a" / notebook.filename, course / "source" / "appendix_a")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.source_directory = 'source'\n"
        "c.CourseDirectory.release_directory = 'release'\n"
    )
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    nbgrader = [sys.executable, "-m", "nbgrader"]
    run([*nbgrader, "generate_assignment", "appendix_a", "--force"], cwd=course, env=env)
    for folder in sorted(class_dir.iterdir())[:sample]:
        shutil.copytree(folder, course / "submitted" / folder.name / "appendix_a")
    return run([*nbgrader, "autograde", "appendix_a", "--force"], cwd=course, env=env)


def student_code_script(student_dir: Path, scratch: Path, spec) -> Path:
    """A script that runs the student's code cells as plain Python, keeping going after errors."""
    import json

    notebooks = []
    for notebook in spec.notebooks:
        cells = json.loads((student_dir / notebook.filename).read_text())["cells"]
        notebooks.append(["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"])
    script = scratch / "student_code.py"
    script.write_text(
        "import torch\n"
        f"for cells in {notebooks!r}:\n"
        "    namespace = {'__name__': '__main__'}\n"
        "    for source in cells:\n"
        "        try:\n"
        "            exec(compile(source, 'cell', 'exec'), namespace)\n"
        "        except BaseException:\n"
        "            pass\n"
    )
    return script


def isolation_cost(*, count: int = 40) -> tuple[float, float, tuple[str, ...]]:
    """Milliseconds per notebook process (open, one cell, close) with and without per-notebook isolation."""
    from autograder.course import default_suites_dir, secret_paths
    from autograder.sandbox.client import Sandbox
    from autograder.sandbox.isolation import IsolationPlan

    masks = secret_paths(suites_dir=default_suites_dir("appendix_a"))
    timings = []
    for user in ("nobody", None):
        with Sandbox(plan=IsolationPlan(user=user, mask_paths=masks)) as box:
            protections = tuple(name for name, on in box.protections.to_dict().items() if on is True)
            for warm_up in (True, False):
                started = time.monotonic()
                for _ in range(3 if warm_up else count):
                    process = box.open_notebook("probe")
                    process.run_cell(0, "x = 1")
                    process.close()
                if not warm_up:
                    timings.append((time.monotonic() - started) / count * 1000)
            if user is not None:
                isolated = protections
    return timings[0], timings[1], isolated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--nbgrader-sample", type=int, default=10, help="students graded by stock nbgrader")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--notebook", action="append", default=[], metavar="STEM",
                        help="only these notebooks (repeatable; default: all of the assignment)")
    args = parser.parse_args()
    spec = APPENDIX_A.subset(args.notebook)
    notebooks = len(spec.notebooks)
    only = [flag for stem in args.notebook for flag in ("--notebook", stem)]
    autograder = [sys.executable, "-m", "autograder"]

    with tempfile.TemporaryDirectory(prefix="grade-class-") as scratch_name:
        scratch = Path(scratch_name)
        class_dir = build_class(scratch / "class", students=args.students, seed=args.seed, spec=spec)
        print(f"machine: {os.cpu_count()} cores; class: {args.students} students x {notebooks} notebooks "
              f"({', '.join(notebook.stem for notebook in spec.notebooks)})")

        isolated_ms, plain_ms, protections = isolation_cost()
        print(f"isolation per notebook process (open, one cell, close; mean of 40): {isolated_ms:.1f} ms with "
              f"{', '.join(protections)}; {plain_ms:.1f} ms without the per-notebook protections; "
              f"cost {isolated_ms - plain_ms:+.1f} ms per notebook")

        batch_seconds, batch_memory = run([*autograder, "grade", str(class_dir), "--out", str(scratch / "out"),
                                           "--jobs", str(args.jobs), "--quiet", "--seed", str(args.seed), *only])
        batch_per_notebook = batch_seconds / (args.students * notebooks)
        print(f"batch grader (--jobs {args.jobs}): {batch_seconds:.1f} s for {args.students * notebooks} notebooks"
              f" = {batch_per_notebook:.3f} s per notebook; peak memory {batch_memory / 2**30:.2f} GiB")

        if args.nbgrader_sample > 0:
            stock_seconds, stock_memory = stock_nbgrader(class_dir, sample=args.nbgrader_sample, scratch=scratch,
                                                         spec=spec)
            stock_per_notebook = stock_seconds / (args.nbgrader_sample * notebooks)
            print(f"nbgrader autograde: {stock_seconds:.1f} s for {args.nbgrader_sample * notebooks} notebooks"
                  f" = {stock_per_notebook:.3f} s per notebook; peak memory {stock_memory / 2**30:.2f} GiB")
            print(f"speed-up per notebook: {stock_per_notebook / batch_per_notebook:.1f}x")

        single = sorted(class_dir.iterdir())[0]
        script = student_code_script(single, scratch, spec)
        torch_seconds = min(run([sys.executable, "-c", "import torch"])[0] for _ in range(3))
        plain_seconds = min(run([sys.executable, str(script)], cwd=scratch)[0] for _ in range(3))
        own_seconds = max(0.0, plain_seconds - torch_seconds)
        cold_runs = [run([*autograder, "grade", str(single), "--quiet", "--seed", str(args.seed), *only])
                     for _ in range(3)]
        cold_seconds, cold_memory = min(cold_runs)
        print(f"single student, cold (best of 3): {cold_seconds:.2f} s (peak {cold_memory / 2**30:.2f} GiB); "
              f"python -c 'import torch': {torch_seconds:.2f} s; the student's code in plain python: "
              f"{plain_seconds:.2f} s, so its own time is {own_seconds:.2f} s")
        print(f"cold ratio: (grade - own time) / import torch = {(cold_seconds - own_seconds) / torch_seconds:.2f}x "
              f"(without taking out its own time: {cold_seconds / torch_seconds:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
