"""The curriculum: which notebooks an assignment has, their points and the functions students write.

Each assignment's outline is data, ``autograder/course/<assignment>.json``, read here into
:class:`AssignmentSpec`; ``autograder new`` adds a notebook to it.  The hidden suites hold
the individual checks; student-side tools (visible checks, ``autograder env``) and the
grader share this outline, and ``autograder validate`` checks that the two agree.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.course.returns import Returns, ReturnsSyntaxError, parse_returns
from autograder.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTLINES = Path(__file__).resolve().parent
# A book section as the feedback links it: "A.9.3", or a range "A.3-A.4".
_SECTION = re.compile(r"^[A-Z]\.\d+(\.\d+)*(-[A-Z]\.\d+(\.\d+)*)?$")


class OutlineError(UsageError):
    """An assignment outline is malformed; the message names the field, where it came from, and the fix."""


def check_book_section(section: str, *, where: str) -> str:
    """``section`` if it reads like "A.9.3" or "A.3-A.4"; :class:`OutlineError` otherwise."""
    if not isinstance(section, str) or not _SECTION.match(section):
        raise OutlineError(f"{where}: book section {section!r} should look like A.9.3, or a range like A.3-A.4 "
                           "(reports and feedback read the chapter numbers from it)")
    return section


@dataclass(frozen=True)
class NotebookSpec:
    stem: str
    title: str
    points: int
    extra_credit: int
    functions: tuple[str, ...]
    book_section: str
    # What each function returns, as the notebook states it (see autograder/course/returns.py); a function
    # without a declaration is held to no return type.
    returns: dict[str, Returns] = field(default_factory=dict, compare=False)  # a dict: kept out of the hash

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


def load_outline(path: Path) -> AssignmentSpec:
    """The assignment outlined in ``path``, validated field by field (errors name the file and the field)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        notebooks = data["notebooks"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise OutlineError(f"{path}: not a readable assignment outline ({error})") from None
    specs, seen = [], {}
    for index, raw in enumerate(notebooks):
        where = f"{path.name}: notebooks[{index}]"
        try:
            spec = NotebookSpec(stem=str(raw["stem"]), title=str(raw["title"]), points=raw["points"],
                                extra_credit=raw.get("extra_credit", 0), functions=tuple(raw["functions"]),
                                book_section=check_book_section(raw["book_section"], where=where))
        except (KeyError, TypeError) as error:
            raise OutlineError(f"{where}: missing or malformed field {error}") from None
        spec = NotebookSpec(**{**spec.__dict__, "returns": _returns(raw.get("returns", {}), spec, where)})
        for field in ("points", "extra_credit"):
            value = getattr(spec, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise OutlineError(f"{where} ({spec.stem}): {field} must be a whole number >= 0, got {value!r}")
        for function in spec.functions:
            if not isinstance(function, str) or not function.isidentifier():
                raise OutlineError(f"{where} ({spec.stem}): {function!r} is not a Python name")
            if function in seen:  # feedback and reading lists are keyed by the function's name
                raise OutlineError(f"{where} ({spec.stem}): function {function!r} is also in {seen[function]}; "
                                   "function names must be unique across the assignment")
            seen[function] = spec.stem
        specs.append(spec)
    return AssignmentSpec(name=str(data.get("name", path.stem)), notebooks=tuple(specs))


def _returns(raw: object, spec: NotebookSpec, where: str) -> dict[str, Returns]:
    """The ``returns`` field: a declaration for some of the notebook's functions."""
    if not isinstance(raw, dict):
        raise OutlineError(f"{where} ({spec.stem}): returns must map function names to declarations, "
                           f"like {{\"gram\": \"tensor\"}}")
    declared = {}
    for function, text in raw.items():
        if function not in spec.functions:
            raise OutlineError(f"{where} ({spec.stem}): returns names {function!r}, which is not in its functions "
                               f"({', '.join(spec.functions)})")
        try:
            declared[function] = parse_returns(text)
        except ReturnsSyntaxError as error:
            raise OutlineError(f"{where} ({spec.stem}): returns[{function!r}]: {error}") from None
    return declared


def add_notebook(name: str, spec: NotebookSpec, *, repo: Path = REPO_ROOT) -> Path:
    """Append ``spec`` to the outline of assignment ``name`` in ``repo``; return the outline's path."""
    path = repo / "autograder" / "course" / f"{name}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    entry = asdict(spec)
    entry["functions"] = list(spec.functions)
    entry["returns"] = {function: str(declared) for function, declared in spec.returns.items()}
    data["notebooks"].append(entry)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    load_outline(path)  # refuse to leave an outline this module cannot read
    return path


_LOADED: dict[str, AssignmentSpec] = {}


def assignment(name: str) -> AssignmentSpec:
    """The assignment ``name``, read from its outline once (a malformed outline raises :class:`OutlineError`)."""
    if name not in _LOADED:
        path = OUTLINES / f"{name}.json"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in OUTLINES.glob("*.json")))
            raise KeyError(f"unknown assignment {name!r}; known: {known}")
        _LOADED[name] = load_outline(path)
    return _LOADED[name]


def __getattr__(name: str):  # APPENDIX_A is read when first used, so a broken outline is reported, not a crash
    if name == "APPENDIX_A":
        return assignment("appendix_a")
    if name == "ASSIGNMENTS":
        return {path.stem: assignment(path.stem) for path in sorted(OUTLINES.glob("*.json"))}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
