"""The reference evaluator: what the policy contract requires at each stage of an SMTP transaction.

One meaning, written once: targets are checked against this on real daemons (the differential suite),
and ``mtaharden test`` prints it. The order below is the README's "What the policy means, stage by
stage"; change one only with the other. Pure Python: no MTA knowledge, no DNS, no mailbox lookups.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from .model import AddressFile, AddressItem, ClientItem, HeloFile, HeloItem, Policy
from .pattern import parse, python_regex
from .transaction import MX_PORT, Transaction, header_parts, split_address
from .types import PolicyValueError, domain_name, filter_octets, helo_name

Verdict = Literal["accept", "reject", "defer"]
Stage = Literal["connect", "helo", "mail", "rcpt", "data"]
Service = Literal["mx", "submission", "smtps"]  # port 25; STARTTLS submission; implicit-TLS submission
CODE_CLASS: dict[Verdict, str] = {"accept": "2xx", "reject": "5xx", "defer": "4xx"}
ACTION_VERDICT: dict[str, Verdict] = {"reject": "reject", "defer": "defer"}
T = TypeVar("T", ClientItem, HeloItem, AddressItem)


@dataclass(frozen=True)
class Decision:
    """One stage's answer. ``element`` is the deciding policy element (None: nothing in the policy
    decided; the stage simply goes on); ``matched`` every element that matched on the way, the
    deciding one included (a rule the order made moot is still named: targets that order differently
    diverge exactly there); ``note`` says why, in words."""

    stage: Stage
    argument: str
    verdict: Verdict
    element: str | None
    note: str
    matched: tuple[str, ...] = ()

    @property
    def reply_class(self) -> str:
        return CODE_CLASS[self.verdict]


@dataclass(frozen=True)
class Outcome:
    """Every stage's decision in order. After a stage that refuses the session (connect, MAIL) no
    later stage is listed; DATA is listed only when some recipient was accepted."""

    decisions: tuple[Decision, ...] = field(default_factory=tuple)

    def at(self, stage: Stage) -> list[Decision]:
        return [d for d in self.decisions if d.stage == stage]


def evaluate(policy: Policy, transaction: Transaction) -> Outcome:
    """What the contract requires for ``transaction`` under ``policy``, stage by stage."""
    return Outcome(tuple(_stages(policy, transaction)))


def service(policy: Policy, port: int) -> Service | None:
    """The service the role runs on ``port``; None when nothing listens there for the world."""
    if port == MX_PORT and policy.accepts_inbound:
        return "mx"
    if policy.offers_submission and port == policy.auth.submission.smtps_port:
        return "smtps"
    if policy.offers_submission and port == policy.auth.submission.port:
        return "submission"
    return None


def encrypted(policy: Policy, t: Transaction) -> bool:
    """STARTTLS, or the implicit-TLS submission port (TLS from the first byte)."""
    return t.tls or service(policy, t.port) == "smtps"


def _stages(policy: Policy, t: Transaction) -> Iterator[Decision]:
    where = service(policy, t.port)
    if where is None:
        why = ("has no public port-25 service" if t.port == MX_PORT else f"opens no port {t.port}")
        yield Decision("connect", str(t.client), "reject", "role", f"role {policy.role} {why}")
        return
    screened = _screened_out(policy, t) if where == "mx" else None
    if screened is not None and policy.screening.dnsbl.action == "drop":
        yield Decision("connect", str(t.client), "reject", "screening.dnsbl", screened + "; 521 and hang up")
        return
    yield Decision("connect", str(t.client), "accept", None, "greeting")
    if t.helo is not None:
        yield Decision("helo", t.helo, "accept", None, "HELO names are judged per recipient, at RCPT")
    mail = _mail(policy, t, where)
    yield mail
    if mail.verdict != "accept":
        return
    accepted = 0
    for recipient in t.recipients:
        decision = _recipient(policy, t, recipient, accepted)
        accepted += decision.verdict == "accept"
        yield decision
    if accepted:
        yield _data(policy, t)


def _mail(policy: Policy, t: Transaction, where: Service) -> Decision:
    if where == "mx" and policy.tls is not None and policy.tls.inbound == "encrypt" and not t.tls:
        return Decision("mail", t.sender, "reject", "tls.inbound", "STARTTLS is required before MAIL")
    if where == "submission" and policy.tls is not None and not t.tls:
        return Decision("mail", t.sender, "reject", "auth.submission",
                        "the submission port needs STARTTLS before MAIL when tls is set")
    if t.helo is None and policy.smtp.require_helo:
        return Decision("mail", t.sender, "reject", "smtp.require_helo", "MAIL before HELO/EHLO")
    if t.mail_size is not None and t.mail_size > policy.smtp.max_message_size:
        return Decision("mail", t.sender, "reject", "smtp.max_message_size",
                        f"SIZE={t.mail_size} exceeds the limit of {policy.smtp.max_message_size}")
    return Decision("mail", t.sender, "accept", None, "senders are judged per recipient, at RCPT")


def authenticated(policy: Policy, t: Transaction) -> bool:
    """AUTH counts only where the policy offers it: enabled, and over TLS when TLS is required for it
    (``auth.require_tls`` on port 25; on the submission ports whenever the policy has ``tls``)."""
    if t.auth is None or not policy.auth.enabled:
        return False
    where = service(policy, t.port)
    needs_tls = policy.auth.require_tls if where == "mx" else policy.tls is not None
    return encrypted(policy, t) or not needs_tls


def trusted(policy: Policy, t: Transaction) -> bool:
    return any(t.client in network for network in policy.networks.trusted)


def domain_matches(patterns: Sequence[str], domain: str) -> bool:
    """``example.org`` matches exactly that domain, ``.example.org`` every subdomain (not the parent)."""
    return any(domain == p if not p.startswith(".") else domain.endswith(p) for p in patterns)


class _Decided(Exception):
    """Raised inside the RCPT walk when a step decides; carries the decision."""

    def __init__(self, verdict: Verdict, element: str, note: str) -> None:
        super().__init__(note)
        self.verdict, self.element, self.note = verdict, element, note


def _recipient(policy: Policy, t: Transaction, recipient: str, accepted: int) -> Decision:
    """The RCPT walk: limit, relay decision, then the access lists and bypasses in the documented order."""
    matched: list[str] = []
    try:
        _walk(policy, t, recipient, accepted, matched)
    except _Decided as decided:
        return Decision("rcpt", recipient, decided.verdict, decided.element, decided.note, tuple(matched))
    raise AssertionError("the RCPT walk always decides")  # pragma: no cover


def _walk(policy: Policy, t: Transaction, recipient: str, accepted: int, matched: list[str]) -> None:
    """Every step either records a match, decides (raises :class:`_Decided`) or passes."""
    if accepted >= policy.smtp.max_recipients:
        raise _Decided("defer", "smtp.max_recipients", f"already {accepted} recipients accepted for this message")
    if service(policy, t.port) != "mx":  # the submission ports: only AUTH decides, for any domain
        if authenticated(policy, t):
            raise _Decided("accept", "auth", "authenticated client on a submission port")
        raise _Decided("reject", "auth.submission", "the submission ports take mail from authenticated clients only")
    screened = _screened_out(policy, t)
    if screened is not None and policy.screening.dnsbl.action == "reject":
        raise _Decided("reject", "screening.dnsbl", screened)
    _, domain = split_address(recipient)
    destination = _destination(policy, t, domain)
    steps = list(_access_steps(policy, t, recipient))
    matched += [element for element, _, _ in steps]  # the relay decision may make them moot; still named
    if destination is None:
        raise _Decided("reject", "domains", f"relay denied: {domain or 'no domain'} is neither a local nor a "
                                            "relay domain, and the client is neither trusted nor authenticated")
    if steps:
        element, verdict, note = steps[0]
        raise _Decided(verdict, element, note)
    if trusted(policy, t):
        raise _Decided("accept", "networks.trusted", "trusted client: no DNSBL check")
    if authenticated(policy, t):
        raise _Decided("accept", "auth", "authenticated client: no DNSBL check")
    for index, entry in enumerate(policy.dnsbl):
        answer = t.listed.get(entry.zone)
        if answer is not None and _filters_match(entry.filters, answer):
            raise _Decided(ACTION_VERDICT[entry.action], f"dnsbl[{index}]", f"client listed at {entry.zone} ({answer})")
    spf = policy.sender_auth.spf
    if spf.enabled and t.spf in ("fail", "softfail"):
        action = spf.on_fail if t.spf == "fail" else spf.on_softfail
        if action != "tag":
            raise _Decided(ACTION_VERDICT[action], "sender_auth.spf",
                           f"SPF {t.spf} for {_spf_identity(t)} ({'on_fail' if t.spf == 'fail' else 'on_softfail'}: "
                           f"{action})")
        matched.append("sender_auth.spf")  # tagged: the result is recorded, the recipient goes on
    raise _Decided("accept", destination, "no rule refused it")


def _spf_identity(t: Transaction) -> str:
    """What SPF checked: the envelope sender's domain, or the HELO name for the null sender (RFC 7208 2.3)."""
    if not t.sender:
        return f"HELO {t.helo or ''}"
    return split_address(t.sender)[1] or t.sender


def _destination(policy: Policy, t: Transaction, domain: str) -> str | None:
    """The element that lets this recipient in: a local or relay domain, or a client allowed to relay."""
    if domain_matches(policy.domains.local, domain) and policy.role != "null-client":
        return "domains.local"
    if domain_matches(policy.domains.relay, domain):
        return "domains.relay"
    if trusted(policy, t):
        return "networks.trusted"
    if authenticated(policy, t):
        return "auth"
    return None


_Step = tuple[str, Verdict, str]  # (element, verdict, why)


def _access_steps(policy: Policy, t: Transaction, recipient: str) -> Iterator[_Step]:
    """Every access step that matches, in the documented order; the first decides. A permit decides
    accept (it never relays: the relay decision was already taken); reject or defer that verdict."""
    access = policy.access
    for index, action in _first(access.clients, lambda item: item.covers(t.client)):
        yield from _ruled("clients", index, action, f"client {t.client}")
    for index, action in _first(access.recipients, lambda item: address_covers(item, recipient)):
        yield from _ruled("recipients", index, action, f"recipient {recipient}")
    helo = t.helo or ""
    if policy.smtp.require_helo and t.helo is not None and not _valid_helo(helo):
        yield "smtp.require_helo", "reject", f"HELO name {helo!r} is not a valid host name or address literal"
    for index, action in _first(access.helo, lambda item: _helo_covers(item, helo)):
        yield from _ruled("helo", index, action, f"HELO {helo}")
    if policy.smtp.strict_envelopes:
        for what, address in (("sender", t.sender), ("recipient", recipient)):
            if address and not _fully_qualified(address):
                yield "smtp.strict_envelopes", "reject", f"{what} {address!r} is not a fully qualified address"
    if t.sender:
        for index, action in _first(access.senders, lambda item: address_covers(item, t.sender)):
            yield from _ruled("senders", index, action, f"sender {t.sender}")


def _ruled(stage: str, index: int, action: str, what: str) -> Iterator[_Step]:
    element = f"access.{stage}[{index}]"
    if action == "permit":
        yield element, "accept", f"{what} permitted: later access lists and DNSBLs are skipped"
    else:
        yield element, ACTION_VERDICT[action], f"{what} {'deferred' if action == 'defer' else 'rejected'}"


def _first(items: Sequence[T], covers: Callable[[T], bool]) -> Iterator[tuple[int, str]]:
    """The first item of an access list that matches (first match wins), as (index, action)."""
    for index, item in enumerate(items):
        if covers(item):
            yield index, item.action
            return


def address_covers(item: AddressItem, address: str) -> bool:
    """``user@domain`` exactly; ``@domain`` and ``domain`` that whole domain (no subdomains); ``user@`` any domain."""
    patterns = item.file.entries if isinstance(item, AddressFile) else (item.match,)
    local, domain = split_address(address)
    return any(_address_pattern_covers(p, local, domain) for p in patterns)


def _address_pattern_covers(pattern: str, local: str, domain: str) -> bool:
    user, at, where = pattern.rpartition("@")
    if not at:
        return domain == where
    return (not user or user == local) and (not where or where == domain)


def _helo_covers(item: HeloItem, helo: str) -> bool:
    """A HELO rule matches the name (case-insensitive, a trailing dot ignored) or the address, bare or as
    an address literal ``[192.0.2.7]`` / ``[IPv6:2001:db8::7]``."""
    names = item.file.entries if isinstance(item, HeloFile) else (item.match,)
    given = _helo_canonical(helo)
    return given is not None and given in names


def _helo_canonical(helo: str) -> str | None:
    try:
        return helo_name(helo)
    except PolicyValueError:
        return None


def _valid_helo(helo: str) -> bool:
    return _helo_canonical(helo) is not None


def _fully_qualified(address: str) -> bool:
    local, domain = split_address(address)
    if not local or not domain:
        return False
    try:
        ipaddress.ip_address(domain.strip("[]"))
        return domain.startswith("[")
    except ValueError:
        pass
    try:
        domain_name(domain)
    except PolicyValueError:
        return False
    return True


def _screened_out(policy: Policy, t: Transaction) -> str | None:
    """Why bot screening refuses the client (its DNS list score reaches the threshold), or None: screening
    off, a trusted or allowed client, or a score below it. The score is each listing site's weight, once."""
    screening = policy.screening
    if not screening.enabled or trusted(policy, t) or any(t.client in n for n in screening.allow):
        return None
    listing = [site for site in screening.dnsbl.sites
               if site.zone in t.listed and _filters_match(site.match, t.listed[site.zone])]
    score = sum(site.weight for site in listing)
    if not listing or score < screening.dnsbl.threshold or screening.dnsbl.action == "log":
        return None
    return f"screening score {score} reaches {screening.dnsbl.threshold}"


def _filters_match(filters: Sequence[str], answer: str) -> bool:
    """Whether the DNSBL answer ``answer`` (an IPv4 address) lies in one of the return-code filters."""
    try:
        octets = [int(part) for part in str(ipaddress.IPv4Address(answer)).split(".")]
    except ValueError:
        return False
    return any(all(value in allowed for value, allowed in zip(octets, filter_octets(f), strict=True))
               for f in filters)


def _data(policy: Policy, t: Transaction) -> Decision:
    """End of DATA: bare line ends, the size limit, the header checks line by line (first matching check per
    line), then DMARC."""
    if t.bare_newlines and policy.smtp.bare_newlines == "reject" and not (
            policy.smtp.bare_newlines_exempt_trusted and trusted(policy, t)):
        return Decision("data", "message", "reject", "smtp.bare_newlines", "a line ends in a bare LF or CR")
    if t.size > policy.smtp.max_message_size:
        return Decision("data", f"{t.size} bytes", "reject", "smtp.max_message_size",
                        f"{t.size} bytes exceed the limit of {policy.smtp.max_message_size}")
    held: list[tuple[str, str]] = []  # (element, action) of each hold or warn
    for line in t.headers:
        parts = header_parts(line)
        if parts is None:
            continue
        name, value = parts
        for index, check in enumerate(policy.header_checks):
            parsed = parse(check.pattern)
            text = value.lstrip(" \t") if parsed.anchored_start else value
            if check.header.lower() != name.lower() or not python_regex(parsed).search(text):
                continue
            element = f"header_checks[{index}]"
            matched = (*(e for e, _ in held), element)
            if check.action == "reject":
                return Decision("data", name, "reject", element, f"{name} matches {check.pattern!r}", matched)
            if check.action == "discard":
                return Decision("data", name, "accept", element, "accepted and discarded", matched)
            held.append((element, check.action))  # the first matching check of this line; the next line goes on
            break
    dmarc = _dmarc(policy, t)
    if dmarc is not None:
        if dmarc == "reject":
            return Decision("data", "From: domain", "reject", "sender_auth.dmarc",
                            "DMARC fail under p=reject (honour_reject)", (*(e for e, _ in held), "sender_auth.dmarc"))
        held.append(("sender_auth.dmarc", dmarc))
    if held:
        return Decision("data", "message", "accept", held[0][0], "accepted (" + ", ".join(
            f"{element}: {action}" for element, action in held) + ")", tuple(element for element, _ in held))
    return Decision("data", "message", "accept", None, "accepted", ())


def _dmarc(policy: Policy, t: Transaction) -> str | None:
    """What DMARC does with the message: ``reject``, ``hold`` or ``tag`` (the result recorded), or None when
    it does not apply (off, a trusted or authenticated client, no failure)."""
    dmarc = policy.sender_auth.dmarc
    if not dmarc.enabled or t.dmarc != "fail" or trusted(policy, t) or authenticated(policy, t):
        return None
    if t.dmarc_policy == "reject" and dmarc.honour_reject:
        return "reject"
    return "hold" if t.dmarc_policy == "quarantine" and dmarc.on_quarantine == "hold" else "tag"
