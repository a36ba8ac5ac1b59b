"""What each student function returns, as the notebook's instructions state it: the outline's ``returns``.

A small grammar, written in the outline beside the function names::

    bool | int | float | str | dict | device | tensor | object | none | any
    tuple[T, T, ...]      exactly these items, as a tuple
    list[T]               a list whose items are all T
    T | T                 either

``object`` is something that stays in the notebook process (a model, a dataset, a
loader).  The grader uses a declaration twice (:mod:`autograder.grading.contracts`):
every value is checked to be *usable* as declared before a suite touches it, and the
check that judges the return type holds it to the *exact* type.

Torch-free: student-side tools read the outline too.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Kind(enum.Enum):
    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    DICT = "dict"
    DEVICE = "device"
    TENSOR = "tensor"
    OBJECT = "object"
    NONE = "none"
    ANY = "any"
    TUPLE = "tuple"
    LIST = "list"
    EITHER = "either"


NUMBERS = frozenset({Kind.BOOL, Kind.INT, Kind.FLOAT})


@dataclass(frozen=True)
class Returns:
    """One declared return type; ``items`` are a tuple's items, a list's item type, or the alternatives."""

    kind: Kind
    items: tuple["Returns", ...] = ()

    def __str__(self) -> str:
        if self.kind is Kind.TUPLE:
            return f"tuple[{', '.join(map(str, self.items))}]"
        if self.kind is Kind.LIST:
            return f"list[{self.items[0]}]"
        if self.kind is Kind.EITHER:
            return " | ".join(map(str, self.items))
        return self.kind.value

    def words(self) -> str:
        """The declaration as a student reads it: "a tuple of two tensors", "a Python int"."""
        if self.kind is Kind.TUPLE:
            if len({item.kind for item in self.items}) == 1 and self.items[0].kind in _PLURAL:
                return f"a tuple of {len(self.items)} {_PLURAL[self.items[0].kind]}"
            return f"a tuple ({', '.join(item.words() for item in self.items)})"
        if self.kind is Kind.LIST:
            return f"a list of {_PLURAL.get(self.items[0].kind, self.items[0].words())}"
        if self.kind is Kind.EITHER:
            return " or ".join(item.words() for item in self.items)
        return _WORDS[self.kind]


_WORDS = {Kind.BOOL: "a Python bool (True or False)", Kind.INT: "a Python int", Kind.FLOAT: "a Python float",
          Kind.STR: "a str", Kind.DICT: "a dict", Kind.DEVICE: "a torch.device", Kind.TENSOR: "a torch.Tensor",
          Kind.OBJECT: "an object (a model, dataset or loader)", Kind.NONE: "None", Kind.ANY: "any value"}
_PLURAL = {Kind.FLOAT: "Python floats", Kind.INT: "Python ints", Kind.TENSOR: "tensors", Kind.BOOL: "bools",
           Kind.STR: "strs", Kind.OBJECT: "objects"}

_TOKEN = re.compile(r"\s*(?:(\w+)|(\[)|(\])|(,)|(\|))")


class ReturnsSyntaxError(ValueError):
    """A ``returns`` declaration does not follow the grammar; the message says where and what is allowed."""


def parse_returns(text: str) -> Returns:
    """The declaration ``text`` ("tuple[tensor, tensor]"); :class:`ReturnsSyntaxError` if malformed."""
    if not isinstance(text, str) or not text.strip():
        raise ReturnsSyntaxError(f"{text!r} is not a declaration: write one of {_ALLOWED}")
    tokens = _tokens(text)
    result, position = _either(tokens, 0, text)
    if position != len(tokens):
        raise ReturnsSyntaxError(f"{text!r}: unexpected {tokens[position]!r}; {_ALLOWED}")
    return result


_ALLOWED = ("bool, int, float, str, dict, device, tensor, object, none, any, tuple[T, ...], list[T], "
            "or alternatives T | T")


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise ReturnsSyntaxError(f"{text!r}: unexpected character {text[position]!r}; {_ALLOWED}")
        tokens.append(match.group(match.lastindex))
        position = match.end()
    return tokens


def _either(tokens: list[str], position: int, text: str) -> tuple[Returns, int]:
    choices = []
    while True:
        choice, position = _one(tokens, position, text)
        choices.append(choice)
        if position < len(tokens) and tokens[position] == "|":
            position += 1
            continue
        return (choices[0] if len(choices) == 1 else Returns(Kind.EITHER, tuple(choices))), position


def _one(tokens: list[str], position: int, text: str) -> tuple[Returns, int]:
    if position >= len(tokens):
        raise ReturnsSyntaxError(f"{text!r} ends too early; {_ALLOWED}")
    word = tokens[position]
    try:
        kind = Kind(word)
    except ValueError:
        raise ReturnsSyntaxError(f"{text!r}: unknown type {word!r}; {_ALLOWED}") from None
    if kind is Kind.EITHER:
        raise ReturnsSyntaxError(f"{text!r}: write alternatives with |; {_ALLOWED}")
    position += 1
    if kind not in (Kind.TUPLE, Kind.LIST):
        return Returns(kind), position
    if position >= len(tokens) or tokens[position] != "[":
        raise ReturnsSyntaxError(f"{text!r}: {word} needs its items in brackets, like {word}[tensor]")
    items = []
    position += 1
    while True:
        item, position = _either(tokens, position, text)
        items.append(item)
        if position < len(tokens) and tokens[position] == ",":
            position += 1
            continue
        break
    if position >= len(tokens) or tokens[position] != "]":
        raise ReturnsSyntaxError(f"{text!r}: missing ] after the items of {word}")
    if kind is Kind.LIST and len(items) != 1:
        raise ReturnsSyntaxError(f"{text!r}: list[T] takes one item type")
    return Returns(kind, tuple(items)), position + 1
