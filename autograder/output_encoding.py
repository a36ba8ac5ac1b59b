"""One output-encoding step per format, for text that may come from a student.

Student names, exception messages, check messages and LMS display names reach
terminals, Markdown files, spreadsheets and web pages.  Each format has its own
way for text to become an instruction (an escape sequence that clears the
screen, a Markdown link, a spreadsheet formula, an HTML tag), so each gets one
function here, applied once, where the text is written out:

- :func:`terminal_text`: control characters (C0 including ESC, DEL, C1 including
  the one-byte CSI/OSC, line and paragraph separators) and bidirectional
  overrides shown as visible escapes (``\\x1b``, ``\\u202e``), newlines kept
  where the layout wants them.
- :func:`markdown_text` / :func:`markdown_code`: prose with every character that
  can start Markdown syntax backslash-escaped, or a code span whose fence is
  longer than any run of backticks inside it.
- :func:`csv_text`: a cell that a spreadsheet would read as a formula gets a
  leading apostrophe (OWASP's advice on CSV injection).
- :func:`html_text`: ``html.escape``, after the terminal step.

Text the project composes itself from numbers (points, percentages) needs none
of this; a string that holds any student text goes through the function of
its format exactly once.
"""

from __future__ import annotations

import html
import re

# Bidirectional controls: embeddings, overrides and isolates (U+202A-E, U+2066-9), the marks
# (U+200E/F, U+061C): they reorder what a reader sees ("Trojan Source").
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")
_CONTROLS_AND_LINES = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{_BIDI}]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` safe to print: every control character shown as an escape, nothing left to interpret.

    A tab becomes a space.  With ``keep_newlines`` a line feed (or CR LF) stays a line
    feed; otherwise it is shown escaped too, for one-line layouts such as table cells and
    a line per failed check, where a line break would let text pose as a line of its own.
    """
    text = str(text)
    if keep_newlines:
        return _CONTROLS.sub(_visible, text.replace("\r\n", "\n").replace("\t", " "))
    return _CONTROLS_AND_LINES.sub(_visible, text.replace("\t", " "))


# Characters that open or close inline Markdown anywhere in a line: emphasis, code, links and
# images ('[' ']'; '!' and '(' mean nothing without them), raw HTML and autolinks ('<' '>'),
# entities ('&'), tables ('|'), strikethrough ('~'), GitHub math ('$'), email autolinks ('@').
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>&|~$@])")
# GitHub turns bare "https://..." and "www...." into links: break them with an escape too.
_MARKDOWN_AUTOLINK = re.compile(r"(?<=[A-Za-z0-9])(:)(?=//)|(?<=\b[Ww][Ww][Ww])(\.)")
# What starts a block at the beginning of a line: a heading, a list item, a setext underline.
_MARKDOWN_BLOCK_START = re.compile(r"^(\s*(?:\d+(?=[.)]))?)([#\-+=.)])")


def _one_line(text: str) -> str:
    return terminal_text(re.sub(r"\r\n|[\r\n\u2028\u2029]", " ", str(text)), keep_newlines=False)


def markdown_text(text: str) -> str:
    """``text`` as literal Markdown prose on one line: no emphasis, link, image, HTML or autolink.

    Every character that could start Markdown syntax is backslash-escaped, so a
    renderer shows the text exactly as written; plain words and punctuation such
    as ``gram(t) returned shape (3, 3)`` stay as they are in the file.  Line
    breaks become spaces, so the text cannot start a new block.
    """
    text = _MARKDOWN_INLINE.sub(r"\\\1", _one_line(text))
    text = _MARKDOWN_AUTOLINK.sub(lambda match: "\\" + match.group(), text)
    return _MARKDOWN_BLOCK_START.sub(lambda match: f"{match.group(1)}\\{match.group(2)}", text)


def markdown_code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds (shown literally, on one line)."""
    text = _one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# OWASP: =, +, -, @, tab and carriage return start a formula in some spreadsheet; the full-width
# forms are folded to them by some importers, and leading spaces are skipped by others.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_text(text: str) -> str:
    """A CSV cell holding ``text`` as text: a leading apostrophe when a spreadsheet would see a formula.

    Applied to every text cell that could hold someone else's words (student
    names, display names, statuses, comments); numbers the project formats itself
    are written as they are.  Applying it twice changes nothing more than once.
    Control characters are shown escaped, as on a terminal; line breaks are kept
    (the csv module quotes them).
    """
    text = str(text)
    if text.lstrip(" ").startswith(_FORMULA_START):
        text = "'" + text
    return terminal_text(text, keep_newlines=True)


def html_text(text: object) -> str:
    """``text`` for an HTML element or a quoted attribute value."""
    return html.escape(terminal_text(str(text)), quote=True)


__all__ = ["terminal_text", "markdown_text", "markdown_code", "csv_text", "html_text"]
