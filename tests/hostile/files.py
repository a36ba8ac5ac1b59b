"""The file corpus: what a submission can hold under a notebook's name besides a notebook.

Each :class:`FileAttack` is data: the entries it puts in a submission folder, the kind of
refusal it must get and a fragment of the reason the student must be told.  ``plant``
builds one in a folder.  ``tests/test_submission_files.py`` plants them in class runs, in
single submissions, in a pull request's head and under ``autograder check``: each must cost
its own notebook only, with that reason, and never block, crash or score.

A target may name ``{solutions}`` (the reference notebooks), ``{suites}`` (the hidden suites)
or ``{sibling}`` (a folder next to the submission holding a correct notebook, like a
classmate's); ``{notebook}`` is the notebook's file name.
"""

from __future__ import annotations

import os
import socket
import stat
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from autograder.submission_files import MAX_JSON_VALUES, Refusal


class Make(Enum):
    FILE = "a file with these bytes"
    SPARSE = "a sparse file of this size"
    FIFO = "a FIFO"
    SOCKET = "a Unix socket"
    CHAR_DEVICE = "a character device node (1, 5: /dev/zero)"
    SYMLINK = "a symlink to this target"
    DIRECTORY = "a directory"


@dataclass(frozen=True)
class Entry:
    name: str                 # relative to the submission; may be "{notebook}"
    make: Make
    target: str = ""          # SYMLINK
    content: bytes = b""      # FILE
    size: int = 0             # SPARSE


@dataclass(frozen=True)
class FileAttack:
    name: str
    what: str
    entries: tuple[Entry, ...]
    refusal: Refusal
    reason: str               # a fragment of the message the student reads
    needs_root: bool = False  # mknod needs CAP_MKNOD


DEEP = b"[" * 20_000 + b"]" * 20_000  # 40 KB of brackets; json.loads gives up near a thousand


def _notebook(make: Make, **fields) -> Entry:
    return Entry("{notebook}", make, **fields)


FILE_ATTACKS = (
    FileAttack("fifo", "a FIFO named as the notebook: a plain open() waits for a writer forever",
               (_notebook(Make.FIFO),), Refusal.SPECIAL, "is not a regular file (a FIFO)"),
    FileAttack("socket", "a Unix socket named as the notebook", (_notebook(Make.SOCKET),), Refusal.SPECIAL,
               "is not a regular file (a socket)"),
    FileAttack("device_node", "a character device node (/dev/zero's numbers): endless zero bytes",
               (_notebook(Make.CHAR_DEVICE),), Refusal.SPECIAL, "is not a regular file (a character device)",
               needs_root=True),
    FileAttack("symlink_to_dev_zero", "a symlink to /dev/zero", (_notebook(Make.SYMLINK, target="/dev/zero"),),
               Refusal.OUTSIDE, "points outside the submission"),
    FileAttack("symlink_to_dev_urandom", "a symlink to /dev/urandom",
               (_notebook(Make.SYMLINK, target="/dev/urandom"),), Refusal.OUTSIDE, "points outside the submission"),
    FileAttack("symlink_to_fifo_inside", "a symlink to a FIFO that lies inside the submission",
               (Entry(".pipe", Make.FIFO), _notebook(Make.SYMLINK, target=".pipe")), Refusal.SPECIAL,
               "is not a regular file (a FIFO)"),
    FileAttack("symlink_loop", "a symlink to itself (git stores it): resolving it raises",
               (_notebook(Make.SYMLINK, target="{notebook}"),), Refusal.LINK_LOOP, "leads back to itself"),
    FileAttack("symlink_pair_loop", "two symlinks pointing at each other",
               (Entry("other.link", Make.SYMLINK, target="{notebook}"), _notebook(Make.SYMLINK, target="other.link")),
               Refusal.LINK_LOOP, "leads back to itself"),
    FileAttack("symlink_dangling", "a symlink to a file that does not exist",
               (_notebook(Make.SYMLINK, target="nowhere/{notebook}"),), Refusal.NOT_FOUND, "does not exist"),
    FileAttack("symlink_to_passwd", "a symlink to /etc/passwd", (_notebook(Make.SYMLINK, target="/etc/passwd"),),
               Refusal.OUTSIDE, "points outside the submission"),
    FileAttack("symlink_to_solution", "a symlink to the reference solution of the same notebook: full marks if followed",
               (_notebook(Make.SYMLINK, target="{solutions}/{notebook}"),), Refusal.OUTSIDE,
               "points outside the submission"),
    FileAttack("symlink_to_suite", "a symlink to a hidden suite", (_notebook(Make.SYMLINK, target="{suites}/test_01_setup.py"),),
               Refusal.OUTSIDE, "points outside the submission"),
    FileAttack("symlink_to_classmate", "a relative symlink to a classmate's solved 02_tensors, in any slot",
               (_notebook(Make.SYMLINK, target="../{sibling}/02_tensors.ipynb"),), Refusal.OUTSIDE,
               "points outside the submission"),
    FileAttack("directory", "a directory named as the notebook", (_notebook(Make.DIRECTORY),), Refusal.DIRECTORY,
               "is a directory"),
    FileAttack("deep_list", "20,000 nested lists: json.loads raises RecursionError", (_notebook(Make.FILE, content=DEEP),),
               Refusal.JSON_SHAPE, "nested more than"),
    FileAttack("deep_metadata", "a real notebook whose metadata nests 20,000 levels deep",
               (_notebook(Make.FILE, content=b'{"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {"x": '
                          + DEEP + b"}}"),), Refusal.JSON_SHAPE, "nested more than"),
    FileAttack("unterminated_escapes", "an unterminated string of escaped quotes (a quadratic scan for a naive pattern)",
               (_notebook(Make.FILE, content=b'{"cells": ["' + b'\\"' * 200_000),), Refusal.NOT_JSON,
               "is not valid JSON"),
    FileAttack("many_values", "millions of tiny values, far beyond any notebook",
               (_notebook(Make.FILE, content=b"[" + b"0," * MAX_JSON_VALUES + b"0]"),), Refusal.JSON_SHAPE,
               "values"),
    FileAttack("huge", "200 MiB (sparse) over the 50 MiB cap", (_notebook(Make.SPARSE, size=200 << 20),),
               Refusal.TOO_LARGE, "over the 50 MiB limit"),
    FileAttack("invalid_utf8", "a notebook with bytes that are not UTF-8",
               (_notebook(Make.FILE, content=b'{"cells": [], "metadata": {"x": "\xff\xfe"}}'),), Refusal.NOT_UTF8,
               "is not UTF-8"),
)


def available(attacks=FILE_ATTACKS) -> tuple[FileAttack, ...]:
    """The attacks this process can plant (a device node needs root)."""
    root = hasattr(os, "geteuid") and os.geteuid() == 0
    return tuple(attack for attack in attacks if root or not attack.needs_root)


def plant(attack: FileAttack, folder: Path, *, notebook: str, places: dict[str, Path | str]) -> None:
    """Build ``attack``'s entries in ``folder`` for the notebook file name ``notebook``; ``places`` fills in
    ``{solutions}``, ``{suites}`` and ``{sibling}``."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {"notebook": notebook, **{key: str(value) for key, value in places.items()}}
    for entry in attack.entries:
        path = folder / entry.name.format(**names)
        if entry.make is Make.FILE:
            path.write_bytes(entry.content)
        elif entry.make is Make.SPARSE:
            with path.open("wb") as handle:
                handle.truncate(entry.size)
        elif entry.make is Make.FIFO:
            os.mkfifo(path)
        elif entry.make is Make.SOCKET:  # bound at a short path (a socket's is limited), then moved
            short = Path(tempfile.mkdtemp(prefix="sock-", dir="/tmp"))
            with socket.socket(socket.AF_UNIX) as server:
                server.bind(str(short / "s"))
            os.rename(short / "s", path)
            short.rmdir()
        elif entry.make is Make.CHAR_DEVICE:
            os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 5))
        elif entry.make is Make.SYMLINK:
            path.symlink_to(entry.target.format(**names))
        elif entry.make is Make.DIRECTORY:
            path.mkdir()


def release_fifos(folder: Path) -> None:
    """Give every FIFO under ``folder`` a writer that closes at once, so a reader stuck on one gets EOF."""
    for path in folder.rglob("*"):
        try:
            if stat.S_ISFIFO(os.stat(path, follow_symlinks=False).st_mode):
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # no reader waiting: nothing to release
            pass
