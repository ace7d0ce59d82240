"""Cross-field rules: what a valid policy must satisfy beyond the type of each value.

Each rule yields :class:`Finding` objects naming the path of the offending value, so the loader can
point at its line and column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from ..engines import header_engines
from . import canonical, options, trust
from .finding import Finding, Path, duplicates, show
from .lists import DomainNames, EntryFile, client_key
from .model import AddressRule, ClientRule, HeloRule, ListFileRule, Policy

MAX_FINDINGS_PER_LIST = 20  # a list file with thousands of repeats gets the first few reported


def check(policy: Policy) -> list[Finding]:
    """Every cross-field problem of ``policy``; empty when the policy is usable."""
    rules = (_trusted_networks, _roles, _auth_and_tls, _domains, _relay_hostname, _access_duplicates, _dnsbl,
             _ports, _target_options, _header_text, _hardening)
    return [finding for rule in rules for finding in rule(policy)]


def _trusted_networks(policy: Policy) -> Iterator[Finding]:
    """The union of the trusted networks, per family, at most one /8 (IPv4) or /32 (IPv6) unless acknowledged."""
    if policy.networks.allow_wide_trusted:
        return
    trusted = policy.networks.trusted
    hint = "list the real networks of your own hosts; if you truly mean it, set networks.allow_wide_trusted: true"
    reported: set[int] = set()
    for crossing in trust.crossings(trusted):
        if crossing.index in reported:  # ::/0 takes both families past at once: one finding
            continue
        reported.add(crossing.index)
        network, widest = trusted[crossing.index], trust.WIDEST_PREFIX[crossing.family]
        shown = canonical.network(network)
        if network.version == crossing.family and network.prefixlen < widest:
            message = f"{shown} is wider than /{widest}"
        else:
            message = (f"with {shown} the trusted networks together span "
                       f"{trust.described(crossing.size, crossing.family)} (loopback aside; at most one "
                       f"/{widest} may relay)")
        yield Finding(("networks", "trusted", crossing.index),
                      f"{message}: every client in them may relay, which makes this server an open relay for "
                      "that range", hint)


def _relay_hostname(policy: Policy) -> Iterator[Finding]:
    """The host name is the MTA itself: mail for it is delivered here, never forwarded."""
    if policy.hostname is None:
        return
    for index, domain in enumerate(policy.domains.relay):
        if domain == policy.hostname:
            yield _name_finding(("domains", "relay"), policy.domains.relay, index,
                                f"{domain} is this server's own host name (hostname), listed as a relay domain",
                                "remove it from domains.relay: mail for the host name is delivered here "
                                "(forwarding it would loop back to this server)")
            return


def _roles(policy: Policy) -> Iterator[Finding]:
    if policy.offers_submission and not policy.auth.enabled:
        yield Finding(
            ("role",),
            f"role {policy.role} offers submission, which needs SMTP AUTH",
            "set auth.enabled: true, or use role: mx",
        )
    submission = policy.auth.submission
    if policy.offers_submission and submission.port is None and submission.smtps_port is None:
        yield Finding(
            ("auth", "submission"),
            f"role {policy.role} offers submission but both submission ports are null",
            "set auth.submission.port (587) or auth.submission.smtps_port (465)",
        )


def _auth_and_tls(policy: Policy) -> Iterator[Finding]:
    auth, tls = policy.auth, policy.tls
    if auth.enabled and auth.require_tls and tls is None:
        yield Finding(
            ("auth", "require_tls"),
            "AUTH is only offered after STARTTLS, but no TLS certificate is configured",
            "add tls.cert and tls.key, or set auth.require_tls: false (passwords would cross the net in clear)",
        )
    if auth.enabled and policy.offers_submission and auth.submission.smtps_port is not None and tls is None:
        yield Finding(
            ("auth", "submission", "smtps_port"),
            "implicit-TLS submission needs a TLS certificate",
            "add tls.cert and tls.key, or set auth.submission.smtps_port: null",
        )
    cyrus = auth.cyrus
    if auth.enabled and auth.backend == "cyrus" and cyrus.pwcheck_method == "auxprop" and cyrus.sasldb_path is None:
        yield Finding(
            ("auth", "cyrus", "sasldb_path"),
            "pwcheck_method auxprop reads a sasldb file, but sasldb_path is not set",
            "set auth.cyrus.sasldb_path, e.g. /etc/sasldb2",
        )


def _domains(policy: Policy) -> Iterator[Finding]:
    local, relay = policy.domains.local, policy.domains.relay
    if not set(local).isdisjoint(relay):  # checked in C first: the lists may hold a million names
        both = set(local)
        yield from islice((_name_finding(("domains", "relay"), relay, index, f"{domain} is both a local and a "
                                         "relay domain", "keep it in one list: local for final delivery here, "
                                         "relay for forwarding")
                           for index, domain in enumerate(relay) if domain in both), MAX_FINDINGS_PER_LIST)
    for kind, names in (("local", local), ("relay", relay)):
        if len(set(names)) < len(names):
            repeated = _repeats(names)
            yield from islice((_name_finding(("domains", kind), names, index, f"{name} is listed twice",
                                             "remove the second entry") for index, name in repeated),
                              MAX_FINDINGS_PER_LIST)


def _repeats(values: Sequence[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            yield index, value
        seen.add(value)


def _name_finding(path: Path, names: Sequence[str], position: int, message: str, hint: str) -> Finding:
    """A finding about one name of a domain list, at its policy item or its list file line."""
    if not isinstance(names, DomainNames) or not names.spans:
        return Finding((*path, position), message, hint)
    item, file, entry = names.origin(position)
    if file is None:
        return Finding((*path, item), message, hint)
    return Finding((*path, item, "file"), message, hint, (file.source, *file.locate(entry)))


InlineRule = ClientRule | HeloRule | AddressRule
Rule = InlineRule | ListFileRule


def _access_duplicates(policy: Policy) -> Iterator[Finding]:
    for stage in ("clients", "helo", "senders", "recipients"):
        rules: list[Rule] = getattr(policy.access, stage)
        seen: set[str] = set()
        count = 0
        for rule in rules:  # a set of every key, built in C, tells whether any repeats
            if isinstance(rule, ListFileRule):
                seen.update(rule.file.entries)
                count += len(rule.file)
            else:
                seen.add(_key(rule))
                count += 1
        if len(seen) < count:
            yield from islice(_access_repeats(stage, rules), MAX_FINDINGS_PER_LIST)


def _key(rule: InlineRule) -> str:
    return client_key(rule.match) if isinstance(rule, ClientRule) else rule.match


def _access_repeats(stage: str, rules: list[Rule]) -> Iterator[Finding]:
    """Each entry an earlier rule or list file entry already matches (first match wins: it never applies)."""
    first: dict[str, tuple[int, EntryFile | None, int]] = {}
    for index, rule in enumerate(rules):
        if not isinstance(rule, ListFileRule):
            key = _key(rule)
            if key in first:
                yield Finding(("access", stage, index, "match"),
                              f"{show(rule.match)} already matched by {_earlier(first[key])}; first match wins, "
                              "so this rule never applies", "remove one of the two rules")
            first.setdefault(key, (index, None, 0))
            continue
        for number, entry in enumerate(rule.file.entries):
            if entry in first:
                yield Finding(("access", stage, index, "file"),
                              f"{entry} already matched by {_earlier(first[entry])}; first match wins, so this "
                              "entry never applies", "remove one of the two entries",
                              (rule.file.source, *rule.file.locate(number)))
            first.setdefault(entry, (index, rule.file, number))


def _earlier(origin: tuple[int, EntryFile | None, int]) -> str:
    index, file, number = origin
    if file is None:
        return f"rule {index}"
    return f"rule {index} ({file.source} line {file.locate(number)[0]})"


def _dnsbl(policy: Policy) -> Iterator[Finding]:
    yield from duplicates(("dnsbl",), [entry.zone for entry in policy.dnsbl], suffix="zone")


def _ports(policy: Policy) -> Iterator[Finding]:
    submission = policy.auth.submission
    if submission.port is not None and submission.port == submission.smtps_port:
        yield Finding(
            ("auth", "submission", "smtps_port"),
            "the STARTTLS and the implicit-TLS submission ports are the same",
            "use 587 for port and 465 for smtps_port",
        )


def _target_options(policy: Policy) -> Iterator[Finding]:
    """Each target's own checks (``findings`` in its ``policy/options`` module), in name order."""
    for module in options.modules():
        findings: Callable[[Policy], Iterable[Finding]] | None = getattr(module, "findings", None)
        if findings is not None:
            yield from findings(policy)


def _header_text(policy: Policy) -> Iterator[Finding]:
    """Non-ASCII header text compiles, in every listed charset and form, in PCRE2 (Postfix) and libc ERE (Sendmail)."""
    for index, check in enumerate(policy.header_checks):
        yield from duplicates(("header_checks", index, "charsets"), check.charsets)
        problem = header_engines.problem(check.pattern, check.charsets)
        if problem:
            yield Finding(("header_checks", index, "pattern"), problem,
                          "drop (?i) or the ASCII letters next to the text, or list fewer charsets; see README.md, "
                          "header_checks")


def _within(name: str, domains: Iterable[str]) -> bool:
    """Whether ``name`` is one of ``domains`` or below one of them (a ``.domain`` entry: below it only)."""
    return any(name == domain or name.endswith(domain if domain.startswith(".") else "." + domain)
               for domain in domains)


def _hardening(policy: Policy) -> Iterator[Finding]:
    """Screening, sender authentication, signing and published records: what each one needs elsewhere."""
    if policy.screening.enabled and not policy.accepts_inbound:
        yield Finding(("screening", "enabled"), f"role {policy.role} has no public port 25 to screen",
                      "set screening.enabled: false, or use a role that receives mail (mx, mx+submission)")
    verify = policy.sender_auth
    if verify.dmarc.enabled and not (verify.spf.enabled and verify.dkim.enabled):
        yield Finding(("sender_auth", "dmarc", "enabled"), "DMARC is judged from the SPF and DKIM results",
                      "also set sender_auth.spf.enabled: true and sender_auth.dkim.enabled: true")
    own = (*policy.domains.local, *policy.domains.relay)
    for index, signing in enumerate(policy.dkim_signing):
        if not _within(signing.domain, own):
            yield Finding(("dkim_signing", index, "domain"), f"{signing.domain} is not one of this site's domains",
                          "sign only for a domain in domains.local or domains.relay (or below one of them)")
    yield from duplicates(("dkim_signing",), [f"{key.selector}._domainkey.{key.domain}" for key in policy.dkim_signing],
                          "selector")
    for index, domain in enumerate(policy.published.domains):
        if not _within(domain, own):
            yield Finding(("published", "domains", index), f"{domain} is not one of this site's domains",
                          "publish records only for a domain in domains.local or domains.relay")
    if policy.published.mta_sts is not None and policy.published.mta_sts.mode != "none" and policy.tls is None:
        yield Finding(("published", "mta_sts"), "MTA-STS tells senders to insist on TLS, but no certificate "
                      "is configured", "add tls.cert and tls.key, or set published.mta_sts.mode: none")
