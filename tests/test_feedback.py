"""Per-student feedback files: every check with its mark, points, hint, book section and PyTorch docs link."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from autograder.course import APPENDIX_A
from autograder.grading.results import Status
from autograder.reporters.classdata import load_results
from autograder.reporters.feedback import READING, write_feedback
from tests.results_factory import small_class


@pytest.fixture
def class_results(tmp_path):
    return small_class(tmp_path / "out")


def test_every_student_function_has_a_book_section_and_docs(tmp_path):
    for notebook in APPENDIX_A.notebooks:
        low, _, high = notebook.book_section.partition("-")
        chapters = range(int(low.split(".")[1]), int((high or low).split(".")[1]) + 1)
        for function in notebook.functions:
            reading = READING[function]
            assert int(reading.section.split(".")[1]) in chapters, (function, reading.section)
            assert reading.hint and reading.links, function
            assert all(url.startswith("https://") for _, url in reading.links)
    pytorch_pages = {url for reading in READING.values() for _, url in reading.links if "pytorch.org/docs" in url}
    for needed in ("torch.reshape", "torch.autograd.grad", "torch.nn.Module.html", "torch.utils.data.DataLoader"):
        assert any(needed in url for url in pytorch_pages), needed


def test_feedback_marks_points_hints_and_links(class_results):
    written = write_feedback(class_results, assignment=APPENDIX_A)
    assert sorted(p.name for p in written) == sorted(f"{s}.{e}" for s in ("ann", "ben", "cid", "dee")
                                                      for e in ("md", "html"))
    ben = (class_results / "feedback" / "ben.md").read_text(encoding="utf-8")
    assert "**Score: 25/35**" in ben
    assert "- \u2713 **passed** (10/10) `test_reshape_to_book_example`" in ben
    assert "- \u2717 **failed** (0/10) `test_gram_random_matrices`" in ben
    assert "What went wrong: gram(t) returned shape (3, 3)" in ben
    assert "Hint: A matrix times its own transpose" in ben
    assert "book section A.2.3, [torch.matmul](https://pytorch.org/docs/stable/generated/torch.matmul.html)" in ben
    assert "not available" in ben and "not counted against you" in ben  # extra credit without a GPU
    ann = (class_results / "feedback" / "ann.md").read_text(encoding="utf-8")
    assert "+ 10 extra credit" in ann and "\u2717" not in ann and "Read:" not in ann  # nothing to read up on


def test_html_feedback_is_escaped_and_links_to_docs(class_results):
    write_feedback(class_results, assignment=APPENDIX_A)
    page = (class_results / "feedback" / "ben.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<li class="check failed" data-status="failed">' in page
    assert '<a href="https://pytorch.org/docs/stable/generated/torch.matmul.html">torch.matmul</a>' in page
    assert "<script" not in page
    cid = (class_results / "feedback" / "cid.html").read_text(encoding="utf-8")
    assert "exited with status 3" in cid and "class=\"problem\"" in cid
    dee = (class_results / "feedback" / "dee.md").read_text(encoding="utf-8")
    assert "grading failed: the notebook process could not be started" in dee and "**Score: 0/35**" in dee


def test_results_are_read_back_with_functions_and_problem_kinds(class_results):
    records = {r.student: r for r in load_results(class_results, assignment=APPENDIX_A)}
    assert sorted(records) == ["ann", "ben", "cid", "dee"]  # grades.csv is not a student
    assert records["ann"].total == 45 and records["ann"].extra_credit == 10 and records["ann"].max_points == 35
    assert {c.function for c in records["ben"].checks} == {"reshape_to", "gram", "train_on_device"}
    assert records["cid"].status == "crashed" and records["cid"].problems[0].kind == "crash"
    assert records["dee"].status == "grading failed" and records["dee"].notebook_max == {"02_tensors": 20,
                                                                                      "05_device": 15}


def test_the_feedback_command(class_results, tmp_path):
    done = subprocess.run([sys.executable, "-m", "autograder", "feedback", str(class_results), "--to",
                           str(tmp_path / "fb")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "feedback for 4 students" in done.stdout
    assert (tmp_path / "fb" / "ben.html").exists() and (tmp_path / "fb" / "ben.md").exists()
    done = subprocess.run([sys.executable, "-m", "autograder", "feedback", str(tmp_path / "missing")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "not a directory" in done.stderr


def test_env_output_is_plain_text_for_a_forum_post():
    done = subprocess.run([sys.executable, "-m", "autograder", "env"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout  # no colour codes in a pasted post
    for needed in ("OS: ", "CPU cores", "Python 3.", "torch 2.", " build; ", "MPS", "paste all of the lines above"):
        assert needed in done.stdout, needed


def test_a_missing_notebook_is_one_entry_not_one_per_check(tmp_path):
    from autograder.grading.results import FailureKind, NotebookResult, SubmissionResult
    from tests.results_factory import check, write_results

    reason = "02_tensors.ipynb was not found in the submission"
    checks = tuple(replace(check("02_tensors", "gram", f"case_{index}", 2, Status.FAILED, reason),
                           kind=FailureKind.NOTEBOOK) for index in range(5))
    missing = SubmissionResult(student="eve", assignment="appendix_a", seed=1, seconds=0.0, notebooks=(
        NotebookResult(notebook="02_tensors", max_points=10, path=None, checks=checks, problems=(reason,)),))
    out = write_results(tmp_path / "results", [missing])
    write_feedback(out, assignment=APPENDIX_A.subset(["02_tensors"]))
    for suffix in (".md", ".html"):
        text = (out / "feedback" / f"eve{suffix}").read_text()
        assert text.count("was not found in the submission") == 1, text
        assert "all 5 checks of this notebook (0/10)" in text


def stub_and_wrong_answers():
    """fay: reshape_to still a stub (every check not implemented), gram wrong in two checks, transpose right."""
    from autograder.grading.results import FailureKind, NotebookResult, SubmissionResult
    from tests.results_factory import check

    stub = "`reshape_to` is not implemented yet (it still raises NotImplementedError)"
    checks = tuple(replace(check("02_tensors", "reshape_to", case, 1, Status.FAILED, stub),
                           kind=FailureKind.NOT_IMPLEMENTED)
                   for case in ("book_example", "random_matrices", "non_contiguous", "keeps_dtype"))
    checks += (check("02_tensors", "transpose", "book_example", 3, Status.PASSED),
               replace(check("02_tensors", "gram", "book_example", 2, Status.FAILED,
                             "gram(t): compute t @ t.T, not t.T @ t"), kind=FailureKind.WRONG_ANSWER),
               replace(check("02_tensors", "gram", "keeps_dtype", 2, Status.FAILED,
                             "`gram` raised TypeError: unsupported operand (cell 5, line 2, in gram)"),
                       kind=FailureKind.STUDENT_ERROR))
    return SubmissionResult(student="fay", assignment="appendix_a", seed=2, seconds=1.0, notebooks=(
        NotebookResult(notebook="02_tensors", max_points=11, path=None, checks=checks),))


def test_a_stub_is_one_line_and_each_function_is_read_up_on_once(tmp_path):
    from tests.results_factory import write_results

    out = write_results(tmp_path / "results", [stub_and_wrong_answers()])
    write_feedback(out, assignment=APPENDIX_A.subset(["02_tensors"]))
    markdown = (out / "feedback" / "fay.md").read_text(encoding="utf-8")
    golden = Path(__file__).parent / "golden" / "feedback_fay.md"
    if os.environ.get("AUTOGRADER_UPDATE_GOLDENS") == "1":
        golden.write_text(markdown, encoding="utf-8")
    assert markdown == golden.read_text(encoding="utf-8"), "feedback differs from tests/golden/feedback_fay.md"

    # the stub: one line with its name as code and where to read, no sentence per check, no hint about .view()
    assert markdown.count("is not implemented yet") == 1 and ".view()" not in markdown
    assert ("- \u2717 **not implemented** (0/4): `reshape_to` is not implemented yet. Read: book section A.2.3"
            in markdown)
    # a function that failed twice: both messages, the hint and the reading once
    assert markdown.count("What went wrong:") == 2 and markdown.count("Hint: A matrix times") == 1
    assert markdown.count("Read: book section A.2.3, [torch.matmul]") == 1
    page = (out / "feedback" / "fay.html").read_text(encoding="utf-8")
    assert page.count("is not implemented yet") == 1 and page.count('data-status="not implemented"') == 1
    assert "<code>reshape_to</code> is not implemented yet." in page and page.count("Hint: A matrix times") == 1
