"""acl_check_data: the size limit is Exim's own; each header check is a statement on ``$h_`` (and ``$rh_``).

``$h_Name:`` is the header's value with RFC 2047 encoded words decoded into ``headers_charset`` (UTF-8 here,
via iconv, whatever charset the word names), so an ASCII pattern and the UTF-8 text of a non-ASCII one are
matched there; ``$rh_Name:`` is the raw value, where the rule's raw 8-bit forms in its other charsets
(GB18030, Big5, …) are matched byte for byte. A check applies to a header only when no earlier check of the
same header matched it (the contract's "first matching check per line"), as a ``!match`` for each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ...engines import header_engines, header_forms
from ...policy.model import HeaderCheck
from ...policy.pattern import has_text, parse, pcre_body
from ..kit.coverage import Recorder
from . import capabilities as facts
from .config import Acl, Statement
from .quoting import edges, literal, regex

_NAME = re.compile(r"[A-Za-z0-9-]+")


def _conditions(check: HeaderCheck) -> list[str]:
    """``match`` conditions, any of which means the check's pattern is found in the header."""
    parsed = parse(check.pattern)
    body = pcre_body(parsed)
    value = f"^[ \\t]*(?:{body})" if parsed.anchored_start else body
    found = [f"match{{$h_{check.header}:}}{{{regex(value)}}}"]
    if has_text(parsed):
        found += [f"match{{$rh_{check.header}:}}{{{regex(header_forms.pcre(form))}}}"
                  for form in header_forms.forms(parsed, check.charsets)
                  if form.encoding == "raw" and "UTF-8" not in form.charsets]
    return found


def _raw_charsets(check: HeaderCheck) -> list[str]:
    """The charsets whose raw forms are matched in ``$rh_`` (none for an ASCII pattern)."""
    parsed = parse(check.pattern)
    if not has_text(parsed):
        return []
    return sorted({c for f in header_forms.forms(parsed, check.charsets) if f.encoding == "raw"
                   for c in f.charsets} - {"UTF-8"})


def _any(conditions: Sequence[str]) -> str:
    return conditions[0] if len(conditions) == 1 else "or{" + "".join(f"{{{c}}}" for c in conditions) + "}"


def data_acl(checks: Sequence[HeaderCheck], size_limit: int, rec: Recorder) -> Acl:
    """The size in RFC 1870's measure first ($message_size counts LF line ends: one byte more per line), then
    the header checks in policy order."""
    statements = [Statement("deny", (
        ("condition", f"${{if >{{${{eval:$message_size+$message_linecount}}}}{{{size_limit}}}}}"),
        ("message", literal("Message size exceeds the limit"))), "smtp.max_message_size, as SIZE= counts it")]
    rec.enforced("smtp.max_message_size", facts.SIZE)
    earlier: dict[str, list[str]] = {}
    for index, check in enumerate(checks):
        element = f"header_checks[{index}]"
        refusal = None if _NAME.fullmatch(check.header) else facts.HEADER_NAME.format(header=check.header)
        if refusal is None and has_text(parse(check.pattern)):
            refusal = header_engines.problem(check.pattern, check.charsets)
        if refusal:
            rec.unsupported(element, refusal)
            continue
        found = _any(_conditions(check))
        before = earlier.setdefault(check.header.lower(), [])
        condition = found if not before else "and{{" + found + "}" + "".join(f"{{!{b}}}" for b in before) + "}"
        before.append(found)
        statements.append(_statement(check, "${if " + condition + "}", element))
        raw = ", ".join(_raw_charsets(check))
        caveat = (facts.HEADER_RAW.format(charsets=raw, header=check.header) if raw else "") + \
            facts.HEADER_CAVEAT.format(header=check.header)
        rec.approximated(element, facts.HEADER.format(header=check.header, action=check.action, caveat=caveat))
    statements.append(Statement("accept"))
    return Acl("acl_check_data", tuple(statements))


def _statement(check: HeaderCheck, condition: str, element: str) -> Statement:
    message = check.message or ("Message content rejected" if check.action == "reject" else "")
    if check.action == "reject":
        return Statement("deny", (("condition", condition), ("message", edges(literal(message)))), element)
    if check.action == "discard":
        return Statement("discard", (("condition", condition),
                                     ("log_message", literal(f"{element} discarded the message"))), element)
    log = literal(message or f"{element} matched")
    if check.action == "hold":
        return Statement("warn", (("condition", condition), ("control", "freeze"), ("log_message", log)), element)
    return Statement("warn", (("condition", condition), ("log_message", log)), element)
