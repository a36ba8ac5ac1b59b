"""What a similarity run finds: a score per pair of students, with the matched code per notebook."""

from __future__ import annotations

from dataclasses import dataclass

Region = tuple[int, int]  # [start, end) character offsets into a notebook's extracted code


@dataclass(frozen=True)
class NotebookMatch:
    """One notebook of a pair: both students' extracted code and where it matches."""

    stem: str
    score: float                 # mean of the two overlap fractions, in [0, 1]
    code_a: str
    code_b: str
    regions_a: tuple[Region, ...]
    regions_b: tuple[Region, ...]


@dataclass(frozen=True)
class PairScore:
    """Two students (``student_a`` < ``student_b``) and how much of their code matches, in [0, 1]."""

    student_a: str
    student_b: str
    score: float
    notebooks: tuple[NotebookMatch, ...]


def ranked(pairs: list[PairScore] | tuple[PairScore, ...]) -> tuple[PairScore, ...]:
    """Best first; ties in a stable order (by the students' names)."""
    return tuple(sorted(pairs, key=lambda pair: (-pair.score, pair.student_a, pair.student_b)))
