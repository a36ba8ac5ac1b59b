"""One self-contained HTML page: the ranked pairs, then each pair's code side by side, matches marked.

Nothing is loaded from elsewhere (the style is inline, there is no script).  Every piece of student
text (names, code) goes through :func:`autograder.output_encoding.html_text` exactly once.
"""

from __future__ import annotations

from pathlib import Path

from autograder.files import write_atomically
from autograder.output_encoding import html_text
from autograder.similarity.results import NotebookMatch, PairScore, Region

_STYLE = """
body { font-family: sans-serif; margin: 2em; }
table.rank td, table.rank th { padding: 0.2em 0.8em; text-align: left; }
.side { display: flex; gap: 1em; }
.side > div { flex: 1; min-width: 0; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; }
mark { background: #ffd27f; }
"""


def html_document(pairs: tuple[PairScore, ...], *, top: int | None = None, min_score: float = 0.0) -> str:
    """The page for ``pairs`` (ranked best first); code is shown for the first ``top`` with a score over ``min_score``."""
    detailed = [pair for pair in pairs[:top] if pair.score > min_score]  # ranked: these are the first ones
    rows = "\n".join(
        f"<tr><td>{rank}</td><td>{_link(rank, pair) if rank <= len(detailed) else _names(pair)}</td>"
        f"<td>{pair.score:.3f}</td></tr>" for rank, pair in enumerate(pairs, start=1))
    sections = "\n".join(_pair_section(rank, pair) for rank, pair in enumerate(detailed, start=1))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Similar submissions</title>"
            f"<style>{_STYLE}</style></head><body>\n<h1>Similar submissions</h1>\n"
            "<p>Pairs ranked by the share of their solution code that matches (copydetect fingerprints; "
            "the handout's code never counts). A high score is a reason to look, not proof.</p>\n"
            "<table class=\"rank\"><tr><th>#</th><th>students</th><th>score</th></tr>\n"
            f"{rows}\n</table>\n{sections}\n</body></html>\n")


def write_html(path: Path, pairs: tuple[PairScore, ...], *, top: int | None = None) -> None:
    write_atomically(path, html_document(pairs, top=top))


def _names(pair: PairScore) -> str:
    return f"{html_text(pair.student_a)} &amp; {html_text(pair.student_b)}"


def _link(rank: int, pair: PairScore) -> str:
    return f"<a href=\"#pair-{rank}\">{_names(pair)}</a>"


def _pair_section(rank: int, pair: PairScore) -> str:
    notebooks = "\n".join(_notebook(match, pair) for match in pair.notebooks)
    return (f"<section id=\"pair-{rank}\"><h2>{rank}. {_names(pair)}: {pair.score:.3f}</h2>\n"
            f"{notebooks}</section>")


def _notebook(match: NotebookMatch, pair: PairScore) -> str:
    return (f"<h3>{html_text(match.stem)}: {match.score:.3f}</h3>\n<div class=\"side\">"
            f"<div><h4>{html_text(pair.student_a)}</h4><pre>{marked_code(match.code_a, match.regions_a)}</pre></div>"
            f"<div><h4>{html_text(pair.student_b)}</h4><pre>{marked_code(match.code_b, match.regions_b)}</pre></div>"
            "</div>")


def marked_code(code: str, regions: tuple[Region, ...]) -> str:
    """``code`` escaped, with each matched region in a ``<mark>``."""
    pieces, position = [], 0
    for start, end in regions:
        pieces.append(html_text(code[position:start]))
        pieces.append(f"<mark>{html_text(code[start:end])}</mark>")
        position = end
    pieces.append(html_text(code[position:]))
    return "".join(pieces)
