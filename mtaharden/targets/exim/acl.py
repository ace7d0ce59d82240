"""acl_check_rcpt, acl_check_mail, the VRFY/EXPN ACLs: the contract's stages as Exim ACL statements in its order.

The RCPT ACL is the contract's RCPT table top to bottom, because Exim runs an ACL's statements in order and
the first ``accept``/``deny``/``defer`` that matches ends it: the recipient limit, the relay decision (always
5xx), then each access list's rules in policy order (first match wins; ``permit`` is ``accept``, which ends the
ACL after the relay decision was taken, so it never relays), the HELO and envelope checks, the trusted and
authenticated clients, the DNSBLs, and a final ``accept``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ...policy import Policy, canonical
from ...policy.model import AddressFile, AddressRule, ClientFile, ClientRule, DnsblEntry, HeloFile, HeloRule
from ..kit.coverage import Recorder
from ..kit.dnsbl import return_codes
from ..kit.placeholders import fill
from . import capabilities as facts
from . import sender_auth
from .config import Acl, Statement
from .lists import address_item, semicolon_list
from .main import submission_ports
from .quoting import edges, list_item, literal, regex

VERBS = {"reject": "deny", "defer": "defer", "permit": "accept"}
DNSBL_LIMIT = 1024  # return codes one dnslists item lists (the default filter 127.0.0.[2..255] is 254)
# A host name (the last label not all digits), a dotted IPv4 address bare or as a literal, an IPv6 one.
_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
VALID_HELO = (f"^(?:(?:{_LABEL}\\.)*(?![0-9]+\\.?$){_LABEL}\\.?|\\[?[0-9]{{1,3}}(?:\\.[0-9]{{1,3}}){{3}}\\]?"
              "|\\[ipv6:[0-9a-f:.]+\\]|[0-9a-f]*:[0-9a-f:.]+)$")
# Exim qualifies every address (sender/recipient_unqualified_hosts = *), so "as the client wrote it" is the
# command itself: an @ inside the <>; the domain a host name of two labels or more, or an address literal.
MAIL_AT = "(?i)^mail from: *<[^>]*@"
RCPT_AT = "(?i)^rcpt to: *<[^>]*@"
QUALIFIED = "(?i)^(?:\\[(?:[0-9.]+|ipv6:[0-9a-f:.]+)\\]|(?:" + _LABEL + "\\.)+(?![0-9]+$)" + _LABEL + ")$"
LISTS = "lists"  # folder of the list files, beside exim4.conf


def _message(text: str | None) -> tuple[tuple[str, str], ...]:
    return (("message", edges(literal(text))),) if text else ()


class RcptAcl:
    """Builds acl_check_rcpt and the list files it reads; records the elements it decides."""

    def __init__(self, policy: Policy, rec: Recorder, config_dir: str) -> None:
        self.policy, self.rec, self.config_dir = policy, rec, config_dir
        self.files: list[tuple[str, tuple[str, ...]]] = []  # (path below the config dir, entries)

    def acl(self) -> Acl:
        policy, rec = self.policy, self.rec
        s: list[Statement] = [Statement("defer", (
            ("condition", f"${{if >={{$recipients_count}}{{{policy.smtp.max_recipients}}}}}"),
            ("message", literal("Too many recipients for one message: send the rest in another"))),
            "smtp.max_recipients: accepted recipients so far (refused ones do not count)")]
        rec.enforced("smtp.max_recipients", facts.RECIPIENTS.format(limit=policy.smtp.max_recipients))
        submission = submission_ports(policy)
        if submission:
            on_submission = ("condition", f"${{if inlist{{$received_port}}{{{submission}}}}}")
            s.append(Statement("accept", (on_submission, ("authenticated", "*")),
                               "the submission ports: an authenticated client relays, no access list applies"))
            s.append(Statement("deny", (on_submission,
                                        ("message", literal("Authentication required"))),
                               "the submission ports relay for authenticated clients only"))
        s.append(Statement("deny", (("!domains", "+local_domains : +relay_to_domains"),
                                    ("!hosts", "+relay_from_hosts"), ("!authenticated", "*"),
                                    ("message", literal("Relay access denied"))),
                           "the relay decision: 5xx, before any access rule"))
        access = policy.access
        s += self._rules("clients", access.clients, self._client)
        s += self._rules("recipients", access.recipients, lambda item, i: self._address(item, i, "recipients"))
        if policy.smtp.require_helo:
            valid = "${if match{$sender_helo_name}{" + regex("(?i)" + VALID_HELO) + "}}"
            s.append(Statement("deny", (("condition", "${if def:sender_helo_name}"), ("!condition", valid),
                                        ("message", literal("Invalid HELO name"))),
                               "smtp.require_helo: an invalid HELO name"))
        s += self._rules("helo", access.helo, self._helo)
        if policy.smtp.strict_envelopes:
            s.append(Statement("deny", (("!condition", recipient_qualified()),
                                        ("message", literal("Fully qualified addresses in <> required"))),
                               "smtp.strict_envelopes: the sender (judged at MAIL) or this recipient is not qualified"))
        s += self._rules("senders", access.senders, lambda item, i: self._address(item, i, "senders"))
        if policy.domains.local and policy.role != "null-client":
            s.append(Statement("deny", (("domains", "+local_domains"), ("!verify", "recipient")),
                               "unknown local users (after the access lists: their rules and messages come first)"))
        s += [Statement("accept", (("hosts", "+relay_from_hosts"),), "networks.trusted: no DNSBL check")]
        if policy.auth.enabled:
            s.append(Statement("accept", (("authenticated", "*"),), "auth: no DNSBL check"))
        for index, entry in enumerate(policy.dnsbl):
            s += self._dnsbl(index, entry)
        s += sender_auth.spf_statements(policy, rec)
        s.append(Statement("accept", (), "accepted by the relay decision"))
        return Acl("acl_check_rcpt", tuple(s))

    def _rules(self, stage: str, items: Sequence[Any],
               condition: Callable[[Any, int], tuple[str, str]]) -> Iterator[Statement]:
        for index, item in enumerate(items):
            action, message = item.action, item.message
            yield Statement(VERBS[action], (condition(item, index), *_message(message)),
                            f"access.{stage}[{index}] ({action})")
        if items:
            extra = facts.ACCESS_HELO if stage == "helo" else ""
            self.rec.enforced(f"access.{stage}", facts.ACCESS.format(extra=extra))

    def _file(self, stage: str, index: int, entries: Sequence[str], checked: bool = False) -> str:
        path = f"{LISTS}/{stage}-{index}.list"
        self.files.append((path, tuple(entries) if checked else tuple(map(list_item, entries))))
        return literal(f"{self.config_dir}/{path}")

    def _client(self, item: ClientRule | ClientFile, index: int) -> tuple[str, str]:
        if isinstance(item, ClientFile):
            return "hosts", self._file("clients", index, item.file.entries)
        return "hosts", semicolon_list([canonical.network(item.match)])

    def _address(self, item: AddressRule | AddressFile, index: int, stage: str) -> tuple[str, str]:
        if isinstance(item, AddressFile):
            value = self._file(stage, index, [address_item(p) for p in item.file.entries], checked=True)
        else:
            value = semicolon_list([address_item(item.match)], checked=True)
        return stage, value

    def _helo(self, item: HeloRule | HeloFile, index: int) -> tuple[str, str]:
        if isinstance(item, HeloFile):
            forms = [form for name in item.file.entries for form in helo_forms(name)]
            path = self._file("helo", index, forms)
            return "condition", f"${{if inlist{{${{lc:$sender_helo_name}}}}{{<\\n ${{readfile{{{path}}}}}}}}}"
        names = semicolon_list(helo_forms(item.match))
        return "condition", f"${{if inlist{{${{lc:$sender_helo_name}}}}{{{names}}}}}"

    def _dnsbl(self, index: int, entry: DnsblEntry) -> list[Statement]:
        element, filters = f"dnsbl[{index}]", ", ".join(entry.match)
        codes = return_codes(entry.match, DNSBL_LIMIT)
        if codes is None:
            self.rec.unsupported(element, facts.DNSBL_WIDE.format(filters=filters, limit=DNSBL_LIMIT))
            return []
        spelling = {"client": "$sender_host_address", "hostname": "$primary_hostname"}
        message = edges(fill(entry.message, {**spelling, "zone": literal(entry.zone)}, literal))
        self.rec.enforced(element, facts.DNSBL.format(zone=entry.zone, count=len(codes), filters=filters,
                                                      action=entry.action))
        return [Statement(VERBS[entry.action], (("dnslists", f"{entry.zone}={','.join(codes)}"),
                                                ("message", message)), element)]


def _match(subject: str, pattern: str) -> str:
    return "{match{" + subject + "}{" + regex(pattern) + "}}"


def sender_qualified() -> str:
    """1 when MAIL's sender is <> or written with an @ and a qualified domain, else 0 (kept in acl_m_)."""
    written = "and{" + _match("$smtp_command", MAIL_AT) + _match("$sender_address_domain", QUALIFIED) + "}"
    return "${if or{{eq{$sender_address}{}}{" + written + "}}{1}{0}}"


def recipient_qualified() -> str:
    """True when the sender was qualified and this RCPT's address is written with an @ and a qualified domain."""
    return ("${if and{{eq{$acl_m_sender_qualified}{1}}" + _match("$smtp_command", RCPT_AT)
            + _match("$domain", QUALIFIED) + "}}")


def helo_forms(name: str) -> list[str]:
    """The HELO arguments a canonical HELO entry stands for, lower case: ``name`` and ``name.``; an address
    bare and as its literal (``[192.0.2.7]``, ``[ipv6:2001:db8::7]``)."""
    if ":" in name:
        return [name, f"[ipv6:{name}]"]
    if name.replace(".", "").isdigit():
        return [name, f"[{name}]"]
    return [name, f"{name}."]


def mail_acl(policy: Policy, rec: Recorder) -> Acl:
    """acl_check_mail: STARTTLS required (tls.inbound: encrypt), HELO before MAIL; SIZE= is Exim's own check."""
    s: list[Statement] = []
    if policy.tls is not None and policy.tls.inbound == "encrypt":
        s.append(Statement("deny", (("!encrypted", "*"), ("message", literal("Must issue a STARTTLS command first"))),
                           "tls.inbound: encrypt"))
    submission = policy.auth.submission.port
    if policy.offers_submission and policy.tls is not None and submission is not None:
        s.append(Statement("deny", (("condition", f"${{if eq{{$received_port}}{{{submission}}}}}"),
                                    ("!encrypted", "*"), ("message", literal("Must issue a STARTTLS command first"))),
                           "auth.submission: the submission port needs STARTTLS before MAIL"))
    if policy.smtp.strict_envelopes:
        s.append(Statement("warn", (("set acl_m_sender_qualified", sender_qualified()),),
                           "smtp.strict_envelopes: the sender is judged per recipient, at RCPT"))
    if policy.smtp.require_helo:
        s.append(Statement("deny", (("!condition", "${if def:sender_helo_name}"),
                                    ("message", literal("Send HELO or EHLO first"))), "smtp.require_helo"))
        rec.approximated("smtp.require_helo", facts.REQUIRE_HELO)
    else:
        rec.enforced("smtp.require_helo", facts.NO_HELO_CHECK)
    s.append(Statement("accept"))
    return Acl("acl_check_mail", tuple(s))


def command_acl(name: str, refuse: bool, element: str, rec: Recorder, refused: str, allowed: str) -> Acl | None:
    """acl_smtp_vrfy / acl_smtp_expn accepting the command; None to refuse it: without the ACL Exim refuses
    the command and leaves it out of the EHLO reply (main.py sets the option only when allowed)."""
    rec.enforced(element, refused if refuse else allowed)
    return None if refuse else Acl(name, (Statement("accept"),))
