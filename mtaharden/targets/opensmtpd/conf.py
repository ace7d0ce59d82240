"""smtpd.conf's syntax: quoted strings and directives, so that no value can end a string and start a rule.

Why an allow-list over the kit's: OpenSMTPD's lexer (parse.y) reads ``\\`` before a quote, a blank or a line
end as an escape, so a backslash has no safe spelling in a quoted string; a quote is written ``\\"``, which the
lexer turns back into ``"``. Every value is quoted, whatever it is: a bare word could be a reserved word
(``match``, ``listen``) or a ``$macro``, and nothing inside quotes is expanded.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..kit.escape import Unexpressible, fit


def quoted(text: str, what: str) -> str:
    """``text`` as one smtpd.conf string token; :class:`Unexpressible` for what no token can hold."""
    fit(text, f"smtpd.conf ({what})")
    if not text.isascii():
        raise Unexpressible(f"refusing to write non-ASCII text into smtpd.conf ({what}): SMTP replies and "
                            "OpenSMTPD's tables are ASCII")
    if "\\" in text:
        raise Unexpressible(f"refusing to write a backslash into smtpd.conf ({what}): its lexer reads one before "
                            "a quote or a blank as an escape, so no quoted string holds it safely")
    return '"' + text.replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Value:
    """A value from the policy, quoted when the file is laid out (so an unfit one is bad input, exit 2)."""

    text: str
    what: str  # the policy element it comes from, for the error


@dataclass(frozen=True)
class Values:
    """The values of a list table declared in place: ``{ "a", "b" }``."""

    texts: tuple[str, ...]
    what: str


Word = str | Value | Values


@dataclass(frozen=True)
class Directive:
    """One smtpd.conf line: bare keywords and names the target chose, and policy values to quote."""

    words: tuple[Word, ...]


def line(directive: Directive) -> str:
    """The template filter that lays a directive out, quoting every value (:func:`quoted`)."""
    def word(item: Word) -> str:
        if isinstance(item, Value):
            return quoted(item.text, item.what)
        if isinstance(item, Values):
            return "{ " + ", ".join(quoted(text, item.what) for text in item.texts) + " }"
        return item
    return " ".join(word(item) for item in directive.words)


def table(name: str, values: list[str], what: str) -> Directive:
    """A list table declared in place (at least one value, as smtpd.conf requires)."""
    if not values:
        raise AssertionError(f"table {name} has no values")  # a bug in the target: callers skip empty tables
    return Directive(("table", name, Values(tuple(values), what)))
