"""The records a policy asks the site to publish, as data: what, where, and why."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..policy import Policy
    from ..policy.hardening import DmarcRecord, MtaSts, SpfRecord

RecordType = Literal["TXT", "TLSA"]
SPF_LOOKUP_LIMIT = 10  # RFC 7208 §4.6.4: more DNS-querying terms than this is a permanent error


class RecordError(ValueError):
    """The policy asks for a record that cannot be written (the message says what to change)."""


@dataclass(frozen=True)
class Record:
    """One resource record in presentation form; ``tag`` names the TXT records of this kind (``v=spf1``)."""

    name: str  # absolute, lower case, no trailing dot
    type: RecordType
    value: str  # TXT: the whole text (split into strings only when written); TLSA: "3 1 1 <hex>"
    why: str
    tag: str = ""


@dataclass(frozen=True)
class PolicyFile:
    """A file the site serves: the MTA-STS policy at ``https://mta-sts.<domain>/.well-known/mta-sts.txt``."""

    domain: str
    path: str  # relative to the output folder
    content: str


@dataclass
class RecordSet:
    records: list[Record] = field(default_factory=list)
    files: list[PolicyFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def published_domains(policy: Policy) -> list[str]:
    """``published.domains``, or the local domains (names only: a ``.domain`` entry is no single owner)."""
    names = policy.published.domains or [name for name in policy.domains.local if not name.startswith(".")]
    return list(dict.fromkeys(names))


def policy_records(policy: Policy) -> RecordSet:
    """SPF, DMARC, MTA-STS and TLS-RPT for each published domain, in that order."""
    out = RecordSet()
    published = policy.published
    for domain in published_domains(policy):
        if published.spf is not None:
            out.records.append(Record(domain, "TXT", spf_text(policy, published.spf), "SPF: who sends mail as "
                                      f"{domain} (RFC 7208)", "v=spf1"))
        if published.dmarc is not None:
            out.records.append(Record(f"_dmarc.{domain}", "TXT", dmarc_text(published.dmarc),
                                      "DMARC: what receivers do with mail that fails SPF and DKIM alignment "
                                      "(RFC 7489)", "v=DMARC1"))
            out.notes.extend(_external_reports(domain, published.dmarc))
        if published.mta_sts is not None:
            policy_text = mta_sts_policy(policy, published.mta_sts)
            out.records.append(Record(f"_mta-sts.{domain}", "TXT", f"v=STSv1; id={_policy_id(policy_text)}",
                                      "MTA-STS: senders fetch the policy file and keep it max_age seconds "
                                      "(RFC 8461); the id changes whenever the file does", "v=STSv1"))
            out.files.append(PolicyFile(domain, f"{domain}/.well-known/mta-sts.txt", policy_text))
        if published.tls_rpt is not None:
            out.records.append(Record(f"_smtp._tls.{domain}", "TXT",
                                      "v=TLSRPTv1; rua=" + ",".join(published.tls_rpt.rua),
                                      "TLS-RPT: where senders report failed TLS to this site (RFC 8460)",
                                      "v=TLSRPTv1"))
    if published.mta_sts is not None:
        out.notes.append("MTA-STS: serve each policy file over HTTPS at https://mta-sts.<domain>/.well-known/"
                         "mta-sts.txt with a certificate valid for mta-sts.<domain>; raise the mode to enforce "
                         "only after TLS reports show no failures")
    return out


def spf_text(policy: Policy, spf: SpfRecord) -> str:
    """``v=spf1`` with an ``a:`` term per sending host, ``ip4:``/``ip6:`` per network, then ``all``."""
    hosts = list(dict.fromkeys(spf.hosts or ([policy.hostname] if policy.hostname else [])))
    if not hosts and not spf.networks:
        raise RecordError("published.spf names no sender: set hostname, published.spf.hosts or "
                          "published.spf.networks")
    if len(hosts) > SPF_LOOKUP_LIMIT:
        raise RecordError(f"published.spf.hosts has {len(hosts)} names, each a DNS lookup; receivers treat more "
                          f"than {SPF_LOOKUP_LIMIT} as a permanent error (fix: list the hosts' addresses in "
                          "published.spf.networks instead)")
    terms = [f"a:{host}" for host in hosts] + [_network_term(network) for network in spf.networks]
    return " ".join(["v=spf1", *dict.fromkeys(terms), spf.all])


def _network_term(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    family = "ip4" if network.version == 4 else "ip6"
    whole = network.prefixlen == network.max_prefixlen
    return f"{family}:{network.network_address}" if whole else f"{family}:{network.compressed}"


def dmarc_text(dmarc: DmarcRecord) -> str:
    """``v=DMARC1; p=…`` with strict alignment and report addresses only when asked for."""
    tags = ["v=DMARC1", f"p={dmarc.policy}"]
    if dmarc.alignment == "strict":
        tags += ["adkim=s", "aspf=s"]
    if dmarc.rua:
        tags.append("rua=" + ",".join(dmarc.rua))
    if dmarc.ruf:
        tags.append("ruf=" + ",".join(dmarc.ruf))
    return "; ".join(tags)


def _external_reports(domain: str, dmarc: DmarcRecord) -> list[str]:
    """RFC 7489 §7.1: a report address in another domain must publish that it accepts reports for this one."""
    notes = []
    for uri in (*dmarc.rua, *dmarc.ruf):
        target = uri.rpartition("@")[2]
        if target != domain and not target.endswith("." + domain) and not domain.endswith("." + target):
            notes.append(f"DMARC reports for {domain} go to {uri}: {target} must publish "
                         f'{domain}._report._dmarc.{target} TXT "v=DMARC1" or receivers send none')
    return notes


def mta_sts_policy(policy: Policy, sts: MtaSts) -> str:
    """The policy file (RFC 8461 §3.2): version, mode, one ``mx`` line per MX pattern, max_age; CRLF lines."""
    mx = sts.mx or ([policy.hostname] if policy.hostname else [])
    if not mx and sts.mode != "none":
        raise RecordError("published.mta_sts names no MX: set hostname or published.mta_sts.mx")
    lines = ["version: STSv1", f"mode: {sts.mode}", *(f"mx: {name}" for name in dict.fromkeys(mx)),
             f"max_age: {sts.max_age}"]
    return "".join(line + "\r\n" for line in lines)


def _policy_id(policy_text: str) -> str:
    """A stable id (1-32 letters and digits): a digest of the file, so it changes exactly when the file does."""
    return hashlib.sha256(policy_text.encode()).hexdigest()[:20]
