"""``autograder mutate``: how many plausible wrong solutions do the hidden suites catch?

Exit status 0 when the run finished, whatever survived (survivors are information); 1 when it
could not run (cosmic-ray missing, the reference could not be graded, a fault of the grader);
2 for usage errors (raised as :class:`~autograder.errors.UsageError`, reported by the CLI).
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograder.errors import UsageError
from autograder.mutation.engine import EngineMissing, require_engine
from autograder.mutation.selection import Sample
from autograder.options import Output, SandboxOptions

EXIT_OK, EXIT_FAILED = 0, 1


def sample_from(*, limit: int | None, seed: int | None) -> Sample | None:
    """``--limit-mutants N --sample-seed S`` as a :class:`Sample` (seed 0 unless given)."""
    if limit is None:
        if seed is not None:
            raise UsageError("--sample-seed only chooses which mutants --limit-mutants N keeps: give both, "
                             "or neither for every mutant")
        return None
    return Sample(limit=limit, seed=0 if seed is None else seed)


def mutate(*, functions: tuple[str, ...], workers: int, sample: Sample | None, sandbox: SandboxOptions,
           output: Output, equivalents: Path | None = None) -> int:
    """Run the mutation testing asked for; print the report (text or JSON) on stdout."""
    try:
        require_engine()
    except EngineMissing as error:
        print(f"autograder mutate: {error}", file=sys.stderr)
        return EXIT_FAILED
    from autograder.grading.errors import GraderError
    from autograder.mutation.equivalent import EQUIVALENT_DIR
    from autograder.mutation.progress import ProgressLine
    from autograder.mutation.reporter import to_json, to_text
    from autograder.mutation.run import MutationRequest, run_mutation
    from autograder.sandbox.errors import SandboxError

    if equivalents is not None and not equivalents.is_dir():
        raise UsageError(f"--equivalents {equivalents}: no such directory; give the folder that holds the "
                         "reviewed <notebook>.toml files, or leave the option out for the bundled ones")
    request = MutationRequest(functions=functions, workers=workers, sample=sample,
                              equivalents=equivalents or EQUIVALENT_DIR)
    progress = ProgressLine(quiet=output.quiet)
    try:
        report = run_mutation(request, sandbox=sandbox, progress=progress.callbacks())
    except (GraderError, SandboxError) as error:
        print(f"autograder mutate: {error}", file=sys.stderr)
        return EXIT_FAILED
    if output.format == "json":
        print(to_json(report))
    elif not output.quiet:
        print(to_text(report, verbose=output.verbose))
    return EXIT_OK
