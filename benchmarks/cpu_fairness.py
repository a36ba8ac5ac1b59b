"""How much a CPU-hog student slows down the classmates graded at the same time.

    python benchmarks/cpu_fairness.py                  # 16 classmates on 2 workers, 02_tensors and 03_autograd
    python benchmarks/cpu_fairness.py --workers 3 --classmates 30

The classmates hand in the reference solutions. They are graded side by side (``--workers`` at a
time) twice: alone, then with the hog as one more student in the same class run, taken by one more
worker. The hog's notebooks are the solutions plus a cell that starts as many processes as the
notebook may (at most the process limit, 128 by default, also where that limit is not enforced),
each trying ``setsid`` (a scheduler group of its own under autogroup scheduling) and a lower nice
value, all spinning while the cell holds the notebook open (``tests/hostile/cpu.py``). Prints the
classmates' grading time (the seconds of each result, summed; the median and the slowest classmate
too) in both runs and the slowdown ratio (target: at most 1.5x), with the sandbox's note on how it
shares the CPU. Run it as root for the full sandbox.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.course import APPENDIX_A, default_suites_dir, secret_paths  # noqa: E402

SOLUTIONS = REPO / "solutions" / "appendix_a"
NOTEBOOKS = ("02_tensors", "03_autograd")
TARGET = 1.5


def grade(class_dir: Path, *, jobs: int, seed: int) -> tuple[dict[str, float], dict[str, float], str]:
    """Grade ``class_dir``: each student's grading seconds, their score fractions, and the sandbox's CPU note."""
    from autograder.grading.batch import grade_class
    from autograder.grading.pool import GradingSetup
    from autograder.sandbox.client import SandboxSettings
    from autograder.sandbox.isolation import IsolationPlan

    suites = default_suites_dir("appendix_a")
    settings = SandboxSettings(plan=IsolationPlan(mask_paths=secret_paths(suites_dir=suites)))
    setup = GradingSetup(assignment=APPENDIX_A.subset(list(NOTEBOOKS)), suites_dir=suites,
                         sandbox_settings=settings, seed=seed)
    reported = []
    results = grade_class(class_dir=class_dir, setup=setup, jobs=jobs, on_protections=reported.append)
    notes = [note for protections in reported for note in protections.notes if note.startswith("CPU")]
    seconds = {result.student: result.seconds for result in results}
    scores = {result.student: sum(n.points for n in result.notebooks) / sum(n.max_points for n in result.notebooks)
              for result in results}
    return seconds, scores, (notes[0] if notes else "the sandbox gave no CPU note")


def make_class(root: Path, *, classmates: int, hog_seconds: float | None) -> Path:
    from autograder.sandbox.limits import Limits
    from tests.conftest import write_variant
    from tests.hostile.cpu import cpu_hog

    for index in range(classmates):
        folder = root / f"classmate_{index + 1:03d}"
        folder.mkdir(parents=True)
        for stem in NOTEBOOKS:
            shutil.copy(SOLUTIONS / f"{stem}.ipynb", folder)
    if hog_seconds is not None:
        cell = cpu_hog(spin_seconds=hog_seconds, hold_seconds=hog_seconds, processes=Limits().processes)
        for stem in NOTEBOOKS:
            write_variant(root / "a_hog", stem, {}, (cell,))  # "a_": sorted first, so handed out first
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="classmates graded side by side")
    parser.add_argument("--classmates", type=int, default=16, help="honest students, shared among the workers")
    parser.add_argument("--repeat", type=int, default=1,
                        help="pairs of runs (alone, then beside the hog); the median ratio is the result")
    parser.add_argument("--seed", type=int, default=7, help="the hidden suites' seed, the same in every run")
    args = parser.parse_args()

    ratios = []
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="cpu-fairness-") as scratch:
            ratios.append(compare(Path(scratch), workers=args.workers, classmates=args.classmates, seed=args.seed))
    ratio = statistics.median(ratios)
    verdict = "within" if ratio <= TARGET else "over"
    runs = f" (median of {', '.join(f'{r:.2f}x' for r in ratios)})" if len(ratios) > 1 else ""
    print(f"slowdown: {ratio:.2f}x over all classmates{runs}, {verdict} the {TARGET}x target")
    return 0


def compare(scratch: Path, *, workers: int, classmates: int, seed: int) -> float:
    """Grade the classmates alone, then beside the hog; print both; the slowdown over all classmates."""
    alone, _, _ = grade(make_class(scratch / "alone", classmates=classmates, hog_seconds=None),
                        jobs=workers, seed=seed)
    # One more worker takes the hog, first. It spins for twice as long as the classmates took alone (each of
    # its two notebooks holds a cell that long, within the 30 s cell limit), so they are graded next to it.
    hog_seconds = min(25.0, 2 * sum(alone.values()) / workers + 2)
    beside, scores, note = grade(make_class(scratch / "beside", classmates=classmates, hog_seconds=hog_seconds),
                                 jobs=workers + 1, seed=seed)
    hog = beside.pop("a_hog")
    print(f"sandbox: {note}")
    print(f"hog: spins for {hog_seconds:.0f} s in each of its {len(NOTEBOOKS)} notebooks (graded in {hog:.1f} s); "
          f"{classmates} classmates on {workers} workers")
    if sum(beside.values()) / workers > hog:
        print("note: the classmates took longer than the hog spun; the ratio understates the slowdown")
    ratios = {student: beside[student] / alone[student] for student in alone}
    total = sum(beside.values()) / sum(alone.values())
    print(f"{'':<22}{'alone s':>10}{'beside hog s':>14}{'ratio':>8}")
    print(f"{'all classmates':<22}{sum(alone.values()):>10.2f}{sum(beside.values()):>14.2f}{total:>7.2f}x")
    for label, pick in (("median classmate", statistics.median), ("slowest classmate", max)):
        student = min(ratios, key=lambda name: abs(ratios[name] - pick(ratios.values())))
        print(f"{label:<22}{alone[student]:>10.2f}{beside[student]:>14.2f}{ratios[student]:>7.2f}x")
    failed = sorted(student for student, score in scores.items() if student != "a_hog" and score < 1)
    print(f"classmates below full marks: {', '.join(failed) or 'none'}")
    return total


if __name__ == "__main__":
    raise SystemExit(main())
