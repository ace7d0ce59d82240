"""The policy's header checks as Sieve (RFC 5228) rules, in policy order: the first that matches files the
message and stops.

Sieve's ``header`` test compares the decoded, unfolded header value (RFC 5228 2.7.2: RFC 2047 words in any
charset the server knows), so non-ASCII text is native here: ``:contains`` with the pattern's literal texts.
ASCII patterns are POSIX ERE under Pigeonhole's ``regex`` extension, translated from the pattern's tree by
the one ERE writer mtaharden has (Sendmail's regex maps run the same libc regcomp) and compiled by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...engines import header_forms
from ...policy.model import HeaderCheck
from ...policy.options.sieve import SieveOptions
from ...policy.pattern import has_text, parse
from ..kit.coverage import Recorder
from ..kit.delivery import action_note, disposition
from ..kit.escape import Unexpressible, fit
from ..sendmail.regex import to_ere


def quoted(text: str) -> str:
    """An RFC 5228 quoted string: backslash and double quote escaped, nothing that could end a line."""
    fit(text, "a Sieve string")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Rule:
    """One ``if`` block: its comment, test and commands, as Sieve text."""

    comment: str
    test: str
    commands: tuple[str, ...]


@dataclass(frozen=True)
class Script:
    requires: tuple[str, ...]
    rules: tuple[Rule, ...]


def lower(checks: Sequence[HeaderCheck], options: SieveOptions, coverage: Recorder) -> Script:
    """A rule per check the server's Sieve can express; each check's coverage recorded where it is decided."""
    rules, needs = [], {"fileinto"}
    for index, check in enumerate(checks):
        element = f"header_checks[{index}]"
        where = disposition(check, index, options)
        try:
            test, how, extension = _test(check)
        except Unexpressible as exc:
            coverage.unsupported(element, f"Sieve cannot express this pattern: {exc}")
            continue
        needs.update(extension)
        commands = []
        note = action_note(check, where)
        if where.tag and options.editheader:
            needs.add("editheader")
            commands.append(f"addheader {quoted(options.tag_header)} {quoted(where.tag)};")
        elif where.tag:
            note += (f" (without the {options.tag_header} tag: the server's Sieve has no editheader; set "
                     "targets.sieve.editheader when it does)")
        if where.folder is None:
            commands.append("discard;")
        elif options.mailbox:
            needs.add("mailbox")
            commands.append(f"fileinto :create {quoted(where.folder)};")
        else:
            commands.append(f"fileinto {quoted(where.folder)};")
        coverage.approximated(element, f"{note}; {check.header} {how}")
        rules.append(Rule(fit(f"{element}: {check.header} {check.pattern} ({check.action})", "a Sieve comment"),
                          test, (*commands, "stop;")))
    order = ("fileinto", "mailbox", "regex", "editheader")
    return Script(tuple(name for name in order if name in needs), tuple(rules))


def _test(check: HeaderCheck) -> tuple[str, str, tuple[str, ...]]:
    """The ``header`` test, what it matches in the coverage's words, and the extensions it needs."""
    pattern = parse(check.pattern)
    comparator = "" if pattern.ignore_case else ' :comparator "i;octet"'
    header = quoted(check.header)
    if has_text(pattern):
        texts = header_forms.literals(pattern)
        keys = quoted(texts[0]) if len(texts) == 1 else "[" + ", ".join(quoted(t) for t in texts) + "]"
        return (f"header :contains{comparator} {header} {keys}",
                "contains the text in the decoded value (Sieve decodes RFC 2047 words itself: raw UTF-8 and "
                "encoded words in every charset the server converts, not only the listed ones; raw 8-bit text "
                "in another charset is not decoded)", ())
    ere = to_ere(check.pattern)
    return (f"header :regex{comparator} {header} {quoted(ere.pattern)}",
            "is searched with Pigeonhole's :regex (POSIX ERE, libc regcomp) in the decoded, unfolded value", ("regex",))
