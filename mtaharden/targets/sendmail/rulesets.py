"""Access rules Sendmail's access map cannot order on its own, as rulesets in LOCAL_RULESETS.

HELO rules: Local_check_mail matches the HELO name ($s), first match wins, unless it was given before
STARTTLS (no EHLO since: RFC 3207 forgets it). Local_check_rcpt: client refusals looked up again, so no
later permit lifts them; with require_helo, no recipient after STARTTLS without a new EHLO.
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
# RFC 3207: after STARTTLS the server forgets the HELO name, but Sendmail keeps $s (and counts the session
# as greeted for needmailhelo). Its protocol ($r) is set at EHLO, ESMTPS under TLS (HELO sets SMTP either
# way): TLS on and ESMTP(A) means no EHLO since. Local_check_mail then skips the HELO rules; with
# require_helo Local_check_rcpt refuses (there, not in check_mail, which a recipient FRIEND skips).
SINCE_TLS = "R$*\t$: <$&{tls_version}> <$&r>"
NO_EHLO_SINCE_TLS = ("ESMTP", "ESMTPA")
UNGREETED = '$#error $@ 5.5.1 $: "503 Polite people say HELO first"'


def _no_ehlo_since_tls(then: str) -> list[str]:
    return [SINCE_TLS, *(f"R<$+> <{protocol}>\t{then}" for protocol in NO_EHLO_SINCE_TLS)]


def rcpt_ruleset(policy: Policy) -> list[str]:
    """Local_check_rcpt, run before delay_checks reads Spam: FRIEND or From: OK: the client re-check, needed
    when a permit of a later list could lift a client refusal (with delay_checks a sender permit lets a
    refused client through too: the differential suite found it); and, with require_helo and TLS, no
    recipient without an EHLO since STARTTLS."""
    access = policy.access
    refuses = any(rule.action != "permit" for rule in access.clients)
    permits = any(r.action == "permit" for r in (*access.recipients, *access.senders, *access.helo))
    lines = list(CLIENT_RULESET[1:]) if refuses and permits else []
    if policy.smtp.require_helo and policy.tls is not None:
        lines += _no_ehlo_since_tls(UNGREETED)
    return [CLIENT_RULESET[0], *lines] if lines else []


def helo_ruleset(policy: Policy, coverage: Recorder) -> list[str]:
    """Local_check_mail: match the HELO name ($s) against the policy's HELO rules, first match wins; a
    name given before STARTTLS, with no EHLO since, is forgotten."""
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
    return ["SLocal_check_mail", *_no_ehlo_since_tls("$@ OK"), "R$*\t$: $&s", *rules] if rules else []
