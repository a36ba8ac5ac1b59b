"""Reading a file of a submission: a regular file inside the submission, bounded in size, time and nesting.

A submission is a student's data, and a file system can hand over more than bytes under a
notebook's name: a FIFO (``open`` alone waits for a writer that never comes), a device that never
ends, a socket, a symlink to the grader's own files or to itself.  Each is refused here with its
reason before anything waits on it.  The path is resolved with loops detected, and must stay inside
the submission; its type is checked with ``stat`` before it is opened (a device is never opened at
all); it is opened non-blocking without following a last symlink, checked again with ``fstat``, and
read in chunks up to a size cap and a deadline.  JSON is judged by its shape (size, nesting, number
of values; :func:`autograder.sandbox.wire.json_shape_problem`, linear in the size) before it is
parsed, so ``json.loads`` never meets a nesting that exhausts the stack.

Every front door reads submission files through this module: the grading runner, ``autograder
check`` and ``autograder ci``.  A refusal is that file's problem only.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from autograder.sandbox.wire import json_shape_problem

MAX_FILE_BYTES = 50 << 20
READ_SECONDS = 20.0
MAX_JSON_DEPTH = 64          # a notebook nests about ten levels; json.loads would give up near a thousand
MAX_JSON_VALUES = 4_000_000  # a 50 MiB file of "[0,0,0,..." would be 25 million objects
_CHUNK = 1 << 20
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))


class Refusal(Enum):
    """Why a file of a submission was not read (or not parsed)."""

    NOT_FOUND = "not found"
    LINK_LOOP = "symlink loop"
    OUTSIDE = "outside the submission"
    DIRECTORY = "directory"
    SPECIAL = "not a regular file"
    TOO_LARGE = "too large"
    TOO_SLOW = "too slow to read"
    UNREADABLE = "unreadable"
    NOT_UTF8 = "not UTF-8"
    NOT_JSON = "not JSON"
    JSON_SHAPE = "JSON too deep or too big"


_MESSAGES = {
    Refusal.NOT_FOUND: "{name} does not exist, or is a symlink to a file that does not exist: "
                       "submit the notebook file itself",
    Refusal.LINK_LOOP: "{name} is a symlink that leads back to itself (a loop): submit the notebook file itself",
    Refusal.OUTSIDE: "{name} points outside the submission (a symlink?): submit the file itself",
    Refusal.DIRECTORY: "{name} is a directory, not a notebook file: submit the .ipynb file",
    Refusal.SPECIAL: "{name} is not a regular file ({detail}): upload the notebook file itself",
    Refusal.TOO_LARGE: "{name} is {detail}, over the {limit} limit: clear its outputs (Edit > Clear All Outputs), "
                       "save, and submit again",
    Refusal.TOO_SLOW: "{name} could not be read within {limit}: submit it again as a plain file",
    Refusal.UNREADABLE: "{name} cannot be read ({detail}): submit it again",
    Refusal.NOT_UTF8: "{name} is not UTF-8 text ({detail}): re-save it from Jupyter",
    Refusal.NOT_JSON: "{name} is not valid JSON ({detail}): it may be truncated or edited by hand; "
                      "re-download it from Jupyter with File > Save and submit again",
    Refusal.JSON_SHAPE: "{name} is JSON {detail}, far beyond any notebook: re-download it from Jupyter with "
                        "File > Save and submit again",
}

_SPECIAL_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                  (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class FileRefused(Exception):
    """A file of a submission was not read; :meth:`describe` tells the student what to do."""

    def __init__(self, kind: Refusal, *, name: str, detail: str = "", limit: str = "") -> None:
        self.kind = kind
        self.name = name
        self.detail = detail
        self.limit = limit
        super().__init__(self.describe())

    def describe(self) -> str:
        return _MESSAGES[self.kind].format(name=self.name, detail=self.detail, limit=self.limit)

    def __reduce__(self):  # keyword-only arguments: pickle (a worker's pipe) needs to be told how
        return _refused, (self.kind, self.name, self.detail, self.limit)


def _refused(kind: Refusal, name: str, detail: str, limit: str) -> FileRefused:
    return FileRefused(kind, name=name, detail=detail, limit=limit)


@dataclass(frozen=True)
class JsonDocument:
    """A JSON file as read: its text, and the value parsed from it."""

    text: str
    value: Any


def read_bytes(path: Path, *, root: Path | None, max_bytes: int = MAX_FILE_BYTES,
               seconds: float = READ_SECONDS) -> bytes:
    """The bytes of the regular file ``path``, which must resolve inside ``root`` (when given).

    Raises :class:`FileRefused`; never blocks, never reads more than ``max_bytes`` (plus one)
    and stops at ``seconds``.
    """
    name = path.name
    deadline = time.monotonic() + seconds
    real = _resolve(path, root, name)
    try:
        info = os.stat(real, follow_symlinks=False)  # before opening: a device is never opened
    except OSError as error:
        raise _os_refusal(error, name) from None
    _check_regular(info, name, max_bytes)
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as error:  # replaced by a symlink since the check: O_NOFOLLOW refuses it
        raise _os_refusal(error, name) from None
    try:
        _check_regular(os.fstat(fd), name, max_bytes)  # what was opened, whatever the path names now
        chunks, total = [], 0
        while True:
            if time.monotonic() > deadline:
                raise FileRefused(Refusal.TOO_SLOW, name=name, limit=f"{seconds:g} s")
            try:
                chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
            except BlockingIOError:
                time.sleep(0.01)
                continue
            except OSError as error:
                raise _os_refusal(error, name) from None
            if not chunk:
                return b"".join(chunks)
            total += len(chunk)
            if total > max_bytes:  # it grew while it was read
                raise FileRefused(Refusal.TOO_LARGE, name=name, detail=f"more than {_mib(max_bytes)}",
                                  limit=_mib(max_bytes))
            chunks.append(chunk)
    finally:
        os.close(fd)


def read_text(path: Path, *, root: Path | None, max_bytes: int = MAX_FILE_BYTES,
              seconds: float = READ_SECONDS) -> str:
    """:func:`read_bytes`, decoded as UTF-8."""
    return _decode(read_bytes(path, root=root, max_bytes=max_bytes, seconds=seconds), path.name)


def read_json(path: Path, *, root: Path | None, max_bytes: int = MAX_FILE_BYTES,
              seconds: float = READ_SECONDS) -> JsonDocument:
    """:func:`read_text`, parsed as JSON once its shape is known to be within bounds."""
    raw = read_bytes(path, root=root, max_bytes=max_bytes, seconds=seconds)
    problem = json_shape_problem(raw, max_bytes=max_bytes, max_depth=MAX_JSON_DEPTH, max_nodes=MAX_JSON_VALUES)
    text = _decode(raw, path.name)
    if problem is not None and _separators(raw) > MAX_JSON_VALUES:  # parsing could build too many values
        raise FileRefused(Refusal.JSON_SHAPE, name=path.name, detail=problem)
    # Unbalanced brackets count as too deep, and a truncated file is unbalanced.  With few enough values
    # the parser tells the two apart safely: it stops at the missing bracket, or at its recursion limit.
    try:
        value = json.loads(text)
    except ValueError as error:
        raise FileRefused(Refusal.NOT_JSON, name=path.name, detail=str(error)) from None
    except RecursionError:
        problem = problem or f"nested more than {MAX_JSON_DEPTH} levels deep"
    if problem is not None:
        raise FileRefused(Refusal.JSON_SHAPE, name=path.name, detail=problem)
    return JsonDocument(text=text, value=value)


def resolves_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` exists and resolves (symlinks followed, loops refused) inside ``root``."""
    try:
        real = Path(os.path.realpath(path, strict=True))
        return real.is_relative_to(os.path.realpath(root, strict=True))
    except OSError:
        return False


def _resolve(path: Path, root: Path | None, name: str) -> str:
    try:
        real = os.path.realpath(path, strict=True)
    except OSError as error:
        raise _os_refusal(error, name) from None
    if root is not None:
        try:
            inside = Path(real).is_relative_to(os.path.realpath(root, strict=True))
        except OSError:
            inside = False
        if not inside:
            raise FileRefused(Refusal.OUTSIDE, name=name)
    return real


def _check_regular(info: os.stat_result, name: str, max_bytes: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise FileRefused(Refusal.DIRECTORY, name=name)
    if stat.S_ISLNK(info.st_mode):
        raise FileRefused(Refusal.LINK_LOOP, name=name)
    if not stat.S_ISREG(info.st_mode):
        kind = next((kind for test, kind in _SPECIAL_KINDS if test(info.st_mode)), "a special file")
        raise FileRefused(Refusal.SPECIAL, name=name, detail=kind)
    if info.st_size > max_bytes:
        raise FileRefused(Refusal.TOO_LARGE, name=name, detail=_mib(info.st_size), limit=_mib(max_bytes))


def _os_refusal(error: OSError, name: str) -> FileRefused:
    if error.errno == errno.ELOOP:
        return FileRefused(Refusal.LINK_LOOP, name=name)
    if error.errno == errno.ENOENT:
        return FileRefused(Refusal.NOT_FOUND, name=name)
    return FileRefused(Refusal.UNREADABLE, name=name, detail=error.strerror or type(error).__name__)


def _separators(raw: bytes) -> int:
    """An upper bound of the number of values in JSON text ``raw`` (separators in strings count too)."""
    return sum(raw.count(mark) for mark in (b"[", b"{", b",", b":")) + 1


def _decode(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileRefused(Refusal.NOT_UTF8, name=name, detail=f"byte {error.start}") from None


def _mib(size: int) -> str:
    return f"{size >> 20} MiB"
