"""The top pairs on a terminal, one line each."""

from __future__ import annotations

from autograder.output_encoding import terminal_text
from autograder.similarity.results import PairScore


def text_lines(pairs: tuple[PairScore, ...], *, top: int) -> list[str]:
    if not pairs:
        return ["no pairs to compare: the class needs at least two student directories"]
    shown = pairs[:top]
    lines = [f"top {len(shown)} of {len(pairs)} pairs by similarity (1.000 = the same code):"]
    for pair in shown:
        notebooks = ", ".join(f"{match.stem} {match.score:.2f}" for match in pair.notebooks if match.score > 0)
        names = terminal_text(f"{pair.student_a} / {pair.student_b}", keep_newlines=False)
        lines.append(f"  {pair.score:.3f}  {names}" + (f"  ({notebooks})" if notebooks else ""))
    return lines
