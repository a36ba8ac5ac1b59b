"""A notebook exporter for ``nbgrader autograde`` that survives unreadable submissions.

nbgrader reads each submitted notebook with nbformat; a truncated or hand-edited file
raises there, and nbgrader then drops the student's whole assignment from the run
with no grade. :class:`SubmissionExporter` turns such a file into an empty notebook
marked with the file's path. ``RestoreGradeCells`` puts the instructor's grade cells
into it, and ``GradeWithSuites`` grades the original bytes, so the student gets a
score of 0 and the engine's reason ("02_tensors.ipynb is not valid JSON ...") is
recorded like any other result.
"""

from __future__ import annotations

import os

import nbformat
from nbconvert.exporters import NotebookExporter

from autograder.nbgrader.preprocessors import UNREADABLE


class SubmissionExporter(NotebookExporter):
    def from_file(self, file_stream, resources=None, **kw):
        try:
            notebook = nbformat.read(file_stream, as_version=4)
        except Exception as error:  # any file nbformat cannot read: invalid JSON, bad encoding, not a notebook
            metadata = (resources or {}).get("metadata", {})
            path = os.path.join(metadata.get("path", ""), f"{metadata.get('name', 'notebook')}.ipynb")
            self.log.warning("%s cannot be read (%s: %s); it will be graded as unreadable",
                             path, type(error).__name__, str(error)[:200])
            notebook = nbformat.v4.new_notebook()
            notebook.metadata[UNREADABLE] = {"path": os.path.abspath(path), "error": type(error).__name__}
        return self.from_notebook_node(notebook, resources=resources, **kw)
