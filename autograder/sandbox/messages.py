"""The requests the trusted side sends a notebook process: one function per operation.

This is the only place request headers are built; the notebook process
(:class:`autograder.sandbox.kernel.NotebookKernel`) answers exactly the operations in
:data:`NOTEBOOK_OPS` (a test holds the two together).  A request's value, if any (arguments,
a state_dict, tensors), travels beside its header through :mod:`autograder.sandbox.codec`.
The warm process's own control messages (fork, wait, release, attach) are in
:mod:`autograder.sandbox.client` and :mod:`autograder.sandbox.zygote`.
"""

from __future__ import annotations

Target = list  # ["name", "<notebook name>"] or ["ref", <ref id>]


def by_name(name: str) -> Target:
    return ["name", name]


def by_ref(ref_id: int) -> Target:
    return ["ref", ref_id]


def run_cell(*, index: int, source: str, timeout: float) -> dict:
    return {"op": "run_cell", "index": index, "source": source, "timeout": timeout}


def call(target: Target, *, method: str | None = None, inspect_args: bool = False) -> dict:
    header = {"op": "call", "target": target}
    if method is not None:
        header["method"] = method
    if inspect_args:
        header["inspect_args"] = True
    return header


def get_attribute(target: Target, name: str) -> dict:
    return {"op": "getattr", "target": target, "name": name}


def items(target: Target, *, limit: int) -> dict:
    return {"op": "items", "target": target, "limit": limit}


def length(target: Target) -> dict:
    return {"op": "len", "target": target}


def has(name: str) -> dict:
    return {"op": "has", "name": name}


def state_dict(target: Target) -> dict:
    return {"op": "state_dict", "target": target}


def load_state_dict(target: Target) -> dict:
    return {"op": "load_state_dict", "target": target}


def make_loader(*, batch_size: int, shuffle: bool, drop_last: bool) -> dict:
    return {"op": "make_loader", "batch_size": batch_size, "shuffle": shuffle, "drop_last": drop_last}


def make_model(*, layers: list[tuple], guard_device: bool) -> dict:
    return {"op": "make_model", "layers": [list(layer) for layer in layers], "guard_device": guard_device}


def make_view(*, kind: str, stop: int) -> dict:
    return {"op": "make_view", "kind": kind, "stop": stop}


def read_weights(path: str) -> dict:
    return {"op": "read_weights", "path": path}


def write_weights(path: str) -> dict:
    return {"op": "write_weights", "path": path}


def substitute(specs: dict[str, list]) -> dict:
    return {"op": "substitute", "specs": specs}


def restore_names() -> dict:
    return {"op": "restore_names"}


def simulate_machine(*, cuda: bool, mps: bool, cuda_built: bool, mps_built: bool) -> dict:
    return {"op": "simulate_machine", "cuda": cuda, "mps": mps, "cuda_built": cuda_built, "mps_built": mps_built}


def restore_machine() -> dict:
    return {"op": "restore_machine"}


def stand_in_device(name: str, *, model: Target, device: str, already_on_device: tuple[str, ...] = (),
                    loader: Target | None = None) -> dict:
    """Until ``restore_device``, the notebook function ``name`` runs with ``device`` a stand-in whose
    tensors keep their data on the CPU, and the trusted probe ``model`` (``make_model`` with a leading
    ``("device_probe",)``) computes logits that show where its input and parameters were (see
    :mod:`autograder.sandbox.stand_in_device`).  ``already_on_device``: "model" (the probe's
    parameters) and "batches" (those of the trusted ``loader``) start on the device."""
    header = {"op": "stand_in_device", "name": name, "model": model, "device": device,
              "already_on_device": list(already_on_device)}
    if loader is not None:
        header["loader"] = loader
    return header


def restore_device() -> dict:
    """End ``stand_in_device``; nothing is reported back (the verdict comes from values)."""
    return {"op": "restore_device"}


def simulate_versions(*, python: str | None, torch_version: str | None) -> dict:
    return {"op": "simulate_versions", "python": python, "torch": torch_version}


def restore_versions() -> dict:
    return {"op": "restore_versions"}


NOTEBOOK_OPS = frozenset({"run_cell", "call", "getattr", "items", "len", "has", "state_dict", "load_state_dict",
                          "make_loader", "make_model", "make_view", "read_weights", "write_weights", "substitute",
                          "restore_names", "simulate_machine", "restore_machine",
                          "simulate_versions", "restore_versions", "stand_in_device", "restore_device"})
