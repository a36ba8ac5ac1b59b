"""One CPU share per notebook, whatever number of processes it starts.

Each notebook process starts a session of its own (:mod:`zygote`).  Where the
notebooks have cgroups with the ``cpu`` controller, each cgroup's
``cpu.weight`` gives every notebook an equal share (:mod:`cgroups`).
Elsewhere the kernel's autogroup scheduling makes each session one scheduler
group, so the notebook competes as one, provided its processes cannot start
sessions of their own: :mod:`seccomp` refuses them ``setsid`` and
``setpgid``.  Each notebook process also runs at :data:`NOTEBOOK_NICE`, which
``RLIMIT_NICE`` stops it from lowering, so it cannot outrank the grader or,
without autogroups, a classmate.

:func:`assess` runs in the warm process and finds out, by trying it in a
throwaway child, what holds on this machine; :func:`confine` runs in each
notebook process before student code exists there.
"""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

from autograder.sandbox import cgroups, seccomp

NOTEBOOK_NICE = 10
_AUTOGROUP_SWITCH = Path("/proc/sys/kernel/sched_autogroup_enabled")


@dataclass(frozen=True)
class CpuShare:
    """What each notebook process gets, and whether that makes each notebook one CPU share."""

    filter: seccomp.Architecture | None  # the ABI to refuse setsid and setpgid in; None: no filter
    fair: bool
    note: str


def assess(*, cgroup_cpu: bool, privileged: bool = False, machine: str | None = None) -> CpuShare:
    """Decide what notebooks get (in the warm process, before it leaves the machine's ``/proc``).

    ``privileged``: notebooks keep root (no sandbox user), so nothing stops them raising their priority.
    ``machine``: the architecture to filter for, this interpreter's when not given.
    """
    if not sys.platform.startswith("linux"):
        return CpuShare(None, False, "CPU: no seccomp filter or autogroups outside Linux")
    architecture = seccomp.native_architecture(machine)
    if architecture is None:
        filter_note = f"no seccomp filter is known for this architecture ({machine or os.uname().machine})"
    else:
        refused = _filter_refuses(architecture)
        filter_note = "setsid and setpgid refused" if refused is None else \
            f"the kernel refused the seccomp filter ({refused})"
        if refused is not None:
            architecture = None
    if privileged:
        return CpuShare(architecture, False, f"CPU: {filter_note}, nice {NOTEBOOK_NICE}, but notebooks run as root "
                                             "and may raise their priority")
    parts = f"{filter_note}, nice {NOTEBOOK_NICE} that notebooks cannot lower"
    if cgroup_cpu:
        return CpuShare(architecture, True, f"CPU: an equal cpu.weight per notebook cgroup; {parts}")
    if architecture is None:
        return CpuShare(None, False, f"CPU: {parts}, so a notebook's processes can each take a CPU share of "
                                     "their own")
    grouped = _autogroups_apply()
    if grouped is not None:
        return CpuShare(architecture, False, f"CPU: {grouped}, so a notebook's processes compete for CPU one "
                                             f"by one; {parts}")
    return CpuShare(architecture, True, f"CPU: one scheduler group (autogroup) per notebook; {parts}")


def confine(share: CpuShare) -> None:
    """In a new notebook process with a single thread, before student code: its nice value, then the filter."""
    os.setpriority(os.PRIO_PROCESS, 0, NOTEBOOK_NICE)
    # RLIMIT_NICE lets a process lower its nice value down to 20 - limit: at 0, not at all. Hard limits
    # included, so only a privilege notebooks do not have (CAP_SYS_RESOURCE, CAP_SYS_NICE) could undo it.
    resource.setrlimit(resource.RLIMIT_NICE, (0, 0))
    resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))  # no real-time scheduling either
    if share.filter is not None:
        seccomp.refuse_new_sessions(share.filter)


def _filter_refuses(architecture: seccomp.Architecture) -> str | None:
    """Install the filter in a throwaway child and try ``setsid``: ``None`` if it was refused, or what went wrong."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        verdict = b"the probe failed"
        try:
            os.close(read)
            try:
                seccomp.refuse_new_sessions(architecture)
            except OSError as error:
                verdict = f"prctl: {error.strerror or error}".encode()
            else:
                try:
                    os.setsid()
                    verdict = b"setsid still succeeded"
                except PermissionError:
                    verdict = b""
        finally:
            os.write(write, verdict)
            os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read, "rb") as answer:
            verdict = answer.read(200)
    finally:
        os.waitpid(pid, 0)
    return verdict.decode(errors="replace") or None


def _autogroups_apply() -> str | None:
    """``None`` where each session is a scheduler group of its own; otherwise why not."""
    try:
        enabled = _AUTOGROUP_SWITCH.read_text().strip()
    except OSError:
        return "the kernel has no autogroup scheduling"
    if enabled != "1":
        return "the kernel's autogroup scheduling is off (kernel.sched_autogroup_enabled)"
    group = cgroups.cpu_group()  # autogroups divide the root cpu cgroup only; in any other, each process is alone
    return None if group is None else f"the grader runs in the cpu cgroup {group}, where autogroups do not apply"
