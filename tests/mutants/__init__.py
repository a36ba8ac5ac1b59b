"""Mutant corpus: one flawed variant of a solution notebook per defect.

Each ``tests/mutants/<stem>.py`` module defines ``MUTANTS``, a list of
:class:`Mutant`.  A mutant replaces the source of solution cells (addressed by
their nbgrader ``grade_id``) in the reference notebook ``solutions/appendix_a/<stem>.ipynb``
and names exactly the hidden checks it must fail; every other check of the
notebook must still pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutant:
    name: str                      # e.g. "gram_transposed"
    defect: str                    # one sentence: what a student got wrong
    cells: dict[str, str]          # grade_id of a solution cell -> replacement source
    loses: frozenset[str]          # names of the hidden checks (test function names) that must fail
    message_contains: str = ""     # a fragment that one failed check's message must contain (case-insensitive)
    extra_cells: tuple[str, ...] = field(default=())  # code cells appended at the end (demo code, attacks)
