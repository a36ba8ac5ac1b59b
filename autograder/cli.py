"""The ``autograder`` command: a thin front door onto the grading pipeline.

Each subcommand parses its options and calls one keyword-only function; the
work happens in the modules those functions name.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from autograder.course import assignment, default_suites_dir, secret_paths
from autograder.sandbox.limits import Limits

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _sandbox_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignment", default="appendix_a", help="assignment name (default: appendix_a)")
    parser.add_argument("--suites", type=Path, default=None,
                        help="directory of the hidden suites (default: the ones bundled for instructors)")
    parser.add_argument("--seed", type=int, default=None, help="seed for the random inputs (default: fresh)")
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                        help="override a sandbox limit, e.g. memory=1GiB, cell=60, call=10 (repeatable)")
    parser.add_argument("--isolation", choices=("best-effort", "strict"), default="best-effort",
                        help="strict: refuse to grade unless student code runs as another user in private "
                             "namespaces with the hidden files masked (needs root on Linux)")
    parser.add_argument("--sandbox-user", default="nobody", help="unprivileged user for student code when root")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description="Grade PyTorch notebooks with hidden suites.")
    commands = parser.add_subparsers(dest="command", required=True)

    grade = commands.add_parser("grade", help="grade one student's notebooks or a class directory")
    grade.add_argument("path", type=Path, help="a notebook, a directory of one student's notebooks, "
                                               "or a directory with one sub-directory per student")
    grade.add_argument("--json", type=Path, help="write a Gradescope results.json (one student)")
    grade.add_argument("--out", type=Path, help="write <student>.json files and grades.csv here (a class)")
    grade.add_argument("--notebook", action="append", default=[], metavar="STEM",
                       help="grade only this notebook, e.g. 04_mlp (repeatable)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="parallel grading workers for a class (default: the number of cores)")
    grade.add_argument("--shard", default="1/1", metavar="I/N",
                       help="grade only shard I of N of the class (stable split by student name)")
    grade.add_argument("--gradebook", metavar="DB_URL",
                       help="also record the scores in this nbgrader gradebook, e.g. sqlite:///gradebook.db")
    grade.add_argument("--resume", action="store_true",
                       help="in a class run, keep results already in --out and grade only the others")
    grade.add_argument("--quiet", action="store_true", help="print nothing but errors")
    grade.add_argument("--explain", action="append", default=[], metavar="STUDENT",
                       help="in a class run, list what went wrong for this student (repeatable)")
    grade.add_argument("--verbose", action="store_true", help="also list passed checks and protections")
    grade.add_argument("--format", choices=("text", "json"), default="text",
                       help="json: print the results (Gradescope format, one entry per student) to stdout")
    _sandbox_options(grade)

    demo = commands.add_parser("demo", help="grade the bundled solutions and a flawed sample, print the table")
    demo.add_argument("--out", type=Path, default=None, help="keep the demo class and its results here")
    _sandbox_options(demo)

    validate = commands.add_parser("validate", help="check sources, generated notebooks, solutions and stubs")
    _sandbox_options(validate)

    merge = commands.add_parser("merge", help="combine the results of several shards")
    merge.add_argument("sources", nargs="+", type=Path, help="result directories of the shards")
    merge.add_argument("--out", type=Path, required=True, help="directory for the merged results")
    merge.add_argument("--assignment", default="appendix_a")
    merge.add_argument("--gradebook", metavar="DB_URL", help="nbgrader gradebook to merge the shards' gradebooks into")
    merge.add_argument("--from-gradebook", action="append", default=[], metavar="DB_URL",
                       help="a shard's gradebook (repeatable; with --gradebook)")

    commands.add_parser("env", help="check this machine's Python, torch and packages")

    build = commands.add_parser("build", help="regenerate exercises/ and solutions/ from source/")
    build.add_argument("--assignment", default="appendix_a")
    build.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")
    _reporting_commands(commands)
    _release_and_ci_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, KeyError) as error:
        print(f"autograder: {error.args[0] if error.args else error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("autograder: interrupted; results written so far are kept (rerun with --resume to finish)",
              file=sys.stderr)
        return 130


def _setup(args: argparse.Namespace, *, spec, extra_masks: tuple[Path, ...] = ()):
    from autograder.grading.pool import GradingSetup
    from autograder.sandbox.client import SandboxSettings
    from autograder.sandbox.isolation import IsolationPlan

    limits = Limits().with_overrides(args.limit, source="--limit")
    masks = secret_paths(suites_dir=_suites_dir(args), extra=extra_masks)
    required = ("unprivileged_user", "hidden_files_masked", "network_isolated") if args.isolation == "strict" else ()
    settings = SandboxSettings(limits=limits, plan=IsolationPlan(user=args.sandbox_user, mask_paths=masks),
                               require=required)
    return GradingSetup(assignment=spec, suites_dir=_suites_dir(args), sandbox_settings=settings, seed=args.seed)


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard: {text!r} is not I/N, e.g. --shard 2/4") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard: {text!r} needs 1 <= I <= N")
    return index, count


def _suites_dir(args: argparse.Namespace) -> Path:
    return (args.suites or default_suites_dir(args.assignment)).resolve()


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.notebooks import is_class_directory
    from autograder.sandbox.errors import SandboxError

    spec = assignment(args.assignment).subset(args.notebook)
    path = args.path
    shard = _parse_shard(args.shard)
    if args.jobs < 1:
        raise ValueError(f"--jobs: must be at least 1, got {args.jobs}")
    if not path.exists():
        print(f"autograder: {path} does not exist: give a notebook, a student's directory or a class directory",
              file=sys.stderr)
        return EXIT_USAGE
    if path.suffix.lower() == ".zip" and path.is_file():
        return _grade_zip(args)
    is_class = is_class_directory(path)
    sandbox = None
    if not is_class:  # start the warm process first: it imports torch while this process imports the rest
        sandbox = _setup(args, spec=spec, extra_masks=(path.resolve(),)).sandbox()
        sandbox.launch()

    from autograder.files import write_atomically
    from autograder.grading.errors import GraderError
    from autograder.reporters.gradescope import to_gradescope

    if is_class:  # this process only coordinates: workers import torch, pytest and the suites
        from autograder.grading.batch import grade_class
        from autograder.reporters.progress import ClassProgress
    else:
        from autograder.grading.runner import grade_one

    if is_class and args.out is None:
        print("autograder: a class directory needs --out OUTDIR for the per-student results", file=sys.stderr)
        return EXIT_USAGE
    setup = _setup(args, spec=spec, extra_masks=(path.resolve(),) + ((args.out.resolve(),) if args.out else ()))
    _stop_on_sigterm()
    try:
        if is_class:
            progress = ClassProgress(quiet=args.quiet)
            record = _gradebook_recorder(args.gradebook, spec.name)
            try:
                results = grade_class(class_dir=path, out_dir=args.out, setup=setup, jobs=args.jobs,
                                      resume=args.resume, shard=shard, on_plan=progress.start,
                                      on_result=lambda result: (record(result), progress.update(result)))
            finally:
                progress.close()
        else:
            student = path.stem if path.is_file() else path.resolve().name
            with sandbox:
                results = [grade_one(student=student, submission=path, assignment=spec,
                                     suites_dir=setup.suites_dir, sandbox=sandbox, seed=args.seed)]
            for target in ([args.json] if args.json else []) + ([args.out / f"{student}.json"] if args.out else []):
                write_atomically(target, json.dumps(to_gradescope(results[0]), indent=2) + "\n")
            _gradebook_recorder(args.gradebook, spec.name)(results[0])
    except (GraderError, SandboxError) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return EXIT_FAILED
    if getattr(args, "format", "text") == "json":
        _print_json(results, spec.name)
    elif not args.quiet:
        if results:
            _warn_about_protections(results[0].protections)
        explain = [r for r in results if not is_class or args.verbose or r.student in args.explain]
        _print_results(sorted(results, key=lambda r: r.student), explain=explain, verbose=args.verbose,
                       protections=results[0].protections if results else ())
    return EXIT_OK


def _gradebook_recorder(db_url: str | None, assignment_id: str):
    """A callback recording each result in an nbgrader gradebook (in this trusted process only)."""
    if not db_url:
        return lambda result: None
    from autograder.nbgrader.gradebook import check_ready, write_submission

    check_ready(db_url=db_url, assignment_id=assignment_id)  # refuse before grading anyone, not after
    return lambda result: write_submission(result, db_url=db_url, assignment_id=assignment_id)


def cmd_merge(args: argparse.Namespace) -> int:
    from autograder.grading.batch import merge_results

    students = merge_results(sources=args.sources, out_dir=args.out, assignment=assignment(args.assignment))
    print(f"merged {len(students)} students from {len(args.sources)} shards into {args.out}")
    if args.gradebook:
        from autograder.nbgrader.gradebook import merge_gradebooks

        copied = merge_gradebooks(sources=args.from_gradebook, target=args.gradebook, assignment_id=args.assignment)
        print(f"merged {copied} submissions into {args.gradebook}")
    return EXIT_OK


def _stop_on_sigterm() -> None:
    """SIGTERM stops a run like Ctrl-C: finished results stay on disk, `--resume` picks up the rest."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _warn_about_protections(active: tuple[str, ...]) -> None:
    from autograder.sandbox.isolation import Protections

    missing = [name for name in Protections().to_dict() if name != "notes" and name not in active]
    if missing:
        print(f"autograder: note: running without {', '.join(missing)}; "
              "use --isolation strict to refuse such runs (see SECURITY.md)", file=sys.stderr)


def _print_results(results, *, explain, verbose: bool, protections) -> None:
    from autograder.reporters.text import details, render, score_table

    print(render(score_table(results), color=sys.stdout.isatty()))
    for result in explain:
        lines = details(result, verbose=verbose)
        if lines:
            print(f"\n{result.student}:")
        for line in lines:
            print(f"  {line}")
    if verbose and protections:
        print(f"protections: {', '.join(protections)}")


def cmd_demo(args: argparse.Namespace) -> int:
    import tempfile

    from autograder.demo import build_demo_class

    spec = assignment(args.assignment)
    with tempfile.TemporaryDirectory(prefix="autograder-demo-") as scratch:
        root = args.out or Path(scratch)
        class_dir = build_demo_class(root / "class", assignment=spec)
        grade_args = argparse.Namespace(**{**vars(args), "path": class_dir, "out": root / "results",
                                           "json": None, "quiet": False, "verbose": False,
                                           "notebook": [], "explain": ["flawed"],
                                           "jobs": 1, "shard": "1/1", "resume": False})
        code = cmd_grade(grade_args)
        if code == EXIT_OK:
            print(f"per-student results.json and grades.csv: {root / 'results'}" if args.out else
                  "(rerun with --out DIR to keep the class and its results)")
        return code


def cmd_validate(args: argparse.Namespace) -> int:
    from autograder.validate import validate

    spec = assignment(args.assignment)
    with _setup(args, spec=spec).sandbox() as sandbox:
        findings = validate(assignment=spec, suites_dir=_suites_dir(args), sandbox=sandbox)
    for finding in findings:
        print(f"{'[OK]  ' if finding.ok else '[FAIL]'} {finding.text}")
    failed = sum(not f.ok for f in findings)
    print(f"{len(findings) - failed} passed, {failed} failed")
    return EXIT_OK if failed == 0 else EXIT_FAILED


def cmd_env(args: argparse.Namespace) -> int:
    from autograder.envcheck import collect, format_lines

    lines = collect()
    print(format_lines(lines))
    return EXIT_FAILED if any(line.status == "FAIL" for line in lines) else EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from autograder.course.build import main as build_main

    return build_main(["--assignment", args.assignment] + (["--check"] if args.check else []))


COMMANDS = {"grade": cmd_grade, "merge": cmd_merge, "demo": cmd_demo, "validate": cmd_validate, "env": cmd_env, "build": cmd_build}


# --- LMS zip import, JSON output, class report, grade export and student feedback ---------------------------


def _grade_zip(args: argparse.Namespace) -> int:
    """`grade submissions.zip --out OUTDIR`: import an LMS bulk download as a class, then grade that class."""
    import tempfile

    from autograder.lms_import import MANIFEST, UnsafeArchive, extract_submissions, write_manifest

    if args.out is None:
        print("autograder: a zip of submissions is a class: give --out OUTDIR for the results", file=sys.stderr)
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="autograder-zip-") as scratch:
        class_dir = Path(scratch) / "class"
        try:
            report = extract_submissions(args.path, class_dir, assignment=assignment(args.assignment))
        except UnsafeArchive as error:
            print(f"autograder: refusing {args.path}: {error}; nothing was extracted or graded", file=sys.stderr)
            return EXIT_FAILED
        for line in report.lines()[0 if not args.quiet else 1:]:  # skipped files are always reported
            print(f"autograder: {line}", file=sys.stderr)
        if not report.students:
            print(f"autograder: {args.path} holds no student notebooks", file=sys.stderr)
            return EXIT_FAILED
        write_manifest(report, args.out / MANIFEST)
        return cmd_grade(argparse.Namespace(**{**vars(args), "path": class_dir}))


def _print_json(results, assignment_name: str) -> None:
    from autograder.reporters.gradescope import to_gradescope

    data = {"assignment": assignment_name,
            "results": [{"student": r.student, **to_gradescope(r)} for r in sorted(results, key=lambda r: r.student)]}
    print(json.dumps(data, indent=2))


def _reporting_commands(commands) -> None:
    report = commands.add_parser("report", help="write an HTML report (plots, pass rates, problems) of a graded class")
    report.add_argument("outdir", type=Path, help="the --out directory of `autograder grade CLASS --out OUTDIR`")
    report.add_argument("--to", type=Path, default=None, help="the HTML file (default: OUTDIR/report.html)")
    report.add_argument("--assignment", default="appendix_a")
    report.add_argument("--quiet", action="store_true", help="print nothing but errors")

    export = commands.add_parser("export", help="export a graded class's grades as CSV for an LMS")
    export.add_argument("outdir", type=Path, help="the --out directory of a graded class")
    export.add_argument("--format", choices=("plain", "canvas", "moodle"), default="plain",
                        help="plain: per-notebook columns; canvas: gradebook import; moodle: grading worksheet")
    export.add_argument("--to", type=Path, default=None, help="the CSV file (default: print to stdout)")
    export.add_argument("--column", default=None, help="the grade column's name for Canvas (default: the assignment)")
    export.add_argument("--assignment", default="appendix_a")

    feedback = commands.add_parser("feedback", help="write a Markdown and an HTML feedback file per student")
    feedback.add_argument("outdir", type=Path, help="the --out directory of a graded class")
    feedback.add_argument("--to", type=Path, default=None, help="the directory (default: OUTDIR/feedback)")
    feedback.add_argument("--assignment", default="appendix_a")
    feedback.add_argument("--quiet", action="store_true", help="print nothing but errors")


def cmd_report(args: argparse.Namespace) -> int:
    from autograder.reporters.html_report import build_report

    report = build_report(args.outdir, assignment=assignment(args.assignment), html_path=args.to)
    if not args.quiet:
        print(f"report of {report.students} students: {report.html_path}")
        print(f"plots: {', '.join(str(path) for path in report.images)}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from autograder.files import write_atomically
    from autograder.reporters.lms import export_grades

    text = export_grades(args.outdir, fmt=args.format, assignment=assignment(args.assignment), column=args.column)
    if args.to is None:
        sys.stdout.write(text)
    else:
        write_atomically(args.to, text)
        print(f"{args.format} grades written to {args.to}")
    return EXIT_OK


def cmd_feedback(args: argparse.Namespace) -> int:
    from autograder.reporters.feedback import write_feedback

    written = write_feedback(args.outdir, assignment=assignment(args.assignment), target=args.to)
    if not args.quiet:
        print(f"feedback for {len(written) // 2} students: {args.to or args.outdir / 'feedback'}")
    return EXIT_OK


COMMANDS.update({"report": cmd_report, "export": cmd_export, "feedback": cmd_feedback})


# --- student release, student-side visible checks, and pull-request grading on GitHub Actions ---------------


def _release_and_ci_commands(commands) -> None:
    release = commands.add_parser("release", help="write the student repository (no hidden suites or solutions)")
    release.add_argument("outdir", type=Path, help="a new or empty directory for the student repository")
    release.add_argument("--assignment", default="appendix_a")
    release.add_argument("--force", action="store_true", help="write into a directory that is not empty")

    check = commands.add_parser("check", help="run the visible checks of your notebooks (offline, no hidden tests)")
    check.add_argument("path", type=Path, nargs="?", default=Path("exercises"),
                       help="exercises/, a directory of notebooks, or one notebook (default: exercises)")
    check.add_argument("--assignment", default="appendix_a")
    check.add_argument("--notebook", action="append", default=[], metavar="STEM",
                       help="check only this notebook, e.g. 02_tensors (repeatable)")
    check.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook (default: 600)")
    check.add_argument("--jobs", type=int, default=1, help="notebooks checked at the same time (default: 1)")

    ci = commands.add_parser("ci", help="grade a pull request on GitHub Actions (summary, outputs, annotations)")
    _sandbox_options(ci)
    ci.set_defaults(isolation=None)  # not given: strict when root, else best-effort with a note in the summary
    ci.add_argument("--head", type=Path, required=True, help="the pull request's checkout (graded as data)")
    ci.add_argument("--base", type=Path, default=Path("."),
                    help="the base branch's checkout, to report edits of workflow and grader files (default: .)")
    ci.add_argument("--results", type=Path, default=Path("results.json"), help="results.json to write")
    ci.add_argument("--comment", type=Path, default=None, help="write the pull-request comment body here")
    ci.add_argument("--notebook", action="append", default=[], metavar="STEM", help="grade only this notebook")


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.release import ReleaseError, release

    try:
        written = release(args.outdir, spec=assignment(args.assignment), force=args.force)
    except ReleaseError as error:
        print(f"autograder: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"student repository written to {args.outdir} ({len(written)} files); "
          "it holds no hidden suite and no solution")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from autograder.check import check_notebooks, format_report

    if not args.path.exists():
        print(f"autograder: {args.path} does not exist: run this from your repository's top directory, "
              "or give the exercises directory or a notebook", file=sys.stderr)
        return EXIT_USAGE
    spec = assignment(args.assignment).subset(args.notebook)
    if args.path.is_file():
        spec = spec.subset([nb.stem for nb in spec.notebooks if nb.stem in args.path.name] or [spec.notebooks[0].stem])
    checks = check_notebooks(args.path, spec, timeout=args.timeout, jobs=args.jobs)
    print(format_report(checks))
    return EXIT_OK if all(check.ok for check in checks) else EXIT_FAILED


def cmd_ci(args: argparse.Namespace) -> int:
    from autograder import ci
    from autograder.grading.errors import GraderError
    from autograder.sandbox.errors import SandboxError

    root = os.geteuid() == 0 if hasattr(os, "geteuid") else False
    isolation = args.isolation or ("strict" if root else "best-effort")
    note = "" if isolation == "strict" else (
        "Grading ran without full isolation (not root): student code ran as the runner's user. "
        "Run `autograder ci` with sudo for grading that counts.")
    spec = assignment(args.assignment).subset(args.notebook)
    github_files = tuple(Path(os.environ[name]).resolve().parent for name in ci.GITHUB_FILES if os.environ.get(name))
    extra = (args.head.resolve(),) + github_files

    def setup_for(suites):
        local = argparse.Namespace(**{**vars(args), "isolation": isolation, "suites": suites})
        return _setup(local, spec=spec, extra_masks=extra)

    try:
        return ci.run(head=args.head, suites=args.suites.resolve() if args.suites else None, base=args.base,
                      spec=spec, results_path=args.results, comment_path=args.comment, setup_for=setup_for,
                      isolation_note=note, seed=args.seed)
    except (GraderError, SandboxError) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return EXIT_FAILED


COMMANDS.update({"release": cmd_release, "check": cmd_check, "ci": cmd_ci})
