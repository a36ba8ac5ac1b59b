"""A stand-in accelerator whose tensors keep their data on the CPU, and the probe model trained on it.

Runs inside the notebook process.  To see whether a training loop moves the model and
every batch to the device it is given, the loop runs with that device (say ``cuda``)
while a :class:`StandInDevice` is active: a tensor moved there (``.to(device)``,
``.cuda()``, a factory with ``device=...``, a module's ``.to(device)``) becomes a CPU
copy marked as being on the device, and everything torch computes from marked tensors
is marked too.  Marked tensors say they are on the device (``.device``, ``.is_cuda``);
their values can be read like any CPU tensor's (``loss.item()``, ``float(loss)``,
``f"{loss:.2f}"``, ``loss.cpu()``), so a correct loop runs to the end, as it would on
the real device.

Nothing here is read back as a verdict.  Where tensors were shows in *values*, which
the grader recomputes on its side (:mod:`autograder.grading.stand_in_device`):

- the trusted model is a :class:`DeviceProbe`: its logits are multiplied by
  :func:`probe_scale` of where its input and its parameters were (1 when both are on the
  device, so a correct loop gets the losses it would get on the CPU);
- an operation that a real device would refuse, because it combines tensors on the
  device with tensors left on the host (0-d host tensors excepted, as on a real device),
  is computed with those host tensors read as zeros (a loss of logits on the device and
  labels left behind is the loss against class 0).

The losses a loop returns and the weights it leaves are then those of one placement, and
the grader names the placement they match.  A mark is the run's own object, so a mark
written by hand, or a tensor marked in an earlier run, reads as "on the host".
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map

_MARK = "_on_stand_in_device"

# Ways to read where a tensor is, answered for the stand-in instead of computed.  Property
# accessors arrive as method-wrappers, a new object each time: compared with ==, never with is.
_DEVICE = torch.Tensor.device.__get__
_IS_CUDA = torch.Tensor.is_cuda.__get__
_IS_CPU = torch.Tensor.is_cpu.__get__
_WHERE = frozenset({_DEVICE, _IS_CUDA, _IS_CPU, torch.Tensor.get_device})
_SET_DATA = torch.Tensor.data.__set__
_GET_GRAD = torch.Tensor.grad.__get__
# Bookkeeping that reads no values and builds no tensor: passed through as it is (module.to(device=...)
# parses its arguments with _parse_to, whose device is not a place to build on).
_BOOKKEEPING = frozenset({torch._has_compatible_shallow_copy_type, torch.Tensor.grad.__set__,
                          torch._C._nn._parse_to})
# Copies between devices, which a real device allows: the result stays where its destination is.
_COPIES = frozenset({torch.Tensor.copy_})
# Indexing: a real device takes index tensors from the host, so only the indexed tensor (and the
# values written) say where the result is.
_INDEXING = frozenset({torch.Tensor.__getitem__, torch.Tensor.__setitem__})

_INPUT_LEFT_ON_HOST = -1.0
_PARAMETERS_LEFT_ON_HOST = 2.0


def probe_scale(*, input_on_device: bool, parameters_on_device: bool) -> float:
    """What a :class:`DeviceProbe` multiplies its logits by, given where its input and parameters were.

    1 when both were on the device; otherwise a factor that differs for each placement
    (-1: the input left on the host, 2: the parameters, -2: both), so that the losses and
    the gradients of each placement differ for any number of classes.
    """
    scale = 1.0
    if not input_on_device:
        scale *= _INPUT_LEFT_ON_HOST
    if not parameters_on_device:
        scale *= _PARAMETERS_LEFT_ON_HOST
    return scale


class _Mark:
    """The value that marks a tensor as being on one stand-in device (copies of a tensor keep it)."""

    __slots__ = ()

    def __copy__(self) -> "_Mark":
        return self

    def __deepcopy__(self, memo: dict) -> "_Mark":
        return self


class StandInDevice(TorchFunctionMode):
    """While active, ``device`` (its type) is a stand-in whose tensors live on the CPU."""

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        self.device = torch.device(device.type, 0 if device.index is None else device.index)
        self._mark = _Mark()

    def __deepcopy__(self, memo: dict) -> "StandInDevice":  # a copy of a probe runs on the same stand-in
        return self

    def is_on(self, value: Any) -> bool:
        """Whether ``value`` is a tensor that this stand-in put on the device."""
        return isinstance(value, torch.Tensor) and value.__dict__.get(_MARK) is self._mark

    def mark(self, value: Any, on: bool) -> None:
        """Put ``value`` (a tensor) on the device, or back on the host: its data stays where it is."""
        if isinstance(value, torch.Tensor):
            if on:
                value.__dict__[_MARK] = self._mark
            else:
                value.__dict__.pop(_MARK, None)

    def _is_stand_in(self, device: Any) -> bool:
        if isinstance(device, int) and not isinstance(device, bool):
            return self.device.type == "cuda"  # .to(0): the first CUDA device
        try:
            return torch.device(device).type == self.device.type
        except (TypeError, RuntimeError):
            return False

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = dict(kwargs or {})
        if func == torch.Tensor.to:
            return self._to(args[0], args[1:], kwargs)
        if func == torch.Tensor.cuda and self.device.type == "cuda":
            return self._relocate(args[0], True, kwargs)
        if func == torch.Tensor.cpu:
            return self._relocate(args[0], False, kwargs)
        if func == torch.Tensor.pin_memory:  # pinned host memory: a copy on the host
            return torch.Tensor.clone(args[0])
        if func in _WHERE and self.is_on(args[0]):
            return self._where(func)
        if func == _SET_DATA:  # module.to(device) replaces each parameter's data
            func(*args, **kwargs)
            self.mark(args[0], self.is_on(args[1]))
            return None
        if func == _GET_GRAD:  # a gradient lives where its parameter does
            grad = func(*args, **kwargs)
            self.mark(grad, self.is_on(args[0]))
            return grad
        if func in _BOOKKEEPING:
            return func(*args, **kwargs)
        if func in _COPIES:
            result = func(*args, **kwargs)
            self.mark(result, self.is_on(args[0]))
            return result
        placing = (args[:1] + args[2:], kwargs) if func in _INDEXING else (args, kwargs)
        tensors = [value for value in tree_flatten(placing)[0] if isinstance(value, torch.Tensor)]
        on = [self.is_on(tensor) for tensor in tensors]
        left = [tensor for tensor, placed in zip(tensors, on) if not placed and tensor.dim() > 0]
        result_on = any(on)
        if result_on and left:  # a real device refuses this: the host tensors read as zeros
            args, kwargs = self._host_as_zeros((args, kwargs), left)
        if kwargs.get("device") is not None:  # a factory: where it is asked to build
            result_on = self._is_stand_in(kwargs["device"])
            if result_on:
                kwargs["device"] = "cpu"
        result = func(*args, **kwargs)
        if result_on:
            for value in tree_flatten(result)[0]:
                self.mark(value, True)
        return result

    @staticmethod
    def _host_as_zeros(tree: Any, left: list[torch.Tensor]) -> Any:
        """``tree`` with the tensors in ``left`` read as zeros (times zero where they need a gradient,
        so that a backward pass through them still runs, and gives them none)."""
        ids = {id(tensor) for tensor in left}

        def zeros(value: Any) -> Any:
            if id(value) not in ids:
                return value
            return value * 0 if value.requires_grad else torch.zeros_like(value)

        return tree_map(zeros, tree)

    def _where(self, func: Callable) -> Any:
        if func == _DEVICE:
            return self.device
        if func == _IS_CUDA:
            return self.device.type == "cuda"
        if func == _IS_CPU:
            return False
        return self.device.index  # get_device

    def _to(self, tensor: torch.Tensor, rest: tuple, kwargs: dict) -> torch.Tensor:
        copy = bool(kwargs.pop("copy", False))
        if rest and isinstance(rest[0], torch.Tensor):  # .to(other): other's device and dtype
            other = rest[0]
            target_on, dtype = self.is_on(other), other.dtype
            non_blocking = bool(rest[1]) if len(rest) > 1 else bool(kwargs.get("non_blocking", False))
            memory_format = kwargs.get("memory_format")
            device = None if target_on else _DEVICE(other)
        else:
            device, dtype, non_blocking, memory_format = torch._C._nn._parse_to(*rest, **kwargs)
            target_on = self.is_on(tensor) if device is None else self._is_stand_in(device)
        if device is not None and not target_on and device.type != "cpu":
            return torch.Tensor.to(tensor, device, dtype, non_blocking, copy,
                                   memory_format=memory_format or torch.preserve_format)
        moved = torch.Tensor.to(tensor, "cpu", dtype, non_blocking, copy or target_on != self.is_on(tensor),
                                memory_format=memory_format or torch.preserve_format)
        if moved is not tensor or target_on != self.is_on(tensor):
            self.mark(moved, target_on)
        return moved

    def _relocate(self, tensor: torch.Tensor, target_on: bool, kwargs: dict) -> torch.Tensor:
        memory_format = kwargs.get("memory_format") or torch.preserve_format
        if target_on == self.is_on(tensor):
            return tensor
        moved = torch.Tensor.to(tensor, "cpu", copy=True, memory_format=memory_format)
        self.mark(moved, target_on)
        return moved


class DeviceProbe(nn.Sequential):
    """A trusted ``nn.Sequential`` whose logits show where its input and its parameters were.

    Built by ``make_model`` from a spec that starts with ``("device_probe",)``; its
    ``state_dict`` is keyed as the plain ``nn.Sequential``'s.  While a
    :class:`StandInRun` runs it, each forward pass computes the layers with the stand-in
    out of the way and multiplies the logits by :func:`probe_scale`; the result is on the
    device if the input or the parameters were.  Outside a run, nothing is on the device.
    """

    stand_in: StandInDevice | None = None

    def forward(self, inputs: Any) -> Any:  # noqa: D401 - nn.Module API
        stand_in = self.__dict__.get("stand_in")
        parameters = list(nn.Module.parameters(self))
        input_on = stand_in is not None and stand_in.is_on(inputs)
        placed = [stand_in is not None and stand_in.is_on(parameter) for parameter in parameters]
        scale = probe_scale(input_on_device=input_on, parameters_on_device=bool(placed) and all(placed))
        with torch._C.DisableTorchFunction():  # the layers' own arithmetic, on the CPU, as the grader's
            logits = nn.Sequential.forward(self, inputs)
            if scale != 1.0:
                logits = logits * scale
        if stand_in is not None:
            stand_in.mark(logits, input_on or any(placed))
        return logits


ALREADY_ON_DEVICE = frozenset({"model", "batches"})
"""What a run may put on the device before the loop starts: the probe's parameters, the loader's batches."""


class StandInRun:
    """One use of the stand-in: a notebook function that runs under it, training a trusted probe."""

    def __init__(self, *, function: Callable, model: DeviceProbe, device: torch.device,
                 already_on_device: Iterable[str] = (), loader: Any = None) -> None:
        if not isinstance(model, DeviceProbe):
            raise TypeError("the stand-in device trains a trusted DeviceProbe (make_model with ('device_probe',))")
        already = frozenset(already_on_device)
        if already - ALREADY_ON_DEVICE:
            raise ValueError(f"unknown placement {sorted(already - ALREADY_ON_DEVICE)}")
        self.function = function
        self.mode = StandInDevice(device)
        self.model = model
        self.placed: list[torch.Tensor] = []
        if "model" in already:
            self.placed += list(nn.Module.parameters(model))
        if "batches" in already:
            self.placed += _dataset_tensors(loader)
        for tensor in self.placed:
            self.mode.mark(tensor, True)
        model.__dict__["stand_in"] = self.mode

    def wrapped(self) -> Callable:
        """``function``, run with the stand-in active (the name in the notebook is bound to this)."""
        function, mode = self.function, self.mode

        def on_stand_in_device(*args: Any, **kwargs: Any) -> Any:
            with mode:
                return function(*args, **kwargs)

        return on_stand_in_device

    def finish(self) -> None:
        """Unlink the probe and take the tensors placed before the loop back to the host."""
        self.model.__dict__.pop("stand_in", None)
        for tensor in self.placed:
            self.mode.mark(tensor, False)
        for parameter in nn.Module.parameters(self.model):
            self.mode.mark(parameter, False)


def _dataset_tensors(loader: Any) -> list[torch.Tensor]:
    """The tensors of a trusted loader's ``TensorDataset``: marked, its batches come out on the device."""
    tensors = getattr(getattr(loader, "dataset", None), "tensors", None)
    if not isinstance(tensors, tuple) or not all(isinstance(tensor, torch.Tensor) for tensor in tensors):
        raise TypeError("batches can be put on the stand-in device only for a trusted loader (make_loader)")
    return list(tensors)
