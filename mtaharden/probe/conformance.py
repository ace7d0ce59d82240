"""Policy conformance: what the policy promises that a client can observe, checked over SMTP.

Why a separate step from the relay matrix: the matrix proves what the server must *refuse*; these
checks prove what it must *accept* (its own and its relay domains, trusted and authenticated relay)
and what it must not *show* (software in the banner, VRFY/EXPN answers, AUTH before STARTTLS). The
banner is also compared with the policy's ``smtp.banner``, filled in with the name the banner gives
(the last banner line counts: postscreen repeats the banner on a ``220-`` line first).
A server that refuses everything passes the matrix and is still broken.

VRFY and EXPN: 250/251 for postmaster is a deviation. 252 ("cannot verify, will try") is fine when
a surely-unknown name gets the same class of answer; if the unknown name is refused (5xx) while
postmaster gets 252, the command still tells users apart (Postfix with VRFY enabled does this), which
is a deviation too.

What a transaction check must get comes from the policy's reference evaluator
(:mod:`mtaharden.policy.evaluate`) for the probe's own vantage: its source address, EHLO name, TLS
state and credentials. A client the policy blocks must be refused mail for the local domains too, so a
refusal there is conformance, not a deviation; without a policy loaded, acceptance is expected.

Passwords go to the server only over TLS, or to a loopback peer (where nothing crosses a network).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mtaharden.policy.transaction import MX_PORT, Transaction

from .connection import Connection
from .leaks import software_shown
from .session import ProbeError, Reply, SmtpSession
from .verdict import CheckResult, CheckStatus

if TYPE_CHECKING:  # the policy model (pydantic) loads only with --policy
    from mtaharden.policy import Policy
    from mtaharden.policy.evaluate import Decision

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Vantage = Literal["untrusted", "trusted"]

SUBDOMAIN_LABEL = "probe-sub"
# The policy element each check tests (a target's coverage of it may declare a failure; see .declared).
ELEMENTS = {"banner": "smtp.banner[banner]", "banner-policy": "smtp.banner", "auth-after-tls": "auth.require_tls",
            "vrfy": "smtp.disable_vrfy", "expn": "smtp.disable_expn", "trusted-relay": "networks.trusted",
            "auth-relay": "auth"}


def _named(check: CheckResult) -> CheckResult:
    element = check.element or ELEMENTS.get(check.id, "")
    return dataclasses.replace(check, element=element) if element != check.element else check


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password=<hidden>)"


@dataclass(frozen=True)
class Standpoint:
    """Where the probe's transaction checks come from: what the evaluator needs to know of the client."""

    source: str
    ehlo: str
    tls: bool
    port: int = 25  # the server's port: the evaluator opens submission ports to AUTH only


@dataclass(frozen=True)
class Expectations:
    """The observable promises of a policy (see :meth:`from_policy`)."""

    local_domains: tuple[str, ...] = ()
    relay_domains: tuple[str, ...] = ()
    trusted: tuple[Network, ...] = ()
    vrfy_off: bool = True
    expn_off: bool = True
    auth_after_tls: bool = True
    banner: str | None = None
    policy: Policy | None = None  # the evaluator's input: what each transaction check must get from here

    @classmethod
    def from_policy(cls, policy: Policy) -> Expectations:
        return cls(tuple(policy.domains.local), tuple(policy.domains.relay), tuple(policy.networks.trusted),
                   policy.smtp.disable_vrfy, policy.smtp.disable_expn, policy.auth.require_tls, policy.smtp.banner,
                   policy)

    def decide(self, vantage: Standpoint, recipient: str, auth: str | None = None) -> Decision | None:
        """The contract's answer to ``MAIL FROM:<>`` / ``RCPT TO:<recipient>`` from the probe's vantage:
        the first stage that does not accept, else the RCPT decision (None without a policy)."""
        if self.policy is None:
            return None
        from mtaharden.policy.evaluate import evaluate, service

        # A port the policy names for submission is judged as that service; any other port is the MX
        # service wherever the site runs it (a lab or test listener, a target's own smtp_port).
        port = vantage.port if service(self.policy, vantage.port) in ("submission", "smtps") else MX_PORT
        transaction = Transaction(ipaddress.ip_address(vantage.source), vantage.ehlo, "", (recipient,),
                                  tls=vantage.tls, auth=auth, port=port)

        decisions = evaluate(self.policy, transaction).decisions
        return next((d for d in decisions if d.verdict != "accept"), decisions[-1])

    @property
    def mail_domain(self) -> str | None:
        """The server's own mail domain, for the "sender in the server's domain" case."""
        return self.local_domains[0].lstrip(".") if self.local_domains else None


def postmaster_of(domain: str) -> str:
    """``postmaster@domain``; for ``.domain`` (every subdomain) a made-up subdomain stands in."""
    return f"postmaster@{SUBDOMAIN_LABEL}{domain}" if domain.startswith(".") else f"postmaster@{domain}"


def judge_vantage(source: str, vantage: Vantage, expectations: Expectations | None) -> tuple[list[str], bool]:
    """Warnings about where the probe stands, and whether that makes the run inconclusive."""
    address = ipaddress.ip_address(source)
    if expectations is None:
        if vantage == "untrusted" and (address.is_loopback or address.is_private):
            return [f"note: probing from {source}; servers often trust such addresses (mynetworks), "
                    "so a result from here speaks only for this vantage point"], False
        return [], False
    inside = [str(net) for net in expectations.trusted if address in net]
    if vantage == "untrusted" and inside:
        return [f"WARNING: the probe's own address {source} is inside the policy's trusted network "
                f"{inside[0]}: the server may relay for it by design, so this run cannot show it closed "
                "(fix: probe from an untrusted address, e.g. --source-address, or use --vantage trusted)"], True
    if vantage == "trusted" and not inside:
        return [f"WARNING: --vantage trusted, but the probe's address {source} is in none of the policy's "
                "trusted networks, so refused trusted relay would prove nothing "
                "(fix: --source-address with a trusted address)"], True
    return [], False


def banner_leak(banner: Reply, server_name: str | None) -> str | None:
    """The software name or version-like number the banner shows, if any (see :mod:`.leaks`)."""
    return software_shown(banner, [server_name] if server_name else [])


def _expect(check_id: str, description: str, mail: Reply, rcpt: Reply | None,
            expected: Decision | None) -> CheckResult:
    """The server's answer judged against the contract's (``expected``; None: acceptance expected)."""
    reply = rcpt or mail
    stage = "RCPT" if rcpt is not None else "MAIL"
    if expected is None or expected.verdict == "accept":
        if rcpt is not None and rcpt.positive:
            return CheckResult(check_id, description, CheckStatus.OK, f"accepted: {rcpt}")
        status = CheckStatus.INCONCLUSIVE if reply.transient else CheckStatus.DEVIATION
        return CheckResult(check_id, description, status, f"{stage} refused: {reply}")
    policy_says = f"the policy {'refuses' if expected.verdict == 'reject' else 'defers'} it from here " \
                  f"({expected.element}: {expected.note})"
    description = f"{description.removesuffix(' is accepted')}: {expected.verdict}, as the policy says"
    wanted_class = reply.permanent if expected.verdict == "reject" else reply.transient
    if wanted_class:
        return CheckResult(check_id, description, CheckStatus.OK, f"{stage} {reply}; {policy_says}")
    status = CheckStatus.INCONCLUSIVE if reply.transient else CheckStatus.DEVIATION
    return CheckResult(check_id, description, status, f"{stage} {reply}, but {policy_says}")


async def _rcpt_check(conn: Connection, check_id: str, description: str, rcpt: str,
                      expected: Decision | None) -> CheckResult:
    try:
        mail_reply, rcpt_reply = await conn.run(SmtpSession.transaction, "MAIL FROM:<>", f"RCPT TO:<{rcpt}>")
    except ProbeError as exc:
        return CheckResult(check_id, description, CheckStatus.ERROR, str(exc))
    return _expect(check_id, description, mail_reply, rcpt_reply, expected)


async def _disclosure_check(conn: Connection, verb: str) -> CheckResult:
    check_id, description = verb.lower(), f"{verb} does not reveal addresses"
    unknown = f"mtaharden-unknown-{secrets.token_hex(4)}"
    try:
        known_reply = await conn.run(SmtpSession.command, f"{verb} postmaster")
        unknown_reply = await conn.run(SmtpSession.command, f"{verb} {unknown}")
    except ProbeError as exc:
        return CheckResult(check_id, description, CheckStatus.ERROR, str(exc))
    detail = f"postmaster: {known_reply}; unknown user: {unknown_reply}"
    if known_reply.code in (250, 251):
        return CheckResult(check_id, description, CheckStatus.DEVIATION, detail)
    if known_reply.code == 252 and unknown_reply.permanent:
        return CheckResult(check_id, description, CheckStatus.DEVIATION, f"tells users apart: {detail}")
    if known_reply.transient:
        return CheckResult(check_id, description, CheckStatus.INCONCLUSIVE, detail)
    return CheckResult(check_id, description, CheckStatus.OK, detail)


async def _auth_relay(session: SmtpSession, credentials: Credentials, rcpt: str,
                      expected: Decision | None) -> CheckResult:
    description = "authenticated relay to the foreign domain is accepted"
    if session.tls == "none" and not ipaddress.ip_address(session.peer_ip).is_loopback:
        return CheckResult("auth-relay", description, CheckStatus.INCONCLUSIVE,
                           "no TLS: the password was not sent in clear (fix: enable STARTTLS, or use --smtps)")
    reply = await session.authenticate(credentials.user, credentials.password)
    if reply.code != 235:
        return CheckResult("auth-relay", description, CheckStatus.DEVIATION, f"authentication failed: {reply}")
    sender = f"<{credentials.user}>" if "@" in credentials.user else "<>"
    mail, rcpt_reply = await session.transaction(f"MAIL FROM:{sender}", f"RCPT TO:<{rcpt}>")
    return _expect("auth-relay", description, mail, rcpt_reply, expected)


def static_checks(first: SmtpSession, expectations: Expectations) -> list[CheckResult]:
    """Checks read from the first session's banner and EHLO replies."""
    name = first.server_name()
    leak = banner_leak(first.banner, name)
    checks = [CheckResult("banner", "banner names no software and no version",
                          CheckStatus.DEVIATION if leak else CheckStatus.OK,
                          f"banner shows {leak!r}: {first.banner}" if leak else str(first.banner))]
    if expectations.banner and name:
        # the host name comes from the banner itself: roles may give each host its own name
        wanted = expectations.banner.replace("{hostname}", name)
        shown = first.banner.lines[-1]
        checks.append(CheckResult("banner-policy", f"banner is the policy's {expectations.banner!r}",
                                  CheckStatus.OK if shown == wanted else CheckStatus.DEVIATION,
                                  f"expected {wanted!r}, got {shown!r}"))
    if expectations.auth_after_tls:
        description = "AUTH is offered only after STARTTLS"
        plain = first.plain_extensions
        if plain is None:
            checks.append(CheckResult("auth-after-tls", description, CheckStatus.OK, "implicit TLS (smtps)"))
        elif "AUTH" in plain:
            checks.append(CheckResult("auth-after-tls", description, CheckStatus.DEVIATION,
                                      f"AUTH {plain['AUTH']} offered before STARTTLS"))
        else:
            checks.append(CheckResult("auth-after-tls", description, CheckStatus.OK, "no AUTH before STARTTLS"))
    return [_named(check) for check in checks]


async def run_checks(conn: Connection, first: SmtpSession, *, expectations: Expectations | None,
                     vantage: Vantage, credentials: Credentials | None, foreign: str) -> list[CheckResult]:
    """Every check that applies: the policy's (when given), trusted relay, authenticated relay."""
    checks = static_checks(first, expectations) if expectations else []
    relay_rcpt = f"relaytest@{foreign}"
    here = Standpoint(first.local_ip, first.options.ehlo, first.tls != "none", conn.endpoint.port)

    def expected(recipient: str, auth: str | None = None) -> Decision | None:
        return expectations.decide(here, recipient, auth) if expectations else None

    await conn.drop()
    if expectations:
        for kind, domains in (("local", expectations.local_domains), ("relay", expectations.relay_domains)):
            for index, domain in enumerate(domains):
                rcpt = postmaster_of(domain)
                check = await _rcpt_check(conn, f"{kind}-domain:{domain}",
                                          f"mail for {kind} domain {domain} is accepted", rcpt, expected(rcpt))
                checks.append(dataclasses.replace(check, element=f"domains.{kind}[{index}]"))
        if expectations.vrfy_off:
            checks.append(await _disclosure_check(conn, "VRFY"))
        if expectations.expn_off:
            checks.append(await _disclosure_check(conn, "EXPN"))
    if vantage == "trusted":
        checks.append(await _rcpt_check(conn, "trusted-relay", "relay from the trusted address is accepted",
                                        relay_rcpt, expected(relay_rcpt)))
    if credentials:
        try:
            checks.append(await _auth_relay(await conn.fresh(), credentials, relay_rcpt,
                                            expected(relay_rcpt, credentials.user)))
        except ProbeError as exc:
            checks.append(CheckResult("auth-relay", "authenticated relay to the foreign domain is accepted",
                                      CheckStatus.ERROR, str(exc)))
    return [_named(check) for check in checks]
