"""The ``nb`` object hidden suites see: one student notebook, running in the sandbox.

It runs the notebook's cells once, lazily, in a fresh sandboxed process, then
answers the suite's requests.  If that process dies during a check, the next check
gets a new process (the cells that killed it are skipped), so one crash costs only
the checks it interrupted.

Two kinds of request, never confused: ``nb.call("name", ...)`` (and
``call_inspecting``) runs the student's code; every other method is a trusted
helper of the grader.  There is no attribute forwarding, so a helper cannot be
shadowed by a student's function and a typo in a suite is an ``AttributeError``
(a grader error), not a message to the student.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

import torch

from autograder.course.returns import Returns
from autograder.grading.contracts import inexact_problem, unusable_problem
from autograder.grading.judge import CheckFailed, tensor_change
from autograder.notebooks import LoadedNotebook
from autograder.sandbox import messages
from autograder.sandbox.client import CellReport, NotebookProcess, Ref, Sandbox
from autograder.sandbox.errors import CallTimeout, ChildDied, NotebookUnavailable, StudentError


class SuiteBug(Exception):
    """A hidden suite used the notebook wrongly; graded as a grader error, never charged to the student."""


class ContractBroken(CheckFailed):
    """A call's result, or what the call did to its arguments, breaks the function's contract: the check fails."""


class BudgetUsedUp(CallTimeout):
    """A check was not run: its notebook's or its submission's time budget was already spent."""


class SubmissionBudget:
    """The wall time one submission may take, all its notebooks together (``Limits.student_seconds``)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    @property
    def reason(self) -> str:
        return f"the submission's {self.seconds:g} s for all its notebooks (--limit student=)"


class StudentNotebook:
    """A student's notebook as hidden suites use it (the ``nb`` fixture)."""

    def __init__(self, *, stem: str, sandbox: Sandbox, notebook: LoadedNotebook | None, problem: str = "",
                 functions: tuple[str, ...] = (), budget: SubmissionBudget | None = None,
                 returns: dict[str, Returns] | None = None) -> None:
        self._stem = stem
        self._returns = dict(returns or {})
        self._judging_returns = False  # whether the running check is the one that judges return types
        self._budget = budget
        self._checks_deadline: float | None = None  # set when the first check starts
        self._deadline_reason = ""
        self._functions = functions
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
        self.last_return: tuple[str, Any] | None = None

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
        self._process.deadline_reason = self._deadline_reason
        return self._process

    def run(self) -> tuple[CellReport, ...]:
        """Run the notebook's cells now, as grading does before its first check; return how each ran."""
        with contextlib.suppress(Exception):  # what went wrong is in the cell reports and notes
            self._live_process()
        return self.cell_reports

    def start_check(self, *, judges_returns: bool = False) -> None:
        """Run the notebook if needed, then give the coming check its own time budget.

        ``judges_returns``: the check holds results to the exact declared return type
        (``@pytest.mark.grade(..., returns=True)``); every check holds them to a usable one.
        """
        self._judging_returns = judges_returns
        self.check_deadline = None
        self.last_return: tuple[str, Any] | None = None  # what the check's latest call returned
        with contextlib.suppress(Exception):
            self._live_process()
        limits, now = self._sandbox.limits, time.monotonic()
        if self._checks_deadline is None:
            self._checks_deadline = now + limits.checks_seconds
        deadlines = [(now + limits.check_seconds, f"the {limits.check_seconds:g} s limit for a check"),
                     (self._checks_deadline, f"the {limits.checks_seconds:g} s for all checks of this notebook "
                                             "(--limit checks=)")]
        if self._budget is not None:
            deadlines.append((self._budget.deadline, self._budget.reason))
        self.check_deadline, self._deadline_reason = min(deadlines)
        if self.check_deadline <= now:
            raise BudgetUsedUp(f"not run: {self._deadline_reason} was used up by earlier checks and cells")
        if self._process is not None:
            self._process.deadline = self.check_deadline
            self._process.deadline_reason = self._deadline_reason

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
            if self._budget is not None and self._budget.deadline - time.monotonic() < remaining:
                remaining, limit = self._budget.deadline - time.monotonic(), self._budget.reason
            else:
                limit = f"its {limits.notebook_seconds:g} s time limit"
            if remaining <= 0:
                reports.append(CellReport(index, "skipped", f"cell {index + 1} was not run: the notebook used up "
                                                            f"{limit}"))
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

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the student's function ``name``; its result as data, or a :class:`Ref`.

        Before the suite sees the result, the call is held to the function's contract: the
        tensors it was given must be unchanged afterwards (read back from the notebook
        process), and the result must be usable as the outline's ``returns`` declares it
        (exactly that type in the check that judges return types).  Otherwise the check
        fails here, with the mistake named (:class:`ContractBroken`).
        """
        return self.call_inspecting(name, *args, **kwargs)[0]

    def call_inspecting(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, list, dict]:
        """Call ``name``; return ``(result, args, kwargs)`` with the arguments as the call left them."""
        with self._located_errors():
            value, positional, keywords = self._live_process().call_inspecting(self._student_name(name), *args,
                                                                               **kwargs)
        self.last_return = (name, value)
        self._hold_to_contract(name, value, (args, kwargs), (positional, keywords))
        return value, positional, keywords

    def _hold_to_contract(self, name: str, value: Any, sent: tuple[tuple, dict], after: tuple[list, dict]) -> None:
        changed = changed_argument(sent, after)
        if changed:
            label, change = changed
            advice = ("calling `.requires_grad_()` on it changes the caller's tensor: work on a copy such as "
                      "`t.detach().clone().requires_grad_()`" if "requires grad" in change else
                      "compute a new tensor instead: an in-place operation (`+=`, `*=`, `.mul_()`, `.add_()`, "
                      "`.t_()`, `.resize_()`, `t[...] = `) writes into the caller's tensor")
            raise ContractBroken(f"`{name}` changed {label} ({change}): leave the tensors it is given as they "
                                 f"were; {advice}")
        declared = self._returns.get(name)
        if declared is None:
            return
        problem = unusable_problem(value, declared, devices=devices_sent(sent))
        if problem is None and self._judging_returns:
            problem = inexact_problem(value, declared)
        if problem is not None:
            raise ContractBroken(f"`{name}` {problem}")

    @contextlib.contextmanager
    def _located_errors(self) -> Iterator[None]:
        """A student's exception, shown with the cell and line it came from when they exist in this notebook."""
        try:
            yield
        except StudentError as error:
            cells = tuple(self._notebook.code_cells) if self._notebook is not None else ()
            raise error.located(cells) from None

    def _student_name(self, name: str) -> str:
        """``name``, if the course spec lists it as a function of this notebook: a suite that calls
        anything else has a bug (a typo), which must not reach the student as "not defined"."""
        if self._functions and name not in self._functions:
            raise SuiteBug(f"the suite calls {name!r}, which is not a function of {self._stem} in the course spec "
                           f"({', '.join(self._functions)})")
        return name

    def _request(self, header: dict, value: Any = None, *, what: str) -> Any:
        with self._located_errors():
            return self._live_process().request(header, value, what=what)

    def process_id(self) -> int:
        """The pid of the live notebook process, as the sandbox reported it when it forked it.

        For observations made from outside the process (which process used the GPU).
        """
        return self._live_process().pid

    def has(self, name: str) -> bool:
        return bool(self._request(messages.has(self._student_name(name)), what=name))

    def state_dict(self, ref: Ref) -> dict[str, torch.Tensor]:
        return ref.process.request(messages.state_dict(messages.by_ref(ref.token.ref_id)),
                                   what=f"the state_dict of {ref.type_name.rpartition('.')[2]}")

    def load_state_dict(self, ref: Ref, state: dict[str, torch.Tensor]) -> None:
        ref.process.request(messages.load_state_dict(messages.by_ref(ref.token.ref_id)), state,
                            what=f"load_state_dict on {ref.type_name.rpartition('.')[2]}")

    def make_loader(self, features: torch.Tensor, labels: torch.Tensor, batch_size: int = 2,
                    shuffle: bool = False, drop_last: bool = False) -> Ref:
        """A trusted ``DataLoader(TensorDataset(features, labels))`` built in the notebook process."""
        return self._request(messages.make_loader(batch_size=batch_size, shuffle=shuffle, drop_last=drop_last),
                             [features, labels], what="a test DataLoader")

    def make_model(self, layers: list[tuple], state_dict: dict[str, torch.Tensor] | None = None, *,
                   guard_device: bool = False) -> Ref:
        """A trusted ``nn.Sequential`` built in the notebook process from a layer spec.

        Kinds: ``("linear", in, out)``, ``("relu",)`` and the probe ``("flip_when", mode)``
        (reverses the logits while ``mode`` is on: "training", "evaluation" or "grad").
        ``guard_device``: the model raises when a batch is not on its parameters' device
        (an error text that only helps name a mistake).
        """
        return self._request(messages.make_model(layers=layers, guard_device=guard_device), state_dict,
                             what="a test model")

    def view_in_notebook(self, base: torch.Tensor, *, transpose: bool = False, columns: int | None = None) -> Ref:
        """A non-contiguous view of ``base`` made in the notebook process: ``base.T`` or ``base[:, :columns]``.

        Tensors cross as compact copies, so a layout such as a transpose only exists
        if it is made on the notebook's side; pass the ``Ref`` to ``nb.call``.
        """
        header = messages.make_view(kind="transpose" if transpose else "columns", stop=columns or 0)
        return self._request(header, base, what="a tensor view")

    def read_weights(self, path: str) -> Any:
        return self._request(messages.read_weights(path), what=f"torch.load({path!r}, weights_only=True)")

    def write_weights(self, path: str, state: dict[str, torch.Tensor]) -> None:
        """``torch.save(state, path)`` in the child's working directory, by the trusted runner."""
        self._request(messages.write_weights(path), state, what=f"torch.save(..., {path!r})")

    @contextlib.contextmanager
    def substituted(self, specs: dict[str, list]) -> Iterator[None]:
        """While the block runs, the notebook's names in ``specs`` are trusted stand-ins.

        A spec is an expression over a fixed table of torch operations (see
        :mod:`autograder.sandbox.stand_ins`), e.g. ``["sigmoid", ["arg", 0]]``.  Use it so
        that a check of one function is not charged for the student's helper it calls.
        """
        self._request(messages.substitute(specs), what="a stand-in")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._request(messages.restore_names(), what="a stand-in")

    @contextlib.contextmanager
    def simulated_machine(self, *, cuda: bool, mps: bool, cuda_built: bool = False,
                          mps_built: bool = False) -> Iterator[None]:
        """While the block runs, the notebook process sees exactly these accelerators.

        Every related torch function agrees (``is_built``, ``is_available``,
        ``device_count``, ``torch.accelerator``, ...); ``*_built`` describe a build with a
        backend on a machine without its device.  Use it only to test code that *chooses*
        a device; what the grading machine really has is
        :mod:`autograder.grading.accelerators`' business, never the notebook's.
        """
        self._request(messages.simulate_machine(cuda=cuda, mps=mps, cuda_built=cuda_built, mps_built=mps_built),
                      what="a simulated machine")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._request(messages.restore_machine(), what="a simulated machine")

    @contextlib.contextmanager
    def simulated_versions(self, *, python: str | None = None, torch_version: str | None = None) -> Iterator[None]:
        """While the block runs, the notebook process sees these Python and torch versions.

        ``python`` is a final release such as ``"3.9.18"``; ``torch_version`` any version
        string such as ``"1.13.1"`` or ``"2.4.1+cu121"``; ``None`` keeps the real one.  Every
        place a version is read from agrees (``sys.version_info``, ``sys.version``,
        ``platform.python_version()``, ``torch.__version__``, ...; see
        :mod:`autograder.sandbox.simulated_versions`).  Use it only to test code that
        *reads* versions; judge the answer against the versions given here.
        """
        self._request(messages.simulate_versions(python=python, torch_version=torch_version),
                      what="simulated versions")
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self._request(messages.restore_versions(), what="simulated versions")


def changed_argument(sent: tuple[tuple, dict], after: tuple[list, dict]) -> tuple[str, str] | None:
    """Which tensor argument a call changed and how (``("its 2nd argument", "its dtype became ...")``), or None.

    ``after`` is what the notebook process holds after the call; a malformed read-back
    (not the same number of arguments) counts as a change.
    """
    (args, kwargs), (args_after, kwargs_after) = sent, after
    if not isinstance(args_after, list) or not isinstance(kwargs_after, dict) or len(args_after) != len(args):
        return "its arguments", "they did not come back as they were sent"
    pairs = [(f"its {_ordinal(index + 1)} argument", before, args_after[index]) for index, before in enumerate(args)]
    pairs += [(f"its argument `{key}`", before, kwargs_after.get(key)) for key, before in kwargs.items()]
    for label, before, now in pairs:
        if isinstance(before, torch.Tensor):
            change = tensor_change(before, now)
            if change:
                return label, change
    return None


def devices_sent(sent: tuple[tuple, dict]) -> frozenset[str]:
    """The device types a call's result may be on: the CPU and every device the call was given."""
    args, kwargs = sent
    devices = {"cpu"}
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            devices.add(value.device.type)
        elif isinstance(value, torch.device):
            devices.add(value.type)
        elif isinstance(value, str) and value.partition(":")[0] in ("meta", "cuda", "mps"):
            devices.add(value.partition(":")[0])
    return frozenset(devices)


def _ordinal(number: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(number, f"{number}th")
