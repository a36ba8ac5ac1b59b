"""Length-prefixed messages between the grader and a sandboxed child.

A message is a small JSON header plus an optional binary payload (a
``torch.save`` blob).  The reader enforces size limits and deadlines, so a
hostile child can neither exhaust the grader's memory nor stall it.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

_PREFIX = struct.Struct("!II")
MAX_HEADER_BYTES = 1 << 20


class WireError(Exception):
    """The peer closed the connection or sent something that is not a message."""


class WireTimeout(WireError, TimeoutError):
    """No complete message arrived before the deadline."""


def send_message(sock: socket.socket, header: dict[str, Any], payload: bytes = b"") -> None:
    head = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(_PREFIX.pack(len(head), len(payload)) + head + payload)


def recv_message(
    sock: socket.socket, *, deadline: float | None, max_payload: int
) -> tuple[dict[str, Any], bytes]:
    """Read one message; ``deadline`` is a ``time.monotonic()`` value or None."""
    head_len, payload_len = _PREFIX.unpack(_recv_exactly(sock, _PREFIX.size, deadline))
    if head_len > MAX_HEADER_BYTES:
        raise WireError(f"message header of {head_len} bytes is over the {MAX_HEADER_BYTES}-byte limit")
    if payload_len > max_payload:
        raise WireError(f"reply of {payload_len} bytes is over the {max_payload}-byte limit")
    try:
        header = json.loads(_recv_exactly(sock, head_len, deadline))
    except ValueError as error:
        raise WireError(f"message header is not JSON: {error}") from None
    if not isinstance(header, dict):
        raise WireError("message header is not a JSON object")
    payload = _recv_exactly(sock, payload_len, deadline) if payload_len else b""
    return header, payload


def _recv_exactly(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WireTimeout("no reply before the deadline")
            sock.settimeout(remaining)
        else:
            sock.settimeout(None)
        try:
            chunk = sock.recv(min(size - len(chunks), 1 << 20))
        except socket.timeout:
            raise WireTimeout("no reply before the deadline") from None
        except OSError as error:
            raise WireError(f"connection failed: {error}") from None
        if not chunk:
            raise WireError("the other side closed the connection")
        chunks += chunk
    return bytes(chunks)
