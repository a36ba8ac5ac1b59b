"""nbgrader configuration for this course (the repository root is the course directory).

``nbgrader generate_assignment appendix_a --force`` writes the student notebooks to
``release/`` (ignored by git; identical to the committed ``exercises/`` when ``autograder
build`` is current) and records the grade cells in the gradebook, so no nbgrader command
touches a tracked file.

``nbgrader autograde`` never runs the student's kernel: the hidden suites score every grade
cell through the sandboxed engine (see docs/nbgrader.md and autograder/nbgrader/).
"""

import os
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

from autograder.nbgrader.preprocessors import FeedbackGrades

c = get_config()  # noqa: F821 - provided by nbgrader

COURSE = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "pytorch-appendix-a"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# The visible checks import the student-side helper; the hidden suites are not in the notebooks.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A local exchange for release_assignment / fetch_assignment / submit / collect.
# Override with AUTOGRADER_EXCHANGE=/srv/nbgrader/exchange (or --Exchange.root=...).
c.Exchange.root = os.environ.get("AUTOGRADER_EXCHANGE", str(COURSE / "exchange"))
# Where students share one account and submit with --student NAME, every submission is owned by
# that account and collect warns "cheating attempt?" for each; the owner check cannot help there:
# c.ExchangeCollect.check_owner = False

# Autograding: the hidden suites decide every score.
c.Autograde.exporter_class = "autograder.nbgrader.exporter.SubmissionExporter"
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "autograder.nbgrader.preprocessors.RestoreGradeCells",  # OverwriteCells + deleted/renamed grade cells back
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.Autograde.autograde_preprocessors = [
    "autograder.nbgrader.preprocessors.GradeWithSuites",  # instead of Execute: no student kernel
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "autograder.nbgrader.preprocessors.RecordGraderResults",  # extra credit and reasons into the gradebook
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.OverwriteCells.add_missing_cells = True

# Sandbox settings of the hidden-suite grader. Defaults: the limits in the README's table,
# isolation "best-effort" (every protection the machine allows; a note names the missing ones),
# the suites bundled in autograder/hidden/, a fresh seed per submission. Examples:
# c.GradeWithSuites.limits = ["cell=60", "memory=1GiB"]
# c.GradeWithSuites.isolation = "strict"        # refuse to grade without root-level isolation
# c.GradeWithSuites.suites_dir = "/srv/private/hidden/appendix_a"
# c.GradeWithSuites.seed = 7                    # reproducible random inputs

# Feedback and export show extra credit beside the score, never as a score above 100%.
c.GenerateFeedback.preprocessors = [FeedbackGrades, CSSHTMLHeaderPreprocessor]
c.ExportApp.plugin_class = "autograder.nbgrader.export.ExtraCreditCsvExport"
