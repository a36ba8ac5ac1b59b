"""Reviewed equivalent mutants: mutants that behave exactly like the reference, so no check can catch them.

They live in ``autograder/mutation/equivalent/<notebook>.toml``, one table per mutant id::

    [mutants."version_at_least:core/ReplaceComparisonOperator_GtE_Gt:0"]
    function = "version_at_least"
    operator = "core/ReplaceComparisonOperator_GtE_Gt"
    occurrence = 0
    position = "11:28"        # line:column in the cell, both from 1
    reason = "one line: why no input can tell it from the reference"

An entry counts only while its mutant still exists where the entry says (same id, function and
position): when the cell changes, the entry is reported as stale and the mutant is graded again.
``autograder release`` copies the package into the student repository, so a reason says why in
words and never quotes the solution.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import UsageError
from autograder.mutation.mutants import Mutant

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

EQUIVALENT_DIR = Path(__file__).resolve().parent / "equivalent"
_FIELDS = {"function": str, "operator": str, "occurrence": int, "position": str, "reason": str}


@dataclass(frozen=True)
class EquivalentEntry:
    id: str
    function: str
    operator: str
    occurrence: int
    position: str
    reason: str

    def matches(self, mutant: Mutant) -> bool:
        return (mutant.id, mutant.function, mutant.operator, mutant.occurrence, mutant.position) == (
            self.id, self.function, self.operator, self.occurrence, self.position)


@dataclass(frozen=True)
class EquivalentMatch:
    """Which mutants of a notebook are reviewed equivalents, and the entries that no longer match one."""

    reasons: tuple[tuple[str, str], ...]   # (mutant id, reason)
    stale: tuple[str, ...]                 # messages, one per entry without its mutant

    def reason(self, mutant_id: str) -> str | None:
        return dict(self.reasons).get(mutant_id)


def equivalent_file(stem: str, *, directory: Path = EQUIVALENT_DIR) -> Path:
    return directory / f"{stem}.toml"


def load_equivalents(stem: str, *, directory: Path = EQUIVALENT_DIR) -> tuple[EquivalentEntry, ...]:
    """The reviewed entries of notebook ``stem`` (none when it has no file)."""
    path = equivalent_file(stem, directory=directory)
    if not path.is_file():
        return ()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"{path}: not a readable TOML file ({error}); fix or remove it") from None
    tables = data.get("mutants", {})
    extra = sorted(set(data) - {"mutants"})
    if extra or not isinstance(tables, dict):
        raise UsageError(f"{path}: expected only [mutants.\"<id>\"] tables, found {', '.join(extra) or 'mutants'}")
    return tuple(_entry(path, mutant_id, table) for mutant_id, table in tables.items())


def match_equivalents(entries: tuple[EquivalentEntry, ...], mutants: list[Mutant], *, path: Path) -> EquivalentMatch:
    """Pair ``entries`` with ``mutants`` (all the mutants of the notebook, before any sampling)."""
    by_id = {mutant.id: mutant for mutant in mutants}
    reasons, stale = [], []
    for entry in entries:
        mutant = by_id.get(entry.id)
        if mutant is not None and entry.matches(mutant):
            reasons.append((entry.id, entry.reason))
        else:
            where = "" if mutant is None else f" (it is now at {mutant.position}, function {mutant.function})"
            stale.append(f"{path.name}: {entry.id} no longer matches a mutant of the reference{where}: the cell "
                         "changed; review the mutant again, then update or remove the entry")
    return EquivalentMatch(reasons=tuple(reasons), stale=tuple(stale))


def _entry(path: Path, mutant_id: str, table: object) -> EquivalentEntry:
    fix = (f"each entry needs {', '.join(_FIELDS)} (see docs/instructor-guide.md, "
           "\"How strong are my hidden suites?\")")
    if not isinstance(table, dict):
        raise UsageError(f"{path}: {mutant_id} is not a table; {fix}")
    missing = [name for name in _FIELDS if name not in table]
    wrong = [name for name, kind in _FIELDS.items()
             if name in table and (not isinstance(table[name], kind) or isinstance(table[name], bool))]
    unknown = sorted(set(table) - set(_FIELDS))
    if missing or wrong or unknown:
        problems = [f"missing {', '.join(missing)}" if missing else "",
                    f"wrong type for {', '.join(wrong)}" if wrong else "",
                    f"unknown {', '.join(unknown)}" if unknown else ""]
        raise UsageError(f"{path}: {mutant_id}: {'; '.join(p for p in problems if p)}; {fix}")
    entry = EquivalentEntry(id=mutant_id, **{name: table[name] for name in _FIELDS})
    parts = mutant_id.rsplit(":", 2)
    if len(parts) != 3 or parts[1] != entry.operator or parts[2] != str(entry.occurrence):
        raise UsageError(f"{path}: {mutant_id}: the id must be <grade_id>:<operator>:<occurrence>, with the "
                         f"entry's operator ({entry.operator}) and occurrence ({entry.occurrence}); copy the id "
                         "from the report of `autograder mutate`")
    if not entry.reason.strip() or "\n" in entry.reason.strip():
        raise UsageError(f"{path}: {mutant_id}: reason must be one line saying why the mutant behaves like the "
                         "reference")
    return entry
