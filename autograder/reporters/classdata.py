"""Read a graded class back from its results directory (``autograder grade CLASS --out OUTDIR``).

The per-student ``<student>.json`` files (Gradescope format) are the only input,
so reports, exports and feedback work on results graded elsewhere or merged
from shards, without the submissions or the hidden suites.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from autograder.course import AssignmentSpec

NOT_AVAILABLE_PREFIX = "Not available: "
GRADING_FAILED = "grading failed"


@dataclass(frozen=True)
class CheckRecord:
    notebook: str
    name: str  # the check's own name, without the notebook prefix
    function: str  # the student function it is about ("" when unknown)
    description: str
    message: str  # why it failed ("" when it passed)
    score: float
    max_score: float
    status: str  # "passed", "failed" or "not available"
    extra_credit: bool

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class Problem:
    notebook: str
    kind: str  # "crash", "limit", "restart" or "problem"
    text: str


@dataclass(frozen=True)
class StudentRecord:
    student: str
    checks: tuple[CheckRecord, ...]
    notebook_points: dict[str, float]
    notebook_max: dict[str, float]
    extra_credit: float
    max_points: float
    problems: tuple[Problem, ...]
    seed: int | None

    @property
    def total(self) -> float:
        """Points including extra credit."""
        return sum(self.notebook_points.values()) + self.extra_credit

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max_points if self.max_points else 0.0

    @property
    def status(self) -> str:
        if any(GRADING_FAILED in p.text for p in self.problems):
            return "grading failed"
        kinds = [kind for kind in ("crash", "limit")
                 if any(p.kind == kind for p in self.problems)]
        if kinds:
            return " and ".join(dict(crash="crashed", limit="hit a limit")[k] for k in kinds)
        if self.problems:
            return "graded with problems"
        return "graded"


def classify(text: str) -> str:
    lowered = text.lower()
    if "was run again" in lowered:
        return "restart"
    if "limit" in lowered or "did not finish within" in lowered:
        return "limit"
    if any(word in lowered for word in ("exited with status", "crash", "killed", "signal")):
        return "crash"
    return "problem"


def function_of(check_name: str, message: str, functions: tuple[str, ...]) -> str:
    """The student function a check is about: the longest ``test_<function>`` prefix, else a `name` in the text."""
    matches = [f for f in functions if check_name == f"test_{f}" or check_name.startswith(f"test_{f}_")]
    if matches:
        return max(matches, key=len)
    for name in re.findall(r"`([A-Za-z_]\w*)`", message):
        if name in functions:
            return name
    return ""


def record_from_gradescope(student: str, data: dict, *, assignment: AssignmentSpec | None = None) -> StudentRecord:
    checks, problems = [], []
    points: dict[str, float] = {}
    maxima: dict[str, float] = {}
    extra = 0.0
    for test in data.get("tests", []):
        tags = list(test.get("tags") or [""])
        stem = str(tags[0])
        full_name = str(test.get("name", ""))
        name = full_name.split(": ", 1)[1] if full_name.startswith(f"{stem}: ") else full_name
        output = str(test.get("output", ""))
        points.setdefault(stem, 0.0)
        maxima.setdefault(stem, 0.0)
        if name == "notebook run" and not test.get("max_score"):
            problems += [Problem(stem, classify(line), line) for line in output.splitlines() if line.strip()]
            continue
        description, _, message = output.partition("\n")
        extra_credit = "extra-credit" in tags
        status = "passed" if test.get("status") == "passed" else "failed"
        if message.startswith(NOT_AVAILABLE_PREFIX):
            status, message = "not available", message[len(NOT_AVAILABLE_PREFIX):]
        score = float(test.get("score") or 0)
        max_score = float(test.get("max_score") or 0)
        functions = ()
        if assignment is not None and stem in {nb.stem for nb in assignment.notebooks}:
            functions = assignment.notebook(stem).functions
        if extra_credit:
            extra += score
            # results.json gives extra credit a max_score of 0; a passed check shows its worth
            max_score = score if status == "passed" else max_score
        else:
            points[stem] += score
            maxima[stem] += max_score
        checks.append(CheckRecord(notebook=stem, name=name, function=function_of(name, message, functions),
                                  description=description, message=message if status != "passed" else "",
                                  score=score, max_score=max_score, status=status, extra_credit=extra_credit))
    if assignment is not None:  # a notebook without checks (a failed grading) is still worth its points
        for spec in assignment.notebooks:
            if spec.stem in maxima and not maxima[spec.stem]:
                maxima[spec.stem] = float(spec.points)
    extra_data = data.get("extra_data") or {}
    max_points = float(extra_data.get("max_score") or sum(maxima.values()))
    seed = extra_data.get("seed")
    return StudentRecord(student=student, checks=tuple(checks), notebook_points=points, notebook_max=maxima,
                         extra_credit=extra, max_points=max_points, problems=tuple(problems),
                         seed=int(seed) if isinstance(seed, int) else None)


def load_results(out_dir: Path, *, assignment: AssignmentSpec | None = None) -> list[StudentRecord]:
    """Every ``<student>.json`` results file in ``out_dir``, sorted by student; other files are ignored."""
    if not out_dir.is_dir():
        raise ValueError(f"{out_dir} is not a directory: give the --out directory of a graded class")
    records = []
    for path in sorted(out_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("tests"), list):
            records.append(record_from_gradescope(path.stem, data, assignment=assignment))
    if not records:
        raise ValueError(f"{out_dir} holds no results: grade a class with `autograder grade CLASS --out {out_dir}`")
    return records


def notebook_stems(records: list[StudentRecord], assignment: AssignmentSpec | None = None) -> list[str]:
    """The notebooks present in the results, in the assignment's order."""
    seen = {stem for record in records for stem in record.notebook_points}
    ordered = [nb.stem for nb in assignment.notebooks if nb.stem in seen] if assignment else []
    return ordered + sorted(seen - set(ordered))


@dataclass(frozen=True)
class CheckStats:
    notebook: str
    name: str
    function: str
    description: str
    max_score: float
    passed: int
    graded: int  # students for whom the check ran and was not "not available"
    extra_credit: bool

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


def check_stats(records: list[StudentRecord]) -> list[CheckStats]:
    """Pass counts per check, hardest first (lowest pass rate, then most points)."""
    table: dict[tuple[str, str], dict] = {}
    for record in records:
        for check in record.checks:
            entry = table.setdefault((check.notebook, check.name), {
                "function": check.function, "description": check.description, "max": 0.0, "passed": 0,
                "graded": 0, "extra": check.extra_credit})
            entry["max"] = max(entry["max"], check.max_score)
            if check.status != "not available":
                entry["graded"] += 1
                entry["passed"] += check.passed
    stats = [CheckStats(notebook=nb, name=name, function=e["function"], description=e["description"],
                        max_score=e["max"], passed=e["passed"], graded=e["graded"], extra_credit=e["extra"])
             for (nb, name), e in table.items()]
    return sorted(stats, key=lambda s: (s.graded == 0, s.rate, -s.max_score, s.notebook, s.name))


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "median": 0.0, "min": 0.0, "max": 0.0}
    return {"mean": statistics.fmean(values), "median": statistics.median(values),
            "min": min(values), "max": max(values)}


