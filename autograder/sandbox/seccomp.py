"""A seccomp filter that refuses ``setsid`` and ``setpgid`` to a notebook process and everything it starts.

With the kernel's autogroup scheduling, each session is one scheduler group: a
notebook that put each of its processes in a session of its own would get one
CPU share per process instead of one for the whole notebook.  Notebook code
needs neither call (``torch.multiprocessing`` with fork, ``subprocess``
without ``start_new_session``), so both fail with ``EPERM``.  A filter is
inherited by every child and kept across ``exec`` (``no_new_privs`` is set
first), and no process can remove it.

The filter is a classic BPF program: it checks the audit architecture of each
system call (a call made through another ABI, such as the 32-bit ``int 0x80``
entry on x86_64 or x32 numbers, is refused whatever it is), then the number.
Only x86_64 and aarch64 are known; elsewhere :func:`program` returns ``None``
and nothing is installed.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
from dataclasses import dataclass

from autograder.sandbox.mounts import PR_SET_NO_NEW_PRIVS, Libc

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS: load a 32-bit word of struct seccomp_data
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_NR_OFFSET = 0  # struct seccomp_data: int nr; __u32 arch; ...
_ARCH_OFFSET = 4
_X32_SYSCALL_BIT = 0x40000000


@dataclass(frozen=True)
class Architecture:
    name: str
    audit_arch: int  # AUDIT_ARCH_* of linux/audit.h
    refused: dict[str, int]  # system call name -> its number in this ABI
    foreign_numbers_from: int | None = None  # numbers at or above this belong to another ABI (x32)


ARCHITECTURES = {
    "x86_64": Architecture("x86_64", 0xC000003E, {"setpgid": 109, "setsid": 112},
                           foreign_numbers_from=_X32_SYSCALL_BIT),
    "aarch64": Architecture("aarch64", 0xC00000B7, {"setpgid": 154, "setsid": 157}),
}


def native_architecture(machine: str | None = None) -> Architecture | None:
    """This interpreter's system call ABI (or ``machine``'s), if the filter knows it.

    A 32-bit Python on a 64-bit kernel uses another ABI than the machine's name says: unknown.
    """
    if machine is None:
        if struct.calcsize("P") != 8:
            return None
        machine = platform.machine()
    return ARCHITECTURES.get(machine.lower())


def program(architecture: Architecture) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jump if true, jump if false, constant) instructions."""
    refuse = SECCOMP_RET_ERRNO | errno.EPERM
    checks: list[tuple[int, int]] = []  # (jump opcode, constant): a match is refused
    if architecture.foreign_numbers_from is not None:
        checks.append((_JGE_K, architecture.foreign_numbers_from))
    checks += [(_JEQ_K, number) for number in sorted(architecture.refused.values())]
    # Layout: load arch; wrong arch -> refuse; load nr; each check -> refuse; allow; refuse.
    last = 4 + len(checks)  # index of the final "refuse"
    code = [(_LD_W_ABS, 0, 0, _ARCH_OFFSET),
            (_JEQ_K, 0, last - 2, architecture.audit_arch),
            (_LD_W_ABS, 0, 0, _NR_OFFSET)]
    for opcode, constant in checks:
        code.append((opcode, last - len(code) - 1, 0, constant))
    code += [(_RET_K, 0, 0, SECCOMP_RET_ALLOW), (_RET_K, 0, 0, refuse)]
    return code


class _Instruction(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Instruction))]


def refuse_new_sessions(architecture: Architecture) -> None:
    """Install the filter on the calling thread and all it starts from now on; ``OSError`` if the kernel refuses.

    Call it while the process has a single thread (right after a fork): a filter set by
    ``prctl`` covers the calling thread and its future children only.
    """
    instructions = program(architecture)
    table = (_Instruction * len(instructions))(*(_Instruction(*fields) for fields in instructions))
    prog = _Program(len(instructions), table)
    libc = Libc()
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, "prctl(no_new_privs)")  # lets an unprivileged process install a filter
    result = libc.raw.prctl(ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER),
                            ctypes.byref(prog), ctypes.c_ulong(0), ctypes.c_ulong(0))
    libc.check(result, "prctl(seccomp filter)")
