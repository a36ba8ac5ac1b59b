"""Operating-system isolation for the sandbox's warm process.

Runs inside the warm process (the "zygote") before it imports torch and before
any student code exists.  When started as root on Linux it:

1. enters new mount and network namespaces (no network but loopback);
2. masks secret paths (hidden suites, solutions, other submissions, the
   gradebook) with empty read-only mounts;
3. mounts a private ``/tmp`` and ``/dev/shm`` and a ``/proc`` that shows
   only the sandbox user's own processes;
4. re-exposes the Python installation when it sits under a directory the
   sandbox user cannot enter (``/root/.pyenv``, say);
5. stays root itself (so student code cannot signal or trace it) while each
   notebook process it forks drops to an unprivileged user with no
   supplementary groups and ``no_new_privs`` before running any student code.

Without root only the process-level protections apply; :class:`Protections`
says which ones are active so the grader can refuse a weaker mode than asked.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import stat
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

_CLONE_NEWNS = 0x00020000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_BIND = 4096
_MS_MOVE = 8192
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class IsolationPlan:
    """What the warm process should do to itself; sent by the grader as JSON."""

    user: str | None = "nobody"
    mask_paths: tuple[str, ...] = ()
    expose_paths: tuple[str, ...] = ()
    isolate_network: bool = True

    @classmethod
    def from_dict(cls, raw: dict) -> "IsolationPlan":
        return cls(
            user=raw.get("user"),
            mask_paths=tuple(raw.get("mask_paths", ())),
            expose_paths=tuple(raw.get("expose_paths", ())),
            isolate_network=bool(raw.get("isolate_network", True)),
        )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Protections:
    """Which protections are active for student code; every field is a fact, not a wish."""

    separate_process: bool = True
    scrubbed_environment: bool = True
    resource_limits: bool = True
    unprivileged_user: bool = False
    hidden_files_masked: bool = False
    private_tmp: bool = False
    process_table_hidden: bool = False
    network_isolated: bool = False
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


class _Libc:
    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def unshare(self, flags: int) -> None:
        self._check(self._libc.unshare(flags), "unshare")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        enc = lambda s: s.encode() if s is not None else None  # noqa: E731
        self._check(self._libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")

    def no_new_privs(self) -> None:
        self._check(self._libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(no_new_privs)")


def apply(plan: IsolationPlan) -> Protections:
    """Isolate the current process as far as the plan and the privileges allow."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux") or plan.user is None:
        reason = ("not running as root: student code runs as the grader's own user"
                  if os.geteuid() != 0 else "no sandbox user configured")
        return Protections(notes=(reason,))
    libc = _Libc()
    notes: list[str] = []
    flags = _CLONE_NEWNS | (_CLONE_NEWNET if plan.isolate_network else 0)
    pwd.getpwnam(plan.user)  # fail early, with the user's name, if it does not exist
    try:
        libc.unshare(flags)
        libc.mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    except OSError as error:
        notes.append(f"namespaces unavailable ({error}); files are protected by permissions only")
        return Protections(unprivileged_user=True, notes=tuple(notes))

    _expose_for_user(plan.expose_paths, libc)
    private_tmp = _private_tmp(libc, plan.expose_paths)
    masked = _mask(plan.mask_paths, libc)
    proc_hidden = _hide_processes(libc)
    return Protections(
        unprivileged_user=True,
        hidden_files_masked=masked,
        private_tmp=private_tmp,
        process_table_hidden=proc_hidden,
        network_isolated=plan.isolate_network,
        notes=tuple(notes),
    )


def _blocked_ancestor(path: Path) -> Path | None:
    """The highest directory on the way to ``path`` (itself included) that others may not enter."""
    for ancestor in [*reversed(path.parents), path]:
        try:
            mode = ancestor.stat().st_mode
        except OSError:
            return None
        if not mode & stat.S_IXOTH:
            return ancestor
    return None


def _expose_for_user(paths: tuple[str, ...], libc: _Libc) -> None:
    """Make ``paths`` reachable for the sandbox user without changing any real file.

    A blocked directory (mode 0700, like ``/root``) is covered by a tmpfs with
    mode 0755 that holds only bind mounts of the needed entries.
    """
    by_blocked: dict[Path, set[str]] = {}
    for raw in paths:
        path = Path(raw).resolve()
        blocked = _blocked_ancestor(path)
        if blocked is None:
            continue
        if blocked == path:  # the needed directory itself is closed (a `mktemp -d` checkout): expose all of it
            by_blocked.setdefault(blocked, set()).update(os.listdir(blocked))
        else:
            by_blocked.setdefault(blocked, set()).add(path.relative_to(blocked).parts[0])
    for blocked, entries in by_blocked.items():
        stage = Path(tempfile.mkdtemp(prefix="autograder-stage-"))
        moved = []
        for index, entry in enumerate(sorted(entries)):
            source = blocked / entry
            target = stage / str(index)
            if source.is_dir():
                target.mkdir()
            else:
                target.touch()
            libc.mount(str(source), str(target), None, _MS_BIND | _MS_REC)
            moved.append((target, entry, source.is_dir()))
        libc.mount("tmpfs", str(blocked), "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
        for target, entry, is_dir in moved:
            destination = blocked / entry
            if is_dir:
                destination.mkdir()
            else:
                destination.touch()
            libc.mount(str(target), str(destination), None, _MS_MOVE)


def _mask(paths: tuple[str, ...], libc: _Libc) -> bool:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            libc.mount("tmpfs", str(path), "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                       "mode=0000,size=4k")
        elif path.exists():
            libc.mount("/dev/null", str(path), None, _MS_BIND)
    return True


_TMP_DIRS = ("/tmp", "/dev/shm", "/var/tmp")


def _private_tmp(libc: _Libc, keep: tuple[str, ...]) -> bool:
    """Empty, private temporary directories, except the paths in ``keep`` found under them.

    A grader checked out under /tmp (a CI clone, say) still needs its Python and its
    package: those are bind-mounted into the fresh tmpfs at their old place.
    """
    roots = [Path(t) for t in _TMP_DIRS if os.path.isdir(t)]
    wanted = sorted({Path(p).resolve() for p in keep})
    wanted = [p for p in wanted if p.exists() and any(p.is_relative_to(r) for r in roots)]
    wanted = [p for p in wanted if not any(p != q and p.is_relative_to(q) for q in wanted)]
    stage = Path("/mnt")
    if wanted:
        libc.mount("tmpfs", str(stage), "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0700,size=1m")
        for index, path in enumerate(wanted):
            (stage / str(index)).mkdir()
            libc.mount(str(path), str(stage / str(index)), None, _MS_BIND | _MS_REC)
    for root in roots:
        libc.mount("tmpfs", str(root), "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777,size=512m")
    previous = os.umask(0o022)  # the re-created parent directories must be enterable by the sandbox user
    try:
        for index, path in enumerate(wanted):
            path.mkdir(parents=True, exist_ok=True)
            libc.mount(str(stage / str(index)), str(path), None, _MS_MOVE)
    finally:
        os.umask(previous)
    return True


def _hide_processes(libc: _Libc) -> bool:
    try:
        libc.mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, "hidepid=2")
    except OSError:
        return False
    return True


def drop_privileges(user_name: str) -> None:
    """Become ``user_name`` for good: no groups, no way back, no privileges from exec."""
    user = pwd.getpwnam(user_name)
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError(f"could not drop privileges to {user_name}")
    _Libc().no_new_privs()


def become_subreaper() -> None:
    """Adopt orphaned descendants, so processes a student detaches can still be found and killed."""
    _Libc()._check(_Libc()._libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(child_subreaper)")
