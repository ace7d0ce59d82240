"""Inbound SPF and DKIM with Exim's own conditions, and DKIM signing in the remote_smtp transport (issue 26).

Debian 12's exim4-daemon-heavy 4.96 is built with SPF (libspf2) and DKIM (``exim -bV``: "Support for: ...
DKIM ... SPF"), not with DMARC (no "DMARC" there, no ``dmarc_status``), so DMARC is unsupported. SPF is the
``spf`` ACL condition at RCPT, after the trusted and authenticated clients were accepted (so their mail is
never checked) and after the DNSBLs; Exim verifies every DKIM signature of a message by itself
(``dkim_verify_signers`` defaults to all signers), and the DATA ACL records both results in an
Authentication-Results header (``${authresults}``) for mail from untrusted clients. A bad signature alone
refuses nothing. Signing: the transport signs when the message came from a trusted or authenticated client or
was submitted locally and its From: domain has a key in ``dkim_keys`` (an lsearch file beside exim4.conf).
"""

from __future__ import annotations

from ...policy import Policy
from ..base import PlannedFile, Requirement, Step
from ..kit import milters
from ..kit.coverage import Recorder
from ..kit.sender_auth import OFF
from .config import Acl, Statement
from .quoting import literal

KEYS_FILE = "dkim_keys"
SPF_VERBS = {"reject": "deny", "defer": "defer"}
NO_DMARC = ("Debian 12's exim4-daemon-heavy 4.96 is built without DMARC (exim -bV lists no DMARC, so there is no "
            "dmarc_status condition); evaluate DMARC on an MTA in front, or use the Postfix target (OpenDMARC)")
# The From: domain of mail from a local submission, an authenticated or a trusted client; else empty (no key).
_SIGNER = "${if or{{!def:sender_host_address}{def:authenticated_id}" \
          "{match_ip{$sender_host_address}{+relay_from_hosts}}}{${lc:${domain:$h_from:}}}{}}"


def spf_statements(policy: Policy, rec: Recorder) -> list[Statement]:
    """The RCPT ACL's SPF statements (after the trusted/authenticated accepts and the DNSBLs)."""
    spf = policy.sender_auth.spf
    if not spf.enabled:
        rec.enforced("sender_auth.spf", OFF["sender_auth.spf"])
        return []
    statements: list[Statement] = []
    acted: list[str] = []
    for result, action in (("fail", spf.on_fail), ("softfail", spf.on_softfail)):
        if action in SPF_VERBS:
            acted.append(f"{result}: {SPF_VERBS[action]}")
            message = f"SPF {result}: the sender's domain does not allow this host to send its mail"
            statements.append(Statement(SPF_VERBS[action], (("spf", result), ("message", literal(message))),
                                        f"sender_auth.spf: on_{result} {action}"))
    # Whatever the result, the condition has run, so the DATA ACL's ${authresults} names it.
    statements.append(Statement("warn", (("spf", "pass:fail:softfail:neutral:none:permerror:temperror"),),
                                "sender_auth.spf: evaluated for the Authentication-Results header"))
    rec.enforced("sender_auth.spf", "the spf ACL condition at RCPT (libspf2), after the trusted and authenticated "
                 f"clients and the DNSBLs ({'; '.join(acted) or 'no result refused'}); the result in an "
                 "Authentication-Results header")
    return statements


def with_results(data: Acl, policy: Policy, rec: Recorder) -> Acl:
    """The DATA ACL, first adding Authentication-Results for untrusted, unauthenticated clients when SPF or
    DKIM verification is on; records ``sender_auth.dkim`` and ``sender_auth.dmarc``."""
    auth = policy.sender_auth
    if auth.dkim.enabled:
        rec.enforced("sender_auth.dkim", "Exim's built-in DKIM verification of every signature; the result in an "
                     "Authentication-Results header (${authresults}); a bad signature alone refuses nothing")
    else:
        rec.enforced("sender_auth.dkim", OFF["sender_auth.dkim"] + " (no Authentication-Results header; Exim still "
                     "logs the signatures it verifies)")
    if auth.dmarc.enabled:
        rec.unsupported("sender_auth.dmarc", NO_DMARC)
    else:
        rec.enforced("sender_auth.dmarc", OFF["sender_auth.dmarc"])
    if not (auth.spf.enabled or auth.dkim.enabled):
        return data
    header = Statement("warn", (("!hosts", "+relay_from_hosts"), ("!authenticated", "*"),
                                ("add_header", ":at_start:${authresults {$primary_hostname}}")),
                       "sender_auth: the SPF and DKIM results (RFC 8601)")
    return Acl(data.name, (header, *data.statements))


def transport_options(policy: Policy, config_dir: str, rec: Recorder) -> tuple[tuple[str, str], ...]:
    """remote_smtp's dkim_* options: sign mail of trusted, authenticated and local senders per From: domain."""
    if not policy.dkim_signing:
        rec.enforced("dkim_signing", OFF["dkim_signing"])
        return ()
    keys = f"{config_dir}/{KEYS_FILE}"
    names = ", ".join(f"{key.selector}._domainkey.{key.domain}" for key in policy.dkim_signing)
    rec.enforced("dkim_signing", f"remote_smtp's dkim_domain/dkim_selector/dkim_private_key from {KEYS_FILE} "
                 f"({names}; relaxed canonicalization) for mail from the trusted and authenticated clients and local "
                 "submissions; a check step refuses a key file anyone but Debian-exim may read; the key never "
                 "enters the output")
    return (("dkim_domain", f"${{lookup{{{_SIGNER}}}lsearch{{{keys}}}{{{_SIGNER}}}}}"),
            ("dkim_selector", f"${{extract{{selector}}{{${{lookup{{$dkim_domain}}lsearch{{{keys}}}}}}}}}"),
            ("dkim_private_key", f"${{extract{{key}}{{${{lookup{{$dkim_domain}}lsearch{{{keys}}}}}}}}}"),
            ("dkim_canon", "relaxed"))


def files(policy: Policy) -> tuple[PlannedFile, ...]:
    """dkim_keys: ``domain: selector=... key=...`` per signing identity (lsearch; the key's path only)."""
    if not policy.dkim_signing:
        return ()
    lines = tuple(f"{key.domain}: selector={key.selector} key={key.key}" for key in policy.dkim_signing)
    return (PlannedFile(KEYS_FILE, "list.j2", {"items": lines}),)


def checks(policy: Policy, user: str) -> tuple[Step, ...]:
    keys = milters.signing_keys(policy)
    return (milters.key_check(keys, user),) if keys else ()


def requirements(policy: Policy, user: str) -> tuple[Requirement, ...]:
    return milters.requirements(policy, user)
