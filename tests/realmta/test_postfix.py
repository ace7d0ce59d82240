"""Postfix-specific behaviour beyond the stock-host suite (tests/lab/test_behaviour.py): submission services,
anchored header patterns, routing tricks, privacy of files, and the bundled example's own checks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_POLICY, need_real_mta, render_policy
from tests.realmta.harness import Postfix, daemon_dir, free_port
from tests.realmta.mta_lab import UNTRUSTED, RunningMta, auth_plain, behaviour_policy, rcpt, running_mta, with_auth
from tests.realmta.smtp_client import Body, converse

pytestmark = pytest.mark.realmta
BULK_MAILER_CHECK = {"header": "X-Mailer", "pattern": "^Mass/Mailer", "action": "reject", "message": "No bulk"}


@dataclass(frozen=True)
class Lab:
    mta: RunningMta
    submission_port: int

    @property
    def server(self) -> Postfix:
        assert isinstance(self.mta.server, Postfix)
        return self.mta.server


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with daemon_dir("postfix") as base:
        policy = with_auth(behaviour_policy(role="mx+submission"), base)
        policy["header_checks"] = [*policy["header_checks"], BULK_MAILER_CHECK]
        submission_port = free_port()
        policy["auth"]["submission"] = {"port": submission_port, "smtps_port": None}
        with running_mta("postfix", base, policy) as running:
            yield Lab(running, submission_port)


def test_subdomain_of_a_relay_domain_is_not_relayed(lab: Lab) -> None:
    assert rcpt(lab.mta, UNTRUSTED, "user@sub.relay.example.test")[0] == 554


def test_mail_without_helo_is_refused(lab: Lab) -> None:
    code, _ = converse(lab.mta.address, lab.mta.port, UNTRUSTED, ["MAIL FROM:<a@client.test>"]).replies[-1]
    assert code == 503


def test_access_permit_never_opens_relay(lab: Lab) -> None:
    """Even the trusted-looking path through access rules stops at smtpd_relay_restrictions."""
    assert rcpt(lab.mta, UNTRUSTED, "postmaster@foreign.test")[0] == 554


@pytest.mark.parametrize(("mailer", "code"), [("Mass/Mailer 2.0", 550), ("Not a Mass/Mailer", 250),
                                              ("mass/mailer", 250)])
def test_anchored_header_pattern_matches_the_start_of_the_value(lab: Lab, mailer: str, code: int) -> None:
    message = Body(f"Subject: hi\nX-Mailer: {mailer}\nFrom: a@client.test\n\nbody")
    talk = converse(lab.mta.address, lab.mta.port, UNTRUSTED,
                    ["EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<user@example.test>", "DATA", message])
    assert talk.replies[-1][0] == code


def test_submission_offers_auth_only_after_starttls_and_relays_for_users(lab: Lab) -> None:
    ehlo = converse(lab.mta.address, lab.submission_port, UNTRUSTED, ["EHLO client.test"]).replies[-1]
    assert "STARTTLS" in ehlo[1] and "AUTH" not in ehlo[1]
    talk = converse(lab.mta.address, lab.submission_port, UNTRUSTED,
                    ["EHLO client.test", auth_plain(), "MAIL FROM:<alice@example.test>", "RCPT TO:<x@foreign.test>"],
                    starttls=True)
    assert [reply[0] for reply in talk.replies[-3:]] == [235, 250, 250]


def test_submission_refuses_the_unauthenticated_and_wrong_passwords(lab: Lab) -> None:
    anonymous = converse(lab.mta.address, lab.submission_port, UNTRUSTED,
                         ["EHLO client.test", "MAIL FROM:<a@client.test>", "RCPT TO:<user@example.test>"],
                         starttls=True)
    assert anonymous.replies[-1][0] == 554
    commands = ["EHLO client.test", auth_plain("wrong"), "MAIL FROM:<a@example.test>", "RCPT TO:<x@foreign.test>"]
    wrong = converse(lab.mta.address, lab.submission_port, UNTRUSTED, commands, starttls=True)
    assert wrong.replies[-3][0] == 535 and wrong.replies[-1][0] >= 500


def test_log_shows_rejections_and_nothing_fatal(lab: Lab) -> None:
    lab.server.assert_log_clean()
    assert "reject: RCPT from" in lab.server.log_text()


def test_sasldb_stays_private(lab: Lab) -> None:
    mode = (lab.server.base / "sasldb2").stat().st_mode & 0o777
    assert mode & 0o007 == 0, oct(mode)


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
