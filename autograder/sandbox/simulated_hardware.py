"""A consistent story about the machine's accelerators, told to a notebook process.

Runs inside the notebook process.  Checks of device-selection code (``get_device``,
``environment_report``) need machines the grader lacks, so the process is told one:
every torch function that answers "is there a CUDA GPU / an MPS device?" is replaced
at once, so that all of them agree (``is_built``, ``is_available``, ``device_count``,
``torch.accelerator``, ...).  A story where ``is_available()`` says yes but
``is_built()`` says no would punish correct code that asks both.

Nothing the process does under such a story is believed: the grader only judges the
answer (a ``torch.device``, a dict of flags) against the machine it described.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

SIMULATED_GPU_NAME = "Simulated NVIDIA GPU"


@dataclass(frozen=True)
class Replacement:
    """``owner.attribute`` becomes ``value`` (a function returning it when ``call`` is set)."""

    path: str
    value: Any
    call: bool = True


def machine_replacements(*, cuda: bool, mps: bool, cuda_built: bool = False,
                         mps_built: bool = False) -> list[Replacement]:
    """What to replace so that the process sees exactly these accelerators.

    A backend that is available is built too.  ``cuda_built`` / ``mps_built`` describe a
    build with the backend on a machine without the device (a CUDA wheel on a laptop
    without an NVIDIA GPU): an ordinary, consistent machine on which ``is_built()`` is
    True and ``is_available()`` False.  Otherwise an absent backend's build flag keeps
    its real value.
    """
    accelerator = "cuda" if cuda else ("mps" if mps else None)
    plan = [
        Replacement("torch.cuda.is_available", cuda),
        Replacement("torch.cuda.device_count", 1 if cuda else 0),
        Replacement("torch.backends.mps.is_available", mps),
        Replacement("torch.mps.device_count", 1 if mps else 0),
        Replacement("torch.accelerator.is_available", accelerator is not None),
        Replacement("torch.accelerator.device_count", 1 if accelerator else 0),
        Replacement("torch.accelerator.current_accelerator",
                    torch.device(accelerator) if accelerator else None),
    ]
    if cuda or cuda_built:
        plan += [Replacement("torch.backends.cuda.is_built", True),
                 Replacement("torch.version.cuda", "12.8", call=False)]
    if cuda:
        plan += [
            Replacement("torch.cuda.current_device", 0),
            Replacement("torch.cuda.get_device_name", SIMULATED_GPU_NAME),
            Replacement("torch.cuda.get_device_capability", (9, 0)),
        ]
    if mps or mps_built:
        plan.append(Replacement("torch.backends.mps.is_built", True))
    if accelerator:
        plan += [Replacement("torch.accelerator.current_device_index", 0),
                 Replacement("torch.accelerator.current_device_idx", 0)]
    return [item for item in plan if _owner(item.path) is not None]


class SimulatedMachine:
    """Applies :func:`machine_replacements` and puts the originals back on :meth:`restore`."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []

    def apply(self, *, cuda: bool, mps: bool, cuda_built: bool = False, mps_built: bool = False) -> None:
        self.restore()
        for item in machine_replacements(cuda=cuda, mps=mps, cuda_built=cuda_built, mps_built=mps_built):
            owner, attribute = _owner(item.path)
            self._originals.append((owner, attribute, getattr(owner, attribute)))
            setattr(owner, attribute, _constant(item.value) if item.call else item.value)

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._originals):
            setattr(owner, attribute, original)
        self._originals.clear()


def _owner(path: str) -> tuple[Any, str] | None:
    owner_path, _, attribute = path.rpartition(".")
    owner: Any = torch
    for part in owner_path.split(".")[1:]:
        owner = getattr(owner, part, None)
        if owner is None:
            return None
    return (owner, attribute) if hasattr(owner, attribute) else None


def _constant(value: Any):
    def simulated(*_args: Any, **_kwargs: Any) -> Any:
        return value
    return simulated
