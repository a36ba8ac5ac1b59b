"""``autograder similarity CLASS_DIR``: rank every pair of students by how alike their solution code is."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.course import REPO_ROOT, AssignmentSpec
from autograder.errors import UsageError
from autograder.notebooks import is_class_directory
from autograder.options import Output
from autograder.output_encoding import terminal_text
from autograder.similarity.csv_report import write_csv
from autograder.similarity.fingerprints import compare_class
from autograder.similarity.handout import read_handout
from autograder.similarity.html_report import write_html
from autograder.similarity.results import PairScore
from autograder.similarity.student_code import extract_class
from autograder.similarity.text_report import text_lines


@dataclass(frozen=True)
class SimilarityRequest:
    class_dir: Path
    csv_path: Path | None = None
    html_path: Path | None = None
    top: int = 10
    exercises_dir: Path | None = None  # default: exercises/<assignment> of this checkout


def similarity_pairs(*, class_dir: Path, spec: AssignmentSpec, exercises_dir: Path) -> tuple[PairScore, ...]:
    """Every pair of students of ``class_dir`` scored, best first."""
    handout = read_handout(exercises_dir=exercises_dir, spec=spec)
    students = extract_class(class_dir=class_dir, spec=spec, handout=handout)
    for student in students:
        for stem, why in student.unreadable:
            print(terminal_text(f"autograder similarity: {student.student}/{stem} left out: {why}"), file=sys.stderr)
    return compare_class(students=students, handout=handout)


def run_similarity(request: SimilarityRequest, *, spec: AssignmentSpec, output: Output) -> int:
    if request.top < 1:
        raise UsageError(f"--top {request.top}: give a number of pairs of at least 1")
    if not is_class_directory(request.class_dir):
        raise UsageError(f"{request.class_dir} is not a class directory: give a directory with one sub-directory "
                         "of notebooks per student")
    exercises_dir = request.exercises_dir or REPO_ROOT / "exercises" / spec.name
    pairs = similarity_pairs(class_dir=request.class_dir, spec=spec, exercises_dir=exercises_dir)
    if request.csv_path is not None:
        write_csv(request.csv_path, pairs)
        output.say(f"all {len(pairs)} pairs written to {request.csv_path}")
    if request.html_path is not None:
        write_html(request.html_path, pairs, top=request.top)
        output.say(f"report written to {request.html_path} (code side by side for the top {request.top})")
    if not output.quiet:
        print("\n".join(text_lines(pairs, top=request.top)))
    return 0
