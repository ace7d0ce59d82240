"""validate warns (exit 0) about entries another entry makes moot, located like errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtaharden.policy import load_policy_text
from mtaharden.policy.warnings import findings
from tests.unit.test_cli import run, write_policy

POLICY = """\
domains: {local: [example-u.edu, .example-u.edu], relay: [med.example-u.edu, other.edu]}
access:
  clients:
    - {match: 10.0.0.0/8, action: reject}
    - {match: 10.1.0.0/16, action: permit}
    - {match: "2001:db8::/32", action: reject}
    - {match: 192.0.2.0/24, action: reject}
  senders:
    - {match: "@spam.example", action: reject}
    - {match: "bob@spam.example", action: permit}
    - {match: "bob@", action: reject}
    - {match: "bob@ham.example", action: permit}
  recipients:
    - {match: "ham.example", action: permit}
    - {match: "abuse@ham.example", action: reject}
header_checks:
  - {header: Subject, pattern: "x"}
  - {header: subject, pattern: "x", action: warn}
  - {header: Subject, pattern: "y"}
"""


def test_each_moot_entry_is_named_at_its_path_and_nothing_else() -> None:
    found = findings(load_policy_text(POLICY))
    assert [(".".join(map(str, f.path)), f.message.split(":")[0]) for f in found] == [
        ("domains.relay.0", "med.example-u.edu lies under the local entry .example-u.edu"),
        ("access.clients.1", "client 10.1.0.0/16 never decides"),
        ("access.senders.1", "bob@spam.example never decides"),
        ("access.senders.3", "bob@ham.example never decides"),
        ("access.recipients.1", "abuse@ham.example never decides"),
        ("header_checks.1", "subject"),
    ]


@pytest.mark.parametrize("policy", [
    "domains: {local: [example-u.edu], relay: [med.example-u.edu]}\n",  # a name is no pattern: nothing swallowed
    "access: {clients: [{match: 10.1.0.0/16, action: permit}, {match: 10.0.0.0/8, action: reject}]}\n",
    "access: {senders: [{match: 'bob@spam.example', action: permit}, {match: '@spam.example', action: reject}]}\n",
])
def test_a_narrower_entry_first_is_fine(policy: str) -> None:
    assert findings(load_policy_text(policy)) == []


def test_validate_prints_warnings_located_and_still_exits_0(tmp_path: Path) -> None:
    path = write_policy(tmp_path, POLICY)
    result = run("validate", str(path))
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 6
    assert warnings[0].startswith(f"warning: {path}:1:") and "domains.relay.0: med.example-u.edu" in warnings[0]
    assert warnings[1].startswith(f"warning: {path}:5:7: access.clients.1: client 10.1.0.0/16 never decides")
    assert "(fix: remove it, or move it above access.clients[0]" in warnings[1]
