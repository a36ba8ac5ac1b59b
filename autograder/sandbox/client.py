"""The grader's side of the sandbox: start the warm process, open notebook processes, call into them.

Usage::

    with Sandbox(limits=Limits(), plan=IsolationPlan(mask_paths=(suites,))) as sandbox:
        process = sandbox.open_notebook("02_tensors")
        report = process.run_cell(0, "def gram(t): return t @ t.T")
        value = process.call_name("gram", torch.ones(2, 3))
        process.close()

Everything that comes back is data decoded with ``torch.load(weights_only=True)``
or a :class:`Ref` to an object that stays in the child.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from autograder.sandbox import messages
from autograder.sandbox.errors import (
    CallTimeout,
    ChildDied,
    MissingName,
    ProtocolViolation,
    SandboxUnavailable,
    StudentError,
)
from autograder.sandbox.isolation import IsolationPlan, Protections
from autograder.sandbox.limits import Limits, describe_bytes
from autograder.sandbox.wire import WireError, WireTimeout, recv_message, send_message

if TYPE_CHECKING:  # the codec imports torch; at run time it is imported when data first crosses
    from autograder.sandbox import codec

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); sys.dont_write_bytecode = True; "
    "from autograder.sandbox.zygote import main; main(int(sys.argv[2]))"
)
_GRACE_SECONDS = 2.0
_START_SECONDS = 120.0


# The exception a failing visible check cell raises (autograder.visible), matched by name only:
# it changes nothing but how the cell is reported.
VISIBLE_CHECK_ERROR = "VisibleCheckError"


@dataclass(frozen=True)
class CellReport:
    """How one notebook cell ran in the sandbox."""

    index: int
    status: str  # "ok", "error", "timeout", "memory", "exit", "died", "skipped"
    message: str = ""
    seconds: float = 0.0
    output: str = ""


@dataclass(frozen=True)
class SandboxSettings:
    """How a sandbox starts: its limits, its isolation plan and the protections it must give."""

    limits: Limits = field(default_factory=Limits)
    plan: IsolationPlan = field(default_factory=IsolationPlan)
    require: tuple[str, ...] = ()

    def sandbox(self) -> "Sandbox":
        """A sandbox with these settings (not started yet)."""
        return Sandbox(limits=self.limits, plan=self.plan, require=self.require)

    def joining(self, shared: "SharedSandbox") -> "Sandbox":
        """A sandbox with these settings that uses the warm process another process started."""
        return Sandbox.joining(shared, limits=self.limits, plan=self.plan, require=self.require)


@dataclass(frozen=True)
class SharedSandbox:
    """A control connection of its own to a warm process that another process started.

    Made by :meth:`Sandbox.share`; give it to :meth:`Sandbox.joining` in the
    other process (a grading worker), which then reads the warm process's
    ready message from it as if it had started the process itself.
    """

    connection: socket.socket


class Sandbox:
    """One isolated warm process; :meth:`open_notebook` forks a fresh child from it."""

    def __init__(self, *, limits: Limits | None = None, plan: IsolationPlan | None = None,
                 require: Iterable[str] = ()) -> None:
        self.limits = limits or Limits()
        self.plan = plan or IsolationPlan()
        self.require = tuple(require)
        self._protections: Protections | None = None
        self._control: socket.socket | None = None
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stderr = tempfile.TemporaryFile()

    @classmethod
    def joining(cls, shared: SharedSandbox, *, limits: Limits, plan: IsolationPlan,
                require: Iterable[str] = ()) -> "Sandbox":
        """Use a warm process another process started; if it goes away, start a private one."""
        sandbox = cls(limits=limits, plan=plan, require=require)
        sandbox._control = shared.connection
        return sandbox

    def share(self) -> SharedSandbox:
        """A further control connection to this warm process (it need not be ready yet)."""
        self.launch()
        ours, theirs = socket.socketpair()
        with self._lock:
            try:
                send_message(self._control, {"op": "attach"})
                socket.send_fds(self._control, [b"A"], [theirs.fileno()])
            except OSError as error:
                raise SandboxUnavailable(f"the sandbox process stopped answering ({error})") from None
            finally:
                theirs.close()
        return SharedSandbox(connection=ours)

    # ------------------------------------------------------------ lifecycle

    def __enter__(self) -> "Sandbox":
        self.launch()  # the warm process imports torch while this process does its own imports
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def protections(self) -> Protections:
        """The protections the warm process reported (waits for it to be ready)."""
        self._await_ready()
        return self._protections

    def start(self) -> None:
        """Launch the warm process and wait until it is ready (and as protected as required)."""
        self.launch()
        self._await_ready()

    def launch(self) -> None:
        """Start the warm process without waiting for it (nothing to do if started or joined)."""
        if self._control is not None:
            return
        ours, theirs = socket.socketpair()
        # The package directory only: around it (an editable checkout) lie solutions, sources and tests.
        expose = tuple(sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(_PACKAGE_ROOT) / "autograder"),
                               str(Path(sys.executable).resolve().parent)}))
        hidden = str(Path(_PACKAGE_ROOT) / "autograder" / "hidden")  # wherever the package is installed
        plan = IsolationPlan(user=self.plan.user, mask_paths=tuple(sorted({*self.plan.mask_paths, hidden})),
                             expose_paths=self.plan.expose_paths + expose,
                             isolate_network=self.plan.isolate_network, uid_base=self.plan.uid_base)
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-c", _BOOTSTRAP, _PACKAGE_ROOT, str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=_scrubbed_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
            cwd="/",
        )
        theirs.close()
        self._control = ours
        self._protections = None
        try:
            send_message(ours, {"isolation": plan.to_dict()})
        except OSError as error:
            self.close()
            raise SandboxUnavailable(f"the sandbox process did not start ({error}){self._stderr_tail()}") from None

    def _await_ready(self) -> None:
        if self._protections is not None:
            return
        if self._control is None:
            raise SandboxUnavailable("the sandbox is not running")
        try:
            ready, _ = recv_message(self._control, deadline=time.monotonic() + _START_SECONDS, max_payload=0)
        except WireError as error:
            self.close()
            raise SandboxUnavailable(f"the sandbox process did not start ({error}){self._stderr_tail()}") from None
        if not ready.get("ok"):
            self.close()
            raise SandboxUnavailable(str(ready.get("message", "the sandbox refused to start")))
        protections = Protections.from_dict(ready["protections"])
        missing = [name for name in self.require if name in protections.missing()]
        if missing:
            self.close()
            raise SandboxUnavailable(
                "the sandbox cannot provide the required protections: " + ", ".join(missing)
                + ". Run the grader as root on Linux (it drops to an unprivileged user), "
                "or lower the requirement with --isolation=best-effort."
            )
        self._protections = protections

    def close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except OSError:
                pass
            self._process.wait()
            self._process = None

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:].decode(errors="replace").strip()
        return f":\n{tail}" if tail else ""

    # ------------------------------------------------------------ notebook processes

    def open_notebook(self, name: str) -> "NotebookProcess":
        """Fork a fresh notebook process; restart the warm process first if something killed it."""
        self._await_ready()
        try:
            return self._fork(name)
        except SandboxUnavailable:
            self.close()
            self.start()
            return self._fork(name)

    def _fork(self, name: str) -> "NotebookProcess":
        ours, theirs = socket.socketpair()
        limits = {key: getattr(self.limits, key) for key in
                  ("memory_bytes", "cpu_seconds", "file_bytes", "processes", "output_bytes",
                   "reply_bytes", "threads", "scratch_bytes")}
        with self._lock:
            try:
                send_message(self._control, {"op": "fork", "limits": limits})
                socket.send_fds(self._control, [b"F"], [theirs.fileno()])
                reply, _ = recv_message(self._control, deadline=time.monotonic() + 30, max_payload=0)
            except (WireError, OSError) as error:
                raise SandboxUnavailable(f"the sandbox process stopped answering ({error})") from None
            finally:
                theirs.close()
        if not reply.get("ok"):
            ours.close()
            raise ChildDied(str(reply.get("message", "the notebook process could not start")))
        return NotebookProcess(self, pid=int(reply["pid"]), sock=ours, name=name)

    def release_child(self, pid: int) -> None:
        """Have the warm process kill and reap a notebook process; no answer is awaited."""
        if self._control is None:
            return
        with self._lock:
            try:
                send_message(self._control, {"op": "release", "pid": pid})
            except OSError:
                pass

    def wait_child(self, pid: int, timeout: float = 5.0) -> dict:
        if self._control is None:
            return {"state": "gone"}
        with self._lock:
            try:
                send_message(self._control, {"op": "wait", "pid": pid, "timeout": timeout})
                reply, _ = recv_message(self._control, deadline=time.monotonic() + timeout + 5, max_payload=0)
            except WireError:
                return {"state": "gone"}
        return reply


class NotebookProcess:
    """One student notebook running in its own sandboxed child."""

    def __init__(self, sandbox: Sandbox, *, pid: int, sock: socket.socket, name: str) -> None:
        self.sandbox = sandbox
        self.limits = sandbox.limits
        self.pid = pid
        self.name = name
        self._sock = sock
        self._dead_reason: str | None = None
        self._killed_for: str | None = None
        self.deadline: float | None = None  # time.monotonic() by which the current check must end
        self.deadline_reason = ""  # which limit sets the deadline, in the words of a check's message

    @property
    def alive(self) -> bool:
        return self._dead_reason is None

    # ------------------------------------------------------------ cells

    def run_cell(self, index: int, source: str, *, timeout: float | None = None) -> CellReport:
        timeout = self.limits.cell_seconds if timeout is None else timeout
        started = time.monotonic()
        where = f"while running cell {index + 1}"
        try:
            reply, _ = self._exchange(messages.run_cell(index=index, source=source, timeout=timeout),
                                      timeout=timeout, where=where)
        except ChildDied as death:
            return CellReport(index, "died", str(death), time.monotonic() - started)
        except CallTimeout:
            return CellReport(index, "timeout",
                              f"cell {index + 1} ignored the {timeout:g} s time limit for a cell and its process "
                              "was stopped; later cells run in a fresh process", time.monotonic() - started)
        seconds = time.monotonic() - started
        output = str(reply.get("output", ""))
        if reply.get("ok") or reply.get("exc_type") == VISIBLE_CHECK_ERROR:
            # A visible check cell that did not pass printed its verdict and raised to make Jupyter
            # show a failure; the hidden checks judge the function, so the cell itself ran fine.
            return CellReport(index, "ok", "", seconds, output)
        kind = reply.get("kind", "error")
        if kind == "timeout":
            message = f"cell {index + 1} was stopped after the {timeout:g} s time limit for a cell"
        elif kind == "memory":
            message = f"memory limit of {describe_bytes(self.limits.memory_bytes)} exceeded while running cell {index + 1}"
        elif kind == "exit":
            message = f"cell {index + 1} {reply.get('message', 'called sys.exit()')}; the grader kept going"
        else:
            detail = f": {reply.get('message')}" if reply.get("message") else ""
            message = f"cell {index + 1} raised {reply.get('exc_type', 'an error')}{detail}"
        return CellReport(index, kind if kind in ("timeout", "memory", "exit") else "error", message, seconds, output)

    # ------------------------------------------------------------ calls

    def call_name(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.request(messages.call(messages.by_name(name)), (list(args), kwargs), what=name)

    def call_inspecting(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, list, dict]:
        """Call ``name`` and also return its arguments as the call left them (to detect in-place changes)."""
        result, positional, keywords = self.request(messages.call(messages.by_name(name), inspect_args=True),
                                                    (list(args), kwargs), what=name)
        return result, positional, keywords

    def request(self, header: dict, value: Any = None, *, what: str, timeout: float | None = None) -> Any:
        """Send one request; return the decoded value or raise a :class:`SandboxError`.

        One deadline covers the whole call: sending, the child's work, receiving the
        reply and decoding it.  Decoding is bounded before it starts (see
        :func:`codec.loads`): the reply's tensors may unpack to at most
        ``limits.reply_bytes`` and ``codec.MAX_REPLY_ELEMENTS`` elements.
        """
        timeout = self.limits.call_seconds if timeout is None else timeout
        limit = f"the {timeout:g} s limit for a call"
        if self.deadline is not None:
            budget = self.deadline_reason or f"the {self.limits.check_seconds:g} s limit for a check"
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise CallTimeout(f"{budget} was used up before the grader could call `{what}`")
            if left < timeout:
                timeout, limit = left, budget
        from autograder.sandbox import codec  # torch, imported only once there is something to decode

        deadline = time.monotonic() + timeout + _GRACE_SECONDS
        payload = codec.dumps(codec.encode(value, ref_for=_parent_ref_token)) if value is not None else b""
        reply, blob = self._exchange({**header, "timeout": timeout}, payload, timeout=timeout,
                                     where=f"while the grader called `{what}`", deadline=deadline)
        if not reply.get("ok"):
            raise self._failure(reply, what, limit)
        if not blob:
            return None
        try:
            tree = codec.loads(blob, max_tensor_bytes=self.limits.reply_bytes,
                               max_elements=codec.MAX_REPLY_ELEMENTS, deadline=deadline)
            return codec.decode(tree, resolve_ref=lambda token: Ref(self, token), deadline=deadline)
        except codec.DecodeTimeout:
            failure: Exception = CallTimeout(f"`{what}` did not finish within {limit} (reading what it "
                                             "returned took too long)")
        except codec.CodecError as error:
            failure = ProtocolViolation(f"`{what}` returned something the grader cannot read (too large, or not "
                                        "plain data: tensors, numbers, strings, lists, tuples and dicts cross)",
                                        detail=str(error))
        # Raised out here, the reply dropped first: a failed check keeps its exception, whose traceback
        # holds this frame (and, raised inside the handler, the decoder's frames with the reply's bytes).
        blob = tree = None
        raise failure

    def _failure(self, reply: dict, what: str, limit: str) -> Exception:
        kind = reply.get("kind")
        if kind == "missing":
            return MissingName(what, self.name)
        if kind == "timeout":
            return CallTimeout(f"`{what}` did not finish within {limit}")
        if kind == "memory":
            return StudentError(function=what, exc_type="MemoryError", message=str(reply.get("message", "")),
                                note=f"memory limit of {describe_bytes(self.limits.memory_bytes)} exceeded",
                                where=_strings(reply.get("where")))
        if kind in ("error", "exit"):
            return StudentError(function=what, exc_type=str(reply.get("exc_type", "SystemExit")),
                                message=str(reply.get("message", "")), where=_strings(reply.get("where")))
        if kind == "unsendable":
            return ProtocolViolation(f"`{what}` returned a value that cannot be sent to the grader (tensors, "
                                     "numbers, strings, lists, tuples and dicts cross)",
                                     detail=str(reply.get("message", "")))
        return ProtocolViolation(f"the notebook process could not handle `{what}`",
                                 detail=str(reply.get("message", "")))

    def _exchange(self, header: dict, payload: bytes = b"", *, timeout: float, where: str,
                  deadline: float | None = None) -> tuple[dict, bytes]:
        """Send ``header`` and read the reply by ``deadline`` (default: ``timeout`` plus a grace period)."""
        if self._dead_reason is not None:
            raise ChildDied(self._dead_reason)
        if deadline is None:
            deadline = time.monotonic() + timeout + _GRACE_SECONDS
        try:
            send_message(self._sock, header, payload)
            return recv_message(self._sock, deadline=deadline, max_payload=self.limits.reply_bytes)
        except WireTimeout:
            self._kill(f"it did not respond within {timeout + _GRACE_SECONDS:g} s {where} and was stopped")
            failure: Exception = CallTimeout(f"{where.removeprefix('while ')}: no answer within {timeout:g} s")
        except WireError as error:
            if "limit" in str(error) or "too large" in str(error):
                self._kill(f"it sent a reply over the size limit {where}")
            failure = ChildDied(self._death_reason(where))
        raise failure  # outside the handler: no traceback down to a half-read buffer

    # ------------------------------------------------------------ ending

    def _kill(self, reason: str) -> None:
        self._killed_for = reason
        _kill_notebook(self.pid)
        self._death_reason("")

    def _death_reason(self, where: str) -> str:
        if self._dead_reason is not None:
            return self._dead_reason
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        status = self.sandbox.wait_child(self.pid)
        if self._killed_for:
            reason = f"the notebook process was stopped: {self._killed_for}"
        elif status.get("state") == "signaled":
            number = int(status.get("signal", 0))
            reason = _signal_reason(number, self.limits) + f" {where}".rstrip()
        elif status.get("state") == "exited":
            # During a call the status is the student's choice, possibly computed from the hidden input: not shown.
            code = f" with status {status.get('code')}" if where.startswith("while running cell") else ""
            reason = f"the notebook process exited{code} {where} (os._exit or a crash in native code)".replace("  ", " ")
        else:
            reason = f"the notebook process ended unexpectedly {where}".rstrip()
        self._dead_reason = reason
        self._sock.close()
        return reason

    def close(self) -> None:
        if self._dead_reason is None:
            _kill_notebook(self.pid)
            self.sandbox.release_child(self.pid)
            self._dead_reason = "closed"
            self._sock.close()


def _kill_notebook(pid: int) -> None:
    """Kill a notebook process and its group; as PID 1 of its own namespace, its death ends every descendant."""
    for kill in (os.kill, os.killpg):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _signal_reason(number: int, limits: Limits) -> str:
    if number == signal.SIGXCPU:
        return f"the notebook process used more than its {limits.cpu_seconds} s of CPU time"
    if number == signal.SIGKILL:
        return (f"the notebook process was killed (often the memory limit of "
                f"{describe_bytes(limits.memory_bytes)} or the process limit)")
    return "the notebook process crashed (ended by a signal)"  # which one is the student's choice: not shown


def _strings(value: Any) -> tuple[str, ...]:
    """A reply's list of strings (``where``), whatever the notebook process put there."""
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(str(item)[:300] for item in value[:10])


def _parent_ref_token(value: Any) -> "codec.RefToken":
    from autograder.sandbox import codec

    if isinstance(value, Ref):
        return value.token
    raise codec.CodecError(f"cannot send a {codec.type_name(value)} to the notebook")


def _scrubbed_environment() -> dict[str, str]:
    """The only variables the sandbox sees: nothing from the grader's environment."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


class Ref:
    """A handle to an object that stays inside the notebook process."""

    def __init__(self, process: NotebookProcess, token: "codec.RefToken") -> None:
        self.process = process
        self.token = token

    @property
    def type_name(self) -> str:
        return self.token.type_name

    def __repr__(self) -> str:
        return f"<Ref {self.type_name} #{self.token.ref_id}>"

    def _target(self) -> messages.Target:
        return messages.by_ref(self.token.ref_id)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.process.request(messages.call(self._target()), (list(args), kwargs), what=self._label())

    def method(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.process.request(messages.call(self._target(), method=name), (list(args), kwargs),
                                    what=f"{self._label()}.{name}")

    def get(self, name: str) -> Any:
        return self.process.request(messages.get_attribute(self._target(), name), what=f"{self._label()}.{name}")

    def items(self, limit: int = 10_000) -> list:
        return self.process.request(messages.items(self._target(), limit=limit), what=f"iterating over {self._label()}")

    def len(self) -> int:
        return self.process.request(messages.length(self._target()), what=f"len({self._label()})")

    def _label(self) -> str:
        return self.type_name.rpartition(".")[2] or "object"
