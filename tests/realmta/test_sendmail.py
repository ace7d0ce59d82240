"""Sendmail-specific checks: the plan's own check step (sendmail -bt over relay-check.bt) passes on the
compiled .cf, and fails when an expectation is wrong, so the check can fail."""

from __future__ import annotations

import pytest

from tests.conftest import need_real_mta, render_policy
from tests.realmta.harness import Sendmail, daemon_dir, free_port
from tests.realmta.mta_lab import behaviour_policy

pytestmark = pytest.mark.realmta


def test_relay_check_step_passes_and_can_fail() -> None:
    need_real_mta("m4", "unshare", str(Sendmail.binary))
    with daemon_dir("sendmail-bt") as base:
        port = free_port()
        data = behaviour_policy(targets={"sendmail": Sendmail.options(base, port)})
        plan, rendered = render_policy(data, base / "r", "sendmail")
        sendmail = Sendmail.install(rendered, base, port)
        (check,) = [step for step in plan.steps if step.phase == "check" and "relay-check.bt" in " ".join(step.argv)]
        passed = sendmail.in_uts(list(check.argv), check=False)
        assert passed.returncode == 0, passed.stdout + passed.stderr
        expected = sendmail.settings_dir / "relay-check.expected"
        verdicts = expected.read_text().split()
        assert "accepted" in verdicts and "refused" in verdicts
        flipped = ["accepted" if v == "refused" else "refused" for v in verdicts]
        expected.write_text("\n".join(flipped) + "\n")
        failed = sendmail.in_uts(list(check.argv), check=False)
        assert failed.returncode != 0 and "accepted" in failed.stdout
