"""Student text reaches terminals, Markdown, spreadsheets and web pages as text, never as an instruction."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.output_encoding import csv_text, html_text, markdown_code, markdown_text, terminal_text
from tests.conftest import SOLUTIONS

# ---------------------------------------------------------------- one function per format

HOSTILE_TERMINAL = [
    "\x1b[2J\x1b[H",  # clear the screen, cursor home (CSI)
    "\x1b]0;owned\x07",  # window title (OSC)
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",  # a terminal hyperlink
    "\x9b31m",  # CSI as one C1 byte
    "\x90secret\x9c",  # DCS ... ST
    "\u202egnp.exe",  # right-to-left override
    "\u2066isolate\u2069",
    "back\x08space",
    "\x7f",
    "car\rriage",
]


@pytest.mark.parametrize("attack", HOSTILE_TERMINAL)
def test_terminal_text_shows_every_control_instead_of_sending_it(attack):
    shown = terminal_text(attack)
    assert all(ch in "\n" or (ch.isprintable() and ch not in "\u202e\u2066\u2069") for ch in shown), repr(shown)
    assert terminal_text(shown) == shown  # once or twice: the same


def test_terminal_text_keeps_plain_text_and_newlines_where_the_layout_wants_them():
    plain = "gram(t) returned shape (3, 3): ok \u00e9\u4e2d"
    assert terminal_text(plain) == plain
    assert terminal_text("line one\nline two") == "line one\nline two"
    assert terminal_text("line one\nline two", keep_newlines=False) == "line one\\x0aline two"
    assert terminal_text("\x1b[2J") == "\\x1b[2J"
    assert terminal_text("\u202e") == "\\u202e"


@pytest.mark.parametrize("text", [
    "![logo](http://evil.example/x.png)", "[click](http://evil.example)", "<script>alert(1)</script>",
    "<http://evil.example>", "http://evil.example/a", "www.evil.example", "mail me@evil.example",
    "**bold** _it_ ~~gone~~ `code`", "# heading", "- item", "1. item", "| a | b |", "&#x3C;b&#x3E;", "$x^2$",
    "line\n# heading on a new line",
])
def test_markdown_text_leaves_nothing_for_a_renderer_to_interpret(text):
    escaped = markdown_text(text)
    assert "\n" not in escaped
    for opener in ("![", "](", "<s", "<h", "**", "`c", "~~", "&#", "$x"):
        assert opener not in escaped.replace("\\" + opener[0], "\0"), (text, escaped)
    assert "http://" not in escaped and "www." not in escaped and "me@evil" not in escaped
    assert not escaped.lstrip().startswith(("#", "-", "1.", "|")), escaped


def test_markdown_text_keeps_ordinary_prose_readable_in_the_file():
    prose = "gram(t) returned shape (3, 3): keep the dtype"
    assert markdown_text(prose) == prose
    assert markdown_text("`gram` raised ValueError") == "\\`gram\\` raised ValueError"


@pytest.mark.parametrize("text", ["plain", "a`b", "``x``", "`", "ends with `", " spaced ", "a\nb"])
def test_markdown_code_spans_hold_any_backticks(text):
    span = markdown_code(text)
    fence = len(span) - len(span.lstrip("`"))
    inner = span[fence:len(span) - fence]
    assert span.startswith("`" * fence) and span.endswith("`" * fence) and "\n" not in span
    assert "`" * fence not in inner  # the fence cannot close early
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip():
        inner = inner[1:-1]  # CommonMark strips one space on each side
    assert inner == text.replace("\n", " ")


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://evil.example","win")', "+1+1", "-2+3", "@SUM(A1)",
                                  "\t=1", "\r=1", "  =1", "\uff1d1+1", "=cmd|' /C calc'!A0"])
def test_csv_text_neutralises_formulas(cell):
    neutral = csv_text(cell)
    assert neutral.startswith("'")
    assert csv_text(neutral) == neutral  # idempotent: the manifest is read back and written again
    assert "\t" not in neutral and "\r" not in neutral


def test_csv_text_leaves_ordinary_text_alone():
    for text in ("Jane Doe", "doejane", "Participant 12345", "graded", "crashed", "\u00dcnal \u00c7elik", ""):
        assert csv_text(text) == text


def test_html_text_escapes_markup_and_shows_controls():
    assert html_text('<a href="x">\'') == "&lt;a href=&quot;x&quot;&gt;&#x27;"
    assert html_text("\x1b[2J\u202e") == "\\x1b[2J\\u202e"


# ---------------------------------------------------------------- end to end: grade, then every output

ESCAPES = "\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202e"
MARKDOWN = "![logo](http://evil.example/x.png) [click here](http://evil.example) <script>alert(1)</script> **bold**"
DISPLAY_NAME = '=HYPERLINK("evil.example","win")'  # no "/": Moodle folders are named after it


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A Moodle download with one student named like a formula whose notebook raises a hostile message in a cell
    (a cell's error text is the student's own, shown as written; during hidden checks no text is shown)."""
    root = tmp_path_factory.mktemp("hostile-class")
    notebook = nbformat.read(SOLUTIONS / "02_tensors.ipynb", as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "gram":
            cell.source = f"def gram(t):\n    raise ValueError(\"{ESCAPES} {MARKDOWN}\")\n"
        elif grade_id == "check_gram":
            cell.source = ""
    notebook.cells.append(nbformat.v4.new_code_cell(f"raise ValueError(\"{ESCAPES} {MARKDOWN}\")"))
    archive = root / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"{DISPLAY_NAME}_12345_assignsubmission_file_/02_tensors.ipynb", nbformat.writes(notebook))
    out = root / "out"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(archive), "--out", str(out),
                           "--notebook", "02_tensors", "--jobs", "1", "--seed", "3", "--verbose"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


def _no_terminal_controls(text: str) -> None:
    bad = [ch for ch in text if (not ch.isprintable() and ch not in "\n") or ch in "\u202e\u2066\u2069"]
    assert not bad, [hex(ord(ch)) for ch in bad]


def test_the_graded_message_really_is_hostile(hostile_class):
    out, _ = hostile_class
    from autograder.results_folder import read_results

    (result,) = read_results(out)
    assert result.student == "HYPERLINK_evil.example_win"
    messages = " ".join(problem for notebook in result.notebooks for problem in notebook.problems)
    assert "\x1b" in messages and "](http" in messages, "the attack did not reach the results: nothing is tested"


def test_the_terminal_shows_the_message_without_obeying_it(hostile_class):
    out, done = hostile_class
    _no_terminal_controls(done.stdout)
    _no_terminal_controls(done.stderr)
    assert "\\x1b[2J" in done.stdout  # shown, escaped, on the student's line


def test_feedback_files_keep_student_markdown_dead(hostile_class):
    from autograder.reporters.feedback import write_feedback

    out, _ = hostile_class
    write_feedback(out)
    (markdown_path,) = (out / "feedback").glob("*.md")
    markdown = markdown_path.read_text(encoding="utf-8")
    _no_terminal_controls(markdown)
    lines = [line for line in markdown.splitlines() if "raised ValueError: " in line]  # the cell's own text
    assert lines
    for line in lines:
        unescaped = re.sub(r"\\.", "", line.split("raised ValueError: ", 1)[-1])
        assert not re.search(r"[<>\[\]*`_~|&$@]", unescaped), line  # nothing a renderer would act on
        assert "http://" not in line and "!\\[logo\\](http\\://evil" in line  # shown as written
    page = markdown_path.with_suffix(".html").read_text(encoding="utf-8")
    _no_terminal_controls(page)
    assert "<script" not in page and "&lt;script&gt;" in page


def test_the_class_report_escapes_the_message(hostile_class):
    from autograder.reporters.html_report import build_report

    out, _ = hostile_class
    page = build_report(out).html_path.read_text(encoding="utf-8")
    _no_terminal_controls(page)
    assert page.count("<script") == 1  # the page's own sorting script, nothing else


@pytest.mark.parametrize("fmt", ["plain", "canvas", "moodle"])
def test_exports_and_the_manifest_hold_the_formula_name_as_text(hostile_class, fmt):
    from autograder.reporters.lms import export_grades

    out, _ = hostile_class
    tables = {"manifest": (out / "lms_students.csv").read_text(encoding="utf-8"),
              "grades": (out / "grades.csv").read_text(encoding="utf-8"), fmt: export_grades(out, fmt=fmt)}
    for name, text in tables.items():
        _no_terminal_controls(text)
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    assert f"'{DISPLAY_NAME}" in tables["manifest"].replace('""', '"')
    if fmt != "plain":
        assert f"'{DISPLAY_NAME}" in tables[fmt].replace('""', '"')
