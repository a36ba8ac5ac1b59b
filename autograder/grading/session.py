"""The ``nb`` object hidden suites see: one student notebook, running in the sandbox.

It runs the notebook's cells once, lazily, in a fresh sandboxed process, then
forwards calls.  If that process dies during a check, the next check gets a
new process (the cells that killed it are skipped), so one crash costs only
the checks it interrupted.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Iterator

import torch

from autograder.notebooks import LoadedNotebook
from autograder.sandbox.client import CellReport, NotebookProcess, Ref, Sandbox
from autograder.sandbox.errors import ChildDied, NotebookUnavailable


@dataclass(frozen=True)
class ModuleInfo:
    path: str
    class_name: str
    in_features: int | None
    out_features: int | None


@dataclass(frozen=True)
class ParameterInfo:
    path: str
    shape: tuple[int, ...]
    requires_grad: bool


@dataclass(frozen=True)
class ModuleDescription:
    is_module: bool
    class_name: str
    modules: tuple[ModuleInfo, ...]
    parameters: tuple[ParameterInfo, ...]

    def module(self, path: str) -> ModuleInfo | None:
        return next((info for info in self.modules if info.path == path), None)


class StudentNotebook:
    """A student's notebook as hidden suites use it (the ``nb`` fixture)."""

    def __init__(self, *, stem: str, sandbox: Sandbox, notebook: LoadedNotebook | None, problem: str = "") -> None:
        self._stem = stem
        self._sandbox = sandbox
        self._notebook = notebook
        self._problem = problem
        self._process: NotebookProcess | None = None
        self._starts = 0
        self._fatal_cells: dict[int, CellReport] = {}
        self.cell_reports: tuple[CellReport, ...] = ()
        self.notes: list[str] = []
        self.run_seconds = 0.0
        self.check_deadline: float | None = None

    # ------------------------------------------------------------ process management

    def _live_process(self) -> NotebookProcess:
        if self._notebook is None:
            raise NotebookUnavailable(self._problem or f"{self._stem}.ipynb was not found in the submission")
        while self._process is None or not self._process.alive:
            if self._starts > self._sandbox.limits.restarts:
                raise ChildDied(self._last_death)
            if self._process is not None:
                self.notes.append(f"the notebook was run again, without the cell that stopped it, after: "
                                  f"{self._last_death}")
            self._starts += 1
            self._process = self._sandbox.open_notebook(self._stem)
            self._run_cells(self._process)
        self._process.deadline = self.check_deadline
        return self._process

    def start_check(self) -> None:
        """Run the notebook if needed, then give the coming check its own time budget."""
        self.check_deadline = None
        with contextlib.suppress(Exception):
            self._live_process()
        self.check_deadline = time.monotonic() + self._sandbox.limits.check_seconds
        if self._process is not None:
            self._process.deadline = self.check_deadline

    @property
    def _last_death(self) -> str:
        if self._process is None:
            return "the notebook process could not start"
        return self._process._dead_reason or "the notebook process stopped"

    def _run_cells(self, process: NotebookProcess) -> None:
        """Run every cell in order; stop at a cell that ends the process (it is skipped next time)."""
        limits = self._sandbox.limits
        started = time.monotonic()
        reports = []
        for index, source in enumerate(self._notebook.code_cells):
            if index in self._fatal_cells:
                reports.append(self._fatal_cells[index])
                continue
            remaining = limits.notebook_seconds - (time.monotonic() - started)
            if remaining <= 0:
                reports.append(CellReport(index, "skipped",
                                          f"cell {index + 1} was not run: the notebook used up its "
                                          f"{limits.notebook_seconds:g} s time limit"))
                continue
            report = process.run_cell(index, source, timeout=min(limits.cell_seconds, remaining))
            reports.append(report)
            if not process.alive:
                self._fatal_cells[index] = report
                break
        self.run_seconds += time.monotonic() - started
        self.cell_reports = tuple(reports)

    def close(self) -> None:
        """End the notebook process; a later call runs the notebook again in a fresh one."""
        if self._process is not None:
            self._process.close()
            self._process = None

    # ------------------------------------------------------------ calls

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's function ``name``."""
        return self._live_process().call_name(name, *args, **kwargs)

    def call_inspecting(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, list, dict]:
        """Call ``name``; return ``(result, args, kwargs)`` with the arguments as the call left them."""
        return self._live_process().call_inspecting(name, *args, **kwargs)

    def _request(self, header: dict, value: Any = None, *, what: str) -> Any:
        return self._live_process().request(header, value, what=what)

    def has(self, name: str) -> bool:
        return bool(self._request({"op": "has", "name": name}, what=name))

    def describe_module(self, ref: Ref) -> ModuleDescription:
        raw = ref.process.request({"op": "describe_module", "target": ["ref", ref.token.ref_id]},
                                  what=ref.type_name.rpartition(".")[2])
        return ModuleDescription(
            is_module=bool(raw["is_module"]),
            class_name=str(raw["class_name"]),
            modules=tuple(ModuleInfo(str(p), str(c), i, o) for p, c, i, o in raw["modules"]),
            parameters=tuple(ParameterInfo(str(p), tuple(s), bool(g)) for p, s, g in raw["parameters"]),
        )

    def state_dict(self, ref: Ref) -> dict[str, torch.Tensor]:
        return ref.process.request({"op": "state_dict", "target": ["ref", ref.token.ref_id]},
                                   what=f"the state_dict of {ref.type_name.rpartition('.')[2]}")

    def load_state_dict(self, ref: Ref, state: dict[str, torch.Tensor]) -> None:
        ref.process.request({"op": "load_state_dict", "target": ["ref", ref.token.ref_id]}, state,
                            what=f"load_state_dict on {ref.type_name.rpartition('.')[2]}")

    def make_loader(self, features: torch.Tensor, labels: torch.Tensor, batch_size: int = 2,
                    shuffle: bool = False) -> Ref:
        return self._request({"op": "make_loader", "batch_size": batch_size, "shuffle": shuffle},
                             [features, labels], what="a test DataLoader")

    def make_model(self, layers: list[tuple], state_dict: dict[str, torch.Tensor] | None = None,
                   record: bool = False) -> Ref:
        return self._request({"op": "make_model", "layers": [list(layer) for layer in layers], "record": record},
                             state_dict, what="a test model")

    def read_weights(self, path: str) -> Any:
        return self._request({"op": "read_weights", "path": path}, what=f"torch.load({path!r}, weights_only=True)")

    def write_weights(self, path: str, state: dict[str, torch.Tensor]) -> None:
        """``torch.save(state, path)`` in the child's working directory, by the trusted runner."""
        self._request({"op": "write_weights", "path": path}, state, what=f"torch.save(..., {path!r})")

    def environment(self) -> dict:
        return self._request({"op": "environment"}, what="the environment report")

    @contextlib.contextmanager
    def patched(self, values: dict[str, Any]) -> Iterator[None]:
        """Replace torch functions in the child by constants (simulated hardware only)."""
        self._request({"op": "patch", "values": values}, what="a patch")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._request({"op": "unpatch"}, what="a patch")
