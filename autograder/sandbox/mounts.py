"""Thin wrappers of the Linux system calls the sandbox isolates itself with (mount, namespaces, prctl)."""

from __future__ import annotations

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38


class Libc:
    """The C library, with each call checked: a failure raises ``OSError`` naming the call."""

    def __init__(self) -> None:
        self.raw = ctypes.CDLL(None, use_errno=True)

    def check(self, result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    def unshare(self, flags: int) -> None:
        self.check(self.raw.unshare(flags), "unshare")

    def setns(self, fd: int, flags: int) -> None:
        self.check(self.raw.setns(fd, flags), "setns")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
              data: str | None = None) -> None:
        enc = lambda s: s.encode() if s is not None else None  # noqa: E731
        self.check(self.raw.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
                   f"mount {target}")

    def umount2(self, target: str, flags: int) -> None:
        self.check(self.raw.umount2(target.encode(), flags), f"umount {target}")

    def sethostname(self, name: str) -> None:
        self.check(self.raw.sethostname(name.encode(), len(name)), "sethostname")

    def prctl(self, option: int, value: int, what: str) -> None:
        self.check(self.raw.prctl(option, value, 0, 0, 0), what)
