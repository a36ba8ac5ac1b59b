"""Turning values into data that can cross the sandbox boundary, and back.

Only data crosses: every value becomes a tree of tagged tuples holding
plain tensors and Python primitives.  The tree travels as JSON; its tensors
travel beside it as one list written with ``torch.save`` and read with
``torch.load(weights_only=True)`` (a value without tensors never touches
``torch.load``).  Anything else (a model, a DataLoader) stays on the side
that owns it and crosses as a reference id.

Tags::

    ("p", value)              None, bool, int, float, str (exact types only)
    ("n", value, type_name)   another number-like scalar (numpy.float32, ...); the grader
                              decodes it as a ForeignInt/ForeignFloat carrying type_name
    ("t", tensor, claims)     a plain CPU or meta tensor plus what the sender
                              called it (on the wire: the tensor's index in the
                              tensor list; claims: {"type": ..., "grad_fn": ...})
    ("l", [...]) / ("u", [...]) / ("d", [[key, value], ...])   list, tuple, dict
    ("dev", "cuda:0") / ("dt", "float32")   torch.device, torch.dtype
    ("r", ref_id, type_name, short_repr)    an object that stays behind

What the grader believes about a tensor (see :class:`TensorMeta`):

- ``dtype``, ``shape`` and ``device`` are read from the tensor that
  ``torch.load`` built on the grader's side, never from the sender.  A subclass
  that calls itself ``torch.Tensor`` and reports ``int64`` arrives as the plain
  float tensor its data is.  A tensor on an accelerator crosses as a CPU copy
  (its device then reads ``cpu``); a meta tensor stays a meta tensor.
- ``requires_grad`` is the flag ``torch.save`` wrote with the data (the sender
  saves its tensors as leaves with their flag).  The grader records it and
  then detaches, so its own tensors never carry a graph.
- ``grad_fn`` cannot cross as data: it is the sender's word (a class name),
  kept for messages.  It is believed only against the sender: every tensor with
  a ``grad_fn`` also requires grad, which the data carries, so a claimed
  ``grad_fn`` can cost a check but never earn one.  ``is_leaf`` follows from it.
- ``type_name`` is the sender's word too ("numpy.ndarray", a subclass name):
  for messages such as "your value was a Sneaky", and for failing a check
  ("return a plain torch.Tensor"), never for passing one.

Budgets, all checked before the work they bound (see :func:`loads`): the JSON
tree's size, depth and number of values before ``json.loads``; the tensor
archive's members (stored, not compressed, so nothing unpacks to more than the
reply's own bytes) and its pickle's size before ``torch.load``; each tensor's
element count and the reply's unpacked bytes (an expanded view counts at its
full size) before any tensor is copied; a deadline between the steps.  Every
tensor handed to the grader is a contiguous plain tensor of its own.

The decoder trusts nothing: unknown tags, deep nesting or oversized trees
raise :class:`CodecError`.
"""

from __future__ import annotations

import io
import json
import numbers
import struct
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from autograder.sandbox.wire import json_shape_problem

MAX_DEPTH = 32
"""Levels of nesting in a value (lists, tuples, dicts)."""
MAX_NODES = 200_000
"""Parts of a value: every list, dict, key, number, string and tensor counts one."""
MAX_STR = 1 << 20
"""Characters kept of one string; the encoder cuts longer ones."""
MAX_TREE_BYTES = 8 << 20
"""Bytes of a value's JSON tree (everything but the tensors' data)."""
MAX_TENSORS = 10_000
"""Tensors in one value."""
MAX_PICKLE_BYTES = 1 << 20
"""Bytes of the tensor list's pickle (the tensors' descriptions, not their data)."""
MAX_REPLY_ELEMENTS = 1 << 22
"""Elements of all the (non-meta) tensors in one reply to the grader, expanded views at full size.

A suite may call ``.tolist()`` on what it gets: 4 Mi elements cost about
130 MB and a fraction of a second there, and are far more than any exercise
returns.
"""

# JSON values per value part: ["p", 1] with its separator is 3, a tensor's claims add a few.
_JSON_NODES = 5 * MAX_NODES + 64
_JSON_DEPTH = 3 * (MAX_DEPTH + 1) + 2  # node list, item list and dict pair per level
_ARCHIVE_MEMBERS = MAX_TENSORS + 16  # one per storage plus torch.save's own few records


class CodecError(Exception):
    """A value could not be encoded, or a received tree is malformed."""


class DecodeTimeout(CodecError, TimeoutError):
    """Reading a reply ran past the deadline of the call that asked for it."""


@dataclass(frozen=True)
class TensorMeta:
    """What the grader knows about a tensor that came back from the notebook process.

    Trusted, read from the tensor the grader loaded: ``dtype``, ``shape``,
    ``device``, ``requires_grad``.  The sender's word, for messages (see the
    module docstring): ``type_name``, ``grad_fn`` and ``is_leaf``.
    """

    type_name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    device: str
    requires_grad: bool
    grad_fn: str | None
    is_leaf: bool


@dataclass(frozen=True)
class _Received:
    """Kept on a decoded tensor: what cannot be read from the tensor itself any more."""

    type_name: str
    requires_grad: bool  # from the data, before the grader detached it
    grad_fn: str | None  # the sender's word


@dataclass(frozen=True)
class RefToken:
    """A reference to an object that stayed on the other side."""

    ref_id: int
    type_name: str
    short_repr: str


class ForeignInt(int):
    """An integer that crossed as another type's value (``numpy.int64``): a number, but not a Python int."""

    type_name: str

    def __new__(cls, value: int, type_name: str) -> "ForeignInt":
        number = super().__new__(cls, value)
        number.type_name = type_name
        return number


class ForeignFloat(float):
    """A float that crossed as another type's value (``numpy.float32``): a number, but not a Python float."""

    type_name: str

    def __new__(cls, value: float, type_name: str) -> "ForeignFloat":
        number = super().__new__(cls, value)
        number.type_name = type_name
        return number


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
    grad_fn = tensor.grad_fn
    claims = {"type": kind, "grad_fn": type(grad_fn).__name__ if grad_fn is not None else None}
    requires_grad = bool(tensor.requires_grad)
    plain = torch.Tensor.detach(tensor)
    if type(plain) is not torch.Tensor:
        plain = plain.as_subclass(torch.Tensor)
    if plain.device.type not in ("cpu", "meta"):
        plain = plain.cpu()
    if plain.device.type == "cpu" and not _compact(plain):
        # torch.save writes a view's whole storage: an expanded view or a slice of a large
        # tensor is sent as exactly its own elements, paid for here, in the sender's memory.
        plain = plain.clone(memory_format=torch.contiguous_format)
    if requires_grad and (plain.is_floating_point() or plain.is_complex()):
        plain.requires_grad_(True)  # a leaf with the flag: torch.save keeps it as data
    return ("t", plain, claims)


def _compact(tensor: torch.Tensor) -> bool:
    """Contiguous and alone in a storage of exactly its size."""
    return (tensor.is_contiguous() and tensor.storage_offset() == 0
            and tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size())


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
    if len(text) > MAX_TREE_BYTES:
        raise CodecError(f"the value's text and numbers take {len(text)} bytes, over the limit of "
                         f"{MAX_TREE_BYTES}; return something smaller")
    if len(tensors) > MAX_TENSORS:
        raise CodecError(f"the value holds {len(tensors)} tensors, over the limit of {MAX_TENSORS}; "
                         "stack them into fewer tensors")
    if not tensors:
        return _LENGTH.pack(len(text)) + text
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return _LENGTH.pack(len(text)) + text + buffer.getvalue()


# ---------------------------------------------------------------- reading


def loads(blob: bytes | bytearray, *, max_tensor_bytes: int | None = None, max_elements: int | None = None,
          deadline: float | None = None) -> Any:
    """The tree that :func:`dumps` wrote; only JSON and ``torch.load(weights_only=True)`` read it.

    Every budget is checked before the work it bounds (module docstring).
    ``max_tensor_bytes`` and ``max_elements`` bound the tensors once unpacked
    (None: only the blob's own size bounds them, for data the grader sent);
    ``deadline`` is a ``time.monotonic()`` value, checked between the steps.
    """
    if len(blob) < _LENGTH.size:
        raise CodecError("payload is truncated")
    (length,) = _LENGTH.unpack_from(blob)
    if length > len(blob) - _LENGTH.size:
        raise CodecError("payload is truncated")
    text = memoryview(blob)[_LENGTH.size:_LENGTH.size + length]
    problem = json_shape_problem(text, max_bytes=MAX_TREE_BYTES, max_depth=_JSON_DEPTH, max_nodes=_JSON_NODES)
    if problem is not None:
        raise CodecError(f"its text and numbers are too large to read ({problem}); return something smaller")
    _check_time(deadline)
    try:
        tree = json.loads(bytes(text))
    except (ValueError, RecursionError) as error:
        raise CodecError(f"payload is not readable data ({type(error).__name__})") from None
    rest = memoryview(blob)[_LENGTH.size + length:]
    if not len(rest):
        return tree
    _check_time(deadline)
    tensors = _load_tensors(rest, max_tensor_bytes=max_tensor_bytes, max_elements=max_elements)
    _check_time(deadline)
    return _place_tensors(tree, tensors, 0)


def _check_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise DecodeTimeout("reading the value took longer than the time left for the call")


def _load_tensors(archive: memoryview, *, max_tensor_bytes: int | None, max_elements: int | None) -> list:
    _check_archive(archive)
    try:
        tensors = torch.load(io.BytesIO(archive), weights_only=True, map_location=_keep_on_cpu_or_meta)
    except Exception as error:
        raise CodecError(f"payload is not loadable data ({type(error).__name__})") from None
    if not isinstance(tensors, list) or any(type(tensor) is not torch.Tensor for tensor in tensors):
        raise CodecError("payload tensors are not a list of plain tensors")
    if len(tensors) > MAX_TENSORS:
        raise CodecError(f"the value holds {len(tensors)} tensors, over the limit of {MAX_TENSORS}")
    for tensor in tensors:
        # The sender writes dense CPU or meta tensors only.  A pickle may still rebuild a sparse,
        # quantized or nested tensor, or a storage-less one on another device, none of which the
        # budgets below would measure.
        if (tensor.layout is not torch.strided or tensor.is_quantized or tensor.is_nested
                or tensor.device.type not in ("cpu", "meta")):
            raise CodecError("payload tensors are not plain dense CPU tensors")
    elements = unpacked = 0
    for tensor in tensors:
        if tensor.device.type == "meta":  # no data: nothing to unpack or copy
            continue
        elements += tensor.numel()
        unpacked += tensor.numel() * tensor.element_size()
    if max_elements is not None and elements > max_elements:
        raise CodecError(f"its tensors hold {elements:,} elements, over the limit of {max_elements:,}; "
                         "return something smaller (an expanded view counts at its full size)")
    if max_tensor_bytes is not None and unpacked > max_tensor_bytes:
        raise CodecError(f"its tensors take {unpacked:,} bytes unpacked, over the limit of {max_tensor_bytes:,}; "
                         "return something smaller (an expanded view counts at its full size)")
    return [_own_copy(tensor) for tensor in tensors]


def _keep_on_cpu_or_meta(storage, location: str):
    # The sender moves every tensor to the CPU first; any other location would make the
    # grader allocate on its own accelerator.
    if location not in ("cpu", "meta"):
        raise CodecError(f"a tensor stored for device {location[:20]!r}")
    return storage


def _own_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A contiguous tensor alone in its storage (the budget above was checked first)."""
    if tensor.device.type == "meta" or _compact(tensor):
        return tensor
    requires_grad = tensor.requires_grad
    copy = tensor.detach().clone(memory_format=torch.contiguous_format)
    return copy.requires_grad_(True) if requires_grad else copy


_END = struct.Struct("<IHHHHIIH")  # end of central directory, no comment
_ZIP64_LOCATOR = struct.Struct("<IIQI")
_ZIP64_END = struct.Struct("<IQHHIIQQQQ")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")


def _check_archive(archive: memoryview) -> None:
    """The torch.save zip, read from its headers alone before ``torch.load`` touches it.

    ``torch.load`` inflates a compressed member to the size the archive declares
    before any other check, so a small reply could make the grader allocate
    gigabytes.  torch.save writes every member stored (uncompressed): refuse
    anything else, and so no member unpacks to more than the reply's own bytes.
    The end record must close the blob (torch.save writes no comment), and a
    zip64 end record must agree with it, so that this reading and torch's agree.
    """
    size = len(archive)
    if size < _END.size:
        raise CodecError("payload tensors are not a torch.save archive")
    (signature, _, _, _, entries, cd_size, cd_offset, comment) = _END.unpack_from(archive, size - _END.size)
    if signature != 0x06054B50 or comment:
        raise CodecError("payload tensors are not a torch.save archive")
    locator_at = size - _END.size - _ZIP64_LOCATOR.size
    if locator_at >= 0 and _ZIP64_LOCATOR.unpack_from(archive, locator_at)[0] == 0x07064B50:
        record_at = _ZIP64_LOCATOR.unpack_from(archive, locator_at)[2]
        if record_at + _ZIP64_END.size > locator_at:
            raise CodecError("payload tensors are a malformed archive")
        record = _ZIP64_END.unpack_from(archive, record_at)
        if record[0] != 0x06064B50 or (record[6], record[7], record[8], record[9]) != (
                entries, entries, cd_size, cd_offset):
            raise CodecError("payload tensors are a malformed archive")
    if entries > _ARCHIVE_MEMBERS:
        raise CodecError(f"payload tensors are an archive of {entries} members, over the limit of "
                         f"{_ARCHIVE_MEMBERS}")
    if cd_offset + cd_size > size:
        raise CodecError("payload tensors are a malformed archive")
    position = cd_offset
    for _ in range(entries):
        if position + _CENTRAL.size > cd_offset + cd_size:
            raise CodecError("payload tensors are a malformed archive")
        fields = _CENTRAL.unpack_from(archive, position)
        signature, method, packed, unpacked, name_len, extra_len, comment_len = (
            fields[0], fields[4], fields[8], fields[9], fields[10], fields[11], fields[12])
        name = bytes(archive[position + _CENTRAL.size:position + _CENTRAL.size + name_len])
        if signature != 0x02014B50:
            raise CodecError("payload tensors are a malformed archive")
        if method != 0 or packed != unpacked or unpacked >= 0xFFFFFFFF or fields[16] + unpacked > size:
            raise CodecError("payload tensors are an archive with compressed or oversized members")
        if name.endswith(b"data.pkl") and unpacked > MAX_PICKLE_BYTES:
            raise CodecError(f"payload tensors are described by {unpacked} bytes of pickle, over the limit of "
                             f"{MAX_PICKLE_BYTES}")
        position += _CENTRAL.size + name_len + extra_len + comment_len


def _place_tensors(node: Any, tensors: list[torch.Tensor], depth: int) -> Any:
    """Put each tensor back where the tree names its index: ``["t", 3, claims]``."""
    if not isinstance(node, list):
        return node
    if depth > _JSON_DEPTH:
        raise CodecError("the reply is too deeply nested")
    if len(node) == 3 and node[0] == "t" and type(node[1]) is int:
        if not 0 <= node[1] < len(tensors):
            raise CodecError("malformed reply (tensor index)")
        return ["t", tensors[node[1]], node[2]]
    return [_place_tensors(item, tensors, depth + 1) for item in node]


# ---------------------------------------------------------------- decoding


def decode(tree: Any, *, resolve_ref: Callable[[RefToken], Any], restore_requires_grad: bool = False,
           deadline: float | None = None) -> Any:
    """Rebuild a value from a tagged tree; ``resolve_ref`` turns ref tokens into objects.

    On the grader's side each tensor is detached and keeps what it arrived
    with for :func:`tensor_meta`.  On the child's side (``restore_requires_grad``)
    tensors stay as loaded, so that a tensor the grader saved with
    ``requires_grad=True`` arrives as a leaf that requires grad.
    ``deadline`` (a ``time.monotonic()`` value) is checked as the tree is walked.
    """
    budget = [MAX_NODES]
    return _decode(tree, resolve_ref, budget, 0, restore_requires_grad, deadline)


def _decode(node: Any, resolve_ref, budget: list[int], depth: int, grad: bool = False,
            deadline: float | None = None) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise CodecError("the reply is too large or too deeply nested")
    if not budget[0] % 4096:
        _check_time(deadline)
    if not isinstance(node, (tuple, list)) or not node or not isinstance(node[0], str):
        raise CodecError("malformed reply")
    tag = node[0]
    if tag == "p" and len(node) == 2 and (node[1] is None or type(node[1]) in (bool, int, float, str)):
        return node[1]
    if tag == "n" and len(node) == 3 and type(node[1]) in (int, float) and isinstance(node[2], str):
        # The grader keeps the sender's word for the type (numpy.int64, ...), so that a contract asking
        # for a Python int can fail it; the notebook side gets a plain number.
        return node[1] if grad else (ForeignInt if type(node[1]) is int else ForeignFloat)(node[1], node[2][:200])
    if tag == "t" and len(node) == 3 and type(node[1]) is torch.Tensor and isinstance(node[2], dict):
        return node[1] if grad else _received_tensor(node[1], node[2])
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
        items = [_decode(item, resolve_ref, budget, depth + 1, grad, deadline) for item in node[1]]
        return items if tag == "l" else tuple(items)
    if tag == "d" and len(node) == 2 and isinstance(node[1], list):
        result = {}
        for pair in node[1]:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise CodecError("malformed dict in reply")
            key = _decode(pair[0], resolve_ref, budget, depth + 1, grad, deadline)
            try:
                result[key] = _decode(pair[1], resolve_ref, budget, depth + 1, grad, deadline)
            except TypeError:
                raise CodecError("unhashable dict key in reply") from None
        return result
    if (tag == "r" and len(node) == 4 and type(node[1]) is int
            and isinstance(node[2], str) and isinstance(node[3], str)):
        return resolve_ref(RefToken(node[1], node[2][:200], node[3][:200]))
    raise CodecError(f"malformed reply (tag {tag[:10]!r})")


def _received_tensor(tensor: torch.Tensor, claims: dict) -> torch.Tensor:
    """The grader's copy: detached, with the flag the data carried and the sender's words kept aside."""
    kind, grad_fn = claims.get("type", "torch.Tensor"), claims.get("grad_fn")
    if not isinstance(kind, str) or not (grad_fn is None or isinstance(grad_fn, str)):
        raise CodecError("malformed tensor description in reply")
    received = _Received(type_name=kind[:200], requires_grad=bool(tensor.requires_grad),
                         grad_fn=None if grad_fn is None else grad_fn[:100])
    if tensor.requires_grad:
        tensor = tensor.detach()
    tensor._autograder_meta = received
    return tensor


def tensor_meta(tensor: torch.Tensor) -> TensorMeta | None:
    """What the grader knows about a tensor that came back from the notebook, or None for local tensors.

    ``dtype``, ``shape`` and ``device`` are read from ``tensor`` now; the rest is
    what it arrived with (see :class:`TensorMeta`).
    """
    received = getattr(tensor, "_autograder_meta", None)
    if not isinstance(received, _Received):
        return None
    return TensorMeta(type_name=received.type_name, dtype=tensor.dtype, shape=tuple(tensor.shape),
                      device=str(tensor.device), requires_grad=received.requires_grad,
                      grad_fn=received.grad_fn, is_leaf=received.grad_fn is None)
