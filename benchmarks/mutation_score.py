"""Mutation score of the hidden suites: every cosmic-ray mutant of every reference notebook, graded.

    python benchmarks/mutation_score.py                                   # every notebook (long)
    python benchmarks/mutation_score.py --notebook 01_setup --notebook 02_tensors --workers 2

The same run as `autograder mutate` (the batch grader, in the sandbox, one seed for the
reference and all mutants), notebook by notebook. Prints, per notebook, the mutants and how
many were killed, survived, equivalent (reviewed, not graded) and timed out, the mutation
score killed / (mutants - equivalent), and the seconds the notebook took (generating, writing
and grading its mutants, with the workers' start); then every survivor's id and the checks it
passed, and with --diffs its diff. Exit status 0 whatever the score.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.course import APPENDIX_A  # noqa: E402
from autograder.mutation.reporter import cell_diff, score_text  # noqa: E402
from autograder.mutation.run import MutationRequest, run_mutation  # noqa: E402
from autograder.options import SandboxOptions  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebook", action="append", default=[], metavar="STEM",
                        help="only this notebook (repeatable; default: every notebook of appendix_a)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel grading workers")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random inputs (default: drawn)")
    parser.add_argument("--diffs", action="store_true", help="also print each survivor's diff")
    args = parser.parse_args(argv)

    stems = args.notebook or [notebook.stem for notebook in APPENDIX_A.notebooks]
    request = MutationRequest(workers=args.workers)
    rows, survivors, notes = [], [], []
    started = time.monotonic()
    for stem in stems:
        report = run_mutation(request, sandbox=SandboxOptions(notebooks=(stem,), seed=args.seed))
        (notebook,) = report.notebooks
        rows.append((stem, notebook.mutants, notebook.killed, notebook.survived, notebook.equivalent,
                     notebook.timed_out, score_text(notebook), f"{notebook.seconds:.1f}", str(notebook.seed)))
        survivors += notebook.survivors
        notes += [f"{stem}: {note}" for note in notebook.notes]

    header = ("notebook", "mutants", "killed", "survived", "equivalent", "timed_out", "score", "seconds", "seed")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(value).rjust(width) if i else str(value).ljust(width)
                        for i, (value, width) in enumerate(zip(row, widths))))
    print(f"\n{sum(row[1] for row in rows)} mutants in {time.monotonic() - started:.1f} s with {args.workers} "
          f"worker(s)")
    print(f"\nsurvivors: {len(survivors)}")
    for result in survivors:
        print(f"  {result.mutant.notebook} {result.mutant.id} (line {result.mutant.line}, column "
              f"{result.mutant.column}); passed {', '.join(result.passed_checks)}")
        if args.diffs:
            print("\n".join(f"      {line}" for line in cell_diff(result.mutant).splitlines()))
    for note in notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
