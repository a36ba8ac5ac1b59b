"""nbgrader preprocessors that let the hidden suites decide every score.

``nbgrader autograde`` runs two chains of preprocessors on each notebook (see
``nbgrader_config.py``):

sanitize:  ClearOutput, DeduplicateIds, OverwriteKernelspec, **RestoreGradeCells**, CheckCellMetadata
autograde: **GradeWithSuites** (instead of Execute), IgnorePattern, ClearMetadataPreprocessor,
           LimitOutput, SaveAutoGrades, **RecordGraderResults**, AssignLatePenalties, CheckCellMetadata

``GradeWithSuites`` never starts a Jupyter kernel. It grades the sanitized notebook with the
engine (student code in the sandboxed child, hidden suites in this process) and rewrites
every grade cell's outputs so that the only thing nbgrader's ``determine_grade`` reads is
one ``execute_result`` holding the verified points. ``generate_feedback`` uses
``FeedbackGrades`` so extra credit is shown beside the score, not inside it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import nbformat
from nbformat.notebooknode import NotebookNode
from traitlets import Bool, Enum, Integer, List, Unicode

from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor, OverwriteCells

from autograder.course import default_suites_dir, secret_paths
from autograder.files import write_atomically
from autograder.grading import schema
from autograder.grading.results import CheckResult, NotebookResult, Status, SubmissionResult
from autograder.nbgrader.engine import SandboxSettings, grade_notebook
from autograder.output_encoding import markdown_text
from autograder.reporters.by_function import FunctionChecks, by_function, markdown_lines
from autograder.sandbox.isolation import STRICT_PROTECTIONS, IsolationPlan
from autograder.sandbox.limits import Limits

#: key of the notebook metadata that marks a submission nbgrader could not read (see exporter.py)
UNREADABLE = "autograder_unreadable"
#: key in nbgrader's ``resources`` where GradeWithSuites leaves its summary for RecordGraderResults
RESOURCE_KEY = "autograder"
GRADE_PREFIX = "check_"
MARK = {Status.PASSED: "passed", Status.FAILED: "FAILED", Status.NOT_AVAILABLE: "not available",
        Status.GRADER_ERROR: "not counted: grader error"}


def function_of(grade_id: str) -> str:
    """The student function a grade cell ``check_<fn>`` is about."""
    return grade_id[len(GRADE_PREFIX):] if grade_id.startswith(GRADE_PREFIX) else grade_id


def _number(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------- sanitize


class RestoreGradeCells(OverwriteCells):
    """OverwriteCells that always puts the instructor's grade cells back.

    - A cell whose ``grade_id`` the gradebook does not know (a renamed test cell, a made-up
      grade cell) loses its nbgrader metadata and becomes an ordinary student cell.
    - Every grade cell missing from the submission (deleted, renamed) is inserted again
      after the nearest earlier instructor cell that is present, or at the top.
    Locked cells get the instructor's source back and edited points are reset by
    OverwriteCells itself.
    """

    add_missing_cells = Bool(True, help="Put missing grade cells back (always on here).").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int):
        if "nbgrader" not in cell.metadata:
            return cell, resources
        grade_id = cell.metadata.nbgrader.get("grade_id")
        known = grade_id is not None
        if known:
            try:
                self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id)
            except MissingEntry:
                known = False
        if not known:
            # nbgrader would only drop the id, and its add_missing_*_cells then fail on the cell
            if utils.is_grade(cell) or utils.is_solution(cell) or utils.is_task(cell):
                self.log.warning("Cell %r is not an instructor cell; treating it as student code", grade_id)
            del cell.metadata["nbgrader"]
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)

    def add_missing_grade_cells(self, nb: NotebookNode, resources: dict):
        source = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [cell.name for cell in source.source_cells]
        source_cells = {cell.name: cell for cell in source.source_cells}
        solution_ids = {cell.name for cell in source.solution_cells}
        grade_cells = sorted(source.grade_cells, key=lambda c: order.index(c.name) if c.name in order else len(order))
        for grade_cell in grade_cells:
            present = {cell.metadata["nbgrader"]["grade_id"]: index for index, cell in enumerate(nb.cells)
                       if "grade_id" in cell.metadata.get("nbgrader", {})}
            if grade_cell.name in present or grade_cell.name not in source_cells:
                continue
            self.log.warning("Grade cell %s is missing; putting the instructor's version back", grade_cell.name)
            position = 0
            for earlier in reversed(order[:order.index(grade_cell.name)]):
                if earlier in present:
                    position = present[earlier] + 1
                    break
            nb.cells.insert(position, self.missing_cell_transform(source_cells[grade_cell.name], grade_cell.max_score,
                                                                  is_solution=grade_cell.name in solution_ids))
        return nb, resources


# --------------------------------------------------------------------------- autograde


class GradeWithSuites(NbGraderPreprocessor):
    """Score every grade cell with the hidden suite; replaces nbgrader's Execute.

    Each grade cell ``check_<fn>`` ends with exactly two outputs: a stdout listing of the
    hidden checks about ``fn`` (passed or failed, points, the check's message) and one
    ``execute_result`` holding the points earned (0 <= points <= the cell's points). Other
    code cells get what the student's code printed in the sandbox and, for a cell that
    failed, the grader's one-line reason.
    """

    suites_dir = Unicode("", help="Directory of the hidden suites (default: autograder/hidden/<assignment>).").tag(
        config=True)
    limits = List(Unicode(), default_value=[], help="Sandbox limits as NAME=VALUE, e.g. ['cell=60', 'memory=1GiB'].").tag(
        config=True)
    isolation = Enum(["best-effort", "strict"], default_value="best-effort",
                     help="strict: refuse to grade without a separate user, private namespaces and hidden files "
                          "masked (needs root on Linux).").tag(config=True)
    sandbox_user = Unicode("nobody", help="Unprivileged user that runs student code when nbgrader runs as root.").tag(
        config=True)
    seed = Integer(None, allow_none=True, help="Seed of the hidden checks' random inputs (default: fresh).").tag(
        config=True)
    mask_paths = List(Unicode(), default_value=[],
                      help="More paths to hide from student code (the course's own folders are always hidden).").tag(
        config=True)
    show_cell_output = Bool(True, help="Show what each student cell printed in the sandbox.").tag(config=True)
    results_dir = Unicode("autograder-results",
                          help="Where each graded notebook's full result is kept (docs/results.md), as "
                               "<results_dir>/<assignment>/<student>/<notebook>.json; relative paths are taken "
                               "from the course directory. Empty: do not keep them.").tag(config=True)

    def _store(self, result: SubmissionResult, ids: dict) -> None:
        if not self.results_dir:
            return
        root = Path(self.results_dir)
        if not root.is_absolute():
            root = (_course_root(self) or Path.cwd()) / root
        write_atomically(root / ids["assignment"] / ids["student"] / f"{ids['notebook']}.json", schema.dumps(result))

    def preprocess(self, nb: NotebookNode, resources: dict):
        ids = resources["nbgrader"]
        graded = self.grade(nb, resources)
        self._store(graded, ids)
        for check in graded.grader_errors:
            self.log.warning("%s %s: the hidden check %s failed because of a fault in the suite (not counted "
                             "against the student); its traceback is in %s", ids["student"], ids["notebook"],
                             check.name, self.results_dir or "the results (set GradeWithSuites.results_dir)")
        result = graded.notebook(ids["notebook"])
        summary = apply_result(nb, result, show_cell_output=self.show_cell_output)
        resources[RESOURCE_KEY] = summary
        self.log.info("%s %s: %s/%s points from the hidden suite%s", ids["student"], ids["notebook"],
                      _number(result.points), _number(result.max_points),
                      f", {_number(result.extra_credit)} extra credit" if result.extra_credit else "")
        return nb, resources

    # ------------------------------------------------------------ grading

    def settings(self, resources: dict) -> SandboxSettings:
        limits = Limits().with_overrides(list(self.limits), source="GradeWithSuites.limits")
        suites = Path(self.suites_dir).resolve() if self.suites_dir else None
        db_url = str(resources["nbgrader"].get("db_url", ""))
        course = _course_root(self)
        extra = [Path(p) for p in self.mask_paths]
        if course is not None:
            extra += [course / name for name in ("source", "submitted", "autograded", "feedback", "solutions")]
        if db_url.startswith("sqlite:///"):
            extra.append(Path(db_url.removeprefix("sqlite:///")))
        suites_dir = suites or default_suites_dir(resources["nbgrader"]["assignment"])
        plan = IsolationPlan(user=self.sandbox_user,
                             mask_paths=secret_paths(suites_dir=suites_dir, extra=tuple(extra)))
        return SandboxSettings(limits=limits, plan=plan,
                               require=STRICT_PROTECTIONS if self.isolation == "strict" else ())

    def grade(self, nb: NotebookNode, resources: dict) -> SubmissionResult:
        """Grade ``nb`` (or, for an unreadable submission, the original bytes) with the hidden suite."""
        ids = resources["nbgrader"]
        unreadable = nb.metadata.get(UNREADABLE)
        content = None
        if unreadable:
            try:
                content = Path(unreadable["path"]).read_bytes()
            except (OSError, KeyError, TypeError):
                content = b""
        if content is None:
            content = nbformat.writes(nb).encode("utf-8")
        suites = Path(self.suites_dir) if self.suites_dir else None
        return grade_notebook(content=content, assignment_id=ids["assignment"], notebook_id=ids["notebook"],
                              student=ids["student"], suites_dir=suites, settings=self.settings(resources),
                              seed=self.seed)


def _course_root(preprocessor: Any) -> Path | None:
    """The course directory of the converter that runs ``preprocessor`` (exporter -> converter)."""
    owner = getattr(preprocessor, "parent", None)
    while owner is not None:
        coursedir = getattr(owner, "coursedir", None)
        if coursedir is not None:
            return Path(coursedir.root)
        owner = getattr(owner, "parent", None)
    return None


def apply_result(nb: NotebookNode, result: NotebookResult, *, show_cell_output: bool = True) -> dict:
    """Write ``result`` into the notebook's cells; return the summary RecordGraderResults stores.

    The summary holds, per grade cell, the points, the extra credit (for cells whose function
    has extra-credit checks) and a short comment per solution cell, plus the notebook's problems.
    """
    groups = by_function(result.checks)
    checks_of = {group.function: group.checks for group in groups}
    reports = {report.index: report for report in result.cells}
    summary: dict[str, Any] = {"points": {}, "extra_credit": {}, "comments": {}, "problems": list(result.problems),
                               "notebook_points": result.points, "notebook_max_points": result.max_points}
    code_index = -1
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        cell.outputs = []
        cell.execution_count = None
        if utils.is_grade(cell):
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            max_points = float(cell.metadata["nbgrader"].get("points", 0) or 0)
            checks = checks_of.get(function_of(grade_id), ())
            points, extra, listing = score_cell(grade_id, max_points, checks, result)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=listing),
                            nbformat.v4.new_output("execute_result", data={"text/plain": repr(points)},
                                                   execution_count=None)]
            summary["points"][grade_id] = points
            if any(check.extra_credit for check in checks):
                summary["extra_credit"][grade_id] = extra
            continue
        report = reports.get(code_index)
        if show_cell_output and report is not None:
            text = report.output
            if report.status != "ok" and report.message:
                text += ("" if not text or text.endswith("\n") else "\n") + f"[grader] {report.message}\n"
            if text:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    for group in groups:
        comment = function_comment(group, problems=result.problems)
        if comment:
            summary["comments"][group.function] = comment
    return summary


def function_comment(group: FunctionChecks[CheckResult], *, problems: tuple[str, ...] = ()) -> str:
    """The automatic comment of a function's solution cell, in Markdown (nbgrader renders it in feedback):
    "`gram` is not implemented yet.", or a sentence and a bullet per failed check; "" when nothing failed
    but what the notebook's ``problems`` explain."""
    lines = markdown_lines(group, shown=problems)
    return "\n".join(lines[:1] + [""] + [line.lstrip() for line in lines[1:]]).strip()


def problems_comment(problems: list[str]) -> str:
    """Notebook-level problems (invalid JSON, a time limit, a crash) as a Markdown comment."""
    return "\n".join(["Problems with this notebook:", ""] + [f"- {markdown_text(problem)}" for problem in problems])


def score_cell(grade_id: str, max_points: float, checks: Sequence[CheckResult],
               result: NotebookResult) -> tuple[float, float, str]:
    """The points of one grade cell (and its extra credit) from the checks of its function, and the
    plain-text listing of those checks that the cell shows."""
    regular = [check for check in checks if not check.extra_credit]
    extra_checks = [check for check in checks if check.extra_credit]
    # A grade cell's maximum is fixed in the gradebook, so checks with a grader error cannot leave it;
    # the cell is scored on the other checks instead, and a cell whose every check failed that way
    # gets its points: the student is not charged for the grader's fault.
    suite_max = sum(check.max_points for check in regular if check.counts)
    earned = sum(check.points for check in regular)
    if suite_max > 0:
        points = max_points * earned / suite_max
    else:
        points = max_points if any(not check.counts for check in regular) else 0.0
    points = min(max(0.0, round(points, 6)), max_points)
    if math.isnan(points):
        points = 0.0
    extra = float(sum(check.points for check in extra_checks))
    function = function_of(grade_id)
    lines = [f"Hidden checks for `{function}`: {_number(points)}/{_number(max_points)} points"
             + (f", extra credit {_number(extra)}/{_number(sum(c.max_points for c in extra_checks))}"
                if extra_checks else "")]
    group = FunctionChecks(function, tuple(checks))
    if group.not_implemented:  # one line, not the same sentence once per check
        lines.append(f"  {group.headline(code=lambda name: f'`{name}`')} ({len(group.counted)} checks)")
    for check in regular + extra_checks:
        if group.not_implemented and check.status in (Status.PASSED, Status.FAILED):
            continue  # said by the line above
        worth = f"{_number(check.points)}/{_number(check.max_points)}" + (" extra credit" if check.extra_credit else "")
        line = f"  [{MARK[check.status]}] {check.description or check.name} ({worth})"
        if check.status is not Status.PASSED and check.message and check.message not in result.problems:
            line += f"\n      {check.message}"
        lines.append(line)
    if not checks:
        lines.append("  no hidden check could run for this function")
    if result.problems and (not checks or any(check.status is Status.FAILED for check in checks)):
        lines.append("Problems with this notebook:")
        lines += [f"  - {problem}" for problem in result.problems]
    return points, extra, "\n".join(lines) + "\n"


class RecordGraderResults(NbGraderPreprocessor):
    """After SaveAutoGrades: store extra credit and the grader's comments in nbgrader's gradebook.

    Extra credit goes to ``Grade.extra_credit`` of the grade cell of the function whose
    extra-credit checks earned it. A short summary of failed checks becomes the automatic
    comment of that function's solution cell, and notebook-level problems (invalid JSON,
    a timeout, a crash) become the comment of the notebook's first solution cell.
    """

    def preprocess(self, nb: NotebookNode, resources: dict):
        summary = resources.get(RESOURCE_KEY)
        if summary is None:
            self.log.warning("RecordGraderResults found no hidden-suite result; is GradeWithSuites configured?")
            return nb, resources
        ids = resources["nbgrader"]
        record(summary, db_url=ids["db_url"], assignment_id=ids["assignment"], notebook_id=ids["notebook"],
               student_id=ids["student"])
        return nb, resources


def record(summary: dict, *, db_url: str, assignment_id: str, notebook_id: str, student_id: str) -> None:
    """Write ``summary`` (from :func:`apply_result`) into the gradebook for one submitted notebook."""
    with Gradebook(db_url) as gradebook:
        # the instructor's solution cells in notebook order, present in the submission or not
        source = gradebook.find_notebook(notebook_id, assignment_id)
        order = [cell.name for cell in source.source_cells]
        solution_ids = sorted((cell.name for cell in source.solution_cells),
                              key=lambda name: order.index(name) if name in order else len(order))
        for grade_id, extra in summary.get("extra_credit", {}).items():
            grade = gradebook.find_grade(grade_id, notebook_id, assignment_id, student_id)
            grade.extra_credit = float(extra)
        comments = dict(summary.get("comments", {}))
        problems = summary.get("problems", [])
        for index, solution_id in enumerate(solution_ids):
            parts = [problems_comment(problems)] if index == 0 and problems else []
            parts += [comments[solution_id]] if comments.get(solution_id) else []
            if not parts:
                continue
            try:
                comment = gradebook.find_comment(solution_id, notebook_id, assignment_id, student_id)
            except MissingEntry:
                continue
            # Ours replaces what SaveAutoGrades wrote: its "No response." (an unchanged solution cell) would
            # only say again, less exactly, what the grader says.
            comment.auto_comment = "\n\n".join(parts)
        gradebook.db.commit()


# --------------------------------------------------------------------------- feedback


class FeedbackGrades(GetGrades):
    """GetGrades that shows extra credit beside the score instead of inside it.

    nbgrader's ``Grade.score`` includes ``extra_credit``; feedback would show 25/15. Here
    each cell and the notebook show the score without extra credit, and a note at the top
    of the notebook states the extra credit earned.
    """

    def _get_score(self, cell: NotebookNode, resources: dict) -> None:
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        extra = float(grade.extra_credit or 0)
        cell.metadata.nbgrader["score"] = None if grade.score is None else grade.score - extra
        cell.metadata.nbgrader["points"] = grade.max_score
        cell.metadata.nbgrader["extra_credit"] = extra
        resources.setdefault(RESOURCE_KEY, {}).setdefault("extra_credit", 0.0)
        resources[RESOURCE_KEY]["extra_credit"] += extra

    def preprocess(self, nb: NotebookNode, resources: dict):
        resources.setdefault(RESOURCE_KEY, {})["extra_credit"] = 0.0
        nb, resources = super().preprocess(nb, resources)
        extra = resources[RESOURCE_KEY]["extra_credit"]
        resources["nbgrader"]["score"] -= extra
        resources["nbgrader"]["extra_credit"] = extra
        if extra:
            note = (f"**Extra credit: +{_number(extra)} points**, recorded separately from this notebook's "
                    f"score of {_number(resources['nbgrader']['score'])} / "
                    f"{_number(resources['nbgrader']['max_score'])}.")
            nb.cells.insert(0, nbformat.v4.new_markdown_cell(note))
        return nb, resources
