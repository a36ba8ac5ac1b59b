"""``autograder check``: run the visible checks of the exercise notebooks, as a student does.

Each notebook runs top to bottom, like Jupyter's "Run All", in a separate Python
process with its own working directory; the verdicts of its visible-check cells
(:data:`autograder.visible.OUTCOMES`) come back as JSON.  Nothing here needs
the hidden suites or the network.  Passing every visible check is a good sign,
not a grade: the grader runs many more tests with random inputs.

In CI, :func:`verdicts_from_output` reads the same verdicts from what the check
cells printed inside the grading sandbox.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import AssignmentSpec, NotebookSpec

MARKS = {"passed": "\u2713", "not implemented": "\u2026", "failed": "\u2717", "error": "\u2717",
         "missing": "\u2717"}
_VERDICT = re.compile(r"^([\u2713\u2717\u2026]) ([A-Za-z_]\w*): (.*)$")
_STATUS_OF_MARK = {"\u2713": "passed", "\u2026": "not implemented", "\u2717": "failed"}


@dataclass(frozen=True)
class Verdict:
    name: str
    status: str  # "passed", "failed", "error", "not implemented", "missing"
    message: str


@dataclass
class NotebookCheck:
    stem: str
    path: Path | None
    verdicts: list[Verdict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # cell errors, a missing notebook, a timeout

    @property
    def passed(self) -> int:
        return sum(v.status == "passed" for v in self.verdicts)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.verdicts) and all(v.status == "passed" for v in self.verdicts)


def find_notebooks(path: Path, spec: AssignmentSpec) -> list[tuple[NotebookSpec, Path | None]]:
    """The notebook file of each of ``spec``'s notebooks under ``path`` (``exercises/`` or a notebook)."""
    from autograder.notebooks import locate

    if path.is_dir() and (path / spec.name).is_dir():
        path = path / spec.name
    return [(notebook, locate(path, notebook, others=spec)) for notebook in spec.notebooks]


def complete(check: NotebookCheck, spec: NotebookSpec) -> NotebookCheck:
    """Add a "missing" verdict for each function of ``spec`` whose visible check never reported."""
    seen = {verdict.name for verdict in check.verdicts}
    for function in spec.functions:
        if function not in seen:
            check.verdicts.append(Verdict(function, "missing",
                                          "its visible check did not run (was its check cell deleted, or did an "
                                          "earlier cell fail?)"))
    return check


# ------------------------------------------------------------------------------------------ local runs


def run_notebook(path: Path, *, stem: str, timeout: float = 600.0, root: Path | None = None) -> NotebookCheck:
    """Run one notebook's code cells in a fresh Python process and collect its visible verdicts.

    The file is read here, safely (see :mod:`autograder.submission_files`; ``root`` defaults to its
    folder), and the child runs a copy of what was read.
    """
    from autograder.submission_files import FileRefused, read_json

    check = NotebookCheck(stem=stem, path=path)
    try:
        document = read_json(path, root=path.parent if root is None else root)
    except FileRefused as refused:
        check.problems.append(refused.describe())
        return check
    package_root = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory(prefix=f"autograder-check-{stem}-") as scratch:
        result_file = Path(scratch) / "outcomes.json"
        work = Path(scratch) / "work"
        work.mkdir()
        copy = Path(scratch) / path.name
        copy.write_text(document.text, encoding="utf-8")
        env = {**os.environ, "MPLBACKEND": "Agg",
               "PYTHONPATH": os.pathsep.join([package_root, *filter(None, [os.environ.get("PYTHONPATH")])])}
        try:
            done = subprocess.run([sys.executable, "-m", "autograder.check", str(copy), str(result_file)],
                                  cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            check.problems.append(f"{path.name} did not finish within {timeout:g} s (an endless loop?)")
            return check
        try:
            data = json.loads(result_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            check.problems.append(f"{path.name} stopped before its checks finished (exit status {done.returncode})"
                                  + (": " + " | ".join(tail) if tail else ""))
            return check
    check.verdicts = [Verdict(o["name"], o["status"], o["message"]) for o in data["outcomes"]]
    check.problems += data["problems"]
    return check


def _run_cells_here(notebook_path: str, result_file: str) -> None:
    """The child side of :func:`run_notebook`: execute every code cell, keep going after errors."""
    import nbformat

    from autograder import visible
    from autograder.sandbox import cells

    problems = []
    try:
        notebook = nbformat.read(notebook_path, as_version=4)
    except Exception as error:  # noqa: BLE001 - a broken file is reported, not raised
        problems.append(f"{Path(notebook_path).name} cannot be read as a notebook ({type(error).__name__}): "
                        "open it in Jupyter and save it again")
        notebook = nbformat.v4.new_notebook()
    namespace: dict = {"__name__": "__main__"}
    code_cells = [cell for cell in notebook.cells if cell.get("cell_type") == "code"]
    for index, cell in enumerate(code_cells, start=1):
        source = "".join(cell.get("source", ""))
        try:
            cells.execute(source, namespace, name=f"<cell {index}>")  # as the grading sandbox runs it
        except KeyboardInterrupt:
            raise
        except visible.VisibleCheckError:
            pass  # its verdict is recorded; a failing check cell is not a broken cell
        except BaseException as error:  # noqa: BLE001 - like Jupyter's Run All: report and go on
            problems.append(f"code cell {index} raised {type(error).__name__}: {error}")
    outcomes = [{"name": o.name, "status": o.status, "message": o.message} for o in visible.OUTCOMES]
    Path(result_file).write_text(json.dumps({"outcomes": outcomes, "problems": problems}), encoding="utf-8")


def check_notebooks(path: Path, spec: AssignmentSpec, *, timeout: float = 600.0, jobs: int = 1) -> list[NotebookCheck]:
    """Run the visible checks of every notebook of ``spec`` under ``path``, ``jobs`` notebooks at a time."""
    from concurrent.futures import ThreadPoolExecutor

    root = path if path.is_dir() else path.parent

    def one(item: tuple[NotebookSpec, Path | None]) -> NotebookCheck:
        notebook, found = item
        if found is None:
            return NotebookCheck(stem=notebook.stem, path=None,
                                 problems=[f"{notebook.filename} was not found under {path}"])
        return complete(run_notebook(found, stem=notebook.stem, timeout=timeout, root=root), notebook)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, find_notebooks(path, spec)))


def format_report(checks: list[NotebookCheck]) -> str:
    """One line per function's visible checks, then a summary that counts functions, as the lines do."""
    lines = []
    for check in checks:
        lines.append(f"{check.path.name if check.path else check.stem + '.ipynb'}")
        for problem in check.problems:
            lines.append(f"  ! {problem}")
        for verdict in check.verdicts:
            lines.append(f"  {MARKS.get(verdict.status, '?')} {verdict.name}: {verdict.message}")
    verdicts = [v for c in checks for v in c.verdicts]
    passed = sum(v.status == "passed" for v in verdicts)
    todo = sum(v.status == "not implemented" for v in verdicts)
    failing = len(verdicts) - passed - todo
    lines.append("")
    lines.append(f"{passed} of {len(verdicts)} functions pass their visible checks; "
                 f"{todo} not implemented yet, {failing} failing.")
    if all(c.ok for c in checks):
        lines.append("All visible checks pass. The grader runs many more tests with random inputs; "
                     "submit when you are ready.")
    else:
        lines.append("Fix the items marked \u2717 or \u2026 above, then run `autograder check` again.")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ CI side


def verdicts_from_output(cell_ids: tuple[str, ...], outputs: list[str]) -> list[Verdict]:
    """The visible verdicts printed by ``check_<fn>`` cells, read from their captured output.

    Printed text is the student's to shape, so these verdicts are advisory: they never
    count towards a score.
    """
    verdicts = []
    for cell_id, output in zip(cell_ids, outputs):
        if not cell_id.startswith("check_"):
            continue
        function = cell_id[len("check_"):]
        found = None
        for line in output.splitlines():
            match = _VERDICT.match(line.strip())
            if match and match.group(2) == function:
                found = Verdict(function, _STATUS_OF_MARK[match.group(1)], match.group(3))
        if found is not None:
            verdicts.append(found)
    return verdicts


if __name__ == "__main__":  # the child process of run_notebook
    _run_cells_here(sys.argv[1], sys.argv[2])
