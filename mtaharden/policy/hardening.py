"""Policy keys for today's hardening (issue 26): what each feature means, never how one MTA spells it.

- ``screening``: bot screening before the SMTP dialogue (pregreet, weighted DNSBL scores, allow-list);
- ``smtp.bare_newlines`` (in :mod:`.model`): SMTP smuggling, i.e. what a bare LF or CR in DATA does;
- ``sender_auth``: verifying SPF, DKIM and DMARC on inbound mail, and what a failure does;
- ``dkim_signing``: outbound DKIM signatures (selector and private key per domain);
- ``outbound``: TLS when this host delivers, DANE included;
- ``published``: the DNS records and files the site publishes for its own domains (SPF, DMARC,
  MTA-STS, TLS-RPT, TLSA), written by ``mtaharden dns``.

Every default is conservative: with none of these keys set, nothing that reached the site before is
refused now. Screening, verification and DANE are off until the policy turns them on.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from .strict import StrictModel
from .types import (
    AbsolutePath,
    DnsblFilter,
    DomainName,
    IPNetwork,
    PolicyValueError,
    dns_label,
    domain_name,
    plain_mailbox,
)


def report_uri(value: Any) -> str:
    """A ``mailto:`` address reports are sent to (DMARC ``rua``/``ruf``, TLS-RPT ``rua``), canonical form."""
    if not isinstance(value, str):
        raise PolicyValueError("a report address must be a string", "write e.g. mailto:dmarc@example.org")
    address = value.removeprefix("mailto:")
    return "mailto:" + plain_mailbox(address)


def mx_pattern(value: Any) -> str:
    """An MTA-STS ``mx`` entry: a host name, or ``*.`` and a domain (RFC 8461 §3.2)."""
    if isinstance(value, str) and value.startswith("*."):
        return "*." + domain_name(value[2:])
    return domain_name(value)


ReportUri = Annotated[str, BeforeValidator(report_uri)]
MxPattern = Annotated[str, BeforeValidator(mx_pattern)]
Selector = Annotated[str, BeforeValidator(dns_label)]
Action = Literal["reject", "drop", "log"]


class ScreeningSite(StrictModel):
    """One DNS list whose answers add ``weight`` to a connecting client's score (negative: an allow-list)."""

    zone: DomainName
    match: list[DnsblFilter] = Field(
        default_factory=lambda: ["127.0.0.[2..255]"], min_length=1,
        description="answers that count (return-code filters as in dnsbl.match); never 127.255.255.x errors")
    weight: int = Field(1, ge=-100, le=100, description="added to the score when listed; negative = trusted")


class Pregreet(StrictModel):
    """A client that talks before the greeting is a bot (RFC 5321 §4.3.1: the client waits for 220)."""

    wait: int = Field(6, ge=1, le=60, description="seconds the greeting is held back to catch early talkers")
    action: Action = "reject"


class ScreeningDnsbl(StrictModel):
    """Weighted DNS lists: a client whose summed weight reaches ``threshold`` is screened out."""

    sites: list[ScreeningSite] = Field(default_factory=list)
    threshold: int = Field(1, ge=1, le=1000)
    action: Action = "reject"


class Screening(StrictModel):
    """Bot screening before the SMTP dialogue, on the MX port only (submission clients are never screened).

    ``reject`` refuses the client's mail (5xx) after it has shown itself; ``drop`` closes the connection
    with 521; ``log`` records the result and lets the client on to the usual rules.
    """

    enabled: bool = False
    pregreet: Pregreet = Field(default_factory=Pregreet)
    dnsbl: ScreeningDnsbl = Field(default_factory=ScreeningDnsbl)
    allow: list[IPNetwork] = Field(default_factory=list, description="clients never screened (besides trusted)")


class Spf(StrictModel):
    """SPF (RFC 7208) of the envelope sender, checked on mail from outside the trusted networks."""

    enabled: bool = False
    on_fail: Literal["reject", "defer", "tag"] = Field(
        "tag", description="on -all (fail): reject (550), defer (451) or tag (a Received-SPF / "
        "Authentication-Results header only)")
    on_softfail: Literal["defer", "tag"] = "tag"


class DkimVerify(StrictModel):
    """DKIM (RFC 6376) signatures verified and recorded; a bad signature alone never refuses mail (§6.3)."""

    enabled: bool = False


class Dmarc(StrictModel):
    """DMARC (RFC 7489) of the From: domain, from the SPF and DKIM results (both must be enabled)."""

    enabled: bool = False
    honour_reject: bool = Field(False, description="refuse mail whose domain publishes p=reject and fails")
    on_quarantine: Literal["hold", "tag"] = Field(
        "tag", description="mail whose domain publishes p=quarantine and fails: hold in the queue, or tag")


class SenderAuth(StrictModel):
    """Inbound sender authentication; results go into an Authentication-Results header (RFC 8601)."""

    spf: Spf = Field(default_factory=Spf)
    dkim: DkimVerify = Field(default_factory=DkimVerify)
    dmarc: Dmarc = Field(default_factory=Dmarc)


class DkimKey(StrictModel):
    """One signing identity: mail from trusted or authenticated clients with a From: in ``domain`` is signed."""

    domain: DomainName
    selector: Selector
    key: AbsolutePath = Field(description="the private key (PEM); owner-only, never world-readable")
    algorithm: Literal["rsa-sha256", "ed25519-sha256"] = "rsa-sha256"


class Outbound(StrictModel):
    """TLS when this host delivers mail to other hosts."""

    tls: Literal["may", "dane", "encrypt"] = Field(
        "may", description="may: opportunistic; dane: DANE-authenticated where TLSA records are published "
        "and validated (needs a DNSSEC-validating resolver), opportunistic elsewhere; encrypt: always TLS")


class SpfRecord(StrictModel):
    """The SPF record published for the site's domains: who sends mail in their name."""

    hosts: list[DomainName] = Field(default_factory=list, description="a: mechanisms; default: the hostname")
    networks: list[IPNetwork] = Field(default_factory=list, description="ip4:/ip6: mechanisms")
    all: Literal["-all", "~all"] = Field("~all", description="what other senders get; -all once proven")


class DmarcRecord(StrictModel):
    """The DMARC record published for the site's domains (``_dmarc.<domain>``)."""

    policy: Literal["none", "quarantine", "reject"] = "none"
    rua: list[ReportUri] = Field(default_factory=list, description="aggregate report addresses")
    ruf: list[ReportUri] = Field(default_factory=list, description="failure report addresses")
    alignment: Literal["relaxed", "strict"] = "relaxed"


class MtaSts(StrictModel):
    """MTA-STS (RFC 8461) for the site's domains: the TXT record and ``.well-known/mta-sts.txt``."""

    mode: Literal["testing", "enforce", "none"] = "testing"
    mx: list[MxPattern] = Field(default_factory=list, description="MX names (or *.domain); default: the hostname")
    max_age: int = Field(604800, ge=86400, le=31557600, description="seconds a sender caches the policy")


class TlsRpt(StrictModel):
    """SMTP TLS reporting (RFC 8460): where senders report TLS failures."""

    rua: list[ReportUri] = Field(min_length=1)


class Published(StrictModel):
    """What the site publishes in DNS for ``domains`` (default: the local domains); ``mtaharden dns``."""

    domains: list[DomainName] = Field(default_factory=list)
    spf: SpfRecord | None = Field(default_factory=SpfRecord)
    dmarc: DmarcRecord | None = Field(default_factory=DmarcRecord)
    mta_sts: MtaSts | None = None
    tls_rpt: TlsRpt | None = None
    tlsa: bool = Field(True, description="TLSA 3 1 1 for port 25 from tls.cert's key, when tls is set")

