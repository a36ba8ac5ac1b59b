"""Does a student whose functions are slow on purpose cost the class more than their budget?

    python benchmarks/slow_student.py                                   # 40 students, all six notebooks
    python benchmarks/slow_student.py --students 10 --notebook 02_tensors --notebook 03_autograd

Grades two classes side by side with ``autograder grade CLASS --out OUT --jobs 2`` and the default
limits: honest students (the reference solutions) only, and the same students plus one whose every
function sleeps just under the call limit before answering.  Without budgets such a student costs
about (number of checks x call limit); with them at most ``--limit student=`` (120 s by default).
Prints both wall times, the ratio (target: at most 1.5 for a real class, 40 students and all six
notebooks) and the slow student's own time, from its result.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

SLEEPER = ("import time\n\ndef {name}(*args, **kwargs):\n    time.sleep({seconds})\n"
           "    raise ValueError('too slow')\n")


def build_class(root: Path, *, students: int, stems: list[str], slow: bool, sleep: float) -> Path:
    from autograder.course import APPENDIX_A
    from tests.conftest import SOLUTIONS, write_variant

    for index in range(students):
        for stem in stems:
            (root / f"student{index:03d}").mkdir(parents=True, exist_ok=True)
            shutil.copy(SOLUTIONS / f"{stem}.ipynb", root / f"student{index:03d}" / f"{stem}.ipynb")
    if slow:
        for stem in stems:
            write_variant(root / "slow_student", stem,
                          {name: SLEEPER.format(name=name, seconds=sleep) for name in APPENDIX_A.notebook(stem).functions})
    return root


def main() -> int:
    from autograder.course import APPENDIX_A
    from autograder.sandbox.limits import Limits
    from hostile_replies import grade

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40, help="honest students in each class")
    parser.add_argument("--notebook", action="append", default=[], help="grade only these notebooks")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    stems = args.notebook or [notebook.stem for notebook in APPENDIX_A.notebooks]
    limits = Limits()
    sleep = limits.call_seconds - 1.0
    scratch = Path(tempfile.mkdtemp(prefix="slow-student-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    try:
        runs = {}
        for label, slow in (("honest", False), ("with slow", True)):
            class_dir = build_class(scratch / label.replace(" ", "_"), students=args.students, stems=stems, slow=slow,
                                    sleep=sleep)
            out = scratch / f"out_{label.replace(' ', '_')}"
            runs[label] = grade(class_dir, out, jobs=args.jobs, stems=stems)[0]
            print(f"{label:>10}: {runs[label]:6.1f} s for {args.students + slow} students x {len(stems)} notebooks")
        own = json.loads((scratch / "out_with_slow" / "slow_student.json").read_text())["seconds"]
        ratio = runs["with slow"] / runs["honest"]
        print(f"the slow student took {own:.1f} s of one worker (budget: {limits.student_seconds:g} s; unbounded it "
              f"would be about one call limit, {limits.call_seconds:g} s, per check)")
        print(f"time ratio {ratio:.2f} (target <= 1.5 for 40 students and all six notebooks)")
        return 0 if ratio <= 1.5 else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
