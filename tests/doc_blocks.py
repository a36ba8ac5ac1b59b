"""The shell blocks of the documentation, as a reader would copy them.

A block is a fenced ``sh`` (or ``bash``/``shell``) code block, indented or not, in README.md,
docs/*.md or the student README template.  Its commands are its lines with ``\\``
continuations joined and trailing ``# comments`` removed.  Blocks are named by their file
and first command, so a test names the block it runs and survives edits elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from autograder.course import REPO_ROOT

DOC_FILES = (REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md")),
             REPO_ROOT / "autograder" / "templates" / "student" / "README.md")
_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_SHELL = {"sh", "bash", "shell", "console"}
_AUTOGRADER = re.compile(r"(^|[\s/;&(])autograder\s")


@dataclass(frozen=True)
class Block:
    path: Path
    commands: tuple[str, ...]

    @property
    def name(self) -> tuple[str, str]:
        return (str(self.path.relative_to(REPO_ROOT)), self.commands[0])

    @property
    def autograder_commands(self) -> tuple[str, ...]:
        return tuple(command for command in self.commands if _AUTOGRADER.search(command))


def _commands(lines: list[str]) -> tuple[str, ...]:
    commands, pending = [], ""
    for line in lines:
        line = line.rstrip()
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line.strip()).strip()
        pending = ""
        line = re.sub(r"\s+#\s.*$", "", line).strip()  # a trailing comment (commands here hold no '#')
        if line and not line.startswith("#"):
            commands.append(line)
    return tuple(commands)


def shell_blocks(paths: tuple[Path, ...] = DOC_FILES) -> list[Block]:
    blocks = []
    for path in paths:
        inside, language, body = False, "", []
        for line in path.read_text(encoding="utf-8").splitlines():
            fence = _FENCE.match(line)
            if fence and not inside:
                inside, language, body = True, fence.group(2), []
            elif fence and inside:
                inside = False
                if language in _SHELL and _commands(body):
                    blocks.append(Block(path, _commands(body)))
            elif inside:
                body.append(line)
    return blocks


def block(file: str, first: str) -> Block:
    """The block of ``file`` (relative to the repository) whose first command is ``first``."""
    for candidate in shell_blocks():
        if candidate.name == (file, first):
            return candidate
    raise LookupError(f"no shell block in {file} starts with {first!r}: the docs changed, update the test")


def python_block(file: str, containing: str) -> str:
    """The text of the fenced ``python`` block of ``file`` that contains ``containing``."""
    text = (REPO_ROOT / file).read_text(encoding="utf-8")
    for match in re.finditer(r"```python\n(.*?)```", text, flags=re.S):
        if containing in match.group(1):
            return match.group(1)
    raise LookupError(f"no python block in {file} contains {containing!r}")
