"""Access rules Sendmail's access map cannot order on its own, as rulesets in LOCAL_RULESETS.

HELO rules: Local_check_mail matches the HELO name ($s), first match wins, unless it was given before
STARTTLS (no EHLO since: RFC 3207 forgets it). Local_check_rcpt: client refusals (ClientRule: keys), so no
later permit, trusted network or AUTH lifts them; with require_helo, no recipient after STARTTLS without a new EHLO.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...policy import Policy
from ...policy.model import AccessAction, HeloFile
from ..kit.coverage import Recorder
from ..kit.escape import Unexpressible
from . import capabilities as facts
from .m4 import rule_string

# Local_check_rcpt runs before delay_checks looks at Spam: FRIEND or From: OK and before an authenticated
# client's relaying ends the checks (Rcpt_ok's TRUST_AUTH_MECH), so no recipient or sender permit, trusted network
# or AUTH lifts an explicit client refusal. proto.m4's LookUpAddress (ruleset A) reads the ClientRule: keys (no
# untagged lookup) as Basic_check_relay reads Connect: keys, so the longest key gives the first-match decision.
# On the submission daemons (M=a: AUTH before MAIL) only AUTH decides, so the client rules are not read there.
CLIENT_TAG = "ClientRule"
MSA, MSA_TLS = "MSA", "MSA-TLS"  # the submission daemons' Name= (mc.daemons), seen as ${daemon_name}
CLIENT_RULESET = ("SLocal_check_rcpt", "R$*\t$: <$&{daemon_name}>", f"R<{MSA}>\t$: OK", f"R<{MSA_TLS}>\t$: OK",
                  f"R<$*>\t$: $>A <$&{{client_addr}}> <?> <! {CLIENT_TAG}> <>",
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


def auth_passes(policy: Policy, action: AccessAction) -> str | None:
    """Why a HELO or sender rule is approximated with AUTH: an authenticated client skips it (a permit is alike)."""
    return facts.AUTH_PASSES if policy.auth.enabled and action != "permit" else None


def rcpt_ruleset(policy: Policy) -> list[str]:
    """Local_check_rcpt, run before delay_checks reads Spam: FRIEND or From: OK and before AUTH relays: the
    client re-check whenever a client rule refuses (the Connect: keys relay a trusted network and leave
    refusals out); and, with require_helo and TLS, no recipient without an EHLO since STARTTLS."""
    refuses = any(rule.action != "permit" for rule in policy.access.clients)
    lines = list(CLIENT_RULESET[1:]) if refuses else []
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
        reasons = [facts.DEFER if rule.action == "defer" else None, auth_passes(policy, rule.action)]
        if any(reasons):
            coverage.approximated(element, "; ".join(r for r in reasons if r))
        for name in names:
            forms = [name, f"[{name}]"] if ":" in name or name[0].isdigit() else [name]
            rules += [f"R{form}\t{HELO_ACTIONS[rule.action].format(text=text)}" for form in forms]
    return ["SLocal_check_mail", *_no_ehlo_since_tls("$@ OK"), "R$*\t$: $&s", *rules] if rules else []
