"""Generate ``exercises/`` and ``solutions/`` from the instructor notebooks in ``source/``.

``exercises/`` is exactly what ``nbgrader generate_assignment`` releases (it is
run for real, in a scratch copy of the course).  ``solutions/`` is the released
notebook with each solution cell filled in from the source, without the
``### BEGIN/END SOLUTION`` markers: a complete submission in the students' format.

    python -m autograder.course.build            # regenerate
    python -m autograder.course.build --check    # exit 1 if the committed copies are stale
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.course import REPO_ROOT
from autograder.files import write_atomically

_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


class BuildError(Exception):
    """Generation failed; the message carries nbgrader's own complaint."""


def generate(*, repo: Path, assignment: str) -> dict[str, bytes]:
    """Return {relative path: content} for every generated exercise and solution notebook."""
    source_dir = repo / "source" / assignment
    if not source_dir.is_dir():
        raise BuildError(f"no instructor notebooks at {source_dir}")
    with tempfile.TemporaryDirectory() as scratch:
        course = Path(scratch)
        shutil.copytree(source_dir, course / "source" / assignment)
        shutil.copy(repo / "nbgrader_config.py", course / "nbgrader_config.py")
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"],
                              cwd=course, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BuildError(f"nbgrader generate_assignment failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        released = course / "release" / assignment  # nbgrader_config.py's release_directory
        outputs: dict[str, bytes] = {}
        for path in sorted(released.glob("*.ipynb")):
            outputs[f"exercises/{assignment}/{path.name}"] = path.read_bytes()
            solution = _fill_solutions(path, source_dir / path.name)
            outputs[f"solutions/{assignment}/{path.name}"] = nbformat.writes(solution).encode() + b"\n"
    return outputs


def _fill_solutions(released: Path, source: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(released, as_version=4)
    sources = {
        cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source
        for cell in nbformat.read(source, as_version=4).cells
    }
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            original = sources[meta["grade_id"]]
            cell.source = "\n".join(line for line in original.splitlines()
                                    if line.strip() not in _MARKERS)
    return notebook


def stale_files(*, repo: Path, assignment: str) -> list[str]:
    """Committed generated files that differ from a fresh generation (or are missing or extra)."""
    fresh = generate(repo=repo, assignment=assignment)
    stale = [rel for rel, content in fresh.items()
             if not (repo / rel).is_file() or (repo / rel).read_bytes() != content]
    for folder in ("exercises", "solutions"):
        for path in sorted((repo / folder / assignment).glob("*.ipynb")):
            rel = str(path.relative_to(repo))
            if rel not in fresh:
                stale.append(rel)
    return stale


def write(*, repo: Path, assignment: str) -> list[str]:
    """Bring the generated notebooks up to date; return the files written or removed.

    Only files whose content changes are touched, so an up-to-date checkout stays
    byte-for-byte (and readers of ``exercises/`` never see a half-written folder).
    """
    fresh = generate(repo=repo, assignment=assignment)
    changed = []
    for folder in ("exercises", "solutions"):
        for path in sorted((repo / folder / assignment).glob("*.ipynb")):
            rel = str(path.relative_to(repo))
            if rel not in fresh:
                path.unlink()
                changed.append(rel)
    for rel, content in fresh.items():
        target = repo / rel
        if target.is_file() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, content)
        changed.append(rel)
    return sorted(changed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.course.build", description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="appendix_a")
    parser.add_argument("--check", action="store_true", help="only report stale files; exit 1 if any")
    parser.add_argument("--quiet", action="store_true", help="print nothing but stale files and errors")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(repo=REPO_ROOT, assignment=args.assignment)
        for rel in stale:
            print(f"stale: {rel}")
        if not stale and not args.quiet:
            print(f"exercises/{args.assignment} and solutions/{args.assignment} are up to date")
        return 1 if stale else 0
    changed = write(repo=REPO_ROOT, assignment=args.assignment)
    if not args.quiet:
        for rel in changed:
            print(f"wrote {rel}")
        if not changed:
            print(f"exercises/{args.assignment} and solutions/{args.assignment} were already up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
