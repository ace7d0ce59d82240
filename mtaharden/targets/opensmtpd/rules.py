"""The relay decision and the access lists as smtpd.conf tables, builtin filters and match rules.

Why this split: OpenSMTPD runs a listener's filters at RCPT *before* it looks the envelope up in the match
rules, and the match rules can only accept or refuse with 550. So the access lists (with their own replies,
4xx included, and ``permit``) are one filter chain in the contract's order, and the match rules carry only the
relay decision: the first match wins, and a recipient no rule matches is refused.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ...policy import Policy, canonical
from ...policy.model import AddressFile, AddressRule, ClientFile, ClientRule, HeloFile, HeloRule
from ..kit.coverage import Recorder
from .capabilities import note
from .conf import Directive, Value, Word, table

CHAIN = "access"
_CONDITIONS = {"clients": "src", "recipients": "rcpt-to", "helo": "helo", "senders": "mail-from"}
_ORDER = ("clients", "recipients", "helo", "senders")  # the contract's steps 3, 4, 6 and 8
_DEFAULT_REPLY = {"reject": "550 5.7.1 Access denied", "defer": "451 4.7.1 Try again later"}


@dataclass(frozen=True)
class Access:
    """The tables and filters of the access lists, and the chain a listener names (None: no filters)."""

    directives: tuple[Directive, ...]
    chain: str | None


def domain_rules(policy: Policy, rec: Recorder) -> tuple[list[Directive], list[Directive]]:
    """(tables, match rules) for the local and relay domains: exact names, and ``.domain`` as ``*.domain``."""
    tables: list[Directive] = []
    rules: list[Directive] = []
    for kind, names, action in (("local", policy.domains.local, "local"), ("relay", policy.domains.relay, "relay")):
        element = f"domains.{kind}"
        if kind == "local" and policy.role == "null-client":
            note(rec, element, "null-client")
            continue
        if not names:
            note(rec, element, "none")
            continue
        values = []
        for index, name in enumerate(names):
            if name.startswith("."):
                note(rec, f"{element}[{index}]", "wildcard", domain=name, bare=name[1:])
                values.append(f"*{name}")
            else:
                values.append(name)
        tables.append(table(f"{kind}_domains", values, element))
        rules.append(Directive(("match", "from", "any", "for", "domain", f"<{kind}_domains>", "action",
                                Value(action, element))))
        note(rec, element, "table")
    return tables, rules


def trusted_rules(policy: Policy, rec: Recorder, action: str = "relay") -> tuple[list[Directive], list[Directive]]:
    """(tables, match rules) for the trusted networks: they relay to any domain (``action``: ``relay``, or
    ``sign`` when their mail is signed on the way)."""
    networks = [canonical.network(network) for network in policy.networks.trusted]
    note(rec, "networks.trusted", "table")
    if not networks:
        return [], []
    return ([table("trusted", networks, "networks.trusted")],
            [Directive(("match", "from", "src", "<trusted>", "for", "any", "action", Value(action, "trusted")))])


def access_filters(policy: Policy, rec: Recorder) -> Access:
    """One table and one filter per access rule, chained in the contract's order (first match wins)."""
    directives: list[Directive] = []
    names: list[str] = []
    for stage in _ORDER:
        rules = getattr(policy.access, stage)
        if not rules:
            continue
        note(rec, f"access.{stage}", "filters")
        for index, rule in enumerate(rules):
            name = f"{stage}_{index}"
            element = f"access.{stage}[{index}]"
            directives.append(table(name, list(_entries(rule)), element))
            directives.append(Directive(("filter", name, "phase", "rcpt-to", "match", _CONDITIONS[stage],
                                         f"<{name}>", *_decision(rule.action, rule.message, element))))
            if rule.action == "defer":
                note(rec, element, "defer")
            names.append(name)
    if not names:
        return Access((), None)
    directives.append(Directive(("filter", CHAIN, "chain", "{ " + ", ".join(names) + " }")))
    return Access(tuple(directives), CHAIN)


def _decision(action: str, message: str | None, element: str) -> tuple[Word, ...]:
    """``bypass`` for permit; ``reject "5xx/4xx text"`` otherwise (a builtin filter's reply needs its code)."""
    if action == "permit":
        return ("bypass",)
    code = "550 5.7.1" if action == "reject" else "451 4.7.1"
    return ("reject", Value(f"{code} {message}" if message else _DEFAULT_REPLY[action], element))


def _entries(rule: ClientRule | ClientFile | HeloRule | HeloFile | AddressRule | AddressFile) -> Iterator[str]:
    """A rule's table values in OpenSMTPD's forms: networks, HELO names and their literals, mail addresses."""
    if isinstance(rule, ClientFile):
        yield from rule.file.ipv4_hosts
        yield from (canonical.client(network) for network in rule.file.networks)
    elif isinstance(rule, ClientRule):
        yield canonical.client(rule.match)
    elif isinstance(rule, HeloFile | HeloRule):
        yield from _helo_forms(rule.file.entries if isinstance(rule, HeloFile) else (rule.match,))
    else:
        yield from (_mail_address(p) for p in (rule.file.entries if isinstance(rule, AddressFile) else (rule.match,)))


def _helo_forms(names: Sequence[str]) -> Iterator[str]:
    """A HELO name as is; an address also as its literal (``[192.0.2.7]``, ``[IPv6:2001:db8::7]``)."""
    for name in names:
        yield name
        if ":" in name:
            yield f"[IPv6:{name}]"
        elif name.replace(".", "").isdigit():
            yield f"[{name}]"


def _mail_address(pattern: str) -> str:
    """A pattern as OpenSMTPD's mailaddr tables read it (``user@domain``, ``@domain``, ``user@``)."""
    return pattern if "@" in pattern else f"@{pattern}"
