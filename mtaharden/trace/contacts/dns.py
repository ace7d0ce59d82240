"""Abuse contacts published in DNS TXT records: Abusix's abuse-contacts zone for addresses
(``4.3.2.1.abuse-contacts.abusix.zone``, reverse names as for a DNSBL) and abuse.net's contacts zone
for domains (``example.com.contacts.abuse.net``). dnspython asks the resolver the user names (or the
system's), with one lifetime per query."""

from __future__ import annotations

import ipaddress

import dns.exception
import dns.name
import dns.resolver
import dns.reversename

from . import Contact, LookupFailed, mailbox

IP_ZONE = "abuse-contacts.abusix.zone"
DOMAIN_ZONE = "contacts.abuse.net"
MAX_RECORDS = 20


class DnsContacts:
    def __init__(self, nameserver: tuple[str, int] | None = None, timeout: float = 4.0) -> None:
        if nameserver is None:
            self.resolver = dns.resolver.Resolver()
        else:
            self.resolver = dns.resolver.Resolver(configure=False)
            self.resolver.nameservers = [nameserver[0]]
            self.resolver.port = nameserver[1]
        self.resolver.lifetime = timeout
        self.where = "the system resolver" if nameserver is None else f"{nameserver[0]} port {nameserver[1]}"

    def ip(self, address: str) -> tuple[list[Contact], str]:
        reverse = dns.reversename.from_address(str(ipaddress.ip_address(address)))
        name = reverse.relativize(dns.name.from_text("in-addr.arpa" if ":" not in address else "ip6.arpa"))
        return self._txt(f"{name.to_text()}.{IP_ZONE}", address)

    def domain(self, domain: str) -> tuple[list[Contact], str]:
        return self._txt(f"{domain}.{DOMAIN_ZONE}", domain)

    def _txt(self, query: str, about: str) -> tuple[list[Contact], str]:
        source = f"dns TXT {query} (via {self.where})"
        try:
            answer = self.resolver.resolve(query, "TXT", raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            raise LookupFailed(f"{query}: no such name (nobody published a contact there)") from None
        except dns.exception.Timeout:
            raise LookupFailed(f"{query}: no answer within {self.resolver.lifetime:g} s") from None
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"{query}: {exc.__class__.__name__}") from None
        found = []
        for record in list(answer.rrset or [])[:MAX_RECORDS]:
            text = b"".join(record.strings).decode("ascii", "replace")
            for part in text.replace(",", " ").split():
                if (address := mailbox(part.strip("\"'<>;"))) is not None:
                    found.append(Contact(address, about, source))
        return found, source
