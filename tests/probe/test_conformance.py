"""Policy conformance checks and the vantage rule, against fake servers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mtaharden.policy import load_policy_text
from mtaharden.probe import (
    CheckStatus,
    Credentials,
    Expectations,
    HostResult,
    HostStatus,
    SessionOptions,
    exit_code,
)
from mtaharden.probe.conformance import banner_leak, postmaster_of
from mtaharden.probe.leaks import PLACES
from mtaharden.probe.session import Reply
from tests.probe.fakes import Conn as FakeConn
from tests.probe.fakes import FakeSmtp, closed_rcpt, run_probe

Serve = Callable[[FakeSmtp], FakeSmtp]
LEAKS_OK = {f"leaks:{place}": CheckStatus.OK for place in PLACES}

POLICY = """
version: 1
hostname: mx.example.test
domains: {local: [example.test], relay: [.relay.test]}
networks: {trusted: [10.0.0.0/8]}
"""


def expect(text: str = POLICY) -> Expectations:
    return Expectations.from_policy(load_policy_text(text))


def checks(result: HostResult) -> dict[str, CheckStatus]:
    return {check.id: check.status for check in result.checks}


def relay_test_rcpt(path: str) -> str:
    """Local domain and every subdomain of relay.test are accepted; the rest is refused."""
    return "250 2.1.5 Ok" if path.lower().endswith(".relay.test>") else closed_rcpt(path)


def test_conforming_server(serve: Serve) -> None:
    result = run_probe(serve(FakeSmtp(rcpt=relay_test_rcpt)), expectations=expect())
    assert checks(result) == {"banner": CheckStatus.OK, "banner-policy": CheckStatus.OK,
                              "auth-after-tls": CheckStatus.OK,
                              "local-domain:example.test": CheckStatus.OK,
                              "relay-domain:.relay.test": CheckStatus.OK,
                              "vrfy": CheckStatus.OK, "expn": CheckStatus.OK, **LEAKS_OK}
    assert result.status is HostStatus.CLOSED and exit_code([result]) == 0


def test_subdomain_entries_test_a_made_up_subdomain(serve: Serve) -> None:
    server = serve(FakeSmtp(rcpt=relay_test_rcpt))
    run_probe(server, expectations=expect(), cases=())
    assert "RCPT TO:<postmaster@probe-sub.relay.test>" in server.commands
    assert postmaster_of("example.test") == "postmaster@example.test"


def test_relay_domain_refused_is_a_deviation(serve: Serve) -> None:
    result = run_probe(serve(FakeSmtp()), expectations=expect())
    assert checks(result)["relay-domain:.relay.test"] is CheckStatus.DEVIATION
    assert checks(result)["local-domain:example.test"] is CheckStatus.OK
    assert result.status is HostStatus.DEVIATES and exit_code([result]) == 1


def test_banner_with_software_is_a_deviation(serve: Serve) -> None:
    server = serve(FakeSmtp(banner=b"220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n", rcpt=relay_test_rcpt))
    result = run_probe(server, expectations=expect(), cases=())
    assert checks(result)["banner"] is CheckStatus.DEVIATION
    assert checks(result)["banner-policy"] is CheckStatus.DEVIATION


def test_banner_policy_compares_the_last_banner_line(serve: Serve) -> None:
    postscreen = b"220-mx.example.test ESMTP\r\n220 mx.example.test ESMTP\r\n"
    result = run_probe(serve(FakeSmtp(banner=postscreen, rcpt=relay_test_rcpt)),
                       expectations=expect(POLICY + "smtp: {banner: '{hostname} ESMTP'}\n"), cases=())
    assert checks(result)["banner-policy"] is CheckStatus.OK
    result = run_probe(serve(FakeSmtp(banner=b"220 mx.example.test ready\r\n", rcpt=relay_test_rcpt)),
                       expectations=expect(), cases=())
    assert checks(result)["banner-policy"] is CheckStatus.DEVIATION
    assert checks(result)["banner"] is CheckStatus.OK


@pytest.mark.parametrize(("lines", "leak"), [
    (("mx.example.test ESMTP",), None),
    (("mail2.3com.example ESMTP ready [192.0.2.1]",), None),
    (("mx.example.test ESMTP Sendmail 8.17.1.9/8.17.1.9; Mon",), "sendmail"),
    (("EX01.contoso.com Microsoft ESMTP MAIL Service ready",), "microsoft"),
    (("mx.example.test ESMTP MailServer 4.2",), "4.2"),
])
def test_banner_leak(lines: tuple[str, ...], leak: str | None) -> None:
    server_name = lines[0].split()[0]
    assert banner_leak(Reply(220, lines), server_name) == leak


def test_vrfy_that_confirms_users_is_a_deviation(serve: Serve) -> None:
    result = run_probe(serve(FakeSmtp(vrfy="250 2.0.0 <postmaster@example.test>", rcpt=relay_test_rcpt)),
                       expectations=expect(), cases=())
    assert checks(result)["vrfy"] is CheckStatus.DEVIATION


class VrfyTellsApart(FakeSmtp):
    """Postfix with VRFY enabled: 252 for a known user, 550 for an unknown one."""

    async def respond(self, conn: FakeConn, line: str) -> bytes | None:
        if line.upper().startswith("VRFY"):
            return b"252 2.0.0 postmaster\r\n" if line.endswith("postmaster") else b"550 5.1.1 unknown\r\n"
        return await super().respond(conn, line)


def test_vrfy_252_that_still_tells_users_apart_is_a_deviation(serve: Serve) -> None:
    result = run_probe(serve(VrfyTellsApart(rcpt=relay_test_rcpt)), expectations=expect(), cases=())
    assert checks(result)["vrfy"] is CheckStatus.DEVIATION


def test_vrfy_252_for_everyone_is_fine(serve: Serve) -> None:
    result = run_probe(serve(FakeSmtp(vrfy="252 2.5.2 Cannot VRFY user", rcpt=relay_test_rcpt)),
                       expectations=expect(), cases=())
    assert checks(result)["vrfy"] is CheckStatus.OK


def test_auth_before_starttls_is_a_deviation(serve: Serve) -> None:
    server = serve(FakeSmtp(ehlo=("mx.example.test", "AUTH PLAIN LOGIN", "STARTTLS"), rcpt=relay_test_rcpt))
    policy = POLICY + "auth: {enabled: true, require_tls: true}\ntls: {cert: /etc/ssl/c.pem, key: /etc/ssl/c.key}\n"
    result = run_probe(server, SessionOptions(timeout=2, banner_timeout=2, starttls=False),
                       expectations=expect(policy), cases=())
    assert checks(result)["auth-after-tls"] is CheckStatus.DEVIATION


def test_probe_inside_trusted_networks_is_inconclusive(serve: Serve) -> None:
    result = run_probe(serve(FakeSmtp(rcpt=relay_test_rcpt)),
                       expectations=expect(POLICY.replace("10.0.0.0/8", "127.0.0.0/8")))
    assert result.vantage_conflict and result.warnings[0].startswith("WARNING")
    assert result.status is HostStatus.INCONCLUSIVE and exit_code([result]) == 3


def test_trusted_vantage_checks_that_relaying_works(serve: Serve) -> None:
    policy = expect(POLICY.replace("10.0.0.0/8", "127.0.0.0/8"))
    refused = run_probe(serve(FakeSmtp(rcpt=relay_test_rcpt)), expectations=policy, vantage="trusted")
    assert refused.cases == [] and not refused.matrix_run
    assert checks(refused)["trusted-relay"] is CheckStatus.DEVIATION
    relaying = run_probe(serve(FakeSmtp(rcpt=lambda path: "250 2.1.5 Ok")), expectations=policy, vantage="trusted")
    assert checks(relaying)["trusted-relay"] is CheckStatus.OK
    assert relaying.status is HostStatus.OK and exit_code([relaying]) == 0


def test_trusted_vantage_from_an_untrusted_address_is_inconclusive(serve: Serve) -> None:
    result = run_probe(serve(FakeSmtp(rcpt=lambda path: "250 2.1.5 Ok")), expectations=expect(), vantage="trusted")
    assert result.vantage_conflict and result.status is HostStatus.INCONCLUSIVE


class AuthServer(FakeSmtp):
    """Offers AUTH PLAIN; after a good AUTH, relays anything (like permit_sasl_authenticated)."""

    def __init__(self) -> None:
        super().__init__(ehlo=("mx.example.test", "AUTH PLAIN"))
        self.authenticated: set[int] = set()

    async def respond(self, conn: FakeConn, line: str) -> bytes | None:
        if line.startswith("AUTH PLAIN "):
            good = line == "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzM2NyZXQ="  # \0alice@example.test\0s3cret
            if good:
                self.authenticated.add(conn.number)
            return b"235 2.7.0 Authentication successful\r\n" if good else b"535 5.7.8 bad\r\n"
        if line.upper().startswith("RCPT") and conn.number in self.authenticated:
            return b"250 2.1.5 Ok\r\n"
        return await super().respond(conn, line)


def test_authenticated_relay(serve: Serve) -> None:
    server = serve(AuthServer())
    good = run_probe(server, credentials=Credentials("alice@example.test", "s3cret"))
    assert checks(good) == {"auth-relay": CheckStatus.OK, **LEAKS_OK}
    assert good.status is HostStatus.CLOSED
    assert "MAIL FROM:<alice@example.test>" in server.commands
    assert "DATA" not in server.commands
    bad = run_probe(server, credentials=Credentials("alice@example.test", "wrong"), cases=())
    assert checks(bad) == {"auth-relay": CheckStatus.DEVIATION, **LEAKS_OK}
    assert "wrong" not in repr(bad) and "wrong" not in repr(Credentials("a", "wrong"))


BLOCKING_POLICY = POLICY + """access:
  clients:
    - {match: 127.0.0.0/8, action: reject, message: "554 5.7.1 go away"}
"""


def everything_refused(path: str) -> str:
    return "554 5.7.1 go away"


def test_a_client_the_policy_blocks_must_be_refused_its_own_domains(serve: Serve) -> None:
    """The evaluator decides what the probe's vantage must get: a client blocked by access.clients is
    refused mail for the local domain too, so that refusal is conformance, and acceptance a deviation."""
    refusing = run_probe(serve(FakeSmtp(rcpt=everything_refused)), expectations=expect(BLOCKING_POLICY))
    (local,) = [check for check in refusing.checks if check.id == "local-domain:example.test"]
    assert local.status is CheckStatus.OK and "access.clients[0]" in local.detail, local
    assert local.description.endswith("reject, as the policy says")
    accepting = run_probe(serve(FakeSmtp(rcpt=lambda path: "250 2.1.5 Ok")), expectations=expect(BLOCKING_POLICY))
    (local,) = [check for check in accepting.checks if check.id == "local-domain:example.test"]
    assert local.status is CheckStatus.DEVIATION and "the policy refuses it from here" in local.detail, local
    # without the block the same refusal is a deviation: acceptance is what the policy says
    plain = run_probe(serve(FakeSmtp(rcpt=everything_refused)), expectations=expect())
    assert checks(plain)["local-domain:example.test"] is CheckStatus.DEVIATION


def test_the_port_probed_decides_which_service_the_contract_judges() -> None:
    """A submission port of the policy is judged as submission (AUTH decides there); any other port is the
    MX service wherever it listens, so a site's own smtp_port or a test listener keeps the MX meaning."""
    from mtaharden.policy import load_policy_text
    from mtaharden.probe.conformance import Expectations, Standpoint

    policy = load_policy_text("version: 1\nrole: mx+submission\ndomains: {local: [example.org]}\n"
                              "auth: {enabled: true, require_tls: false, submission: {smtps_port: null}}\n")
    expectations = Expectations.from_policy(policy)
    on = {port: expectations.decide(Standpoint("192.0.2.20", "probe.test", False, port), "root@example.org")
          for port in (25, 587, 2525)}
    assert on[25] is not None and on[25].verdict == "accept"
    assert on[2525] == on[25]
    assert on[587] is not None and on[587].verdict == "reject" and on[587].element == "auth.submission"
