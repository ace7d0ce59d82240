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
