"""Progress (Ipswitch) IMail Server 12.x: a checklist for IMail Administrator, and its coverage.

IMail is set up by hand (no file or command mtaharden could write), so the output is GUIDE.md: each page of
IMail Administrator in click order with the policy's values (:mod:`..kit.checklist` is the data, shared with the
Domino target), and COVERAGE.md. No daemon here, so no Ansible role (like Exchange).
"""

from __future__ import annotations

from collections.abc import Sequence

from ...policy import Policy, canonical
from ..base import register
from ..kit.address_parts import parts
from ..kit.checklist import ChecklistTarget, Section, Step
from ..kit.coverage import Recorder
from ..kit.placeholders import fill
from . import capabilities as cap


@register
class IMailTarget(ChecklistTarget):
    name = "imail"
    description = "Progress IMail Server 12.x (IMail Administrator checklist)"

    product, short, console = "Progress IMail Server 12.x", "IMail", "IMail Administrator"

    def sections(self, policy: Policy, rec: Recorder) -> Sequence[Section]:
        sections = (_relay(policy, rec), _kill_list(policy, rec), _dnsbl(policy, rec), _advanced(policy, rec))
        _record_gaps(policy, rec)
        return sections


def _relay(policy: Policy, rec: Recorder) -> Section:
    trusted = tuple(canonical.network(n) for n in policy.networks.trusted)
    rec.approximated("networks.trusted", cap.RELAY)
    rec.approximated("domains.local", cap.LOCAL)
    steps = [Step("Relay mail for", ("Addresses listed",) if trusted else ("Nobody",)),
             Step("addresses and subnets to relay for", trusted,
                  "IMail's spelling of a subnet and of IPv6 is unverified")]
    if policy.auth.enabled:
        rec.approximated("auth", cap.AUTH)
        steps.append(Step("Disable SMTP AUTH", ("unchecked",)))
    steps.append(Step("hosts (domains) to check", tuple(policy.domains.local), "these and only these"))
    return Section("SMTP service > SMTP Security (then stop and start the SMTP service)", tuple(steps))


def _kill_list(policy: Policy, rec: Recorder) -> Section:
    entries: list[str] = []
    for index, item in enumerate(policy.access.senders):
        element = f"access.senders[{index}]"
        found = _kill_entries(item)
        if item.action == "permit" or not found:
            rec.unsupported(element, cap.NO_KILL)
            continue
        rec.approximated(element, cap.KILL)
        entries += found
    return Section("SMTP service > Kill file (kill.lst, one entry per line)",
                   (Step("entries", tuple(entries)),) if entries else ())


def _kill_entries(item: object) -> list[str]:
    """kill.lst spells an address as userid@host and a domain as @host; an item with a user@ entry has none
    (half a list file would refuse less than the policy says, silently)."""
    match = getattr(item, "match", None)
    found = [parts(p) for p in ([match] if match is not None else item.file.entries)]  # type: ignore[attr-defined]
    if any(domain is None for _, domain in found):
        return []
    return [f"{user}@{domain}" if user else f"@{domain}" for user, domain in found]


def _dnsbl(policy: Policy, rec: Recorder) -> Section:
    if not policy.dnsbl:
        return Section("DNS black lists", ())
    rec.approximated("dnsbl", cap.DNSBL)
    zones = tuple(entry.zone for entry in policy.dnsbl)
    return Section("DNS Black Lists (server level), then each domain's Connection Checks",
                   (Step("black list hosts", zones), Step("Connection Checks: use these lists", ("checked",))))


def _advanced(policy: Policy, rec: Recorder) -> Section:
    hostname = policy.hostname or "mx.example.org"
    banner = fill(policy.smtp.banner, {"hostname": hostname})
    rec.approximated("smtp.banner", cap.BANNER)
    rec.approximated("smtp.max_recipients", cap.RECIPIENTS)
    return Section("SMTP service > SMTP Advanced", (Step("Hello Message", (banner,)),
                                                  Step("Maximum recipients per message",
                                                       (str(policy.smtp.max_recipients),))))


def _record_gaps(policy: Policy, rec: Recorder) -> None:
    for element in ("hostname", "role"):
        if not rec.covers(element):
            rec.approximated(element, cap.INSTALLATION)
    if policy.domains.relay:
        rec.unsupported("domains.relay", cap.NO_RELAY_DOMAINS)
    for stage in ("clients", "helo", "recipients"):
        if getattr(policy.access, stage):
            rec.unsupported(f"access.{stage}", cap.UNVERIFIED)
    if policy.header_checks:
        rec.unsupported("header_checks", cap.NO_HEADERS)
    if policy.auth.enabled:
        rec.unsupported("auth.mechanisms", cap.UNVERIFIED)
        rec.unsupported("auth.require_tls", cap.UNVERIFIED)
    for element in ("smtp.disable_vrfy", "smtp.disable_expn", "smtp.require_helo", "smtp.strict_envelopes",
                    "smtp.max_message_size", "smtp.max_connections_per_client",
                    "smtp.bare_newlines", "smtp.bare_newlines_exempt_trusted"):
        rec.unsupported(element, cap.UNVERIFIED)
    if policy.tls is not None:
        rec.unsupported("tls", cap.UNVERIFIED)
    rec.unsupported_rest(policy, cap.UNVERIFIED)  # what no step above sets: said, never dropped
