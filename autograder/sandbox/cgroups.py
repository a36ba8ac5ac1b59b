"""A cgroup v2 per notebook process, where the machine lets the grader make them.

The warm process looks for its own cgroup v2 directory before it leaves the
machine's file system (:func:`open_parent`).  When that directory offers the
``memory`` and ``pids`` controllers and the grader may enable them for a child
(the root cgroup, or a cgroup delegated to the grader that holds no process),
it makes ``autograder-<pid>`` there; each notebook then gets ``nb-<n>`` inside
it, with ``memory.max`` and ``pids.max`` covering the notebook and everything
it starts together.  Everywhere else the per-process rlimits do the job, and
the note says so.

Where the directory also offers the ``cpu`` controller, each notebook's cgroup
gets the same ``cpu.weight``: under contention every notebook has an equal
share of the CPU, however many processes it runs, and an idle machine is still
all theirs.  (``cpu.max`` would cap a lone notebook too, and slow a notebook
whose ranks run side by side on an otherwise idle machine.)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

NEEDED = ("memory", "pids")
CPU_WEIGHT = 100  # the same for every notebook; only the ratio between siblings matters


@dataclass
class CgroupParent:
    """The grader's own cgroup for notebooks, held by directory descriptors that outlive ``pivot_root``."""

    fd: int  # autograder-<pid>
    outer_fd: int  # the cgroup it lies in
    name: str
    cpu: bool = False  # the cpu controller is enabled for the notebooks' cgroups

    def create(self, name: str, *, memory_bytes: int, processes: int) -> None:
        """Make the cgroup ``name`` for one notebook, with its limits (in the warm process, before the fork)."""
        os.mkdir(name, mode=0o755, dir_fd=self.fd)
        _write(self.fd, f"{name}/memory.max", str(memory_bytes))
        _write(self.fd, f"{name}/pids.max", str(processes))
        if self.cpu:
            _write(self.fd, f"{name}/cpu.weight", str(CPU_WEIGHT))
        try:
            _write(self.fd, f"{name}/memory.swap.max", "0")
        except OSError:  # no swap accounting: nothing to turn off
            pass

    def enter(self, name: str) -> None:
        """Move the calling process (the new notebook, still root) into ``name``."""
        _write(self.fd, f"{name}/cgroup.procs", "0")

    def remove(self, name: str) -> None:
        """Kill what is left in ``name`` and remove it (after its notebook process is reaped)."""
        try:
            _write(self.fd, f"{name}/cgroup.kill", "1")
        except OSError:
            pass
        for _ in range(50):  # the kernel takes a moment to let go of processes that just died
            try:
                os.rmdir(name, dir_fd=self.fd)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)

    def remove_all(self) -> None:
        """Remove every notebook cgroup and then the grader's own (the warm process is ending)."""
        for entry in os.listdir(self.fd):
            if entry.startswith("nb-"):
                self.remove(entry)
        try:
            os.rmdir(self.name, dir_fd=self.outer_fd)
        except OSError:
            pass

    def close(self) -> None:
        for fd in (self.fd, self.outer_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def open_parent(*, base: Path | None = None) -> tuple[CgroupParent | None, str]:
    """The grader's cgroup for notebooks, or ``None`` and why not (a sentence for the protections' notes).

    ``base`` stands for the warm process's own cgroup directory (found in ``/proc`` when not given).
    """
    base = base or _own_cgroup_directory()
    if base is None:
        return None, "no cgroup v2 hierarchy is mounted here"
    try:
        offered = (base / "cgroup.controllers").read_text().split()
        if not set(NEEDED) <= set(offered):
            return None, f"the cgroup v2 directory {base} does not offer the memory and pids controllers"
        wanted = ("cpu",) if "cpu" in offered else ()
        # Fails (EBUSY) when the directory holds processes, the grader's own among them.
        cpu = _enable(base, wanted=wanted) and bool(wanted)
        _remove_stale(base)
        name = f"autograder-{os.getpid()}"
        (base / name).mkdir(mode=0o755)
        cpu = _enable(base / name, wanted=wanted if cpu else ()) and cpu
    except OSError as error:
        return None, f"the cgroup v2 directory {base} cannot hold a cgroup per notebook ({error.strerror})"
    outer = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    inner = os.open(base / name, os.O_RDONLY | os.O_DIRECTORY)
    limited = "memory, process and CPU share limits" if cpu else "memory and process limits"
    note = f"{limited}: a cgroup per notebook under {base / name}, and rlimits"
    return CgroupParent(fd=inner, outer_fd=outer, name=name, cpu=cpu), note


def _enable(directory: Path, *, wanted: tuple[str, ...]) -> bool:
    """Enable :data:`NEEDED` for the children of ``directory`` (or raise), and ``wanted`` where the kernel lets it.

    Returns whether ``wanted`` is on too.  The kernel may refuse ``cpu`` alone, for example while a
    real-time process sits outside the root cgroup; memory and pids limits hold without it.
    """
    control = directory / "cgroup.subtree_control"
    enabled = control.read_text().split()
    missing = [c for c in NEEDED if c not in enabled]
    extra = [c for c in wanted if c not in enabled]
    if not missing and not extra:
        return True
    try:
        control.write_text(" ".join(f"+{c}" for c in missing + extra))
        return True
    except OSError:
        if not extra:
            raise
        if missing:
            control.write_text(" ".join(f"+{c}" for c in missing))
        return False


def cpu_group() -> str | None:
    """The cpu cgroup this process is scheduled in when it is not the root one (where autogroups apply), or ``None``."""
    with open("/proc/self/cgroup") as listing:
        lines = [line.strip().split(":", 2) for line in listing if line.count(":") >= 2]
    for _, controllers, path in lines:
        if "cpu" in controllers.split(","):  # cgroup v1: its own hierarchy
            return None if path == "/" else path
    mount = _cgroup2_mount()
    path = next((path for hierarchy, _, path in lines if hierarchy == "0"), "/")
    if mount is None or path == "/":
        return None
    try:
        divided = "cpu" in (mount / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    return path if divided else None


def _cgroup2_mount() -> Path | None:
    with open("/proc/self/mountinfo") as table:
        for line in table:
            before, _, after = line.partition(" - ")
            fields = before.split()
            if after.split()[0] == "cgroup2" and fields[3] == "/":
                return Path(fields[4])
    return None


def _own_cgroup_directory() -> Path | None:
    mount = _cgroup2_mount()
    if mount is None:
        return None
    with open("/proc/self/cgroup") as listing:
        for line in listing:
            if line.startswith("0::"):
                return mount / line.strip()[3:].lstrip("/")
    return None


def _remove_stale(base: Path) -> None:
    """Empty cgroups left by warm processes that were killed before they could remove them."""
    for stale in base.glob("autograder-*"):
        pid = stale.name.rpartition("-")[2]
        if pid.isdigit() and os.path.exists(f"/proc/{pid}"):
            continue
        for child in stale.glob("nb-*"):
            try:
                child.rmdir()
            except OSError:
                pass
        try:
            stale.rmdir()
        except OSError:
            pass


def _write(fd: int, path: str, text: str) -> None:
    handle = os.open(path, os.O_WRONLY, dir_fd=fd)
    try:
        os.write(handle, text.encode())
    finally:
        os.close(handle)
