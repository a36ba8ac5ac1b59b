"""``nbgrader export`` plugin: one CSV row per student and assignment, extra credit in its own column.

nbgrader's ``Grade.score`` (and so a submission's score) includes extra credit, which
would show a full submission with extra credit as 110/100. Here ``score`` is the score
without extra credit (after the late penalty), ``extra_credit`` is the sum of the
submission's ``Grade.extra_credit`` and ``total`` is their sum.
"""

from __future__ import annotations

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
           "raw_score", "late_submission_penalty", "score", "max_score", "extra_credit", "total"]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class ExtraCreditCsvExport(ExportPlugin):
    """CSV export with ``extra_credit`` and ``total`` columns."""

    def rows(self, gradebook: Gradebook) -> list[dict[str, str]]:
        wanted_students = {str(s) for s in self.student}
        wanted_assignments = {str(a) for a in self.assignment}
        rows = []
        for assignment in gradebook.assignments:
            if wanted_assignments and assignment.name not in wanted_assignments:
                continue
            for student in gradebook.students:
                if wanted_students and student.id not in wanted_students:
                    continue
                row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                       "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                       "max_score": float(assignment.max_score)}
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    extra, raw, penalty, timestamp = 0.0, 0.0, 0.0, None
                else:
                    extra = float(sum(grade.extra_credit or 0 for notebook in submission.notebooks
                                      for grade in notebook.grades))
                    raw = float(submission.score) - extra
                    penalty = float(submission.late_submission_penalty or 0)
                    timestamp = submission.timestamp
                score = max(0.0, raw - penalty)
                row.update(timestamp=timestamp, raw_score=raw, late_submission_penalty=penalty, score=score,
                           extra_credit=extra, total=score + extra)
                rows.append({key: _text(row[key]) for key in COLUMNS})
        return rows

    def export(self, gradebook: Gradebook) -> None:
        destination = self.to or "grades.csv"
        self.log.info("Exporting grades with extra credit to %s", destination)
        with open(destination, "w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows(gradebook))
