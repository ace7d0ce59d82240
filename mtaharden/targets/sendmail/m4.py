"""Sendmail's two quoting layers: m4 text in sendmail.mc, and the "strings" of sendmail.cf rules.

Policy text reaches m4 only inside m4 quotes and never contains an m4 quote character, so cf.m4's
rescans cannot execute it; text inside a rule's "string" carries no quote, macro or escape character.
Whether text is fit at all (control characters, Unicode line breaks) is the kit's one predicate.
"""

from __future__ import annotations

from ..kit.escape import Unexpressible, fit

M4_QUOTES = ("`", "'")
SENDMAIL_STRING_UNSAFE = ('"', "$", "\\")

# cf.m4 rescans a defined value on its way to sendmail.cf: once where proto.m4 names the macro (in
# _OPTION or a quoted ifdef branch), so values get two quote levels, and once more for the macros it
# expands as unquoted ifdef arguments. One level too few lets policy text such as "dnl" or
# "esyscmd(...)" run as m4. MAIL_SETTINGS_DIR reaches access_db's default one level deeper than
# elsewhere, so that map is spelt out. tests/robustness proves every value with the real m4.
RESCANS = 2
EXPANDED_IN_ARGUMENTS = frozenset({"QUEUE_DIR", "HELP_FILE"})


def m4_quote(text: object, depth: int = 1) -> str:
    """Quote text for m4 ``depth`` times; refuse text that contains a quote or is unfit for a file."""
    value = fit(str(text), "sendmail.mc")
    if any(q in value for q in M4_QUOTES):
        raise Unexpressible("refusing to pass text with an m4 quote character (` or ') to m4")
    return "`" * depth + value + "'" * depth


def m4_line(line: object) -> str:
    """A raw sendmail.cf line (tabs separate rule fields), quoted so m4 copies it verbatim (a jinja filter)."""
    return "\t".join(m4_quote(part) if part else "" for part in str(line).split("\t"))


def define(name: str, value: str) -> str:
    """``define(name, value)`` with the quote levels cf.m4's rescans of that macro need."""
    depth = RESCANS + (name in EXPANDED_IN_ARGUMENTS)
    return f"define({m4_quote(name)}, {m4_quote(value, depth)})"


def feature(name: str, *args: str) -> str:
    """``FEATURE(name, args...)``, each argument quoted once."""
    return f"FEATURE({', '.join(m4_quote(a) for a in (name, *args))})"


def rule_string(text: str, what: str) -> str:
    """Text placed inside a Sendmail "string" in a rule: no quotes, macros or m4 quote characters."""
    fit(text, what)
    bad = [c for c in (*M4_QUOTES, *SENDMAIL_STRING_UNSAFE) if c in text]
    if bad:
        raise Unexpressible(f"{what} contains {bad[0]!r}, which a Sendmail rule string cannot carry")
    return text
