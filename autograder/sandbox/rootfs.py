"""The allow-listed root file system the warm process and every notebook process live in.

Built once by the warm process (as root, in its own mount namespace, before
torch is imported) and entered with ``pivot_root``; the machine's real root is
then detached, so nothing outside the allow-list can be named at all, however
the grader is installed and wherever other copies of the suites lie.

The new root is a small read-only tmpfs holding:

- read-only bind mounts of the Python installation, the directories on
  ``sys.path`` (site-packages, the grader package's directory) and the system
  libraries (``/usr/lib``, ``/lib``...), each at its real path, so imports work
  unchanged; paths to mask inside them (the hidden suites) are covered by
  empty read-only mounts;
- ``/dev`` with only ``null``, ``zero``, ``full``, ``random``, ``urandom`` (and
  ``/dev/nvidia*`` when present, for CUDA);
- a minimal ``/etc`` written here (``passwd``, ``group``, ``hosts``) plus the
  loader cache;
- empty mount points for ``/proc``, ``/tmp`` and ``/dev/shm``, which each
  notebook process fills with its own (see :func:`isolation.enter_notebook`).
"""

from __future__ import annotations

import ctypes
import glob
import os
import platform
import stat
from pathlib import Path

from autograder.sandbox.mounts import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    Libc,
)

DEVICES = ("null", "zero", "full", "random", "urandom")
# Directories the machine's libraries live in; the first existing of each pair is enough.
SYSTEM_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32", "/usr/libexec")
# Read by torch's CPU detection (cpuinfo); holds no data of anyone.
SYSTEM_INFO = ("/sys/devices/system/cpu",)
_ETC_COPIES = ("/etc/ld.so.cache", "/etc/localtime")
_STAGE_CANDIDATES = ("/mnt", "/media", "/srv", "/opt", "/home", "/boot", "/var", "/tmp")
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}
HOSTNAME = "sandbox"


SCRATCH_DIRS = ("/tmp",)  # covered by a fresh tmpfs in the warm process and again in each notebook
_KEEP = "/.keep"  # where allow-listed paths under a scratch directory wait to be put back (mode 0700)


def enter(*, keep: list[str], mask: list[str], libc: Libc) -> tuple[str, ...]:
    """Build the allow-listed root and make it this process's ``/``; the old root is detached.

    Returns the allow-listed paths that lie under a scratch directory (a checkout
    under ``/tmp``, say): whoever covers that directory puts them back with :func:`relink`.
    """
    wanted = _outermost([Path(p).resolve() for p in keep if os.path.exists(p)] + _system_paths())
    stage = _stage_dir(wanted)
    libc.mount("tmpfs", str(stage), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m")
    under_scratch = tuple(str(p) for p in wanted if any(p.is_relative_to(d) and p != Path(d) for d in SCRATCH_DIRS))
    previous = os.umask(0o022)
    try:
        for path in wanted:
            _bind_read_only(path, stage, libc)
        _link_merged_usr(stage)
        _make_dev(stage, libc)
        _make_etc(stage, libc)
        for name, mode in (("proc", 0o555), ("tmp", 0o1777)):
            (stage / name).mkdir(exist_ok=True)
            os.chmod(stage / name, mode)
        for raw in mask:
            _mask(stage, Path(raw), libc)
        if under_scratch:
            keep_dir = _inside(stage, Path(_KEEP))
            keep_dir.mkdir(mode=0o700)
            for index, path in enumerate(under_scratch):
                (keep_dir / str(index)).mkdir()
                # Recursive, so the masks inside come along.
                libc.mount(str(_inside(stage, Path(path))), str(keep_dir / str(index)), None, MS_BIND | MS_REC)
    finally:
        os.umask(previous)
    os.chdir(stage)
    _pivot_root(libc)
    libc.umount2(".", MNT_DETACH)  # the machine's real root: gone from this namespace
    os.chdir("/")
    libc.mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
    libc.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
    # The warm process's own scratch (torch looks for a temporary directory on import); notebooks cover it.
    libc.mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64m")
    relink(under_scratch, libc)
    return under_scratch


def relink(paths: tuple[str, ...], libc: Libc) -> None:
    """Put the allow-listed ``paths`` back in a freshly covered scratch directory, read-only as before."""
    previous = os.umask(0o022)  # the directories on the way must be enterable by the notebook's user
    try:
        for index, path in enumerate(paths):
            os.makedirs(path, exist_ok=True)
            libc.mount(f"{_KEEP}/{index}", path, None, MS_BIND | MS_REC)
    finally:
        os.umask(previous)


def _system_paths() -> list[Path]:
    found = []
    for raw in SYSTEM_DIRS + SYSTEM_INFO:
        if os.path.isdir(raw) and not os.path.islink(raw):
            found.append(Path(raw))
    return found


def _outermost(paths: list[Path]) -> list[Path]:
    """Sorted, without duplicates and without paths that lie inside another one."""
    unique = sorted(set(paths))
    return [p for p in unique if not any(p != q and p.is_relative_to(q) for q in unique)]


def _stage_dir(wanted: list[Path]) -> Path:
    """An existing directory that no needed path lies under (the new root is mounted over it)."""
    for raw in _STAGE_CANDIDATES:
        candidate = Path(raw)
        if candidate.is_dir() and not candidate.is_symlink() and \
                not any(p.is_relative_to(candidate) for p in wanted):
            return candidate
    raise OSError("no directory to build the sandbox's root in: every candidate holds the Python installation")


def _inside(stage: Path, path: Path) -> Path:
    return stage / path.relative_to("/")


def _bind_read_only(source: Path, stage: Path, libc: Libc, *, device: bool = False) -> None:
    target = _inside(stage, source)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = source.stat().st_mode
    if stat.S_ISDIR(mode):
        target.mkdir(exist_ok=True)
        if not mode & stat.S_IXOTH:
            # A directory others may not enter (a `mktemp -d` checkout): expose its entries instead,
            # through a directory every notebook user can enter.
            for entry in sorted(source.iterdir()):
                _bind_read_only(entry, stage, libc)
            return
    else:
        target.touch(exist_ok=True)
    libc.mount(str(source), str(target), None, MS_BIND)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | (0 if device else MS_NODEV)
    libc.mount(None, str(target), None, flags, None)


def _link_merged_usr(stage: Path) -> None:
    """Recreate ``/lib -> usr/lib`` style links, so loader paths written into binaries still resolve."""
    for raw in ("/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(raw) and not _inside(stage, Path(raw)).exists():
            os.symlink(os.readlink(raw), _inside(stage, Path(raw)))


def _make_dev(stage: Path, libc: Libc) -> None:
    dev = stage / "dev"
    dev.mkdir(exist_ok=True)
    nodes = [f"/dev/{name}" for name in DEVICES] + sorted(glob.glob("/dev/nvidia*"))
    for node in nodes:
        if os.path.exists(node) and not os.path.isdir(node):
            _bind_read_only(Path(node), stage, libc, device=True)
    for node in sorted(glob.glob("/dev/nvidia-caps/*")):
        _bind_read_only(Path(node), stage, libc, device=True)
    (dev / "shm").mkdir(exist_ok=True)
    os.chmod(dev / "shm", 0o1777)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, dev / name)


def _make_etc(stage: Path, libc: Libc) -> None:
    etc = stage / "etc"
    etc.mkdir(exist_ok=True)
    # Written, not copied: the machine's own account list is nobody's business in here.
    (etc / "passwd").write_text("root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    # torch.distributed's gloo resolves the host name; it must mean loopback here.
    (etc / "hosts").write_text(f"127.0.0.1 localhost {HOSTNAME}\n::1 localhost\n")
    (etc / "hostname").write_text(HOSTNAME + "\n")
    for raw in _ETC_COPIES:
        if os.path.isfile(raw) and not os.path.islink(raw):  # a link (/etc/localtime) points outside: UTC it is
            _bind_read_only(Path(raw), stage, libc)


def _mask(stage: Path, path: Path, libc: Libc) -> None:
    """Cover ``path`` inside the new root, if the allow-list made it reachable at all."""
    target = _inside(stage, path.resolve())
    if not target.exists() or target.is_symlink():
        return
    if target.is_dir():
        libc.mount("tmpfs", str(target), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0000,size=4k")
    else:
        libc.mount("/dev/null", str(target), None, MS_BIND)


def _pivot_root(libc: Libc) -> None:
    """``pivot_root(".", ".")``: the old root ends up stacked under the new one, ready to detach."""
    number = _PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    if libc.raw.syscall(ctypes.c_long(number), b".", b".") != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"pivot_root: {os.strerror(errno)}")
