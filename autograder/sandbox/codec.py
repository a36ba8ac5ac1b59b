"""Turning values into data that can cross the sandbox boundary, and back.

Only data crosses: every value becomes a tree of tagged tuples holding
plain tensors and Python primitives.  The tree travels as JSON; its tensors
travel beside it as one list written with ``torch.save`` and read with
``torch.load(weights_only=True)`` (a value without tensors never touches
``torch.load``).  Anything else (a model, a DataLoader) stays on the side
that owns it and crosses as a reference id.

Tags::

    ("p", value)              None, bool, int, float, str (exact types only)
    ("n", value, type_name)   another number-like scalar (numpy.float32, ...)
    ("t", tensor, meta)       a plain CPU or meta tensor plus what it was
                              (on the wire: the tensor's index in the tensor list)
    ("l", [...]) / ("u", [...]) / ("d", [[key, value], ...])   list, tuple, dict
    ("dev", "cuda:0") / ("dt", "float32")   torch.device, torch.dtype
    ("r", ref_id, type_name, short_repr)    an object that stays behind

The decoder trusts nothing: unknown tags, deep nesting or oversized trees
raise :class:`CodecError`.
"""

from __future__ import annotations

import io
import json
import numbers
import struct
from dataclasses import dataclass
from typing import Any, Callable

import torch

MAX_DEPTH = 32
MAX_NODES = 200_000
MAX_STR = 1 << 20


class CodecError(Exception):
    """A value could not be encoded, or a received tree is malformed."""


@dataclass(frozen=True)
class TensorMeta:
    """What the sending side reported about a tensor it returned."""

    type_name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    device: str
    requires_grad: bool
    grad_fn: str | None
    is_leaf: bool


@dataclass(frozen=True)
class RefToken:
    """A reference to an object that stayed on the other side."""

    ref_id: int
    type_name: str
    short_repr: str


def type_name(value: Any) -> str:
    cls = type(value)
    module = getattr(cls, "__module__", "") or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module == "builtins" else f"{module}.{name}"


# ---------------------------------------------------------------- encoding


def encode(value: Any, *, ref_for: Callable[[Any], RefToken]) -> Any:
    """Turn ``value`` into a tagged tree; ``ref_for`` handles objects that stay behind."""
    budget = [MAX_NODES]
    return _encode(value, ref_for, budget, 0)


def _encode(value: Any, ref_for, budget: list[int], depth: int) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise CodecError(f"the value has more than {MAX_NODES} parts; return something smaller")
    if depth > MAX_DEPTH:
        raise CodecError(f"the value is nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if value is None or kind in (bool, int, float):
        return ("p", value)
    if kind is str:
        return ("p", value[:MAX_STR])
    if isinstance(value, str):  # torch.__version__ and other str subclasses cross as plain text
        return ("p", str.__str__(value)[:MAX_STR])
    if isinstance(value, RefToken):
        return ("r", value.ref_id, value.type_name, value.short_repr)
    if isinstance(value, torch.Tensor):
        return _encode_tensor(value, type_name(value))
    if kind.__module__ == "numpy" and kind.__name__ == "ndarray":
        return _encode_tensor(torch.from_numpy(value.copy()), "numpy.ndarray")
    if kind is torch.device:
        return ("dev", str(value))
    if kind is torch.dtype:
        return ("dt", str(value).removeprefix("torch."))
    if kind in (list, tuple):
        tag = "l" if kind is list else "u"
        return (tag, [_encode(item, ref_for, budget, depth + 1) for item in value])
    if isinstance(value, dict):  # OrderedDict (state dicts) and other dict subclasses cross as dicts
        return ("d", [[_encode(k, ref_for, budget, depth + 1), _encode(v, ref_for, budget, depth + 1)]
                      for k, v in dict.items(value)])
    if isinstance(value, numbers.Number) and not isinstance(value, (bool, torch.Tensor)):
        converted = _plain_number(value)
        if converted is not None:
            return ("n", converted, type_name(value))
    token = ref_for(value)
    return ("r", token.ref_id, token.type_name, token.short_repr)


def _plain_number(value: Any) -> int | float | None:
    for convert in (int, float) if isinstance(value, numbers.Integral) else (float,):
        try:
            return convert(value)
        except Exception:  # a hostile __float__; the caller falls back to a reference
            return None
    return None


def _encode_tensor(tensor: torch.Tensor, kind: str) -> tuple:
    meta = {
        "type": kind,
        "dtype": str(tensor.dtype).removeprefix("torch."),
        "shape": list(tensor.shape),
        "device": str(tensor.device),
        "requires_grad": bool(tensor.requires_grad),
        "grad_fn": type(tensor.grad_fn).__name__ if tensor.grad_fn is not None else None,
        "is_leaf": bool(tensor.is_leaf),
    }
    plain = torch.Tensor.detach(tensor)
    if type(plain) is not torch.Tensor:
        plain = plain.as_subclass(torch.Tensor)
    if plain.device.type not in ("cpu", "meta"):
        plain = plain.cpu()
    return ("t", plain, meta)


_LENGTH = struct.Struct(">I")


def dumps(tree: Any) -> bytes:
    """``tree`` as bytes: the length of its JSON, the JSON, then its tensors as one ``torch.save`` list."""
    tensors: list[torch.Tensor] = []

    def tensor_index(value: Any) -> int:
        if type(value) is not torch.Tensor:
            raise CodecError(f"cannot send a {type_name(value)} inside the tree")
        tensors.append(value)
        return len(tensors) - 1

    text = json.dumps(tree, default=tensor_index, separators=(",", ":")).encode()
    if not tensors:
        return _LENGTH.pack(len(text)) + text
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return _LENGTH.pack(len(text)) + text + buffer.getvalue()


def loads(blob: bytes) -> Any:
    """The tree that :func:`dumps` wrote; only JSON and ``torch.load(weights_only=True)`` read it."""
    if len(blob) < _LENGTH.size:
        raise CodecError("payload is truncated")
    (length,) = _LENGTH.unpack_from(blob)
    if length > len(blob) - _LENGTH.size:
        raise CodecError("payload is truncated")
    try:
        tree = json.loads(blob[_LENGTH.size:_LENGTH.size + length])
    except (ValueError, RecursionError) as error:
        raise CodecError(f"payload is not readable data ({type(error).__name__})") from None
    rest = blob[_LENGTH.size + length:]
    if not rest:
        return tree
    try:
        tensors = torch.load(io.BytesIO(rest), weights_only=True)
    except Exception as error:
        raise CodecError(f"payload is not loadable data ({type(error).__name__})") from None
    if not isinstance(tensors, list) or any(type(tensor) is not torch.Tensor for tensor in tensors):
        raise CodecError("payload tensors are not a list of plain tensors")
    return _place_tensors(tree, tensors, 0)


def _place_tensors(node: Any, tensors: list[torch.Tensor], depth: int) -> Any:
    """Put each tensor back where the tree names its index: ``["t", 3, meta]``."""
    if not isinstance(node, list):
        return node
    if depth > 2 * MAX_DEPTH + 2:  # two lists per level of the value: the node and its items
        raise CodecError("the reply is too deeply nested")
    if len(node) == 3 and node[0] == "t" and type(node[1]) is int:
        if not 0 <= node[1] < len(tensors):
            raise CodecError("malformed reply (tensor index)")
        return ["t", tensors[node[1]], node[2]]
    return [_place_tensors(item, tensors, depth + 1) for item in node]


# ---------------------------------------------------------------- decoding


def decode(tree: Any, *, resolve_ref: Callable[[RefToken], Any], restore_requires_grad: bool = False) -> Any:
    """Rebuild a value from a tagged tree; ``resolve_ref`` turns ref tokens into objects.

    On the grader's side each tensor carries its :class:`TensorMeta` (see
    :func:`tensor_meta`).  On the child's side (``restore_requires_grad``) tensors
    arrive bare, so that saving them stays plain data, and a tensor sent with
    ``requires_grad=True`` arrives as a leaf that requires grad.
    """
    budget = [MAX_NODES]
    return _decode(tree, resolve_ref, budget, 0, restore_requires_grad)


def _decode(node: Any, resolve_ref, budget: list[int], depth: int, grad: bool = False) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise CodecError("the reply is too large or too deeply nested")
    if not isinstance(node, (tuple, list)) or not node or not isinstance(node[0], str):
        raise CodecError("malformed reply")
    tag = node[0]
    if tag == "p" and len(node) == 2 and (node[1] is None or type(node[1]) in (bool, int, float, str)):
        return node[1]
    if tag == "n" and len(node) == 3 and type(node[1]) in (int, float):
        return node[1]
    if tag == "t" and len(node) == 3 and type(node[1]) is torch.Tensor and isinstance(node[2], dict):
        tensor, info = node[1], _tensor_meta(node[2])
        if not grad:
            tensor._autograder_meta = info
        elif info.requires_grad and (tensor.is_floating_point() or tensor.is_complex()):
            tensor.requires_grad_(True)
        return tensor
    if tag == "dev" and len(node) == 2 and isinstance(node[1], str):
        try:
            return torch.device(node[1])
        except RuntimeError:
            raise CodecError(f"unknown device {node[1][:40]!r}") from None
    if tag == "dt" and len(node) == 2 and isinstance(node[1], str):
        dtype = getattr(torch, node[1], None)
        if not isinstance(dtype, torch.dtype):
            raise CodecError("unknown dtype")
        return dtype
    if tag in ("l", "u") and len(node) == 2 and isinstance(node[1], list):
        items = [_decode(item, resolve_ref, budget, depth + 1, grad) for item in node[1]]
        return items if tag == "l" else tuple(items)
    if tag == "d" and len(node) == 2 and isinstance(node[1], list):
        result = {}
        for pair in node[1]:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise CodecError("malformed dict in reply")
            key = _decode(pair[0], resolve_ref, budget, depth + 1, grad)
            try:
                result[key] = _decode(pair[1], resolve_ref, budget, depth + 1, grad)
            except TypeError:
                raise CodecError("unhashable dict key in reply") from None
        return result
    if (tag == "r" and len(node) == 4 and type(node[1]) is int
            and isinstance(node[2], str) and isinstance(node[3], str)):
        return resolve_ref(RefToken(node[1], node[2][:200], node[3][:200]))
    raise CodecError(f"malformed reply (tag {tag[:10]!r})")


def _tensor_meta(raw: dict) -> TensorMeta:
    try:
        dtype = getattr(torch, str(raw["dtype"]))
        if not isinstance(dtype, torch.dtype):
            raise KeyError("dtype")
        return TensorMeta(
            type_name=str(raw["type"])[:200],
            dtype=dtype,
            shape=tuple(int(n) for n in raw["shape"]),
            device=str(raw["device"])[:40],
            requires_grad=bool(raw["requires_grad"]),
            grad_fn=None if raw["grad_fn"] is None else str(raw["grad_fn"])[:100],
            is_leaf=bool(raw["is_leaf"]),
        )
    except (KeyError, TypeError, ValueError):
        raise CodecError("malformed tensor description in reply") from None


def tensor_meta(tensor: torch.Tensor) -> TensorMeta | None:
    """The description that came with a decoded tensor, or None for local tensors."""
    return getattr(tensor, "_autograder_meta", None)
