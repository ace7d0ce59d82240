"""Hostile text qmail takes, read back by ucspi-tcp: tcprules compiles tcp.smtp and tcprulescheck
gives the refused client exactly the policy's text (rblsmtpd's 553 reply); control/smtpgreeting holds
the greeting on its one line. qmail has no place for the other texts, and none of them reaches a file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import render_policy
from tests.realmta.harness import run
from tests.realmta.test_qmail import tcprulescheck
from tests.robustness.hostile import BASE, HOSTILE, WRITTEN, accepted_everywhere

CLIENT = "198.51.100.7"  # in BASE's rejected client network


@pytest.mark.parametrize("hostile", HOSTILE)
def test_qmail_reads_the_client_text_and_the_greeting_back(qmail_tools: None, tmp_path: Path, hostile: str) -> None:
    data, taken = accepted_everywhere(hostile, WRITTEN)
    _, out = render_policy(data, tmp_path / "r", "qmail")
    cdb = tmp_path / "tcp.smtp.cdb"
    run(["tcprules", str(cdb), str(tmp_path / "tcp.smtp.tmp")], input_text=(out / "tcp.smtp").read_text())
    message = hostile if ("access", "clients", 0, "message") in taken else BASE["access"]["clients"][0]["message"]
    verb, env = tcprulescheck(cdb, CLIENT)
    assert (verb, env.get("RBLSMTPD")) == ("allow", f"-{message}")

    banner = hostile if ("smtp", "banner") in taken else "ESMTP"
    greeting = f"{BASE['hostname']} {banner}".removesuffix(" ESMTP")
    assert (out / "control" / "smtpgreeting").read_text().splitlines() == [greeting]

    places = {"tcp.smtp": ("access", "clients", 0, "message"), "control/smtpgreeting": ("smtp", "banner")}
    expected = {name for name, field in places.items() if field in taken}
    holding = {str(f.relative_to(out)) for f in out.rglob("*") if f.is_file() and hostile in f.read_text()}
    assert holding == expected
