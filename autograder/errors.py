"""Errors every front door shares.

A :class:`UsageError` means the user gave something the command cannot use (an unknown
notebook, a bad ``--limit``, a folder without results); its message says what to give
instead, and the command exits with status 2.  Any other exception is a bug and keeps
its traceback.
"""

from __future__ import annotations


class UsageError(ValueError):
    """The command's input is unusable; the message tells the user what to do instead."""
