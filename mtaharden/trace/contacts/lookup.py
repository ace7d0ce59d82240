"""All the lookups for one trace, run concurrently with a bound; each answer names its source and
each failure is kept apart. ``offline`` asks nothing and names only the RFC 2142 role mailboxes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import Contact, Failure, LookupFailed
from .dns import DnsContacts
from .rdap import IANA_BOOTSTRAP, Rdap
from .role import role_contacts
from .whois import Whois

MAX_DOMAINS = 5
WORKERS = 4


@dataclass(frozen=True)
class Sources:
    """Where the lookups go: the real registries unless the user (or a test) names other servers."""

    offline: bool = False
    rdap_bootstrap: str = IANA_BOOTSTRAP
    rdap: str | None = None
    whois: tuple[str, int] | None = None
    nameserver: tuple[str, int] | None = None
    timeout: float = 8.0


Lookup = Callable[[], tuple[list[Contact], str]]


class Contacts:
    """The lookups of one run: the clients (and the RDAP bootstrap files they fetched) are shared by its traces."""

    def __init__(self, sources: Sources) -> None:
        self.offline = sources.offline
        self.rdap = Rdap(sources.rdap_bootstrap, sources.rdap, sources.timeout)
        self.dns = DnsContacts(sources.nameserver, min(sources.timeout, 4.0))
        self.whois = Whois(sources.whois, sources.timeout)

    def find(self, ip: str | None, domains: list[str]) -> tuple[list[Contact], list[Failure]]:
        return find_contacts(ip, domains, self)


def find_contacts(ip: str | None, domains: list[str], clients: Contacts) -> tuple[list[Contact], list[Failure]]:
    domains = list(dict.fromkeys(domains))[:MAX_DOMAINS]
    roles = [contact for domain in domains for contact in role_contacts(domain)]  # named last: unverified
    if clients.offline:
        return roles, []
    rdap, dns, whois = clients.rdap, clients.dns, clients.whois
    jobs: list[tuple[str, str, Lookup, Lookup | None]] = []
    if ip is not None:
        jobs.append((ip, "rdap ip", lambda: rdap.ip(ip), lambda: whois.lookup(ip)))
        jobs.append((ip, "dns", lambda: dns.ip(ip), None))
    for domain in domains:
        jobs.append((domain, "rdap domain", functools.partial(rdap.domain, domain),
                     functools.partial(whois.lookup, domain)))
        jobs.append((domain, "dns", functools.partial(dns.domain, domain), None))
    contacts: list[Contact] = []
    failures: list[Failure] = []
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda job: _run(*job), jobs))
    for found, failed in results:
        contacts.extend(found)
        failures.extend(failed)
    unique: dict[tuple[str, str, str], Contact] = {}
    for contact in [*contacts, *roles]:
        unique.setdefault((contact.address, contact.about, contact.source), contact)
    return list(unique.values()), failures


def _run(about: str, kind: str, lookup: Lookup, fallback: Lookup | None) -> tuple[list[Contact], list[Failure]]:
    """One lookup, then its fallback (whois) when it failed or found no abuse contact."""
    failures = []
    try:
        found, source = lookup()
        if found or fallback is None:
            return found, []
        failures.append(Failure(about, source, "no abuse contact in the answer"))
    except LookupFailed as exc:
        failures.append(Failure(about, kind, str(exc)))
        if fallback is None:
            return [], failures
    try:
        found, source = fallback()
    except LookupFailed as exc:
        failures.append(Failure(about, "whois", str(exc)))
        return [], failures
    if not found:
        failures.append(Failure(about, source, "no abuse contact in the answer"))
    return found, failures
