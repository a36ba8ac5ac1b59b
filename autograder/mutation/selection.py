"""What a run mutates: which notebooks and functions, and a reproducible sample of their mutants."""

from __future__ import annotations

import random
from dataclasses import dataclass

from autograder.course import AssignmentSpec, NotebookSpec
from autograder.errors import UsageError
from autograder.mutation.mutants import Mutant


@dataclass(frozen=True)
class Sample:
    """At most ``limit`` mutants of each notebook, drawn with ``seed`` (the same seed draws the same ones)."""

    limit: int
    seed: int = 0


def notebooks_to_mutate(spec: AssignmentSpec, *, functions: tuple[str, ...],
                        named_notebooks: bool) -> tuple[NotebookSpec, ...]:
    """The notebooks of ``spec`` (already restricted by ``--notebook``) that hold ``functions``.

    Without ``--notebook`` (``named_notebooks`` false), only the notebooks that define one of
    ``functions`` are kept; every function must belong to a kept notebook."""
    if not functions:
        return spec.notebooks
    known = {function: notebook for notebook in spec.notebooks for function in notebook.functions}
    unknown = [function for function in functions if function not in known]
    if unknown:
        where = ", ".join(notebook.stem for notebook in spec.notebooks)
        listing = "; ".join(f"{notebook.stem}: {', '.join(notebook.functions)}" for notebook in spec.notebooks)
        raise UsageError(f"--function {', '.join(unknown)}: no such function in {where}. "
                         f"Give one of the functions of the course outline ({listing})")
    if named_notebooks:
        return spec.notebooks
    return tuple(notebook for notebook in spec.notebooks if any(known[f] == notebook for f in functions))


def pick(mutants: list[Mutant], *, functions: tuple[str, ...], sample: Sample | None) -> list[Mutant]:
    """The mutants of ``functions`` (all when empty), then at most ``sample.limit`` of them, in their order."""
    chosen = [mutant for mutant in mutants if not functions or mutant.function in functions]
    if sample is None or len(chosen) <= sample.limit:
        return chosen
    drawn = set(random.Random(sample.seed).sample(range(len(chosen)), sample.limit))
    return [mutant for index, mutant in enumerate(chosen) if index in drawn]
