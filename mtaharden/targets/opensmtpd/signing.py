"""Outbound DKIM signing (``dkim_signing``) on OpenSMTPD 6.8 with Debian's opensmtpd-filter-dkimsign (issue 26).

OpenSMTPD runs a filter on a listener, for every message that listener takes, so filter-dkimsign on port 25 would
sign inbound mail from anyone too. The mail that is the site's own, the host's (the sendmail enqueuer) and the
trusted networks' to other domains, takes the ``sign`` action instead of ``relay``: it is handed to a loopback
listener (``targets.opensmtpd.signing_port``, default 10028) that runs the filter and tags what it takes, and
tagged mail is relayed by MX (that rule comes first).
The filter is Debian's: ``/usr/libexec/opensmtpd/filter-dkimsign``, run by smtpd through ``/bin/sh -c`` as the
package's ``_dkimsign`` user, which alone may read the key (a check step proves it before the swap).

filter-dkimsign takes one key and selector and any number of domains (``-d``): it signs with the domain of the
From: header, or with the first domain when none matches. So the keys of the policy must share one key file,
selector and algorithm; mail whose From: is in none of their domains is still signed (unaligned), and mail a
trusted client sends to a relay domain is relayed unsigned, as its rule comes before the trusted networks'.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy
from ...policy.hardening import DkimKey
from ..base import Requirement, Step
from ..kit.coverage import Recorder
from ..kit.milters import key_check
from .capabilities import note
from .conf import Directive, Value
from .options import opensmtpd_options

FILTER = "/usr/libexec/opensmtpd/filter-dkimsign"
SIGNER = "_dkimsign"  # the user and group opensmtpd-filter-dkimsign's postinst creates
TAG = "dkim-signed"
ACTION = "sign"


@dataclass(frozen=True)
class Signing:
    """What signing adds to smtpd.conf and to the plan."""

    filters: tuple[Directive, ...]
    listeners: tuple[Directive, ...]
    actions: tuple[Directive, ...]
    rules: tuple[Directive, ...]  # before every other match rule
    steps: tuple[Step, ...]
    requirements: tuple[Requirement, ...]


def lower(policy: Policy, rec: Recorder) -> Signing | None:
    """The signing pieces, or None (off, or keys the filter cannot carry: recorded unsupported). smtpd hands the
    filter's command line to /bin/sh -c; every word of it is validated plain text (DNS names, a selector, an
    absolute path of letters, digits and ``._-+@/``), so none holds shell syntax."""
    keys = policy.dkim_signing
    if not keys:
        note(rec, "dkim_signing", "off")
        return None
    shared = {(key.key, key.selector, key.algorithm) for key in keys}
    if len(shared) > 1:
        note(rec, "dkim_signing", "several")
        return None
    first = keys[0]
    domains = list(dict.fromkeys(key.domain for key in keys))
    port = opensmtpd_options(policy).signing_port
    if port == opensmtpd_options(policy).smtp_port:
        note(rec, "dkim_signing", "port", port=port)
        return None
    note(rec, "dkim_signing", "on", domains=", ".join(domains), selector=first.selector, port=port,
         first=domains[0])
    return Signing(
        filters=(Directive(("filter", "dkimsign", "proc-exec", Value(_command(first, domains), "dkim_signing"),
                            "user", SIGNER, "group", SIGNER)),),
        listeners=(Directive(("listen", "on", "127.0.0.1", "port", str(port), "tag", TAG, "filter", "dkimsign")),),
        actions=(Directive(("action", Value(ACTION, "action"), "relay", "host", f"smtp://127.0.0.1:{port}")),),
        rules=(Directive(("match", "from", "local", "tag", TAG, "for", "any", "action", Value("relay", "action"))),),
        steps=(Step(("sh", "-c", f'[ -x {FILTER} ] || {{ echo "error: {FILTER} is missing: apt install '
                                 f'opensmtpd-filter-dkimsign (it also creates the {SIGNER} user)"; exit 1; }}'),
                    "filter-dkimsign is installed (Debian's opensmtpd-filter-dkimsign)", "check"),
               key_check((first.key,), SIGNER)),
        requirements=(Requirement("readable", (SIGNER, first.key), f"{SIGNER} reads the DKIM private key"),),
    )


def _command(key: DkimKey, domains: list[str]) -> str:
    """filter-dkimsign's command line: relaxed/simple as OpenDKIM signs for the other targets."""
    algorithm = ("-a", key.algorithm) if key.algorithm != "rsa-sha256" else ()
    return " ".join((FILTER, *algorithm, "-c", "relaxed/simple", *(f"-d {domain}" for domain in domains),
                     "-s", key.selector, "-k", key.key))
