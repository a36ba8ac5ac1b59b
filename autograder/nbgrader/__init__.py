"""nbgrader integration: the hidden suites decide every score of ``nbgrader autograde``.

- :mod:`autograder.nbgrader.preprocessors`: ``RestoreGradeCells`` (sanitize),
  ``GradeWithSuites`` (replaces Execute), ``RecordGraderResults`` (after SaveAutoGrades),
  ``FeedbackGrades`` (generate_feedback).
- :mod:`autograder.nbgrader.exporter`: ``SubmissionExporter``, reads unreadable submissions
  as empty notebooks so they are graded 0 with a reason instead of dropped.
- :mod:`autograder.nbgrader.export`: ``ExtraCreditCsvExport`` for ``nbgrader export``.
- :mod:`autograder.nbgrader.engine`: grading one notebook in a per-process shared sandbox.

``nbgrader_config.py`` at the repository root wires them in; see ``docs/nbgrader.md``.
"""
