"""header_checks.pcre: each policy check as a PCRE2 line Postfix's own library compiles, decided once.

A check Postfix's PCRE2 would skip is left out and recorded unsupported; a check with non-ASCII text
gets one line per charset and encoded form (Postfix decodes nothing) and is recorded approximated.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...engines import header_engines, header_forms, pcre2
from ...policy.model import HeaderCheck
from ...policy.pattern import has_text, parse, pcre_body
from ..kit.coverage import Recorder
from . import capabilities as facts
from .syntax import escape_dollar
from .tables import Table

HEADER_VERBS = {"reject": "REJECT", "discard": "DISCARD", "hold": "HOLD", "warn": "WARN"}


def table(checks: Sequence[HeaderCheck], record: Recorder) -> Table:
    """Every check's lines with their comments, each check's coverage as its lines are decided."""
    lines: list[tuple[str, tuple[str, str]]] = []
    for index, check in enumerate(checks):
        element, how = f"header_checks[{index}]", facts.HEADER.format(header=check.header, action=check.action)
        refusal = header_refusal(check)
        parsed = parse(check.pattern)
        if refusal:
            record.unsupported(element, refusal)
        elif has_text(parsed):
            action = _header_action(check)
            lines += [(f"{element} {check.header}, {form.label}",
                       (f"/{escape_delimiter(header_engines.postfix_regex(check.header, form))}/i", action))
                      for form in header_forms.forms(parsed, check.charsets)]
            record.approximated(element, facts.HEADER_FORMS.format(
                how=how, limits=header_forms.limits(parsed, check.charsets, raw=True)))
        else:
            lines.append(("", _header_line(check)))
            record.enforced(element, how)
    return Table("header_checks.pcre", "pcre", tuple(line for _, line in lines),
                 comments=tuple(comment for comment, _ in lines))


def _header_regex(check: HeaderCheck) -> str:
    """The line's regex as written: the policy pattern re-emitted from its tree, / escaped for the table."""
    parsed = parse(check.pattern)
    return escape_delimiter(pcre2.postfix_header_regex(check.header, pcre_body(parsed), parsed.anchored_start))


def header_refusal(check: HeaderCheck) -> str | None:
    """Why Postfix's own PCRE2 would skip this check's line (None: it compiles, with Postfix's options)."""
    if has_text(parse(check.pattern)):
        return header_engines.problem(check.pattern, check.charsets)
    try:
        pcre2.check(_header_regex(check), pcre2.POSTFIX_HEADER_OPTIONS)
    except (pcre2.CompileError, pcre2.Pcre2Unavailable) as exc:
        return str(exc)
    return None


def _header_line(check: HeaderCheck) -> tuple[str, str]:
    """``/^Name: … pattern/i`` (the i keeps the pattern's own case rule) and the action."""
    return f"/{_header_regex(check)}/i", _header_action(check)


def _header_action(check: HeaderCheck) -> str:
    verb = HEADER_VERBS[check.action]
    # $n in a pcre result is a substitution: a literal $ must be doubled.
    text = escape_dollar(check.message or ("message content rejected" if check.action == "reject" else ""))
    return f"{verb} {text}".rstrip()


def escape_delimiter(pattern: str, delimiter: str = "/") -> str:
    """Escape every unescaped ``delimiter`` in a regex, leaving already-escaped ones alone."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if char == delimiter and not escaped:
            out.append("\\")
        out.append(char)
        escaped = char == "\\" and not escaped
    return "".join(out)
