"""Outbound TLS (``outbound.tls``) in Exim's dnslookup router and smtp transport, DANE included.

``dane``: ``hosts_try_dane = *`` in remote_smtp, ``dnssec_request_domains = *`` in dnslookup and
``dns_dnssec_ok = 1``. Exim trusts a TLSA record only when the resolver says it validated it (the AD bit), so
without a validating resolver every lookup is insecure and delivery quietly stays opportunistic. Exim has no
DNSSEC probe of its own (Postfix's ``dnssec_probe``), so the plan's check step makes one with Exim itself: a
``dnssec_strict`` dnsdb lookup of ``targets.exim.dnssec_probe`` through the host's resolver, with the staged
configuration, must come back authenticated before the new files go live. Proven in the lab's DNSSEC-signed
zone (tests/lab/test_dane.py) and refused on a resolver that does not validate (tests/lab/test_outbound_tls.py).
"""

from __future__ import annotations

from ...policy import Policy
from ..base import Step
from ..kit.coverage import Recorder
from . import capabilities as facts

# $0: the exim binary, $1: the staged configuration, $2: the signed name. Exim's -be prints the expansion and
# exits 0 even when the lookup defers, so the answer itself is compared.
PROBE = (r"""got=$("$0" -C "$1" -be "\${lookup dnsdb{dnssec_strict,ns=$2}{authenticated}{insecure or missing}}") """
         r"""|| exit; [ "$got" = authenticated ] || { echo "error: DANE needs a DNSSEC-validating resolver, and """
         r"""the NS lookup of $2 through /etc/resolv.conf was not authenticated ($got): make the resolver """
         r"""validate (unbound, for one) or set targets.exim.dnssec_probe to a name your DNS signs"; exit 1; }""")


def main_options(policy: Policy) -> tuple[tuple[str, str], ...]:
    """Exim sets the DO bit on its queries, and reads the AD bit, only with dns_dnssec_ok."""
    return (("dns_dnssec_ok", "1"),) if policy.outbound.tls == "dane" else ()


def router_options(policy: Policy) -> tuple[tuple[str, str], ...]:
    """The dnslookup router asks for DNSSEC-validated answers when DANE is on."""
    return (("dnssec_request_domains", "*"),) if policy.outbound.tls == "dane" else ()


def transport_options(policy: Policy, rec: Recorder) -> tuple[tuple[str, str], ...]:
    """remote_smtp: DANE where TLSA records validate, or TLS required everywhere; ``may`` is Exim's default."""
    level = policy.outbound.tls
    # tests/lab/test_dane.py, on signed TLSA records; may is stricter than the contract there (Exim's own DANE)
    (rec.approximated if level == "may" else rec.enforced)("outbound.tls", facts.OUTBOUND[level])
    if level == "dane":
        return (("hosts_try_dane", "*"),)
    if level == "encrypt":
        return (("hosts_require_tls", "*"),)
    return ()


def checks(policy: Policy, exim: str, config: str) -> tuple[Step, ...]:
    """With DANE: a DNSSEC-strict lookup through the host's resolver, with the staged configuration."""
    if policy.outbound.tls != "dane":
        return ()
    return (Step(("sh", "-c", PROBE, exim, config, policy.targets.exim.dnssec_probe),
                 "DANE needs a DNSSEC-validating resolver: Exim's dnssec_strict lookup must be authenticated",
                 "check"),)
