"""The ``autograder`` command: a thin front door onto the grading pipeline.

Each subcommand turns its parsed arguments into typed options (:mod:`autograder.options`)
and calls one keyword-only function; the work happens in the modules those functions name.
Options that several commands share come from the parent parsers below, so they are
spelled, documented and defaulted the same way everywhere.

Exit status: 0 when the command did its job (whatever the scores), 1 when it could not
(a grader fault, failed checks in ``validate``/``check``), 2 for usage errors only.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from autograder import __version__
from autograder.errors import UsageError
from autograder.options import ISOLATION_LEVELS, Output, SandboxOptions, assignment_spec

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


# ------------------------------------------------------------------------------------------ shared options


def _parents() -> dict[str, argparse.ArgumentParser]:
    assignment = argparse.ArgumentParser(add_help=False)
    assignment.add_argument("--assignment", default="appendix_a", help="assignment name (default: appendix_a)")

    notebooks = argparse.ArgumentParser(add_help=False)
    notebooks.add_argument("--notebook", action="append", default=[], metavar="STEM",
                           help="only this notebook, e.g. 04_mlp (repeatable)")

    sandbox = argparse.ArgumentParser(add_help=False)
    sandbox.add_argument("--suites", type=Path, default=None,
                         help="directory of the hidden suites (default: the ones bundled for instructors)")
    sandbox.add_argument("--seed", type=int, default=None, help="seed for the random inputs (default: fresh)")
    sandbox.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                         help="override a sandbox limit, e.g. memory=1GiB, cell=60, call=10 (repeatable)")
    sandbox.add_argument("--isolation", choices=ISOLATION_LEVELS, default="best-effort",
                         help="strict: refuse to grade unless student code runs as another user in private "
                              "namespaces with the hidden files masked (needs root on Linux)")
    sandbox.add_argument("--sandbox-user", default="nobody",
                         help="as root, student code runs unprivileged (each notebook under a uid of its own); "
                              "an empty value turns that off (default: on)")

    talk = argparse.ArgumentParser(add_help=False)
    loudness = talk.add_mutually_exclusive_group()
    loudness.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")
    loudness.add_argument("--verbose", "-v", action="store_true",
                          help="also list passed checks and the sandbox's protections")

    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=("text", "json"), default="text",
                     help="text: for people (default); json: one JSON document on stdout for programs "
                          "(progress and warnings go to stderr)")
    return {"assignment": assignment, "notebooks": notebooks, "sandbox": sandbox, "talk": talk, "format": fmt}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autograder", description="Grade PyTorch notebooks with hidden suites.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = _parents()
    grading = [p["assignment"], p["notebooks"], p["sandbox"], p["talk"], p["format"]]

    grade = commands.add_parser("grade", parents=grading, help="grade one student's notebooks or a class directory")
    grade.add_argument("path", type=Path, help="a notebook, a directory of one student's notebooks, a directory "
                                               "with one sub-directory per student, or an LMS zip")
    grade.add_argument("--json", type=Path, help="write the result here (one student; format: docs/results.md)")
    grade.add_argument("--gradescope", type=Path, metavar="RESULTS_JSON",
                       help="write Gradescope's results.json here (one student)")
    grade.add_argument("--out", type=Path, help="keep results here: <student>.json, grades.csv, and earlier results "
                                                "in history/ (required for a class)")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="parallel grading workers for a class (default: the number of cores)")
    grade.add_argument("--shard", default="1/1", metavar="I/N",
                       help="grade only shard I of N of the class (stable split by student name)")
    grade.add_argument("--gradebook", metavar="DB_URL",
                       help="also record the scores in this nbgrader gradebook, e.g. sqlite:///gradebook.db")
    grade.add_argument("--resume", action="store_true",
                       help="in a class run, keep results already in --out and grade only the others")
    grade.add_argument("--explain", action="append", default=[], metavar="STUDENT",
                       help="in a class run, list what went wrong for this student (repeatable)")

    demo = commands.add_parser("demo", parents=[p["assignment"], p["sandbox"], p["talk"], p["format"]],
                               help="grade the bundled solutions, a flawed sample and a blank one; print the table")
    demo.add_argument("--out", type=Path, default=None, help="keep the demo class and its results here")

    commands.add_parser("validate", parents=[p["assignment"], p["notebooks"], p["sandbox"], p["talk"]],
                        help="check sources, generated notebooks, solutions and stubs")

    merge = commands.add_parser("merge", parents=[p["assignment"], p["talk"]],
                                help="combine the results of several shards")
    merge.add_argument("sources", nargs="+", type=Path, metavar="RESULTS", help="result directories of the shards")
    merge.add_argument("--out", type=Path, required=True, help="directory for the merged results")
    merge.add_argument("--gradebook", metavar="DB_URL", help="nbgrader gradebook to merge the shards' gradebooks into")
    merge.add_argument("--from-gradebook", action="append", default=[], metavar="DB_URL",
                       help="a shard's gradebook (repeatable; with --gradebook)")

    commands.add_parser("env", parents=[p["talk"]], help="check this machine's Python, torch and packages")

    build = commands.add_parser("build", parents=[p["assignment"], p["talk"]],
                                help="regenerate exercises/ and solutions/ from source/")
    build.add_argument("--check", action="store_true", help="only report stale files (exit 1 if any)")

    new = commands.add_parser("new", parents=[p["assignment"], p["talk"]],
                              help="start a new exercise notebook: instructor notebook, hidden-suite skeleton, "
                                   "course outline entry")
    new.add_argument("stem", metavar="STEM", help="the notebook's name, e.g. 07_attention")
    new.add_argument("--title", required=True, help="the notebook's title")
    new.add_argument("--section", required=True, help="its book section, e.g. A.9.3 (or a range, A.3-A.4)")
    new.add_argument("--function", action="append", default=[], metavar="NAME",
                     help="a function students write (repeatable; default: one named after the stem)")
    new.add_argument("--points", type=int, default=10, help="the notebook's points, split over its functions "
                                                              "(default: 10)")

    update = commands.add_parser("update-course", parents=[p["assignment"], p["talk"]],
                                 help="after editing or adding notebooks in source/: regenerate release/ and the "
                                      "nbgrader gradebook, keeping every submission and grade")
    update.add_argument("--course", type=Path, default=Path("."),
                        help="the nbgrader course directory (default: the current directory)")
    update.add_argument("--gradebook", default="sqlite:///gradebook.db", metavar="DB_URL",
                        help="the course's gradebook (default: sqlite:///gradebook.db, as in nbgrader_config.py)")

    report = commands.add_parser("report", parents=[p["assignment"], p["talk"]],
                                 help="write an HTML report (plots, pass rates, problems) of a graded class")
    report.add_argument("results", type=Path, metavar="RESULTS",
                        help="the --out directory of `autograder grade CLASS --out RESULTS`")
    report.add_argument("--to", type=Path, default=None, help="the HTML file (default: RESULTS/report.html)")

    export = commands.add_parser("export", parents=[p["assignment"], p["talk"]],
                                 help="export a graded class's grades as CSV for an LMS")
    export.add_argument("results", type=Path, metavar="RESULTS", help="the --out directory of a graded class")
    export.add_argument("--lms", choices=("plain", "canvas", "moodle"), default="plain",
                        help="plain: per-notebook columns (default); canvas: Canvas gradebook import; "
                             "moodle: Moodle grading worksheet")
    export.add_argument("--to", type=Path, default=None, help="the CSV file (default: print to stdout)")
    export.add_argument("--column", default=None, help="the grade column's name for Canvas (default: the assignment)")
    export.add_argument("--roster", type=Path, default=None, metavar="FILE",
                        help="the LMS's own export, to fill in each student's LMS id when the class did not come "
                             "from its download: Canvas's gradebook export, or the Moodle assignment's grading "
                             "worksheet; students left without an id are named on stderr")

    feedback = commands.add_parser("feedback", parents=[p["assignment"], p["talk"]],
                                   help="write a Markdown and an HTML feedback file per student")
    feedback.add_argument("results", type=Path, metavar="RESULTS", help="the --out directory of a graded class")
    feedback.add_argument("--to", type=Path, default=None, help="the directory (default: RESULTS/feedback)")

    release = commands.add_parser("release", parents=[p["assignment"], p["talk"]],
                                  help="write the student repository (no hidden suites or solutions)")
    release.add_argument("outdir", type=Path, metavar="OUTDIR", help="a new or empty directory for the student repository")
    release.add_argument("--force", action="store_true", help="write into a directory that is not empty")

    check = commands.add_parser("check", parents=[p["assignment"], p["notebooks"], p["talk"]],
                                help="run the visible checks of your notebooks (offline, no hidden tests)")
    check.add_argument("path", type=Path, nargs="?", default=Path("exercises"),
                       help="exercises/, a directory of notebooks, or one notebook (default: exercises)")
    check.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook (default: 600)")
    check.add_argument("--jobs", type=int, default=1, help="notebooks checked at the same time (default: 1)")

    mutate = commands.add_parser("mutate", parents=grading,
                                 help="mutation testing: grade small changes of the reference solutions and "
                                      "report which ones the hidden suites miss")
    mutate.add_argument("--function", action="append", default=[], metavar="FN",
                        help="only the mutants of this function, e.g. gram (repeatable)")
    mutate.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="parallel grading workers (default: the number of cores)")
    mutate.add_argument("--limit-mutants", type=int, default=None, metavar="N",
                        help="grade at most N mutants of each notebook, a sample drawn with --sample-seed")
    mutate.add_argument("--sample-seed", type=int, default=None, metavar="S",
                        help="which mutants --limit-mutants keeps (default: 0; the same seed keeps the same ones)")
    mutate.add_argument("--equivalents", type=Path, default=None, metavar="DIR",
                        help="the reviewed equivalent mutants, DIR/<notebook>.toml "
                             "(default: autograder/mutation/equivalent/)")

    similarity = commands.add_parser("similarity", parents=[p["assignment"], p["notebooks"], p["talk"]],
                                     help="rank every pair of students by how alike their solution code is "
                                          "(copydetect fingerprints; the handout never counts)")
    similarity.add_argument("class_dir", type=Path, metavar="CLASS_DIR",
                            help="a directory with one sub-directory of notebooks per student")
    similarity.add_argument("--to", type=Path, default=None, metavar="FILE.csv",
                            help="write every pair here as CSV: student_a,student_b,score (best first)")
    similarity.add_argument("--html", type=Path, default=None, metavar="FILE.html",
                            help="write one self-contained HTML page: the ranking, and the top pairs' code side "
                                 "by side with the matches marked")
    similarity.add_argument("--top", type=int, default=10, metavar="N",
                            help="pairs printed, and shown side by side in --html (default: 10)")

    own = _parents()  # ci changes a shared option's default: its parents must be its own objects
    ci = commands.add_parser("ci", parents=[own["assignment"], own["notebooks"], own["sandbox"], own["talk"]],
                             help="grade a pull request on GitHub Actions (summary, outputs, annotations)")
    ci.set_defaults(isolation=None)  # not given: strict when root, else best-effort with a note in the summary
    ci.add_argument("--head", type=Path, required=True, help="the pull request's checkout (graded as data)")
    ci.add_argument("--base", type=Path, default=Path("."),
                    help="the base branch's checkout, to report edits of workflow and grader files (default: .)")
    ci.add_argument("--results", type=Path, default=Path("results.json"), help="results.json to write")
    ci.add_argument("--comment", type=Path, default=None, help="write the pull-request comment body here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:  # its message may quote a file name from a submission: shown, never interpreted
        from autograder.output_encoding import terminal_text

        print(f"autograder {args.command}: {terminal_text(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        print("autograder: interrupted; results written so far are kept (rerun with --resume to finish)",
              file=sys.stderr)
        return 130


def _output(args: argparse.Namespace) -> Output:
    return Output(quiet=args.quiet, verbose=args.verbose, format=getattr(args, "format", "text"))


def _sandbox(args: argparse.Namespace, **overrides) -> SandboxOptions:
    values = dict(assignment=args.assignment, suites=args.suites, seed=args.seed, limits=tuple(args.limit),
                  isolation=args.isolation, sandbox_user=args.sandbox_user,
                  notebooks=tuple(getattr(args, "notebook", ())))
    return SandboxOptions(**{**values, **overrides})


# ------------------------------------------------------------------------------------------ commands


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.grade_command import GradeRequest, grade, parse_shard

    request = GradeRequest(path=args.path, out=args.out, json=args.json, gradescope=args.gradescope, jobs=args.jobs,
                           shard=parse_shard(args.shard), gradebook=args.gradebook, resume=args.resume,
                           explain=tuple(args.explain))
    return grade(request, sandbox=_sandbox(args), output=_output(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from autograder.demo import run_demo

    return run_demo(out=args.out, sandbox=_sandbox(args), output=_output(args))


def cmd_validate(args: argparse.Namespace) -> int:
    from autograder.validate import validate

    from autograder.course import OutlineError

    options = _sandbox(args)
    output = _output(args)
    try:
        options.spec()
    except OutlineError as error:  # the outline itself is the first thing validate checks
        print(f"[FAIL] {error}\n0 passed, 1 failed")
        return EXIT_FAILED
    with options.setup().sandbox() as sandbox:
        findings = validate(assignment=options.spec(), suites_dir=options.suites_dir(), sandbox=sandbox)
    failed = sum(not finding.ok for finding in findings)
    for finding in findings:
        if not (output.quiet and finding.ok):
            print(f"{'[OK]  ' if finding.ok else '[FAIL]'} {finding.text}")
    if not output.quiet or failed:
        print(f"{len(findings) - failed} passed, {failed} failed")
    return EXIT_OK if failed == 0 else EXIT_FAILED


def cmd_merge(args: argparse.Namespace) -> int:
    from autograder.reporters.csvfile import write_grades
    from autograder.results_folder import merge

    output = _output(args)
    assignment = assignment_spec(args.assignment)
    students = merge(sources=args.sources, out_dir=args.out)
    write_grades(args.out, assignment=assignment)
    output.say(f"merged {len(students)} students from {len(args.sources)} shards into {args.out}")
    if args.gradebook:
        from autograder.nbgrader.gradebook import merge_gradebooks

        copied = merge_gradebooks(sources=args.from_gradebook, target=args.gradebook, assignment_id=args.assignment)
        output.say(f"merged {copied} submissions into {args.gradebook}")
    elif args.from_gradebook:
        raise UsageError("--from-gradebook needs --gradebook DB_URL, the gradebook to merge into")
    return EXIT_OK


def cmd_env(args: argparse.Namespace) -> int:
    from autograder.envcheck import collect, format_lines

    lines = collect()
    output = _output(args)
    shown = [line for line in lines if line.status != "OK"] if output.quiet else lines
    if shown:
        print(format_lines(shown))
    return EXIT_FAILED if any(line.status == "FAIL" for line in lines) else EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from autograder.course.build import main as build_main

    assignment_spec(args.assignment)  # an unknown assignment is a usage error, said before anything is written
    return build_main(["--assignment", args.assignment] + (["--check"] if args.check else [])
                      + (["--quiet"] if args.quiet else []))


def cmd_new(args: argparse.Namespace) -> int:
    from autograder.course.scaffold import new_notebook

    made = new_notebook(assignment_name=args.assignment, stem=args.stem, title=args.title, section=args.section,
                        functions=tuple(args.function), points=args.points)
    output = _output(args)
    output.say(f"wrote {made.notebook}\nwrote {made.suite}\nadded {made.spec.stem} ({made.spec.points} points: "
               f"{', '.join(made.spec.functions)}) to the {args.assignment} outline")
    output.say("next: write the exercise and its checks, then `autograder build` and `autograder validate`; "
               "in an nbgrader course with submissions, `autograder update-course` (docs/instructor-guide.md)")
    return EXIT_OK


def cmd_update_course(args: argparse.Namespace) -> int:
    from autograder.nbgrader.course_update import NbgraderFailed, update_course

    try:
        update = update_course(course_dir=args.course, assignment=args.assignment, db_url=args.gradebook)
    except NbgraderFailed as error:
        print(f"autograder: {error}", file=sys.stderr)
        return EXIT_FAILED
    output = _output(args)
    output.say(f"release/{args.assignment} and {args.gradebook} regenerated from source/{args.assignment}")
    if update.added:
        output.say(f"new notebooks: {', '.join(update.added)}")
    for student, notebooks in sorted(update.completed.items()):
        output.say(f"{student}'s earlier submission now also lists {', '.join(notebooks)} (0 until graded)")
    output.say(f"next: nbgrader release_assignment {args.assignment} --force; students run "
               f"nbgrader fetch_assignment {args.assignment} --replace")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from autograder.reporters.html_report import build_report

    report = build_report(args.results, assignment=assignment_spec(args.assignment), html_path=args.to)
    output = _output(args)
    output.say(f"report of {report.students} students: {report.html_path}")
    output.say(f"plots: {', '.join(str(path) for path in report.images)}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from autograder.files import write_atomically
    from autograder.reporters.lms import build_export, missing_id_warnings

    export = build_export(args.results, fmt=args.lms, assignment=assignment_spec(args.assignment),
                          column=args.column, roster=args.roster)
    if args.to is None:
        sys.stdout.write(export.text)
    else:
        write_atomically(args.to, export.text)
        _output(args).say(f"{args.lms} grades written to {args.to}")
    for line in missing_id_warnings(export.matching) if export.matching else ():
        print(f"autograder: {line}", file=sys.stderr)  # even with --quiet: a student would be missed otherwise
    return EXIT_OK


def cmd_feedback(args: argparse.Namespace) -> int:
    from autograder.reporters.feedback import write_feedback

    written = write_feedback(args.results, assignment=assignment_spec(args.assignment), target=args.to)
    _output(args).say(f"feedback for {len(written) // 2} students: {args.to or args.results / 'feedback'}")
    return EXIT_OK


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.release import ReleaseError, release

    try:
        written = release(args.outdir, spec=assignment_spec(args.assignment), force=args.force)
    except ReleaseError as error:
        print(f"autograder: {error}", file=sys.stderr)
        return EXIT_FAILED
    _output(args).say(f"student repository written to {args.outdir} ({len(written)} files); "
                      "it holds no hidden suite and no solution")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from autograder.check import check_notebooks, format_report

    if not args.path.exists():
        raise UsageError(f"{args.path} does not exist: run this from your repository's top directory, "
                         "or give the exercises directory or a notebook")
    spec = assignment_spec(args.assignment, args.notebook)
    if args.path.is_file():
        spec = spec.subset([nb.stem for nb in spec.notebooks if nb.stem in args.path.name] or [spec.notebooks[0].stem])
    checks = check_notebooks(args.path, spec, timeout=args.timeout, jobs=args.jobs)
    ok = all(check.ok for check in checks)
    if not args.quiet or not ok:
        print(format_report(checks))
    return EXIT_OK if ok else EXIT_FAILED


def cmd_mutate(args: argparse.Namespace) -> int:
    from autograder.mutation.command import mutate, sample_from

    return mutate(functions=tuple(args.function), workers=args.workers, equivalents=args.equivalents,
                  sample=sample_from(limit=args.limit_mutants, seed=args.sample_seed), sandbox=_sandbox(args),
                  output=_output(args))


def cmd_similarity(args: argparse.Namespace) -> int:
    from autograder.similarity.command import SimilarityRequest, run_similarity

    request = SimilarityRequest(class_dir=args.class_dir, csv_path=args.to, html_path=args.html, top=args.top)
    return run_similarity(request, spec=assignment_spec(args.assignment, args.notebook), output=_output(args))


def cmd_ci(args: argparse.Namespace) -> int:
    from autograder import ci
    from autograder.grading.errors import GraderError
    from autograder.sandbox.errors import SandboxError

    root = os.geteuid() == 0 if hasattr(os, "geteuid") else False
    isolation = args.isolation or ("strict" if root else "best-effort")
    note = "" if isolation == "strict" else (
        "Grading ran without full isolation (not root): student code ran as the runner's user. "
        "Run `autograder ci` with sudo for grading that counts.")
    options = _sandbox(args, isolation=isolation)
    github_files = tuple(Path(os.environ[name]).resolve().parent for name in ci.GITHUB_FILES if os.environ.get(name))
    extra = (args.head.resolve(),) + github_files

    def setup_for(suites: Path | None):
        return replace(options, suites=suites).setup(extra_masks=extra)

    if args.suites is not None and not args.suites.is_dir():
        raise UsageError(f"--suites {args.suites}: no such directory. In the workflow, SUITES_PATH names the "
                         "suites' directory inside the suites repository (default appendix_a); leave --suites out "
                         "to run the visible checks only")
    try:
        return ci.run(head=args.head, suites=args.suites.resolve() if args.suites else None, base=args.base,
                      spec=options.spec(), results_path=args.results, comment_path=args.comment,
                      setup_for=setup_for, isolation_note=note, seed=args.seed)
    except (GraderError, SandboxError) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return EXIT_FAILED


COMMANDS = {"grade": cmd_grade, "demo": cmd_demo, "validate": cmd_validate, "merge": cmd_merge, "env": cmd_env,
            "build": cmd_build, "report": cmd_report, "export": cmd_export, "feedback": cmd_feedback,
            "release": cmd_release, "check": cmd_check, "ci": cmd_ci,
            "update-course": cmd_update_course, "new": cmd_new, "mutate": cmd_mutate,
            "similarity": cmd_similarity}
