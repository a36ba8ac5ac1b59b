"""The untrusted side: runs one student's notebook and answers the grader's calls.

This module runs inside the sandboxed notebook process, next to student
code.  Nothing here decides a score; it executes cells, calls the functions
the grader names, and sends back plain data (see :mod:`codec`).  Student code
can tamper with anything in this process, which is why the grader trusts
nothing but the data it receives.
"""

from __future__ import annotations

import builtins
import io
import os
import signal
import socket
import sys
import time
import traceback
from typing import Any

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from autograder.sandbox import cells, codec, messages
from autograder.sandbox.simulated_hardware import SimulatedMachine
from autograder.sandbox.simulated_versions import SimulatedVersions
from autograder.sandbox.stand_in_device import DeviceProbe, StandInRun
from autograder.sandbox.stand_ins import build_stand_in
from autograder.sandbox.wire import WireError, recv_message, send_message



class Interrupted(BaseException):
    """Raised inside student code when a cell or call runs past its time."""


class _BoundedOutput(io.TextIOBase):
    """Keeps the first ``limit`` characters written and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self.kept
        if room > 0:
            piece = text[:room]
            self.parts.append(piece)
            self.kept += len(piece)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[... output truncated: {self.dropped} more characters were not kept]"
        self.parts.clear()
        return text


class _FlipWhen(nn.Module):
    """A trusted probe layer: reverses the order of the logits while a mode is on.

    ``"training"``: while the model is in training mode; ``"evaluation"``: while it is
    in evaluation mode; ``"grad"``: while gradients are recorded.  The mode a
    student's loop ran in then shows in what it returns (accuracies, losses), which
    the grader judges; nothing the probe notes is read back.
    """

    def __init__(self, when: str) -> None:
        super().__init__()
        if when not in ("training", "evaluation", "grad"):
            raise ValueError(f"unknown probe mode {when!r}")
        self.when = when

    def forward(self, inputs):  # noqa: D401 - nn.Module API
        on = {"training": self.training, "evaluation": not self.training,
              "grad": torch.is_grad_enabled()}[self.when]
        return inputs.flip(-1) if on else inputs


def _refuse_other_devices(model: nn.Module, inputs: tuple) -> None:
    """A forward pre-hook of trusted models: a batch must be where the parameters are.

    Its error only lets the grader name a mistake (features left on another device);
    no score depends on its text.
    """
    first = next(model.parameters(), None)
    if first is not None and inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].device != first.device:
        raise RuntimeError(f"the model got a batch on {inputs[0].device.type} while its parameters are on "
                           f"{first.device.type}")


class NotebookKernel:
    def __init__(self, sock: socket.socket, *, output_limit: int, reply_limit: int) -> None:
        self.sock = sock
        self.pid = os.getpid()
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.refs: dict[int, Any] = {}
        self.output = _BoundedOutput(output_limit)
        self.reply_limit = reply_limit
        self.machine = SimulatedMachine()
        self.versions = SimulatedVersions()
        self.replaced_names: dict[str, Any] = {}
        self.stand_in: tuple[str, StandInRun, Any] | None = None  # (name, run, what the name is bound to)
        self.handlers = {
            "run_cell": self.run_cell,
            "call": self.call,
            "getattr": self.get_attribute,
            "items": self.items,
            "len": self.length,
            "has": self.has,
            "state_dict": self.state_dict,
            "load_state_dict": self.load_state_dict,
            "make_loader": self.make_loader,
            "make_model": self.make_model,
            "read_weights": self.read_weights,
            "write_weights": self.write_weights,
            "make_view": self.make_view,
            "substitute": self.substitute,
            "restore_names": self.restore_names,
            "simulate_machine": self.simulate_machine,
            "restore_machine": self.restore_machine,
            "simulate_versions": self.simulate_versions,
            "restore_versions": self.restore_versions,
            "stand_in_device": self.stand_in_device,
            "restore_device": self.restore_device,
        }
        if set(self.handlers) != messages.NOTEBOOK_OPS:  # the two sides of the protocol must agree
            raise RuntimeError(f"notebook operations disagree with autograder.sandbox.messages: "
                               f"{sorted(set(self.handlers) ^ messages.NOTEBOOK_OPS)}")

    # ------------------------------------------------------------ main loop

    def serve(self) -> None:
        while True:
            try:
                header, payload = recv_message(self.sock, deadline=None, max_payload=1 << 30)
            except WireError:
                return
            handler = self.handlers.get(header.get("op"))
            try:
                if handler is None:
                    raise ValueError(f"unknown operation {header.get('op')!r}")
                args = self._decode(payload) if payload else None
                reply, value = handler(header, args)
            except Exception as error:  # a fault of this runner, reported as such
                reply, value = {"ok": False, "kind": "runner", "message": f"{type(error).__name__}: {error}"}, None
            if os.getpid() != self.pid:  # a process the student forked came back here: it must not answer
                os._exit(0)
            self._send(reply, value)

    def _send(self, reply: dict, value: Any) -> None:
        blob = b""
        if value is not None:
            try:
                blob = codec.dumps(codec.encode(value, ref_for=self._ref_for))
            except Exception as error:
                reply = {"ok": False, "kind": "unsendable",
                         "message": f"the value could not be sent to the grader: {type(error).__name__}: {error}"}
                blob = b""
            if len(blob) > self.reply_limit:
                reply = {"ok": False, "kind": "unsendable",
                         "message": f"the value is {len(blob)} bytes, over the {self.reply_limit}-byte limit"}
                blob = b""
        reply.setdefault("output", self.output.take())
        send_message(self.sock, reply, blob)

    def _ref_for(self, value: Any) -> codec.RefToken:
        ref_id = len(self.refs) + 1
        self.refs[ref_id] = value
        try:
            short = object.__repr__(value)
        except Exception:
            short = "<object>"
        return codec.RefToken(ref_id, codec.type_name(value), short[:120])

    def _decode(self, payload: bytes) -> Any:
        return codec.decode(codec.loads(payload), resolve_ref=lambda token: self.refs[token.ref_id],
                            restore_requires_grad=True)

    # ------------------------------------------------------------ running student code

    def _guarded(self, seconds: float, action):
        """Run ``action`` with stdout captured and a soft time limit; return (reply, value)."""
        def on_alarm(signum, frame):
            raise Interrupted()

        old_out, old_err = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = self.output
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        started = time.monotonic()
        try:
            value = action()
            return {"ok": True}, value
        except Interrupted:
            return {"ok": False, "kind": "timeout", "message": f"did not finish within {seconds:g} s"}, None
        except SystemExit as stop:
            return {"ok": False, "kind": "exit", "message": f"called sys.exit({stop.code!r})"}, None
        except KeyboardInterrupt:
            return {"ok": False, "kind": "timeout", "message": "was interrupted"}, None
        except BaseException as error:  # student code: any failure is data for the grader
            return self._student_error(error), None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout, sys.stderr = old_out, old_err
            self.last_seconds = time.monotonic() - started

    @staticmethod
    def _student_error(error: BaseException) -> dict:
        memory = isinstance(error, MemoryError) or "can't allocate memory" in str(error)
        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if frame.filename.startswith("<cell ")]
        where = [f"{frame.filename[1:-1]}, line {frame.lineno}, in {frame.name}" for frame in frames[-5:]]
        try:
            message = str(error)
        except Exception:
            message = "<unprintable>"
        return {"ok": False, "kind": "memory" if memory else "error",
                "exc_type": type(error).__name__[:100], "message": message[:2000], "where": where}

    def run_cell(self, header: dict, _args: Any):
        source = str(header["source"])
        name = f"<cell {int(header['index']) + 1}>"

        def execute():
            cells.execute(source, self.namespace, name=name)

        reply, _ = self._guarded(float(header["timeout"]), execute)
        if not reply["ok"] and reply.get("kind") == "error" and reply.get("exc_type") == "SyntaxError":
            reply["where"] = [name[1:-1]]
        return reply, None

    def _target(self, header: dict) -> Any:
        target = header["target"]
        if target[0] == "name":
            if target[1] not in self.namespace:
                raise LookupError(target[1])
            return self.namespace[target[1]]
        return self.refs[int(target[1])]

    def call(self, header: dict, args: Any):
        try:
            target = self._target(header)
        except LookupError:
            return {"ok": False, "kind": "missing", "message": header["target"][1]}, None
        positional, keywords = args if args is not None else ([], {})
        method = header.get("method")

        def invoke():
            function = getattr(target, method) if method else target
            result = function(*positional, **keywords)
            # The arguments as the call left them, so the grader can see in-place changes.
            return [result, list(positional), dict(keywords)] if header.get("inspect_args") else result

        return self._guarded(float(header["timeout"]), invoke)

    def get_attribute(self, header: dict, _args: Any):
        target = self._target(header)
        return self._guarded(float(header["timeout"]), lambda: getattr(target, header["name"]))

    def items(self, header: dict, _args: Any):
        target = self._target(header)
        limit = int(header.get("limit", 10_000))

        def collect():
            collected = []
            for item in target:
                if len(collected) >= limit:
                    raise ValueError(f"more than {limit} items")
                collected.append(item)
            return collected

        return self._guarded(float(header["timeout"]), collect)

    def length(self, header: dict, _args: Any):
        target = self._target(header)
        return self._guarded(float(header["timeout"]), lambda: len(target))

    def has(self, header: dict, _args: Any):
        return {"ok": True}, header["name"] in self.namespace

    # ------------------------------------------------------------ trusted helpers

    def state_dict(self, header: dict, _args: Any):
        target = self._target(header)
        state = nn.Module.state_dict(target)
        return {"ok": True}, {key: value.detach().cpu().clone() for key, value in state.items()}

    def load_state_dict(self, header: dict, args: Any):
        target = self._target(header)
        return self._guarded(float(header["timeout"]),
                             lambda: (nn.Module.load_state_dict(target, args, strict=True), None)[1])

    def make_loader(self, header: dict, args: Any):
        features, labels = args
        loader = DataLoader(TensorDataset(features, labels), batch_size=int(header["batch_size"]),
                            shuffle=bool(header.get("shuffle", False)),
                            drop_last=bool(header.get("drop_last", False)))
        return {"ok": True}, codec.RefToken(*self._ref_parts(loader))

    def make_model(self, header: dict, args: Any):
        specs = list(header["layers"])
        probe = bool(specs) and list(specs[0]) == ["device_probe"]  # the stand-in device's probe model
        layers = []
        for spec in specs[1:] if probe else specs:
            if spec[0] == "linear":
                layers.append(nn.Linear(int(spec[1]), int(spec[2])))
            elif spec[0] == "relu":
                layers.append(nn.ReLU())
            elif spec[0] == "flip_when":
                layers.append(_FlipWhen(str(spec[1])))
            else:
                raise ValueError(f"unknown layer {spec[0]!r}")
        model = DeviceProbe(*layers) if probe else nn.Sequential(*layers)
        if header.get("guard_device"):
            model.register_forward_pre_hook(_refuse_other_devices)
        if args is not None:
            nn.Module.load_state_dict(model, args, strict=True)
        return {"ok": True}, codec.RefToken(*self._ref_parts(model))

    def _ref_parts(self, value: Any) -> tuple[int, str, str]:
        token = self._ref_for(value)
        return token.ref_id, token.type_name, token.short_repr

    def read_weights(self, header: dict, _args: Any):
        return self._guarded(float(header["timeout"]), lambda: torch.load(str(header["path"]), weights_only=True))

    def write_weights(self, header: dict, args: Any):
        torch.save(args, str(header["path"]))
        return {"ok": True}, None

    def make_view(self, header: dict, args: Any):
        """A non-contiguous view of a tensor, kept here (tensors cross the boundary as compact copies)."""
        base = args
        if header["kind"] == "transpose":
            view = base.T
        elif header["kind"] == "columns":
            view = base[:, : int(header["stop"])]
        else:
            raise ValueError(f"unknown view {header['kind']!r}")
        return {"ok": True}, codec.RefToken(*self._ref_parts(view))

    def substitute(self, header: dict, _args: Any):
        """Bind notebook names to trusted stand-ins (see stand_ins) until restore_names."""
        stand_ins = {str(name): build_stand_in(spec, name=str(name)) for name, spec in header["specs"].items()}
        for name, function in stand_ins.items():
            self.replaced_names.setdefault(name, self.namespace.get(name, _ABSENT))
            self.namespace[name] = function
        return {"ok": True}, None

    def restore_names(self, header: dict, _args: Any):
        for name, original in self.replaced_names.items():
            if original is _ABSENT:
                self.namespace.pop(name, None)
            else:
                self.namespace[name] = original
        self.replaced_names.clear()
        return {"ok": True}, None

    def simulate_machine(self, header: dict, _args: Any):
        """Tell this process a consistent story about its accelerators (see simulated_hardware)."""
        self.machine.apply(cuda=bool(header["cuda"]), mps=bool(header["mps"]),
                           cuda_built=bool(header.get("cuda_built")), mps_built=bool(header.get("mps_built")))
        return {"ok": True}, None

    def restore_machine(self, header: dict, _args: Any):
        self.machine.restore()
        return {"ok": True}, None

    def stand_in_device(self, header: dict, _args: Any):
        """Bind the notebook name to its function run on a stand-in device (see stand_in_device)."""
        self._end_stand_in()
        name = str(header["name"])
        if name not in self.namespace:
            return {"ok": False, "kind": "missing", "message": name}, None
        model = self._target({"target": header["model"]})
        loader = self._target({"target": header["loader"]}) if header.get("loader") else None
        run = StandInRun(function=self.namespace[name], model=model, device=torch.device(str(header["device"])),
                         already_on_device=[str(part) for part in header.get("already_on_device", ())],
                         loader=loader)
        wrapped = run.wrapped()
        self.stand_in = (name, run, wrapped)
        self.namespace[name] = wrapped
        return {"ok": True}, None

    def restore_device(self, header: dict, _args: Any):
        """Put the notebook name back and the probe off the stand-in; nothing is reported."""
        self._end_stand_in()
        return {"ok": True}, None

    def _end_stand_in(self) -> None:
        if self.stand_in is None:
            return
        name, run, wrapped = self.stand_in
        self.stand_in = None
        if self.namespace.get(name) is wrapped:
            self.namespace[name] = run.function
        run.finish()

    def simulate_versions(self, header: dict, _args: Any):
        """Tell this process a consistent story about its Python and torch versions (see simulated_versions)."""
        python, torch_version = header.get("python"), header.get("torch")
        self.versions.apply(python=None if python is None else str(python),
                            torch_version=None if torch_version is None else str(torch_version))
        return {"ok": True}, None

    def restore_versions(self, header: dict, _args: Any):
        self.versions.restore()
        return {"ok": True}, None


_ABSENT = object()


def serve_notebook(sock: socket.socket, *, output_limit: int, reply_limit: int) -> None:
    NotebookKernel(sock, output_limit=output_limit, reply_limit=reply_limit).serve()
