"""Read main.cf as Postfix does, so two files are compared by meaning rather than by layout.

postconf(5): a logical line starts with non-whitespace text and a line starting with whitespace
continues it; empty lines and lines whose first non-whitespace character is ``#`` are ignored (also
between continuation lines); the last setting of a parameter wins. Values are compared as Postfix
splits lists (on commas and whitespace), so re-wrapping or re-punctuating a list changes nothing,
while reordering it (restrictions are evaluated in order) does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_SEPARATORS = re.compile(r"[\s,]+")
# free text, where a comma is part of the text rather than a list separator
TEXT_PARAMETERS = frozenset({"smtpd_banner"})


class PostconfSyntaxError(ValueError):
    """A line Postfix itself would refuse; the message starts with ``line N:``."""


@dataclass(frozen=True)
class Setting:
    """One parameter as written (continuations joined, whitespace collapsed) and as compared."""

    shown: str
    meaning: tuple[str, ...]


def parse_main_cf(text: str) -> dict[str, Setting]:
    """Parameter name → setting; raise :class:`PostconfSyntaxError` on a line postconf would refuse."""
    logical: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0].isspace():
            if not logical:
                raise PostconfSyntaxError(f"line {number}: a continuation line with nothing to continue")
            start, previous = logical[-1]
            logical[-1] = (start, f"{previous} {stripped}")
        else:
            logical.append((number, stripped))
    settings: dict[str, Setting] = {}
    for number, line in logical:
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals or not _NAME.fullmatch(name):
            raise PostconfSyntaxError(f"line {number}: expected 'name = value', got {line[:60]!r}")
        settings[name] = _setting(name, value.strip())
    return settings


def _setting(name: str, value: str) -> Setting:
    shown = " ".join(value.split())
    if name in TEXT_PARAMETERS:
        return Setting(shown, (shown,))
    return Setting(shown, tuple(item for item in _SEPARATORS.split(value) if item))


def compare_main_cf(current: str, rendered: str) -> list[str]:
    """``- name = value`` / ``+ name = value`` lines for every parameter whose meaning differs, by name."""
    old, new = parse_main_cf(current), parse_main_cf(rendered)
    lines: list[str] = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before is not None and after is not None and before.meaning == after.meaning:
            continue
        if before is not None:
            lines.append(f"- {name} = {before.shown}".rstrip())
        if after is not None:
            lines.append(f"+ {name} = {after.shown}".rstrip())
    return lines


BY_MEANING = {"main.cf": compare_main_cf}
