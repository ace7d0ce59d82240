"""Access rules Sendmail's access map cannot order on its own, as rulesets in LOCAL_RULESETS.

HELO rules: Local_check_mail matches the HELO name ($s), first match wins. Client refusals: looked up
again in Local_check_rcpt, so no later permit lifts them.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...policy import Policy
from ...policy.model import AccessAction, HeloFile
from ..kit.coverage import Recorder
from ..kit.escape import Unexpressible
from . import capabilities as facts
from .m4 import rule_string

# Local_check_rcpt runs before delay_checks looks at Spam: FRIEND or From: OK, so no recipient or sender
# permit can lift an explicit client refusal. proto.m4's LookUpAddress (ruleset A) reads the same Connect: keys as
# Basic_check_relay, so the longest key gives the same first-match decision there.
CLIENT_RULESET = ("SLocal_check_rcpt", "R$*\t$: $>A <$&{client_addr}> <?> <+ Connect> <>",
                  "R<ERROR:$-.$-.$-:$+> <$*>\t$#error $@ $1.$2.$3 $: $4",
                  'R<$* <TMPF>> <$*>\t$#error $@ 4.3.0 $: "451 Temporary system failure. Please try again later."')
HELO_ACTIONS: Mapping[AccessAction, str] = {"reject": '$#error $@ 5.7.1 $: "550 {text}"',
                                            "defer": '$#error $@ 4.7.1 $: "450 {text}"', "permit": "$@ OK"}
# A ruleset is tried line by line at every MAIL command: longer HELO list files are not expanded.
HELO_FILE_MAX = 1000


def client_ruleset(policy: Policy) -> tuple[str, ...]:
    """Needed when a permit of a later list could lift a client refusal: with delay_checks a sender
    permit (From: OK) lets a refused client through too (the differential suite found it)."""
    access = policy.access
    refuses = any(rule.action != "permit" for rule in access.clients)
    permits = any(r.action == "permit" for r in (*access.recipients, *access.senders, *access.helo))
    return CLIENT_RULESET if refuses and permits else ()


def helo_ruleset(policy: Policy, coverage: Recorder) -> list[str]:
    """Local_check_mail: match the HELO name ($s) against the policy's HELO rules, first match wins."""
    rules: list[str] = []
    for index, rule in enumerate(policy.access.helo):
        element = f"access.helo[{index}]"
        names = rule.file.entries if isinstance(rule, HeloFile) else (rule.match,)
        try:
            text = rule_string(rule.message or "HELO name refused", "the message")
            if len(names) > HELO_FILE_MAX:
                raise Unexpressible(facts.HELO_FILE_TOO_LONG.format(count=len(names), limit=HELO_FILE_MAX))
        except Unexpressible as exc:
            coverage.unsupported(element, str(exc))
            continue
        if rule.action == "defer":
            coverage.approximated(element, facts.DEFER)
        for name in names:
            forms = [name, f"[{name}]"] if ":" in name or name[0].isdigit() else [name]
            rules += [f"R{form}\t{HELO_ACTIONS[rule.action].format(text=text)}" for form in forms]
    return ["SLocal_check_mail", "R$*\t$: $&s", *rules] if rules else []
