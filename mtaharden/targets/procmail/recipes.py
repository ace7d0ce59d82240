"""The policy's header checks as procmail recipes, in policy order: the first that matches delivers.

An ASCII pattern is one condition (:mod:`.egrep`). Non-ASCII text is matched as its encoded forms
(``engines.header_forms``): raw UTF-8 and every charset's RFC 2047 B and Q words, one weighted condition
each (``1^0``: the recipe runs when any matches), since procmail decodes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...engines import header_forms
from ...policy.model import HeaderCheck
from ...policy.options.procmail import ProcmailOptions
from ...policy.pattern import has_text, parse
from ..kit.coverage import Recorder
from ..kit.delivery import Disposition, action_note, disposition
from ..kit.escape import Unexpressible, fit
from . import egrep


@dataclass(frozen=True)
class Recipe:
    """One recipe: ``:0`` flags, its conditions (without ``* ``), and where the message goes."""

    comments: tuple[str, ...]
    flags: str
    conditions: tuple[str, ...]
    destination: str  # a Maildir++ folder (ending in /) or /dev/null
    tag: str | None  # the formail -A argument, or None


def lower(checks: Sequence[HeaderCheck], options: ProcmailOptions, coverage: Recorder) -> tuple[Recipe, ...]:
    """A recipe per check procmail can express; each check's coverage recorded where it is decided."""
    recipes = []
    for index, check in enumerate(checks):
        element = f"header_checks[{index}]"
        where = disposition(check, index, options)
        try:
            conditions, matched = _conditions(check)
        except Unexpressible as exc:
            coverage.unsupported(element, f"procmail cannot express this pattern: {exc}")
            continue
        coverage.approximated(element, f"{action_note(check, where)}; {check.header} {matched}")
        recipes.append(Recipe((f"{element}: {check.header} {check.pattern} ({check.action})",),
                              " D" if egrep.case_sensitive(parse(check.pattern)) else "",
                              conditions, _destination(where, options), _tag(where, options)))
    return tuple(recipes)


def _conditions(check: HeaderCheck) -> tuple[tuple[str, ...], str]:
    """The recipe's conditions and what they match, in the coverage's words."""
    pattern = parse(check.pattern)
    if not has_text(pattern):
        condition = egrep.condition(check.header, pattern, egrep.ascii_body(pattern))
        return _checked((condition,)), ("is searched with procmail's egrep (a ., \\s or class does not match the line "
                                        "break of a folded header; the search reaches its continuation lines)")
    forms = [form for form in header_forms.forms(pattern, check.charsets)
             if form.encoding != "raw" or "utf-8" in form.charsets]
    weighted = tuple(f"1^0 {egrep.condition(check.header, pattern, egrep.form_body(form, pattern.ignore_case))}"
                  for form in forms)
    names = ", ".join(header_forms.charset_label(c) for c in check.charsets)
    return _checked(weighted), (f"is matched as raw UTF-8 text and as RFC 2047 B (text at byte 0, 1 or 2 of a base64 "
                             f"group) and Q words in {names}; not matched: raw 8-bit text in other charsets (the "
                             "rcfile is UTF-8 text), text split across encoded words, other charsets")


def _checked(conditions: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(fit(text, "a procmail condition", tabs=True) for text in conditions)


def _destination(where: Disposition, options: ProcmailOptions) -> str:
    return f"{options.maildir}/.{where.folder}/" if where.folder else "/dev/null"


def _tag(where: Disposition, options: ProcmailOptions) -> str | None:
    return f"{options.tag_header}: {where.tag}" if where.tag else None
