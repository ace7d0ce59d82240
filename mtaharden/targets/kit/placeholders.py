# kit: ready
"""``{hostname}``, ``{client}``, ``{zone}`` in banners and DNSBL replies: split once, each target spells its own.

The policy validates the placeholders (only the allowed names, no lone braces: ``policy/types.template_text``);
the kit splits the text with the policy's own grammar, so that a target only says how its syntax writes each
placeholder (Postfix ``$myhostname``, Sendmail a macro, Exchange a PowerShell variable, qmail the literal name)
and how it escapes literal text (Postfix doubles ``$``), instead of chaining ``str.replace`` calls that would also
rewrite a placeholder's spelling (``$`` escaped twice) or one value inside another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from ...policy.types import _PLACEHOLDER  # the policy's placeholder grammar: one for validating and splitting
from .escape import Unexpressible

T = TypeVar("T")


@dataclass(frozen=True)
class Placeholder:
    """A ``{name}`` the target fills in at run time (the client's address, the zone that listed it, …)."""

    name: str


Piece = str | Placeholder


def pieces(template: str, filled: Mapping[str, str] | None = None) -> tuple[Piece, ...]:
    """``template`` as literal text and placeholders in order, no empty text between them.

    Placeholders named in ``filled`` become that literal text (merged with the text around them): for a
    value known when rendering, such as a DNSBL entry's zone in its own reply.
    """
    values = filled or {}
    out: list[Piece] = []
    text = ""
    position = 0
    for found in _PLACEHOLDER.finditer(template):
        text += template[position:found.start()]
        position = found.end()
        name = found.group(1)
        if name in values:
            text += values[name]
            continue
        if text:
            out.append(text)
        out.append(Placeholder(name))
        text = ""
    text += template[position:]
    if text:
        out.append(text)
    return tuple(out)


def spelled(template: str, spelling: Mapping[str, T], literal: Callable[[str], str] = str
            ) -> tuple[str | T, ...]:
    """The pieces of ``template`` with each literal text through ``literal`` and each placeholder spelled.

    For a target whose spelling is not text (an Exchange PowerShell variable); an unknown placeholder
    raises :class:`~.escape.Unexpressible`.
    """
    out: list[str | T] = []
    for piece in pieces(template):
        if isinstance(piece, str):
            out.append(literal(piece))
        elif piece.name in spelling:
            out.append(spelling[piece.name])
        else:
            raise Unexpressible(f"the placeholder {{{piece.name}}} has no spelling here (use "
                                + ", ".join("{" + name + "}" for name in sorted(spelling)) + ")")
    return tuple(out)


def fill(template: str, spelling: Mapping[str, str], literal: Callable[[str], str] = str) -> str:
    """``template`` as one text in a target's syntax: literal text escaped by ``literal``, placeholders spelled."""
    return "".join(spelled(template, spelling, literal))
