"""Every pair of students compared with copydetect's winnowed fingerprints.

copydetect tokenises Python with pygments, replaces every name with one letter (so renamed variables
and functions look the same), drops comments and whitespace, hashes every ``NOISE_CHARS``-long run
of what is left and keeps the fingerprints winnowing selects.  Order does not matter to a set of
fingerprints, so reordered functions still match.  Fingerprints that also occur in the handout's
code are dropped (copydetect's boilerplate filter).

A notebook's score for a pair is the mean of the two overlap fractions (the share of each student's
fingerprinted code that the other has too); a pair's score is the same over all notebooks together,
each student's overlap and code summed first, so a long notebook weighs more than a short one.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass

from autograder.errors import UsageError
from autograder.similarity.handout import Handout
from autograder.similarity.results import NotebookMatch, PairScore, Region, ranked
from autograder.similarity.student_code import StudentCode

NOISE_CHARS = 25       # copydetect's noise threshold k: matches shorter than this never count
GUARANTEE_CHARS = 25   # matches this long always count; the window is GUARANTEE_CHARS - NOISE_CHARS + 1
LANGUAGE = "python"
INSTALL_HINT = "copydetect is not installed: pip install copydetect (or pip install -e '.[dev]')"


@dataclass(frozen=True)
class _Fingerprinted:
    code: str
    fingerprint: object  # copydetect.CodeFingerprint, or None for empty code
    coverage: float


def compare_class(*, students: tuple[StudentCode, ...], handout: Handout) -> tuple[PairScore, ...]:
    """Every pair of ``students`` scored, best first."""
    copydetect, numpy = _copydetect()
    window = GUARANTEE_CHARS - NOISE_CHARS + 1
    boilerplate = numpy.array(sorted(_fingerprint(copydetect, handout.boilerplate_code, name="handout.py",
                                                  window=window, boilerplate=None).hashes), dtype=numpy.int64)
    prints = {(student.student, notebook.stem): _fingerprinted(copydetect, student.of(notebook.stem),
                                                               name=f"{notebook.stem}.py", window=window,
                                                               boilerplate=boilerplate)
              for student in students for notebook in handout.notebooks}
    stems = [notebook.stem for notebook in handout.notebooks]
    pairs = []
    for first, second in itertools.combinations(sorted(student.student for student in students), 2):
        pairs.append(_pair(copydetect, first, second, stems=stems, prints=prints))
    return ranked(pairs)


def _pair(copydetect, first: str, second: str, *, stems: list[str], prints: dict) -> PairScore:
    matches, overlap, coverage = [], [0.0, 0.0], [0.0, 0.0]
    for stem in stems:
        a, b = prints[(first, stem)], prints[(second, stem)]
        coverage[0] += a.coverage
        coverage[1] += b.coverage
        if a.fingerprint is None or b.fingerprint is None:
            if a.code or b.code:
                matches.append(NotebookMatch(stem=stem, score=0.0, code_a=a.code, code_b=b.code,
                                             regions_a=(), regions_b=()))
            continue
        _, (fraction_a, fraction_b), (slices_a, slices_b) = copydetect.compare_files(a.fingerprint, b.fingerprint)
        fraction_a, fraction_b = _unit(fraction_a), _unit(fraction_b)
        overlap[0] += fraction_a * a.coverage
        overlap[1] += fraction_b * b.coverage
        matches.append(NotebookMatch(stem=stem, score=(fraction_a + fraction_b) / 2, code_a=a.code, code_b=b.code,
                                     regions_a=_regions(slices_a, len(a.code)),
                                     regions_b=_regions(slices_b, len(b.code))))
    fractions = [overlap[side] / coverage[side] if coverage[side] else 0.0 for side in (0, 1)]
    return PairScore(student_a=first, student_b=second, score=_unit(sum(fractions) / 2), notebooks=tuple(matches))


def _fingerprinted(copydetect, code: str, *, name: str, window: int, boilerplate) -> _Fingerprinted:
    if not code.strip():
        return _Fingerprinted(code=code, fingerprint=None, coverage=0.0)
    fingerprint = _fingerprint(copydetect, code, name=name, window=window, boilerplate=boilerplate)
    return _Fingerprinted(code=code, fingerprint=fingerprint, coverage=float(fingerprint.token_coverage))


def _fingerprint(copydetect, code: str, *, name: str, window: int, boilerplate):
    return copydetect.CodeFingerprint(name, NOISE_CHARS, window, boilerplate=boilerplate, language=LANGUAGE,
                                      fp=io.StringIO(code))


def _regions(slices, length: int) -> tuple[Region, ...]:
    """copydetect's 2xN start/end array as sorted, merged ``(start, end)`` ranges within the code."""
    if len(slices) == 0 or len(slices[0]) == 0:
        return ()
    spans = sorted((max(0, int(start)), min(length, int(end))) for start, end in zip(slices[0], slices[1]))
    merged: list[list[int]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((start, end) for start, end in merged)


def _unit(value) -> float:
    return min(1.0, max(0.0, float(value)))


def _copydetect():
    try:
        import copydetect
        import numpy
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return copydetect, numpy
