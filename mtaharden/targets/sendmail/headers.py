"""Header checks as LOCAL_CONFIG regex maps and LOCAL_RULESETS header rulesets (H<header>: $>+ruleset).

ASCII patterns become one POSIX ERE map (:mod:`.regex`); a pattern with non-ASCII text becomes one map
per RFC 2047 form of that text (``engines.header_forms``), as raw 8-bit text cannot go into sendmail.cf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...engines import header_engines, header_forms
from ...policy.model import HeaderCheck
from ...policy.pattern import has_text, parse
from ..kit.coverage import Recorder
from ..kit.escape import Unexpressible
from . import capabilities as facts
from .m4 import rule_string
from .regex import EreMatcher, to_ere

HEADER_ACTIONS = {"reject": "$#error $@ 5.7.1 $: {text}", "discard": "$#discard $: discard",
                  "hold": "$#error $@ quarantine $: {text}"}


@dataclass(frozen=True)
class LocalRules:
    """Regex map declarations (LOCAL_CONFIG) and header rulesets (LOCAL_RULESETS), as raw cf lines."""

    config: tuple[str, ...]
    rulesets: tuple[str, ...]


@dataclass(frozen=True)
class _Map:
    name: str
    comment: str
    ere: EreMatcher


def lower(checks: Sequence[HeaderCheck], coverage: Recorder) -> LocalRules:
    """The maps and rulesets of every check Sendmail can carry; each check's coverage recorded as decided."""
    config: list[str] = []
    by_header: dict[str, list[str]] = {}
    for index, check in enumerate(checks):
        element = f"header_checks[{index}]"
        try:
            if check.action == "warn":
                raise Unexpressible(facts.HEADER_WARN)
            maps, limits = _maps(index, check)
            text = rule_string(check.message or "Message content rejected", "the message")
        except Unexpressible as exc:
            coverage.unsupported(element, str(exc))
            continue
        how = facts.HEADER.format(header=check.header)
        if limits is None:
            coverage.enforced(element, how)
        else:
            coverage.approximated(element, facts.HEADER_FORMS.format(how=how, limits=limits))
        action = HEADER_ACTIONS[check.action].format(text=f'"550 {text}"')
        for found in maps:
            config += [f"# {found.comment}"] if found.comment else []
            flags = "" if found.ere.ignore_case else "-f "
            config.append(f"K{found.name} regex {flags}-a@MATCH {found.ere.pattern}")
            by_header.setdefault(check.header, []).extend(
                [f"R$*\t$: $({found.name} $&{{currHeader}} $)", f"R@MATCH\t{action}"])
    rulesets: list[str] = []
    for header, rules in by_header.items():
        ruleset = "mtaharden_" + header.replace("-", "_").lower()
        rulesets += [f"H{header}: $>+{ruleset}", f"S{ruleset}", *rules]
    return LocalRules(tuple(config), tuple(rulesets))


def _maps(index: int, check: HeaderCheck) -> tuple[list[_Map], str | None]:
    """The check's regex maps (one, or for non-ASCII text one per RFC 2047 form), and for the latter what
    the forms cannot match (None: the one map matches what the policy means)."""
    parsed = parse(check.pattern)
    if not has_text(parsed):
        ere = to_ere(check.pattern)
        return [_Map(f"mtaharden_header{index}", "",
                     EreMatcher(rule_string(ere.pattern, "the translated pattern"), ere.ignore_case))], None
    problem = header_engines.problem(check.pattern, check.charsets)
    if problem:
        raise Unexpressible(problem)
    forms = [form for form in header_forms.forms(parsed, check.charsets) if form.encoding != "raw"]
    maps = [_Map(f"mtaharden_header{index}_{number}", f"header_checks[{index}] {check.header}, {form.label}",
                 EreMatcher(rule_string(header_forms.ere(form), "the translated pattern"), False))
            for number, form in enumerate(forms)]
    return maps, header_forms.limits(parsed, check.charsets, raw=False)
