"""Messages in the user's terms: what kind of value the policy holds, never a Python or pydantic type.

The YAML reader hands back its own classes (``CommentedMap``, ``ScalarFloat``) and pydantic names the
models (``instance of Auth``); neither means anything to someone editing a policy file.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

_EXPECTED = {
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "list_type": "a list",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "dict_type": "a mapping of keys to values",
    "string_type": "text",
}


def kind_of(value: Any) -> str:
    """``a list``, ``a mapping``, ``a whole number``, ``true/false``, ``text``, ``a date``, ``nothing``."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number with a decimal point"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, datetime.date | datetime.time):
        return "a date or time"
    return "a value of another kind"


def type_message(kind: str, message: str, given: Any) -> str:
    """pydantic's message for error ``kind``, said as what was expected and what was written instead."""
    expected = _EXPECTED.get(kind)
    if expected is None:
        return message
    return f"expected {expected} here, not {kind_of(given)}"


_BOUNDS = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
           "greater_than": ("gt", "more than"), "less_than": ("lt", "less than"),
           "too_short": ("min_length", "at least"), "too_long": ("max_length", "at most")}


def bound_message(kind: str, ctx: Mapping[str, Any], given: Any) -> tuple[str, str] | None:
    """(message, fix) for a number or list outside its bounds, with the bound and what was written."""
    bound = _BOUNDS.get(kind)
    if bound is None or bound[0] not in ctx:
        return None
    key, words = bound
    if kind.startswith("too_"):
        items = f"{ctx[key]} item{'s' if ctx[key] != 1 else ''}"
        return f"expected {words} {items} here, not {len(given)}", f"write a list of {words} {items}"
    return f"expected {words} {ctx[key]} here, not {given}", f"write a number {words} {ctx[key]}"


def shown(value: Any) -> str:
    """A scalar as written (text quoted), anything else by its kind."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return kind_of(value)
