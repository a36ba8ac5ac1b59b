"""``autograder ci``: grade a pull request's notebooks on GitHub Actions.

The workflow stays thin; this module does the work and is testable without GitHub:

* grades ``HEAD/exercises/<assignment>`` (the pull request's files, checked out as data)
  with the engine and the hidden suites of ``--suites``, or, without suites (a fork
  without the instructor's secret), runs only the visible checks, inside the same sandbox;
* writes ``results.json`` (Gradescope format), appends a Markdown table to
  ``$GITHUB_STEP_SUMMARY``, writes ``score``/``max_score`` to ``$GITHUB_OUTPUT`` and a
  PR comment body to a file;
* prints ``::error``/``::warning`` annotations on the student's notebooks.

Everything written to those files and every workflow command is produced here, in the
trusted process.  Student code runs only in the sandbox, whose output is captured and
never reaches the log; the few student-originated strings that are printed (check and
cell messages) go inside a ``::stop-commands::TOKEN`` block with a fresh random token,
so they cannot issue workflow commands.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, TextIO

from autograder import output_encoding
from autograder.check import NotebookCheck, complete, find_notebooks, verdicts_from_output
from autograder.course import AssignmentSpec
from autograder.output_encoding import terminal_text

if TYPE_CHECKING:
    from autograder.grading.results import NotebookResult, SubmissionResult

COMMENT_MARKER = "<!-- autograder:pull-request-grade -->"
# Files a pull request might edit to change how it is graded; the base branch's copies are used instead.
TOOLING = (".github", "autograder", "pyproject.toml", "setup.py", "setup.cfg", "conftest.py", "pytest.ini",
           "tox.ini", "sitecustomize.py")
GITHUB_FILES = ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE",
                "GITHUB_EVENT_PATH")
MAX_MESSAGE = 300


# ------------------------------------------------------------------------------------------ escaping


def escape_data(text: str) -> str:
    """A workflow command's message: control characters shown, ``%``, CR and LF encoded as GitHub decodes
    them, ``::`` broken up."""
    text = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return terminal_text(text, keep_newlines=False).replace("::", ": :")


def escape_property(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``): also ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def markdown_text(text: str, limit: int = MAX_MESSAGE) -> str:
    """Student-influenced text as inert Markdown on one line (see output_encoding), at most ``limit`` long."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    return output_encoding.markdown_text(text)


# ------------------------------------------------------------------------------------------ the event


@dataclass(frozen=True)
class PullRequest:
    number: int | None
    author: str
    head_sha: str
    head_repo: str


def read_event(env: Mapping[str, str]) -> PullRequest:
    """The pull request of ``$GITHUB_EVENT_PATH``, if there is one; only typed fields are kept."""
    data: dict = {}
    path = env.get("GITHUB_EVENT_PATH")
    if path:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
    pull = data.get("pull_request") if isinstance(data, dict) else None
    pull = pull if isinstance(pull, dict) else {}
    number = pull.get("number")
    user = pull.get("user") if isinstance(pull.get("user"), dict) else {}
    head = pull.get("head") if isinstance(pull.get("head"), dict) else {}
    repo = head.get("repo") if isinstance(head.get("repo"), dict) else {}
    login = str(user.get("login") or "")
    # An author without a usable login is named by GitHub's user id: no login has a "_", so none can take it.
    user_id = user.get("id")
    unnamed = f"user_{user_id}" if type(user_id) is int else "student"
    return PullRequest(
        number=number if isinstance(number, int) else None,
        author=login if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(\[bot\])?", login) else unnamed,
        head_sha=str(head.get("sha") or "") if re.fullmatch(r"[0-9a-f]{40}", str(head.get("sha") or "")) else "",
        head_repo=str(repo.get("full_name") or ""),
    )


def tooling_changes(base: Path, head: Path) -> list[str]:
    """Files under :data:`TOOLING` that differ between the base checkout and the pull request's head."""
    changed = []
    for name in TOOLING:
        files = set()
        for root in (base, head):
            top = root / name
            if top.is_file() or top.is_symlink():
                files.add(Path(name))
            elif top.is_dir():
                files |= {p.relative_to(root) for p in top.rglob("*")
                          if (p.is_file() or p.is_symlink()) and "__pycache__" not in p.parts}
        for relative in sorted(files):
            if _content(base / relative, base) != _content(head / relative, head):
                changed.append(relative.as_posix())
    return changed


def _content(path: Path, root: Path) -> bytes | None:
    """What to compare of a file: a symlink's target, a regular file's bytes (read safely: a FIFO or a
    device in the head would block a plain read), or the reason it is refused."""
    from autograder.submission_files import FileRefused, Refusal, read_bytes

    try:
        if path.is_symlink():
            return b"symlink:" + os.readlink(path).encode()
        return read_bytes(path, root=root)
    except OSError:
        return None
    except FileRefused as refused:
        return None if refused.kind is Refusal.NOT_FOUND else b"refused:" + refused.kind.value.encode()


# ------------------------------------------------------------------------------------------ grading


@dataclass
class NotebookRow:
    stem: str
    path: str | None  # relative to the head checkout
    points: float | None
    max_points: float
    checks_passed: int | None
    checks_total: int | None
    visible: NotebookCheck
    messages: list[str] = field(default_factory=list)  # failed checks and problems, student-facing


@dataclass
class Outcome:
    graded: bool
    rows: list[NotebookRow]
    score: float | None
    max_score: float
    extra_credit: float
    protections: tuple[str, ...]
    result: "SubmissionResult"  # what results.json stores (docs/results.md)


def _head_rel(head: Path, path: Path | None) -> str | None:
    """Where ``path`` lies in the pull request, as committed (a symlink is not followed: it may loop)."""
    if path is None:
        return None
    try:
        return path.relative_to(head).as_posix()
    except ValueError:
        return path.name


def grade_head(*, head: Path, suites: Path | None, spec: AssignmentSpec, setup_for, student: str,
               seed: int | None) -> Outcome:
    """Grade the head checkout; ``setup_for(suites_dir)`` builds the engine's GradingSetup."""
    from autograder.grading.results import zero_result
    from autograder.grading.runner import grade_one
    from autograder.notebooks import NotebookProblem, load_notebook
    from autograder.submission_files import resolves_inside

    submission = head / "exercises" / spec.name
    if not submission.is_dir():
        submission = head / "exercises"
    # A folder that is a symlink out of the pull request (to the suites' reference notebooks, to /) is refused.
    outside = _head_rel(head, submission) if submission.exists() and not resolves_inside(submission, head) else None
    refused = f"{outside} is a symbolic link out of the pull request: commit the folder itself" if outside else ""
    graded = suites is not None
    setup = setup_for(suites)
    rows: list[NotebookRow] = []
    with setup.sandbox() as sandbox:
        if graded:
            result = zero_result(student=student, assignment=spec, reason=refused) if refused else \
                grade_one(student=student, submission=submission, assignment=spec,
                          suites_dir=setup.suites_dir, sandbox=sandbox, seed=seed)
            located = dict(find_notebooks(submission, spec)) if submission.is_dir() and not refused else {}
            for notebook in result.notebooks:
                nb_spec = spec.notebook(notebook.notebook)
                path = located.get(nb_spec)
                visible = NotebookCheck(stem=notebook.notebook, path=path, problems=list(notebook.problems))
                if path is not None:
                    try:
                        loaded = load_notebook(path, stem=notebook.notebook, root=submission)
                        outputs = {report.index: report.output for report in notebook.cells}
                        visible.verdicts = verdicts_from_output(
                            loaded.cell_ids, [outputs.get(i, "") for i in range(len(loaded.cell_ids))])
                    except NotebookProblem:
                        pass
                    complete(visible, nb_spec)
                failed = [f"{check.name}: {check.message}" for check in notebook.checks
                          if check.status.value == "failed"]
                rows.append(NotebookRow(
                    stem=notebook.notebook, path=_head_rel(head, path), points=notebook.points,
                    max_points=notebook.max_points, checks_passed=notebook.passed,
                    checks_total=len(notebook.checks), visible=visible,
                    messages=list(notebook.problems) + failed))
            return Outcome(graded=True, rows=rows, score=result.points + result.extra_credit,
                           max_score=result.max_points, extra_credit=result.extra_credit,
                           protections=_active(sandbox.protections), result=result)
        located = find_notebooks(submission, spec) if submission.is_dir() and not refused else \
            [(nb_spec, None) for nb_spec in spec.notebooks]
        for nb_spec, path in located:
            visible = complete(NotebookCheck(stem=nb_spec.stem, path=None, problems=[refused]), nb_spec) \
                if refused else run_visible_in_sandbox(sandbox, path, nb_spec, root=submission)
            rows.append(NotebookRow(stem=nb_spec.stem, path=_head_rel(head, path), points=None,
                                    max_points=nb_spec.points, checks_passed=None, checks_total=None,
                                    visible=visible, messages=list(visible.problems)))
        active = _active(sandbox.protections)
    return Outcome(graded=False, rows=rows, score=None, max_score=spec.points, extra_credit=0.0,
                   protections=active, result=_visible_result(spec, rows, active, student=student))


def _active(protections) -> tuple[str, ...]:
    """The protections the sandbox itself reported as on (never a student's result's copy)."""
    return tuple(name for name, on in (protections.to_dict().items() if protections else ()) if on is True)


def run_visible_in_sandbox(sandbox, path: Path | None, nb_spec, *, root: Path) -> NotebookCheck:
    """Run one notebook's cells in the grading sandbox, as grading does, and read the verdicts of its check cells."""
    from autograder.grading.session import StudentNotebook
    from autograder.notebooks import NotebookProblem, load_notebook

    check = NotebookCheck(stem=nb_spec.stem, path=path)
    if path is None:
        check.problems.append(f"{nb_spec.filename} was not found in the pull request")
        return complete(check, nb_spec)
    try:
        loaded = load_notebook(path, stem=nb_spec.stem, root=root)
    except NotebookProblem as error:
        check.problems.append(str(error))
        return complete(check, nb_spec)
    notebook = StudentNotebook(stem=nb_spec.stem, sandbox=sandbox, notebook=loaded)
    try:
        reports = notebook.run()
    finally:
        notebook.close()
    outputs = {report.index: report.output for report in reports}
    check.problems += [report.message for report in reports if report.status != "ok"] + notebook.notes
    check.verdicts = verdicts_from_output(loaded.cell_ids, [outputs.get(i, "") for i in range(len(loaded.cell_ids))])
    return complete(check, nb_spec)


def _visible_result(spec: AssignmentSpec, rows: list[NotebookRow], protections: tuple[str, ...], *,
                    student: str) -> "SubmissionResult":
    """Visible checks only (no hidden suites here): each verdict a check worth 0 of 0 points."""
    from autograder.grading.results import CheckResult, FailureKind, NotebookResult, Status, SubmissionResult

    kinds = {"not implemented": FailureKind.NOT_IMPLEMENTED, "missing": FailureKind.NOTEBOOK}
    notebooks = tuple(NotebookResult(
        notebook=row.stem, max_points=0.0, path=row.path, problems=tuple(row.visible.problems),
        checks=tuple(CheckResult(
            notebook=row.stem, name=f"visible_{verdict.name}", function=verdict.name,
            description=f"visible check of {verdict.name}", max_points=0.0, extra_credit=False,
            status=Status.PASSED if verdict.status == "passed" else Status.FAILED,
            message="" if verdict.status == "passed" else verdict.message,
            kind=None if verdict.status == "passed" else kinds.get(verdict.status, FailureKind.WRONG_ANSWER))
            for verdict in row.visible.verdicts)) for row in rows)
    return SubmissionResult(student=student, assignment=spec.name, notebooks=notebooks, seed=0, seconds=0.0,
                            protections=protections)


# ------------------------------------------------------------------------------------------ reporting


def _points(value: float) -> str:
    return f"{value:g}"


# Shown under the table: what its columns count.
TABLE_LEGEND = ("*points*: the notebook's score, decided by the hidden checks; *hidden checks passed*: how many "
                "of those tests (fresh random inputs, each worth part of the points) passed; *visible checks "
                "passed*: how many of the notebook's functions pass the check cell below them.")
MAX_LINES = 10  # per notebook, below the table; the rest is in results.json


def summary_markdown(outcome: Outcome, *, spec: AssignmentSpec, pull: PullRequest, tooling: list[str],
                     notes: list[str]) -> str:
    lines = [f"## Autograder: {spec.name}", ""]
    if outcome.graded:
        extra = f" (+ {_points(outcome.extra_credit)} extra credit)" if outcome.extra_credit else ""
        lines.append(f"**Score: {_points(outcome.score - outcome.extra_credit)}/{_points(outcome.max_score)}**{extra}")
    else:
        lines.append("**Visible checks only: no grade yet.** The hidden tests were not available to this run; "
                     "they run when the work is collected, and they decide the grade.")
    lines.append("")
    lines.append("| notebook | points | hidden checks passed | visible checks passed |")
    lines.append("|---|---|---|---|")
    for row in outcome.rows:
        points = f"{_points(row.points)}/{_points(row.max_points)}" if row.points is not None else \
            f"\u2013/{_points(row.max_points)}"
        passed = f"{row.checks_passed}/{row.checks_total}" if row.checks_total is not None else "\u2013"
        visible = f"{row.visible.passed}/{len(row.visible.verdicts)}"
        lines.append(f"| `{row.stem}` | {points} | {passed} | {visible} |")
    lines += ["", TABLE_LEGEND, ""]
    if tooling:
        listed = ", ".join(markdown_text(path, 120) for path in tooling[:10])
        more = f" and {len(tooling) - 10} more" if len(tooling) > 10 else ""
        lines.append(f"**Note:** this pull request changes grading or workflow files ({listed}{more}). "
                     "They were ignored: grading always uses the base branch's workflow and grader.")
        lines.append("")
    lines += [f"- {note}" for note in notes] + [""]
    # What to fix, last: each notebook's list under a heading of its own, so that lists never run together.
    for row in outcome.rows:
        told = notebook_messages(outcome.result.notebook(row.stem), graded=outcome.graded)
        if told:
            lines += [f"### `{row.stem}`", "", *told, ""]
    return "\n".join(lines).rstrip() + "\n"


def notebook_messages(notebook: "NotebookResult", *, graded: bool) -> list[str]:
    """What went wrong in one notebook, as a Markdown list: its problems, then one line per function that
    is not implemented and, for any other function that failed, a line with a bullet per failed check."""
    from autograder.reporters.by_function import by_function, markdown_lines

    entries = [[f"- {markdown_text(problem)}"] for problem in notebook.problems]
    for group in by_function(notebook.checks):
        told = markdown_lines(group, shown=notebook.problems, checks="hidden check" if graded else "visible check",
                              text=markdown_text)
        if told:
            entries.append([f"- {told[0]}", *told[1:]])
    lines: list[str] = []
    for index, entry in enumerate(entries):
        if len(lines) + len(entry) > MAX_LINES and lines:
            left = len(entries) - index
            lines.append(f"- \u2026 and {left} more {'entry' if left == 1 else 'entries'} (see results.json)")
            break
        lines += entry
    return lines


def comment_markdown(summary: str, *, env: Mapping[str, str], pull: PullRequest) -> str:
    run = ""
    if env.get("GITHUB_SERVER_URL") and env.get("GITHUB_REPOSITORY") and env.get("GITHUB_RUN_ID", "").isdigit():
        run = f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    commit = f" for commit {pull.head_sha[:12]}" if pull.head_sha else ""
    footer = f"\n[Details and results.json]({run}){commit}\n" if run else (f"\nGraded{commit}.\n" if commit else "")
    return f"{COMMENT_MARKER}\n{summary}{footer}"


def annotations(outcome: Outcome) -> list[str]:
    """Workflow commands marking failed visible checks (errors) and notebook problems (warnings)."""
    commands = []
    for row in outcome.rows:
        target = row.path or f"exercises/{row.stem}.ipynb"
        line = _check_cell_lines(row.visible.path)
        for verdict in row.visible.verdicts:
            if verdict.status == "passed":
                continue
            where = f"file={escape_property(target)}"
            if verdict.name in line:
                where += f",line={line[verdict.name]}"
            level = "warning" if verdict.status == "not implemented" else "error"
            title = escape_property(f"{row.stem}: {verdict.name} ({verdict.status})")
            commands.append(f"::{level} {where},title={title}::{escape_data(verdict.message[:1000])}")
        for problem in row.visible.problems:
            commands.append(f"::warning file={escape_property(target)},title={escape_property(row.stem)}::"
                            f"{escape_data(problem[:1000])}")
    return commands


def _check_cell_lines(path: Path | None) -> dict[str, int]:
    """The line of each ``check_<fn>`` cell's grade_id in the notebook's JSON, for annotations."""
    from autograder.submission_files import FileRefused, read_text

    if path is None:
        return {}
    try:
        text = read_text(path, root=path.parent)
    except FileRefused:
        return {}
    lines = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.search(r'"grade_id":\s*"check_([A-Za-z_]\w*)"', line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def _append(path: str | None, text: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(text)


def log_student_text(lines: list[str], out: TextIO) -> None:
    """Print student-influenced lines where the runner ignores workflow commands."""
    if not lines:
        return
    token = secrets.token_hex(16)
    out.write(f"::stop-commands::{token}\n")
    for line in lines:
        out.write(terminal_text(line, keep_newlines=False).replace(token, "[token]") + "\n")
    out.write(f"::{token}::\n")


# ------------------------------------------------------------------------------------------ entry point


def run(*, head: Path, suites: Path | None, base: Path, spec: AssignmentSpec, results_path: Path,
        comment_path: Path | None, setup_for, isolation_note: str, seed: int | None,
        env: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    from autograder.files import write_atomically
    from autograder.grading import schema

    env = os.environ if env is None else env
    out = sys.stdout if out is None else out
    pull = read_event(env)
    tooling = tooling_changes(base, head)
    outcome = grade_head(head=head, suites=suites, spec=spec, setup_for=setup_for, student=pull.author, seed=seed)

    notes = []
    if not outcome.graded:
        notes.append("Hidden tests did not run here (no access to them from this repository or fork). "
                     "They will run when your work is collected; passing the visible checks is a good sign, "
                     "not a grade.")
    if isolation_note:
        notes.append(isolation_note)
    if outcome.graded:
        notes.append("Points come from hidden tests run on random inputs; a failed check's message says what "
                     "went wrong without showing the test.")
    summary = summary_markdown(outcome, spec=spec, pull=pull, tooling=tooling, notes=notes)

    write_atomically(results_path, schema.dumps(outcome.result, for_student=True))  # the PR workflow publishes it
    comment = comment_markdown(summary, env=env, pull=pull)
    if comment_path is not None:
        write_atomically(comment_path, comment)
    _append(env.get("GITHUB_STEP_SUMMARY"), summary)
    output_lines = [f"graded={'true' if outcome.graded else 'false'}"]
    if outcome.graded:
        output_lines += [f"score={_points(outcome.score)}", f"max_score={_points(outcome.max_score)}"]
    output_lines.append(f"visible_passed={sum(row.visible.passed for row in outcome.rows)}")
    output_lines.append(f"visible_total={sum(len(row.visible.verdicts) for row in outcome.rows)}")
    output_lines.append(f"workflow_changed={'true' if any(p.startswith('.github/') for p in tooling) else 'false'}")
    delimiter = f"autograder_{secrets.token_hex(16)}"  # unguessable, so the body cannot end the value early
    if delimiter not in comment:
        output_lines.append(f"comment<<{delimiter}\n{comment.rstrip()}\n{delimiter}")
    _append(env.get("GITHUB_OUTPUT"), "".join(line + "\n" for line in output_lines))

    # The log: trusted lines, then annotations, then student-influenced messages fenced off.
    if outcome.graded:
        out.write(f"autograder: {spec.name}: {_points(outcome.score)}/{_points(outcome.max_score)} points\n")
    else:
        out.write(f"autograder: {spec.name}: visible checks only (no hidden tests in this run)\n")
    if tooling:
        out.write(f"autograder: ignored changes to {len(tooling)} grading/workflow file(s) in the pull request\n")
    for command in annotations(outcome):
        out.write(command + "\n")
    log_student_text([f"{row.stem}: {message}" for row in outcome.rows for message in row.messages], out)
    out.flush()
    return 0
