"""Behaviour of a real Postfix running the configuration mtaharden rendered, spoken to over SMTP.

127.0.0.1 is the trusted client, 127.0.0.2 an untrusted one, 127.0.0.4 a client the policy rejects.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_POLICY, need_real_mta, render_policy
from tests.realmta.harness import Postfix, daemon_dir, free_port, run
from tests.realmta.mta_lab import make_certificate
from tests.realmta.smtp_client import Body, converse

TRUSTED, UNTRUSTED, BLOCKED = "127.0.0.1", "127.0.0.2", "127.0.0.4"
USER, PASSWORD, REALM = "alice", "s3cret-pass", "mx.example.test"

pytestmark = pytest.mark.realmta


def behaviour_policy(config_dir: Path, port: int, submission_port: int, tls_dir: Path) -> dict[str, Any]:
    return {
        "version": 1,
        "hostname": "mx.example.test",
        "role": "mx+submission",
        "domains": {"local": ["example.test"], "relay": ["relay.example.test"]},
        "networks": {"trusted": ["127.0.0.1/32"]},
        "auth": {
            "enabled": True,
            "backend": "cyrus",
            "mechanisms": ["PLAIN", "LOGIN"],
            "require_tls": True,
            "submission": {"port": submission_port, "smtps_port": None},
            "cyrus": {"pwcheck_method": "auxprop", "sasldb_path": str(config_dir.parent / "sasldb2")},
        },
        "access": {
            "clients": [{"match": f"{BLOCKED}/32", "action": "reject", "message": "Go away, client"}],
            "helo": [{"match": "bad.helo.test", "action": "reject", "message": "Bad HELO"}],
            "senders": [{"match": "@spam.example", "action": "reject", "message": "Sender domain refused"}],
            "recipients": [{"match": "closed@example.test", "action": "reject", "message": "Mailbox closed"}],
        },
        "header_checks": [
            {"header": "Subject", "pattern": "(?i)make money fast", "action": "reject", "message": "No spam here"},
            {"header": "X-Mailer", "pattern": "^Mass/Mailer", "action": "reject", "message": "No bulk mailers"},
        ],
        "tls": {"cert": str(tls_dir / "cert.pem"), "key": str(tls_dir / "key.pem")},
        "targets": {"postfix": {"config_dir": str(config_dir), "smtp_port": port,
                                "inet_interfaces": ["127.0.0.1"], "inet_protocols": "ipv4", "chroot": False}},
    }


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    need_real_mta("postfix", "postconf", "saslpasswd2", "openssl", "script")
    with daemon_dir("postfix") as work:
        yield from _start_postfix(work)


def _start_postfix(work: Path) -> Iterator[Postfix]:
    port, submission_port = free_port(), free_port()
    make_certificate(work / "tls")
    config_dir = work / "etc"
    plan, rendered = render_policy(behaviour_policy(config_dir, port, submission_port, work / "tls"), work / "r")
    sasldb = work / "sasldb2"
    run(["saslpasswd2", "-p", "-f", str(sasldb), "-c", "-u", REALM, USER], input_text=PASSWORD)
    shutil.chown(sasldb, "postfix")
    instance = Postfix.install(rendered, config_dir, port, [step.argv for step in plan.steps])
    instance.submission_port = submission_port  # type: ignore[attr-defined]
    with instance.running():
        yield instance
    instance.assert_log_clean()


def rcpt(postfix: Postfix, source: str, recipient: str, sender: str = "probe@client.test",
         helo: str = "client.test") -> tuple[int, str]:
    talk = converse(postfix.address, postfix.port, source,
                    [f"EHLO {helo}", f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>"])
    return talk.replies[-1]


def test_subdomain_of_a_relay_domain_is_not_relayed(postfix: Postfix) -> None:
    assert rcpt(postfix, UNTRUSTED, "user@sub.relay.example.test")[0] == 554


def test_mail_without_helo_is_refused(postfix: Postfix) -> None:
    code, _ = converse(postfix.address, postfix.port, UNTRUSTED, ["MAIL FROM:<a@client.test>"]).replies[-1]
    assert code == 503


def test_access_permit_never_opens_relay(postfix: Postfix) -> None:
    """Even the trusted-looking path through access rules stops at smtpd_relay_restrictions."""
    assert rcpt(postfix, UNTRUSTED, "postmaster@foreign.test")[0] == 554


@pytest.mark.parametrize(("mailer", "code"), [("Mass/Mailer 2.0", 550), ("Not a Mass/Mailer", 250),
                                              ("mass/mailer", 250)])
def test_anchored_header_pattern_matches_the_start_of_the_value(postfix: Postfix, mailer: str, code: int) -> None:
    message = Body(f"Subject: hi\nX-Mailer: {mailer}\nFrom: a@client.test\n\nbody")
    talk = converse(postfix.address, postfix.port, UNTRUSTED,
                    ["EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<user@example.test>", "DATA", message])
    assert talk.replies[-1][0] == code


def _auth_plain() -> str:
    token = base64.b64encode(f"\0{USER}@{REALM}\0{PASSWORD}".encode()).decode()
    return f"AUTH PLAIN {token}"


@pytest.mark.parametrize("port_name", ["port", "submission_port"])
def test_auth_is_not_offered_before_starttls(postfix: Postfix, port_name: str) -> None:
    port = getattr(postfix, port_name)
    ehlo = converse(postfix.address, port, UNTRUSTED, ["EHLO client.test"]).replies[-1]
    assert ehlo[0] == 250 and "STARTTLS" in ehlo[1] and "AUTH" not in ehlo[1]
    refused = converse(postfix.address, port, UNTRUSTED, ["EHLO client.test", _auth_plain()]).replies[-1]
    assert refused[0] in (503, 530, 538)


@pytest.mark.parametrize("port_name", ["port", "submission_port"])
def test_authenticated_client_relays_after_starttls(postfix: Postfix, port_name: str) -> None:
    port = getattr(postfix, port_name)
    talk = converse(postfix.address, port, UNTRUSTED,
                    ["EHLO client.test", _auth_plain(), "MAIL FROM:<alice@example.test>", "RCPT TO:<x@foreign.test>"],
                    starttls=True)
    ehlo, auth, _mail, rcpt_reply = talk.replies[-4:]
    assert "AUTH PLAIN LOGIN" in ehlo[1]
    assert auth[0] == 235
    assert rcpt_reply[0] == 250


def test_wrong_password_does_not_relay(postfix: Postfix) -> None:
    token = base64.b64encode(f"\0{USER}@{REALM}\0wrong".encode()).decode()
    talk = converse(postfix.address, postfix.submission_port, UNTRUSTED,  # type: ignore[attr-defined]
                    ["EHLO client.test", f"AUTH PLAIN {token}", "MAIL FROM:<a@example.test>",
                     "RCPT TO:<x@foreign.test>"], starttls=True)
    assert talk.replies[-3][0] == 535
    assert talk.replies[-1][0] >= 500


def test_submission_refuses_unauthenticated_relay_and_local(postfix: Postfix) -> None:
    talk = converse(postfix.address, postfix.submission_port, UNTRUSTED,  # type: ignore[attr-defined]
                    ["EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<user@example.test>"], starttls=True)
    assert talk.replies[-1][0] == 554


def test_log_has_no_fatal_errors(postfix: Postfix) -> None:
    postfix.assert_log_clean()
    assert "reject: RCPT from" in postfix.log_text()


def test_rendered_sasldb_key_and_config_stay_private(postfix: Postfix) -> None:
    mode = (postfix.base / "sasldb2").stat().st_mode & 0o777
    assert mode & 0o007 == 0, oct(mode)
    assert subprocess.run(["test", "-r", str(postfix.config_dir / "main.cf")], check=False).returncode == 0


def test_example_policy_passes_postfix_own_checks() -> None:
    """The bundled example, as rendered, draws no warning from postconf -n/-M or postfix check."""
    need_real_mta("postfix", "postconf", "script")
    with daemon_dir("example") as work:
        plan, rendered = render_policy(_example_with_config_dir(work / "etc"), work / "r")
        Postfix.install(rendered, work / "etc", 25, [step.argv for step in plan.steps])


def _example_with_config_dir(config_dir: Path) -> dict[str, Any]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(EXAMPLE_POLICY.read_text())
    data["targets"]["postfix"]["config_dir"] = str(config_dir)
    return dict(data)
