"""``autograder grade``: one student, a class directory, or an LMS zip, and the printed results.

:func:`grade` is the one entry point; ``autograder demo`` and the zip import call it with a
:class:`GradeRequest` of their own rather than with another command's parsed arguments.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from autograder.errors import UsageError
from autograder.options import Output, SandboxOptions

EXIT_OK, EXIT_FAILED = 0, 1


@dataclass(frozen=True)
class GradeRequest:
    """What to grade and where its results go."""

    path: Path
    out: Path | None = None
    json: Path | None = None          # the result, in this grader's results format (docs/results.md)
    gradescope: Path | None = None    # the result as Gradescope's results.json
    jobs: int = os.cpu_count() or 1
    shard: tuple[int, int] = (1, 1)
    gradebook: str | None = None
    resume: bool = False
    explain: tuple[str, ...] = ()


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard: {text!r} is not I/N, e.g. --shard 2/4") from None
    if not 1 <= index <= count:
        raise UsageError(f"--shard: {text!r} needs 1 <= I <= N")
    return index, count


def student_name(path: Path, *, assignment: str) -> str:
    """The student a single submission belongs to: its folder's name, or the parent's when the folder
    is named after the assignment (``alice/appendix_a/``) or the path is one notebook."""
    path = path.resolve()
    if path.is_file():
        path = path.parent if path.parent.name not in (assignment, "") else path.parent.parent
        return path.name or "student"
    if path.name == assignment and path.parent.name:
        return path.parent.name
    return path.name or "student"


def grade(request: GradeRequest, *, sandbox: SandboxOptions, output: Output) -> int:
    """Grade ``request.path``; print the score table (or JSON); return the exit status."""
    from autograder.notebooks import is_class_directory

    spec = sandbox.spec()
    path = request.path
    if request.jobs < 1:
        raise UsageError(f"--jobs: must be at least 1, got {request.jobs}")
    if not path.exists():
        raise UsageError(f"{path} does not exist: give a notebook, a student's directory or a class directory")
    if not sandbox.suites_dir().is_dir():
        raise UsageError(f"hidden suites directory {sandbox.suites_dir()} does not exist: pass --suites DIR "
                         "(an installed grader and a student release hold no hidden suites; students use "
                         "`autograder check`)")
    if path.suffix.lower() == ".zip" and path.is_file():
        return _grade_zip(request, sandbox=sandbox, output=output)
    is_class = is_class_directory(path)
    if is_class and request.out is None:
        raise UsageError("a class directory needs --out OUTDIR for the per-student results")
    masks = (path.resolve(),) + ((request.out.resolve(),) if request.out else ())
    setup = sandbox.setup(extra_masks=masks)
    record = _gradebook_recorder(request.gradebook, spec.name)  # refuses a bad gradebook before grading anyone
    warm = None
    if not is_class:  # start the warm process first: it imports torch while this process imports the rest
        warm = setup.sandbox()
        warm.launch()

    from autograder.grading.errors import GraderError
    from autograder.grading.pool import reported_protections
    from autograder.sandbox.errors import SandboxError

    _stop_on_sigterm()
    regrades = []
    reported = []  # the sandbox's own report of its protections (a student's result may have none)
    try:
        if is_class:
            results = _grade_class(request, setup=setup, output=output, record=record, regrades=regrades,
                                   on_protections=reported.append)
        else:
            results = [_grade_student(request, setup=setup, sandbox=warm, spec=spec, regrades=regrades)]
            record(results[0])
            reported.append(reported_protections(warm))
    except (GraderError, SandboxError) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return EXIT_FAILED
    _print(results, spec_name=spec.name, is_class=is_class, request=request, output=output,
           protections=reported[0] if reported else None)
    _print_regrades(regrades, output=output)
    return _grader_errors(results, out=request.out)


def _grader_errors(results, *, out: Path | None) -> int:
    """Warn about checks that failed because of the suites; such a run exits 1."""
    faulty = sorted({check.id for result in results for check in result.grader_errors})
    if not faulty:
        return EXIT_OK
    students = sum(1 for result in results if result.grader_errors)
    where = f" (tracebacks under \"instructor\" in {out}/<student>.json)" if out else " (tracebacks: --json FILE)"
    print(f"autograder: warning: {len(faulty)} hidden check(s) failed because of a fault in the suite, not in "
          f"the students' work, for {students} student(s): {', '.join(faulty)}. They are left out of those "
          f"students' scores and maxima{where}; fix the suite and grade again.", file=sys.stderr)
    return EXIT_FAILED


def _print_regrades(regrades, *, output: Output) -> None:
    from autograder.output_encoding import terminal_text

    moved = [regrade for regrade in regrades if regrade is not None and regrade.moved]
    if not moved or output.format == "json":
        return
    print(f"\nregraded: {len(moved)} student(s) changed (earlier results kept in history/)", file=sys.stderr)
    for regrade in moved:
        print(f"  {terminal_text(regrade.student, keep_newlines=False)}: {regrade.old_total:g} -> "
              f"{regrade.new_total:g}", file=sys.stderr)
        for check, before, after in regrade.changed:
            print(f"    {check}: {before} -> {after}", file=sys.stderr)


def _grade_class(request: GradeRequest, *, setup, output: Output, record, regrades: list, on_protections):
    from autograder.grading.batch import grade_class
    from autograder.reporters.progress import ClassProgress
    from autograder.notebooks import students_in
    from autograder.reporters.csvfile import write_grades
    from autograder.results_folder import check_distinct, finished_students, write_result

    check_distinct([name for name, _ in students_in(request.path)], where=request.path)
    skip = finished_students(request.out) if request.resume and request.out.is_dir() else set()
    progress = ClassProgress(quiet=output.quiet or output.format == "json")

    def store(result) -> None:
        regrades.append(write_result(request.out, result))
        record(result)
        progress.update(result)

    try:
        results = grade_class(class_dir=request.path, setup=setup, jobs=request.jobs, shard=request.shard,
                              skip=skip, on_plan=progress.start, on_result=store, on_protections=on_protections)
    finally:
        progress.close()
    if any(request.out.glob("*.json")):
        write_grades(request.out, assignment=setup.assignment)
    return results


def _grade_student(request: GradeRequest, *, setup, sandbox, spec, regrades: list):
    from autograder.files import write_atomically
    from autograder.grading import schema
    from autograder.grading.runner import grade_one
    from autograder.reporters.csvfile import write_grades
    from autograder.reporters.gradescope import to_gradescope
    from autograder.results_folder import write_result

    student = student_name(request.path, assignment=spec.name)
    with sandbox:
        result = grade_one(student=student, submission=request.path, assignment=spec,
                           suites_dir=setup.suites_dir, sandbox=sandbox, seed=setup.seed)
    if request.json:
        write_atomically(request.json, schema.dumps(result))
    if request.gradescope:
        write_atomically(request.gradescope, json.dumps(to_gradescope(result), indent=2) + "\n")
    if request.out:  # the same folder as a class run: the student's result and grades.csv
        regrades.append(write_result(request.out, result))
        write_grades(request.out, assignment=spec)
    return result


def _gradebook_recorder(db_url: str | None, assignment_id: str):
    """A callback recording each result in an nbgrader gradebook (in this trusted process only)."""
    if not db_url:
        return lambda result: None
    from autograder.nbgrader.gradebook import check_ready, write_submission

    check_ready(db_url=db_url, assignment_id=assignment_id)
    return lambda result: write_submission(result, db_url=db_url, assignment_id=assignment_id)


def _grade_zip(request: GradeRequest, *, sandbox: SandboxOptions, output: Output) -> int:
    """An LMS bulk download: import it as a class directory, then grade that class."""
    from autograder.lms_import import MANIFEST, UnsafeArchive, extract_submissions, write_manifest

    if request.out is None:
        raise UsageError("a zip of submissions is a class: give --out OUTDIR for the results")
    with tempfile.TemporaryDirectory(prefix="autograder-zip-") as scratch:
        class_dir = Path(scratch) / "class"
        try:
            report = extract_submissions(request.path, class_dir, assignment=sandbox.spec())
        except UnsafeArchive as error:
            print(f"autograder: refusing {request.path}: {error}; nothing was extracted or graded", file=sys.stderr)
            return EXIT_FAILED
        for line in report.lines()[0 if not output.quiet else 1:]:  # skipped files are always reported
            print(f"autograder: {line}", file=sys.stderr)
        if not report.students:
            print(f"autograder: {request.path} holds no student notebooks", file=sys.stderr)
            return EXIT_FAILED
        write_manifest(report, request.out / MANIFEST)
        return grade(replace(request, path=class_dir), sandbox=sandbox, output=output)


def _stop_on_sigterm() -> None:
    """SIGTERM stops a run like Ctrl-C: finished results stay on disk, `--resume` picks up the rest."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _print(results, *, spec_name: str, is_class: bool, request: GradeRequest, output: Output, protections) -> None:
    if output.format == "json":
        from autograder.grading.schema import to_dict

        data = {"assignment": spec_name, "results": [to_dict(r) for r in sorted(results, key=lambda r: r.student)]}
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    if output.quiet:
        return
    from autograder.reporters.text import details, heading, render, score_table

    protections = None if protections is None else \
        tuple(name for name, on in protections.to_dict().items() if on is True)
    if results:
        _warn_about_protections(protections)
    print(render(score_table(sorted(results, key=lambda r: r.student)), color=sys.stdout.isatty()))
    explain = [r for r in results if not is_class or output.verbose or r.student in request.explain]
    for result in sorted(explain, key=lambda r: r.student):
        lines = details(result, verbose=output.verbose)
        if lines:
            print(f"\n{heading(result)}")
        for line in lines:
            print(f"  {line}")
    if output.verbose and protections:
        print(f"protections: {', '.join(protections)}")


def _warn_about_protections(active: tuple[str, ...] | None) -> None:
    from autograder.sandbox.isolation import Protections

    if active is None:
        print("autograder: note: the sandbox stopped before it could be asked which protections it gave; "
              "use --isolation strict to refuse runs without the full set (see SECURITY.md)", file=sys.stderr)
        return
    missing = [name for name in Protections().to_dict() if name != "notes" and name not in active]
    if missing:
        print(f"autograder: note: running without {', '.join(missing)}; "
              "use --isolation strict to refuse such runs (see SECURITY.md)", file=sys.stderr)
