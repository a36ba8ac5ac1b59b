"""Write batch-grading results straight into nbgrader's gradebook.

The scores per grade cell are computed exactly as ``nbgrader autograde`` with
:class:`~autograder.nbgrader.preprocessors.GradeWithSuites` computes them, so the
formgrader and ``nbgrader export`` work unchanged on a gradebook filled here.
Only the trusted parent writes, one student per transaction.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from nbgrader.api import Gradebook as _NbgraderGradebook
from nbgrader.api import MissingEntry

from autograder.errors import UsageError
from autograder.grading.results import SubmissionResult
from autograder.nbgrader.preprocessors import function_of, score_cell


def Gradebook(db_url: str) -> _NbgraderGradebook:  # noqa: N802 - stands in for nbgrader's class
    """nbgrader's Gradebook, with this interpreter's ``bin`` on PATH: creating one runs ``alembic``."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    return _NbgraderGradebook(db_url)


class GradebookNotReady(UsageError):
    """The gradebook lacks the assignment; the message says how to create it."""


def check_ready(*, db_url: str, assignment_id: str) -> None:
    with Gradebook(db_url) as gradebook:
        try:
            gradebook.find_assignment(assignment_id)
        except MissingEntry:
            raise GradebookNotReady(
                f"the gradebook {db_url} has no assignment {assignment_id!r}: run "
                f"`nbgrader generate_assignment {assignment_id}` with this gradebook first"
            ) from None


def write_submission(result: SubmissionResult, *, db_url: str, assignment_id: str) -> None:
    """Record ``result`` as the student's autograded submission of ``assignment_id``."""
    with Gradebook(db_url) as gradebook:
        try:
            assignment = gradebook.find_assignment(assignment_id)
        except MissingEntry:
            raise GradebookNotReady(
                f"the gradebook {db_url} has no assignment {assignment_id!r}: run "
                f"`nbgrader generate_assignment {assignment_id}` with this gradebook first"
            ) from None
        gradebook.update_or_create_student(result.student)
        try:
            gradebook.find_submission(assignment_id, result.student)
        except MissingEntry:
            gradebook.add_submission(assignment_id, result.student)
        complete_submission(gradebook, assignment_id=assignment_id, student=result.student)
        for notebook in assignment.notebooks:
            try:
                graded = result.notebook(notebook.name)
            except KeyError:
                continue
            for cell in notebook.grade_cells:
                checks = [c for c in graded.checks if c.function == function_of(cell.name)]
                points, extra, _ = score_cell(cell.name, float(cell.max_score), checks, graded)
                grade = gradebook.find_grade(cell.name, notebook.name, assignment_id, result.student)
                grade.auto_score = points
                grade.needs_manual_grade = grade.manual_score is not None
                if any(check.extra_credit for check in checks):
                    grade.extra_credit = extra
        gradebook.db.commit()


def merge_gradebooks(*, sources: list[str], target: str, assignment_id: str) -> int:
    """Copy every autograded submission of ``assignment_id`` from shard gradebooks into ``target``."""
    copied = 0
    for source in sources:
        with Gradebook(source) as shard:
            submissions = [(s.student.id, [(n.name, [(g.name, g.auto_score, g.extra_credit) for g in n.grades])
                                           for n in s.notebooks])
                           for s in shard.assignment_submissions(assignment_id)]
        with Gradebook(target) as merged:
            try:
                merged.find_assignment(assignment_id)
            except MissingEntry:
                raise GradebookNotReady(f"the gradebook {target} has no assignment {assignment_id!r}: run "
                                        f"`nbgrader generate_assignment {assignment_id}` with it first") from None
            for student, notebooks in submissions:
                merged.update_or_create_student(student)
                try:
                    merged.find_submission(assignment_id, student)
                except MissingEntry:
                    merged.add_submission(assignment_id, student)
                complete_submission(merged, assignment_id=assignment_id, student=student)
                for notebook, grades in notebooks:
                    for name, auto_score, extra_credit in grades:
                        grade = merged.find_grade(name, notebook, assignment_id, student)
                        grade.auto_score = auto_score
                        grade.extra_credit = extra_credit
                        grade.needs_manual_grade = grade.manual_score is not None or auto_score is None
                merged.db.commit()
                copied += 1
    return copied


def register_new_notebooks(*, db_url: str, assignment_id: str, stems: list[str]) -> list[str]:
    """Add the notebooks ``stems`` that the gradebook's ``assignment_id`` lacks; return the added ones.

    ``nbgrader generate_assignment`` refuses to add a notebook to an assignment that already has
    submissions.  Once the gradebook knows the new notebook, it regenerates the assignment as for
    an edit: grade cells are updated and every existing submission and grade is kept.  A notebook
    the gradebook has but ``stems`` lacks is refused, since removing it would drop its grades.
    """
    with Gradebook(db_url) as gradebook:
        try:
            assignment = gradebook.find_assignment(assignment_id)
        except MissingEntry:
            return []  # nothing graded yet: generate_assignment creates the assignment as usual
        known = {notebook.name for notebook in assignment.notebooks}
        removed = sorted(known - set(stems))
        if removed and assignment.submissions:
            raise UsageError(f"the gradebook {db_url} has notebooks {', '.join(removed)} of {assignment_id!r} "
                             "that source/ no longer has, and submissions hold their grades: put them back, "
                             "or export the grades first and start a new assignment")
        added = [stem for stem in stems if stem not in known]
        for stem in added:
            gradebook.update_or_create_notebook(stem, assignment_id)
    return added


def complete_submissions(*, db_url: str, assignment_id: str) -> dict[str, list[str]]:
    """:func:`complete_submission` for every submission of ``assignment_id``: {student: notebooks added}."""
    with Gradebook(db_url) as gradebook:
        students = [submission.student.id for submission in gradebook.assignment_submissions(assignment_id)]
        completed = {student: complete_submission(gradebook, assignment_id=assignment_id, student=student)
                     for student in students}
    return {student: added for student, added in completed.items() if added}


def complete_submission(gradebook: _NbgraderGradebook, *, assignment_id: str, student: str) -> list[str]:
    """Give a submission made before notebooks were added to its assignment the rows nbgrader expects.

    ``Gradebook.add_submission`` mirrors the assignment's notebooks as they were then; a notebook
    added later (see :func:`register_new_notebooks`) has no submitted notebook, grades or comments
    for older submissions, and ``nbgrader autograde`` fails on them.  This adds what is missing,
    empty, exactly as ``add_submission`` would have; existing grades are untouched.
    """
    from nbgrader.api import Comment, Grade, SubmittedNotebook

    submission = gradebook.find_submission(assignment_id, student)
    present = {notebook.notebook.name for notebook in submission.notebooks}
    added = []
    with gradebook.db.no_autoflush:  # the new rows are added whole, at the commit
        for notebook in submission.assignment.notebooks:
            if notebook.name in present:
                continue
            cells = (notebook.grade_cells, notebook.solution_cells, notebook.task_cells)
            submitted = SubmittedNotebook(notebook=notebook, assignment=submission)
            for cell in cells[0]:
                Grade(cell_id=cell.id, notebook=submitted)
            for cell in cells[1]:
                Comment(cell_id=cell.id, notebook=submitted)
            for cell in cells[2]:
                Comment(cell_id=cell.id, notebook=submitted)
                Grade(cell_id=cell.id, notebook=submitted)
            gradebook.db.add(submitted)
            added.append(notebook.name)
    if added:
        gradebook.db.commit()
    return added
