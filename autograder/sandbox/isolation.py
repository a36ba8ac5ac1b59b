"""Operating-system isolation for the sandbox: once for the warm process, once per notebook process.

The warm process (the "zygote") calls :func:`apply` before it imports torch
and before any student code exists.  As root on Linux it:

1. enters new mount, network, UTS and IPC namespaces (no network at all);
2. moves into an allow-listed root file system (:mod:`rootfs`): the Python
   installation, its packages and the system libraries read-only, the hidden
   suites masked, a few device nodes, and nothing else of the machine;
3. stays root itself (so student code cannot signal or trace it).

Each notebook process it forks is, before any student code exists in it
(:class:`NotebookForker`, :func:`enter_notebook`, :func:`drop_privileges`):

- PID 1 of a PID namespace of its own: whatever it starts, detached or not,
  lives in that namespace and dies with it, and it sees no other process;
- in mount, network and IPC namespaces of its own: a fresh ``/proc``, a
  private tmpfs ``/tmp`` (its working directory) and ``/dev/shm`` owned by its
  user, mode 0700; loopback up and nothing else;
- a user of its own (uid and gid ``uid_base + n``, no supplementary groups,
  ``no_new_privs``), so its process limit is its own and no other notebook's
  files or processes are its to touch.

With or without root, each notebook process is also held to one CPU share
(:mod:`cpu_share`): a session of its own that its processes cannot leave
(``setsid`` and ``setpgid`` refused by a seccomp filter), a nice value it
cannot lower, and an equal ``cpu.weight`` where it has a cgroup.

Without root only the process-level protections apply; :class:`Protections`
says which ones are active so the grader can refuse a weaker mode than asked.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.sandbox import cgroups, cpu_share, rootfs
from autograder.sandbox.mounts import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUTS,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    Libc,
)

UID_BASE = 2_000_000
# Each warm process takes a block of uids chosen by its pid, so two graders on one machine rarely share
# one (and even then their notebooks sit in different namespaces); within a block a uid is reused only
# after its notebook has ended.
UID_BLOCK = 1024
UID_BLOCKS = 4096
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


@dataclass(frozen=True)
class IsolationPlan:
    """What the warm process should do to itself; sent by the grader as JSON.

    ``user`` set to ``None`` turns every privileged protection off (the sandbox
    behaves as without root); any name turns on a user of its own per notebook
    process, taken from ``uid_base`` up to ``uid_base + 4096 * 1024`` (no
    account needs to exist for them; keep that range free of real users).
    """

    user: str | None = "nobody"
    mask_paths: tuple[str, ...] = ()
    expose_paths: tuple[str, ...] = ()
    isolate_network: bool = True
    uid_base: int = UID_BASE

    @classmethod
    def from_dict(cls, raw: dict) -> "IsolationPlan":
        return cls(
            user=raw.get("user"),
            mask_paths=tuple(raw.get("mask_paths", ())),
            expose_paths=tuple(raw.get("expose_paths", ())),
            isolate_network=bool(raw.get("isolate_network", True)),
            uid_base=int(raw.get("uid_base", UID_BASE)),
        )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Protections:
    """Which protections are active for student code; every field is a fact, not a wish.

    ``--isolation strict`` refuses to grade unless every one in :data:`STRICT_PROTECTIONS` is on.
    """

    separate_process: bool = True
    scrubbed_environment: bool = True
    resource_limits: bool = True
    unprivileged_user: bool = False
    """Student code runs without root (and without a way back to it)."""
    separate_users: bool = False
    """Each notebook process has a uid and gid of its own, so no two notebooks share processes or files."""
    process_namespace: bool = False
    """Each notebook process is PID 1 of its own PID namespace; ending it ends every descendant."""
    private_scratch: bool = False
    """Each notebook has its own tmpfs ``/tmp`` (its working directory) and ``/dev/shm``, mode 0700."""
    filesystem_allowlist: bool = False
    """Student code sees only the Python installation, its packages and system libraries, read-only."""
    hidden_files_masked: bool = False
    private_tmp: bool = False
    process_table_hidden: bool = False
    network_isolated: bool = False
    cgroup_limits: bool = False
    """Memory and process limits are held by a cgroup per notebook (otherwise by rlimits)."""
    cpu_fair_share: bool = False
    """Each notebook, with every process it starts, competes for CPU as one: an equal ``cpu.weight`` per
    notebook cgroup, or the scheduler group (autogroup) of its session, which its processes cannot leave."""
    notes: tuple[str, ...] = field(default=())

    def missing(self) -> list[str]:
        return [name for name, value in asdict(self).items() if value is False]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "Protections":
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in raw.items() if k in known}
        values["notes"] = tuple(values.get("notes", ()))
        return cls(**values)


@dataclass(frozen=True)
class WarmIsolation:
    """What :func:`apply` did: the protections in force, and what forking notebooks needs to know."""

    protections: Protections
    cpu: cpu_share.CpuShare  # what each notebook process is held to, CPU-wise
    cgroup_parent: cgroups.CgroupParent | None = None  # where notebooks get cgroups of their own, if anywhere
    relinked: tuple[str, ...] = ()  # allow-listed paths under /tmp, put back in each notebook's /tmp


def apply(plan: IsolationPlan) -> WarmIsolation:
    """Isolate the current (warm) process as far as the plan and the privileges allow."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux") or plan.user is None:
        reason = ("not running as root: student code runs as the grader's own user"
                  if os.geteuid() != 0 else "no sandbox user configured")
        cpu = cpu_share.assess(cgroup_cpu=False, privileged=os.geteuid() == 0)
        return WarmIsolation(Protections(cpu_fair_share=cpu.fair, notes=(reason, cpu.note)), cpu=cpu)
    libc = Libc()
    flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | (CLONE_NEWNET if plan.isolate_network else 0)
    try:
        libc.unshare(flags)
        libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    except OSError as error:  # a container that forbids namespaces: users of their own still work
        cpu = cpu_share.assess(cgroup_cpu=False)
        return WarmIsolation(Protections(
            unprivileged_user=True, separate_users=True, cpu_fair_share=cpu.fair,
            notes=(f"namespaces unavailable ({error}); files are protected by permissions only", _RLIMITS_NOTE,
                   cpu.note)), cpu=cpu)
    libc.sethostname(rootfs.HOSTNAME)
    parent, cgroup_note = cgroups.open_parent()  # while the machine's cgroup tree is still in sight
    cpu = cpu_share.assess(cgroup_cpu=parent is not None and parent.cpu)  # and the machine's /proc
    relinked = rootfs.enter(keep=_needed_paths(plan), mask=list(plan.mask_paths), libc=libc)
    limits_note = cgroup_note if parent is not None else f"{_RLIMITS_NOTE}; no cgroups: {cgroup_note}"
    return WarmIsolation(Protections(
        unprivileged_user=True,
        separate_users=True,
        process_namespace=True,
        private_scratch=True,
        filesystem_allowlist=True,
        hidden_files_masked=True,
        private_tmp=True,
        process_table_hidden=True,
        network_isolated=plan.isolate_network,
        cgroup_limits=parent is not None,
        cpu_fair_share=cpu.fair,
        notes=(limits_note, cpu.note),
    ), cpu=cpu, cgroup_parent=parent, relinked=relinked)


_RLIMITS_NOTE = ("memory, CPU and process limits are rlimits of each notebook process "
                 "(its process limit counts only its own user's processes)")


def _needed_paths(plan: IsolationPlan) -> list[str]:
    """The Python installation and the import path of this (warm) interpreter, plus what the plan adds."""
    package = Path(__file__).resolve().parents[1]  # the grader package itself, not the checkout around it
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent),
             str(package), *plan.expose_paths}
    for entry in sys.path:
        if entry and os.path.isdir(entry) and Path(entry).resolve() != package.parent:
            paths.add(entry)
    # The package's parent (an editable checkout) holds solutions, sources and tests: only the package goes in.
    paths.discard(str(package.parent))
    return sorted(paths)


# ---------------------------------------------------------------------------- per notebook


@dataclass(frozen=True)
class NotebookIdentity:
    """Who one notebook process is and what it may use; decided by the warm process before forking."""

    uid: int | None  # None: the grader's own user (no root)
    scratch_bytes: int
    namespaces: bool
    cgroup: str | None = None  # its cgroup's name under the grader's, where cgroups are used
    relinked: tuple[str, ...] = ()  # allow-listed paths to put back in its /tmp
    own_network: bool = True  # a network namespace of its own, loopback only

    @property
    def workdir(self) -> str:
        return "/tmp"


class NotebookForker:
    """Forks notebook processes, each PID 1 of a new PID namespace when the protections allow it."""

    def __init__(self, isolated: WarmIsolation, plan: IsolationPlan) -> None:
        self.cgroups = isolated.cgroup_parent
        self.cpu = isolated.cpu
        self.relinked = isolated.relinked
        self.namespaces = isolated.protections.process_namespace
        self.own_network = plan.isolate_network
        self.dedicated = isolated.protections.separate_users
        self.first_uid = plan.uid_base + (os.getpid() % UID_BLOCKS) * UID_BLOCK
        self.counter = 0
        self.live: dict[int, int] = {}  # notebook pid -> its uid
        self.cgroup_of: dict[int, str] = {}  # notebook pid -> its cgroup
        self.libc = Libc()
        self.own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY) if self.namespaces else None

    def next_identity(self, *, scratch_bytes: int, memory_bytes: int, processes: int) -> NotebookIdentity:
        uid = None
        if self.dedicated:
            taken = set(self.live.values())
            for _ in range(UID_BLOCK):
                self.counter += 1
                uid = self.first_uid + self.counter % UID_BLOCK
                if uid not in taken:
                    break
            else:
                raise OSError(f"all {UID_BLOCK} notebook users are in use; end some notebooks first")
        cgroup = None
        if self.cgroups is not None:
            cgroup = f"nb-{self.counter}"
            try:  # the tmpfs scratch (/tmp and /dev/shm) is charged to the notebook's cgroup too
                self.cgroups.create(cgroup, memory_bytes=memory_bytes + 2 * scratch_bytes, processes=processes)
            except OSError:  # the rlimits still hold this notebook; the cgroup only adds to them
                self.cgroups.remove(cgroup)
                cgroup = None
        return NotebookIdentity(uid=uid, scratch_bytes=scratch_bytes, namespaces=self.namespaces, cgroup=cgroup,
                                relinked=self.relinked, own_network=self.own_network)

    def forget(self, identity: NotebookIdentity) -> None:
        """A notebook process that could not be started: give back its cgroup."""
        if identity.cgroup is not None and self.cgroups is not None:
            self.cgroups.remove(identity.cgroup)

    def started(self, pid: int, identity: NotebookIdentity) -> None:
        if identity.uid is not None:
            self.live[pid] = identity.uid
        if identity.cgroup is not None:
            self.cgroup_of[pid] = identity.cgroup

    def ended(self, pid: int) -> None:
        """The notebook process ``pid`` is reaped: its user and its cgroup are free again."""
        self.live.pop(pid, None)
        cgroup = self.cgroup_of.pop(pid, None)
        if cgroup is not None and self.cgroups is not None:
            self.cgroups.remove(cgroup)

    def close(self) -> None:
        """The warm process is ending: remove the cgroups of notebooks (their processes are killed)."""
        if self.cgroups is not None:
            self.cgroups.remove_all()

    def enter(self, identity: NotebookIdentity) -> None:
        """In the new notebook process, still root: join its cgroup, then drop every handle on the warm side."""
        if self.cgroups is not None:
            try:
                if identity.cgroup is not None:
                    self.cgroups.enter(identity.cgroup)
            except OSError:  # the rlimits still hold this notebook
                pass
            finally:
                self.cgroups.close()  # no handle on the machine's cgroup tree may reach student code
        enter_notebook(identity)

    def confine(self) -> None:
        """In the new notebook process, last before student code: one CPU share (see :mod:`cpu_share`).

        Raises ``OSError`` if it cannot be applied, so no notebook runs with less than was reported.
        """
        cpu_share.confine(self.cpu)

    def fork(self) -> int:
        """``os.fork()``, with the child as PID 1 of a fresh PID namespace when namespaces are on."""
        if not self.namespaces:
            return os.fork()
        self.libc.unshare(CLONE_NEWPID)  # applies to the next child only; undone right after the fork
        try:
            pid = os.fork()
        except BaseException:
            self.libc.setns(self.own_pid_namespace, CLONE_NEWPID)
            raise
        if pid:
            self.libc.setns(self.own_pid_namespace, CLONE_NEWPID)
        else:
            os.close(self.own_pid_namespace)
        return pid


def enter_notebook(identity: NotebookIdentity) -> None:
    """In the new notebook process, still root: its own mounts, network and IPC, then its scratch space."""
    if not identity.namespaces:
        return
    libc = Libc()
    libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | (CLONE_NEWNET if identity.own_network else 0))
    if identity.own_network:
        _loopback_up()
    owner = f"uid={identity.uid},gid={identity.uid}"
    for target in ("/tmp", "/dev/shm"):
        libc.mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
                   f"mode=0700,{owner},size={identity.scratch_bytes},nr_inodes=65536")
    rootfs.relink(identity.relinked, libc)
    libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # shows this namespace only


def _loopback_up() -> None:
    """Bring ``lo`` up in this network namespace: loopback works (torch.distributed on 127.0.0.1), nothing else."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(probe, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (and gid ``uid``) for good: no groups, no way back, no privileges from exec."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError(f"could not drop privileges to uid {uid}")
    Libc().prctl(PR_SET_NO_NEW_PRIVS, 1, "prctl(no_new_privs)")


def die_with_parent(signal_number: int) -> None:
    Libc().prctl(PR_SET_PDEATHSIG, signal_number, "prctl(pdeathsig)")


def become_subreaper() -> None:
    """Adopt orphaned descendants, so processes a student detaches can still be found and killed."""
    Libc().prctl(PR_SET_CHILD_SUBREAPER, 1, "prctl(child_subreaper)")


# What `--isolation strict` insists on. Cgroup limits are welcome but not required: rlimits hold without them.
# Nor is a fair CPU share: it depends on the kernel's scheduler settings (autogroups, a delegated cpu controller)
# more than on the grader, and what it guards against is a slowdown, bounded by the time limits, not a leak.
STRICT_PROTECTIONS = ("unprivileged_user", "separate_users", "process_namespace", "private_scratch",
                      "filesystem_allowlist", "hidden_files_masked", "network_isolated")
