"""The ranked pairs as CSV: ``student_a,student_b,score`` (score with 3 decimals), best first."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from autograder.files import write_atomically
from autograder.output_encoding import csv_text
from autograder.similarity.results import PairScore

HEADER = ("student_a", "student_b", "score")


def csv_document(pairs: tuple[PairScore, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for pair in pairs:
        writer.writerow((csv_text(pair.student_a), csv_text(pair.student_b), f"{pair.score:.3f}"))
    return buffer.getvalue()


def write_csv(path: Path, pairs: tuple[PairScore, ...]) -> None:
    write_atomically(path, csv_document(pairs))
