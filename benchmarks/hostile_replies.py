"""Does one hostile reply cost the class run anything?  Time and memory, with and without it.

    python benchmarks/hostile_replies.py                 # 12 honest students, 02_tensors
    python benchmarks/hostile_replies.py --students 12 --jobs 2

Grades two classes with ``autograder grade CLASS --out OUT``: honest students only, and
the same students plus three hostile ones whose replies are built by a rewritten encoder
in their own process:

- ``nested``: ``gram`` answers with 60 MiB of nested empty lists;
- ``expanded``: ``make_tensors`` answers with a one-element storage expanded to 4e8 elements;
- ``liar``: ``make_tensors`` answers with float tensors of a subclass that calls itself
  ``torch.Tensor`` and reports ``int64``.

Prints each run's wall time, the ratio, and the peak resident size of the largest single
process of each run (the grader, a worker, the warm sandbox process or a notebook process),
sampled every 50 ms.  The targets: at most 1.5 times the honest run's time, no process over
1.5 GiB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STEM = "02_tensors"

HOSTILE_DUMPS = """
import io, json, struct, torch
import autograder.sandbox.codec as _codec
_honest_dumps = _codec.dumps
_armed = []
def _hostile_dumps(tree):
    return _armed.pop() if _armed else _honest_dumps(tree)
_codec.dumps = _hostile_dumps
"""

ATTACKS = {
    "nested": ({"check_gram": "", "gram": HOSTILE_DUMPS + (
        "_text = b'[' + b'[],' * (20 << 20) + b'[]]'\n"
        "_NESTED = struct.pack('>I', len(_text)) + _text\n"
        "def gram(t):\n"
        "    _armed.append(_NESTED)\n"
        "    return t @ t.T\n")}),
    "expanded": ({"make_tensors": (
        "import autograder.sandbox.codec as _codec\n"
        "_codec._compact = lambda tensor: True\n"
        "def make_tensors():\n"
        "    big = torch.tensor([1]).expand(400_000_000).reshape(1000, 1000, 400)\n"
        "    return torch.tensor(1), torch.tensor([1, 2, 3]), torch.tensor([[1, 2], [3, 4]]), big\n")}),
    "liar": ({"make_tensors": (
        "class Liar(torch.Tensor):\n"
        "    dtype = property(lambda self: torch.int64)\n"
        "Liar.__module__, Liar.__qualname__ = 'torch', 'Tensor'\n"
        "def make_tensors():\n"
        "    values = (torch.tensor(1.0), torch.tensor([1.0, 2.0, 3.0]), torch.tensor([[1.0, 2.0], [3.0, 4.0]]),\n"
        "              torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]))\n"
        "    return tuple(t.as_subclass(Liar) for t in values)\n")}),
}


class ProcessPeaks:
    """Samples the resident size of a process and all its descendants; keeps each one's peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval = pid, interval
        self.peaks: dict[int, tuple[int, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "ProcessPeaks":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def largest(self) -> tuple[int, str]:
        return max(self.peaks.values(), default=(0, ""))

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._tree():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                rss = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
                if rss > self.peaks.get(pid, (0, ""))[0]:
                    self.peaks[pid] = (rss, fields.get("Name", "?").strip())
            time.sleep(self.interval)

    def _tree(self) -> set[int]:
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                    parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        tree, frontier = {self.pid}, [self.pid]
        while frontier:
            current = frontier.pop()
            for child, parent in parents.items():
                if parent == current and child not in tree:
                    tree.add(child)
                    frontier.append(child)
        return tree


def build_class(root: Path, *, students: int, hostile: bool) -> Path:
    from tests.conftest import write_variant

    for index in range(students):
        write_variant(root / f"student{index:03d}", STEM, {})
    if hostile:
        for name, cells in ATTACKS.items():
            write_variant(root / f"hostile_{name}", STEM, cells)
    return root


def grade(class_dir: Path, out: Path, *, jobs: int, stems: tuple[str, ...] | list[str] = (STEM,)) -> tuple[float, int, str]:
    """Grade a class with the CLI; (wall seconds, peak resident bytes of its largest process, its name)."""
    notebooks = [option for stem in stems for option in ("--notebook", stem)]
    command = [sys.executable, "-m", "autograder", "grade", str(class_dir), "--out", str(out),
               *notebooks, "--seed", "1", "--jobs", str(jobs), "--quiet"]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with ProcessPeaks(process.pid) as peaks:
        _, errors = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{errors[-3000:]}")
    return (time.monotonic() - started, *peaks.largest())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12, help="honest students in each class")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="hostile-replies-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    try:
        runs = {}
        for label, hostile in (("honest", False), ("with hostile", True)):
            class_dir = build_class(scratch / label.replace(" ", "_"), students=args.students, hostile=hostile)
            runs[label] = grade(class_dir, scratch / f"out_{label.replace(' ', '_')}", jobs=args.jobs)
            seconds, peak, name = runs[label]
            print(f"{label:>13}: {seconds:6.1f} s, largest process {peak / (1 << 20):6.0f} MiB ({name})")
        ratio = runs["with hostile"][0] / runs["honest"][0]
        worst = max(peak for _, peak, _ in runs.values())
        print(f"time ratio {ratio:.2f} (target <= 1.5); largest process {worst / (1 << 30):.2f} GiB "
              "(target <= 1.5)")
        return 0 if ratio <= 1.5 and worst <= 1.5 * (1 << 30) else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
