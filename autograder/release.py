"""``autograder release OUTDIR``: write the student repository of an assignment.

The release holds what students need and nothing they must not see:

* ``exercises/<assignment>/``: the student notebooks (stubs and visible checks);
* ``autograder/``: this package without ``autograder/hidden``, so that ``autograder env`` and
  ``autograder check`` work offline, and the course repository's workflow can grade with it;
* ``pyproject.toml``, ``README.md`` (for students), ``docs/api.md``, ``.gitignore``;
* ``.github/workflows/grade-pr.yml``: grades pull requests (see ``docs/ci.md``).

No hidden suite, reference value, solution or instructor notebook is copied; the release
refuses to finish if a notebook it would write still holds a solution or hidden-test region.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from autograder.course import REPO_ROOT, AssignmentSpec

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates" / "student"
# Never copied: the hidden suites, caches, and anything that is not the package's own code.
_SKIP_DIRS = {"hidden", "equivalent", "__pycache__", ".ipynb_checkpoints"}  # equivalent: names solution details
_SKIP_SUFFIXES = {".pyc", ".pyo"}
_FORBIDDEN_IN_NOTEBOOKS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


class ReleaseError(Exception):
    """The release cannot be written safely; nothing is left half-written in a fresh OUTDIR."""


def release(outdir: Path, *, spec: AssignmentSpec, exercises: Path | None = None, force: bool = False) -> list[Path]:
    """Write the student repository of ``spec`` into ``outdir``; return the files written."""
    exercises = exercises or REPO_ROOT / "exercises" / spec.name
    notebooks = [exercises / notebook.filename for notebook in spec.notebooks]
    missing = [path.name for path in notebooks if not path.is_file()]
    if missing:
        raise ReleaseError(f"{exercises} lacks {', '.join(missing)}: run `autograder build` first")
    for path in notebooks:
        text = path.read_text(encoding="utf-8")
        if any(marker in text for marker in _FORBIDDEN_IN_NOTEBOOKS):
            raise ReleaseError(f"{path} still holds a solution or hidden-test region: it is not a student "
                               "notebook; regenerate exercises/ with `autograder build`")
    if outdir.exists() and any(outdir.iterdir()) and not force:
        raise ReleaseError(f"{outdir} is not empty: give an empty or new directory (or --force to overwrite)")
    outdir.mkdir(parents=True, exist_ok=True)

    written = []
    for path in notebooks:
        written.append(_copy(path, outdir / "exercises" / spec.name / path.name))
    for path in sorted(PACKAGE.rglob("*")):
        relative = path.relative_to(PACKAGE)
        if path.is_dir() or path.is_symlink() or _SKIP_DIRS & set(relative.parts) or path.suffix in _SKIP_SUFFIXES:
            continue
        written.append(_copy(path, outdir / "autograder" / relative))
    api = REPO_ROOT / "docs" / "api.md"
    if api.is_file():
        written.append(_copy(api, outdir / "docs" / "api.md"))
    written.append(_write(outdir / "pyproject.toml", _fill(TEMPLATES / "pyproject.toml", spec)))
    written.append(_write(outdir / "README.md", _fill(TEMPLATES / "README.md", spec)))
    written.append(_copy(TEMPLATES / "gitignore", outdir / ".gitignore"))
    written.append(_copy(TEMPLATES / "workflows" / "grade-pr.yml", outdir / ".github" / "workflows" / "grade-pr.yml"))
    return written


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _write(target: Path, text: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def _packaging() -> dict:
    """What the student repository's ``pyproject.toml`` takes over from this project's: the runtime
    dependencies and the package data (both defined once, in the project's own ``pyproject.toml``)."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if not pyproject.is_file():
        raise ReleaseError(f"{pyproject} is missing: run `autograder release` from a checkout of the course "
                           "repository, not from an installed copy of the grader")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    try:
        return {"dependencies": list(project["project"]["dependencies"]),
                "package_data": list(project["tool"]["setuptools"]["package-data"]["autograder"])}
    except (KeyError, TypeError) as error:
        raise ReleaseError(f"{pyproject} has no {error} entry: it needs [project] dependencies and "
                           "[tool.setuptools.package-data] autograder = [...]") from None


def _fill(template: Path, spec: AssignmentSpec) -> str:
    from autograder import __version__

    packaging = _packaging()
    rows = "\n".join(f"| `{nb.stem}` | {nb.title} ({nb.book_section}) | {nb.points}"
                     + (f" + {nb.extra_credit} extra credit" if nb.extra_credit else "") + " |"
                     for nb in spec.notebooks)
    values = {
        "title": f"PyTorch exercises: {spec.name.replace('_', ' ').title()}",
        "assignment": spec.name,
        "version": __version__,
        "notebooks": rows,
        "dependencies": "\n".join(f"    {json.dumps(dependency)}," for dependency in packaging["dependencies"]),
        "package_data": ", ".join(json.dumps(pattern) for pattern in packaging["package_data"]),
    }
    text = template.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text
