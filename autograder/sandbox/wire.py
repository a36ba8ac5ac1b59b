"""Length-prefixed messages between the grader and a sandboxed child.

A message is a small JSON header plus an optional binary payload (a
``torch.save`` blob).  The reader enforces size limits and deadlines, so a
hostile child can neither exhaust the grader's memory nor stall it, and it
checks the shape of any JSON it is given (:func:`json_shape_problem`) before
parsing it: ``json.loads`` of a few megabytes of nested brackets builds
millions of objects, so a budget checked after parsing comes too late.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import time
from typing import Any

_PREFIX = struct.Struct("!II")
MAX_HEADER_BYTES = 1 << 20
MAX_HEADER_DEPTH = 16
MAX_HEADER_NODES = 100_000

# A JSON string once the two escapes that can hide a quote (\\ and \") are removed: any run between
# two quotes.  A scan that fails at an unterminated quote then meets no other quote after it, so the
# pass stays linear (with escapes in the pattern, each escaped quote of an unterminated string started
# a rescan to the end: quadratic).
_JSON_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class WireError(Exception):
    """The peer closed the connection or sent something that is not a message."""


class WireTimeout(WireError, TimeoutError):
    """No complete message arrived before the deadline."""


def json_shape_problem(data: bytes | bytearray, *, max_bytes: int, max_depth: int, max_nodes: int) -> str | None:
    """Why JSON text ``data`` is too big to parse (size, nesting, number of values), or None.

    Runs at the speed of ``bytes`` methods, without building any object: strings
    are collapsed to one character, values are counted by their separators
    (``[``, ``{``, ``,``, ``:``; an upper bound of the number of values), and the
    depth is found by removing innermost bracket pairs, one level per pass, for
    at most ``max_depth`` passes.  Unbalanced brackets count as too deep, since
    such text is not JSON anyway.
    """
    if len(data) > max_bytes:
        return f"{len(data)} bytes, over the limit of {max_bytes}"
    skeleton = _JSON_STRING.sub(b"0", bytes(data).replace(b"\\\\", b"").replace(b'\\"', b""))
    nodes = (skeleton.count(b"[") + skeleton.count(b"{") + skeleton.count(b",") + skeleton.count(b":") + 1)
    if nodes > max_nodes:
        return f"more than {max_nodes} values"
    brackets = skeleton.translate(None, _NOT_BRACKETS)
    for _ in range(max_depth):
        if not brackets:
            return None
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
    return None if not brackets else f"nested more than {max_depth} levels deep"


def send_message(sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> None:
    head = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_PREFIX.pack(len(head), len(payload)) + head + payload)


def recv_message(
    sock: socket.socket, *, deadline: float | None, max_payload: int
) -> tuple[dict[str, Any], bytes | bytearray]:
    """Read one message; ``deadline`` is a ``time.monotonic()`` value or None.

    The sizes in the prefix are checked before anything is read, and the header's
    shape before it is parsed.  The payload is returned as read (a ``bytearray``);
    its own format is for the caller to check (see ``codec.loads``).
    """
    head_len, payload_len = _PREFIX.unpack(_recv_exactly(sock, _PREFIX.size, deadline))
    if head_len > MAX_HEADER_BYTES:
        raise WireError(f"message header of {head_len} bytes is over the {MAX_HEADER_BYTES}-byte limit")
    if payload_len > max_payload:
        raise WireError(f"reply of {payload_len} bytes is over the {max_payload}-byte limit")
    head = _recv_exactly(sock, head_len, deadline)
    problem = json_shape_problem(head, max_bytes=MAX_HEADER_BYTES, max_depth=MAX_HEADER_DEPTH,
                                 max_nodes=MAX_HEADER_NODES)
    if problem is not None:
        raise WireError(f"message header is too large to read: {problem}")
    try:
        header = json.loads(head)
    except (ValueError, RecursionError) as error:
        raise WireError(f"message header is not JSON: {type(error).__name__}") from None
    if not isinstance(header, dict):
        raise WireError("message header is not a JSON object")
    payload = _recv_exactly(sock, payload_len, deadline) if payload_len else b""
    return header, payload


def _recv_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    # One buffer of the announced size (already checked against its limit), filled in place:
    # no second copy of a large reply.
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    try:
        while received < size:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WireTimeout("no reply before the deadline")
                sock.settimeout(remaining)
            else:
                sock.settimeout(None)
            try:
                count = sock.recv_into(view[received:], min(size - received, 1 << 20))
            except socket.timeout:
                raise WireTimeout("no reply before the deadline") from None
            except OSError as error:
                raise WireError(f"connection failed: {error}") from None
            if not count:
                raise WireError("the other side closed the connection")
            received += count
    finally:
        view.release()
    return buffer
