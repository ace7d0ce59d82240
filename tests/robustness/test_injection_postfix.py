"""Hostile text Postfix takes, read back by Postfix itself.

Each hostile string goes into every text field that accepts it (tests/robustness/hostile.py). Then
postconf lists exactly the Plan's parameters, with no warning; ``postconf -x`` expands the banner to
the literal greeting and the site parameter reads as written; postmap finds each access reply as
written, the DNSBL reply under its key, and the header check matching exactly what the policy's own
regular expression matches (its reply, after PCRE's ``$`` substitution, as written).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import render_policy
from tests.realmta.harness import run
from tests.robustness.hostile import BASE, HOSTILE, VALUE, WRITTEN, accepted_everywhere
from tests.robustness.readback import planned_parameters, shown_parameters

HEADER = "X-Hostile"


def folded(text: str) -> str:
    """Postfix folds runs of blanks in a parameter value into one space."""
    return " ".join(text.split())


def lookup(out: Path, map_spec: str, key: str) -> str | None:
    """What ``postmap -q`` answers for ``key`` in ``map_spec`` (None: not found)."""
    result = run(["postmap", "-c", str(out), "-q", key, map_spec], check=False)
    assert result.stderr == "", result.stderr
    return result.stdout.removesuffix("\n") if result.returncode == 0 else None


def postconf(out: Path, *args: str) -> str:
    result = run(["postconf", "-c", str(out), *args])
    assert result.stderr == "", result.stderr
    return result.stdout.removesuffix("\n")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_postfix_reads_every_hostile_text_back_as_written(postfix_tools: None, tmp_path: Path, hostile: str) -> None:
    data, taken = accepted_everywhere(hostile, WRITTEN)
    data["header_checks"].append({"header": HEADER, "pattern": re.escape(hostile), "message": "escaped"})
    plan, out = render_policy(data, tmp_path / "r", "postfix")
    assert shown_parameters(out) == planned_parameters(plan, out)

    banner = f"{BASE['hostname']} {hostile}" if ("smtp", "banner") in taken else f"{BASE['hostname']} ESMTP"
    assert postconf(out, "-xh", "smtpd_banner") == folded(banner)
    footer = hostile if ("targets", "postfix", "parameters", VALUE) in taken else "footer"
    assert postconf(out, "-h", "smtpd_reject_footer") == folded(footer)

    access = BASE["access"]
    for stage, key, kind, table in (("clients", "198.51.100.7", "cidr", "client_access.cidr"),
                                    ("helo", "bad.example.net", "texthash", "helo_access"),
                                    ("senders", "spam.example.net", "texthash", "sender_access"),
                                    ("recipients", "nobody@example.org", "texthash", "recipient_access")):
        message = hostile if ("access", stage, 0, "message") in taken else access[stage][0]["message"]
        assert lookup(out, f"{kind}:{out}/{table}", key) == f"REJECT {message}", stage

    if ("dnsbl", 0, "message") in taken:
        reply = lookup(out, f"texthash:{out}/rbl_reply", "bl.example.net=127.0.0.2")
        assert reply == "554 5.7.1 " + hostile.replace("$", "$$")  # smtpd expands $$ back to $

    pcre = f"pcre:{out}/header_checks.pcre"
    pattern = hostile if ("header_checks", 0, "pattern") in taken else BASE["header_checks"][0]["pattern"]
    message = hostile if ("header_checks", 0, "message") in taken else "spam"
    value = f"x {hostile} y"
    expected = f"REJECT {message}" if re.search(pattern, f" {value}") else None
    assert lookup(out, pcre, f"Subject: {value}") == expected
    assert lookup(out, pcre, f"{HEADER}: {value}") == "REJECT escaped"
    assert lookup(out, pcre, f"{HEADER}: nothing to see") is None
