"""diff-policy: a policy change in words, risky changes flagged, exit 1 when any is risky."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mtaharden.policy import load_policy_text
from mtaharden.review.policy_diff import Change, diff_policies
from tests.conftest import EXAMPLE_POLICY
from tests.unit.test_cli import run, write_policy

BASE = """\
domains: {local: [example.org], relay: [dept.example.org]}
networks: {trusted: [127.0.0.0/8, 192.0.2.0/24]}
auth: {enabled: true}
tls: {cert: /etc/ssl/mx.pem, key: /etc/ssl/mx.key}
dnsbl: [{zone: zen.spamhaus.org}, {zone: bl.spamcop.net}]
access:
  clients: [{match: 198.51.100.0/24, action: reject}, {match: 203.0.113.0/24, action: reject}]
header_checks: [{header: Subject, pattern: "make money"}]
smtp: {max_message_size: 25MiB, max_recipients: 100}
"""


def changes(old: str, new: str) -> list[Change]:
    return diff_policies(load_policy_text(old), load_policy_text(new))


def edited(*replacements: tuple[str, str]) -> str:
    text = BASE
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


# (edit of BASE, element, words the change must contain)
RISKY = [
    (("192.0.2.0/24", "192.0.0.0/16"), "networks.trusted", "widened: 192.0.2.0/24 → 192.0.0.0/16"),
    (("192.0.2.0/24]", "192.0.2.0/24, 10.0.0.0/9]"), "networks.trusted", "trusted network added: 10.0.0.0/9"),
    (("auth: {enabled: true}", "auth: {enabled: true, require_tls: false}"), "auth.require_tls",
     "AUTH no longer requires TLS"),
    (("relay: [dept.example.org]", "relay: [dept.example.org, .example.net]"), "domains.relay",
     "relay domain added: .example.net"),
    (("max_recipients: 100", "max_recipients: 1000"), "smtp.max_recipients", "raised: 100 → 1000"),
    (("max_message_size: 25MiB", "max_message_size: 1GiB"), "smtp.max_message_size", "raised: 25 MiB → 1 GiB"),
]


@pytest.mark.parametrize(("edit", "element", "words"), RISKY, ids=[case[1] for case in RISKY])
def test_risky_changes_are_flagged(edit: tuple[str, str], element: str, words: str) -> None:
    found = changes(BASE, edited(edit))
    assert [c.element for c in found if c.risky] == [element], found
    assert words in next(c.what for c in found if c.risky)


def test_auth_turned_on_is_risky_and_off_is_not() -> None:
    without = edited(("auth: {enabled: true}", "auth: {enabled: false}"))
    (turned_on,) = changes(without, BASE)
    assert turned_on == Change("auth.enabled", "SMTP AUTH enabled", turned_on.risk) and turned_on.risky
    (turned_off,) = changes(BASE, without)
    assert turned_off.element == "auth.enabled" and not turned_off.risky


def test_auth_enabled_without_tls_is_flagged_twice() -> None:
    without = edited(("auth: {enabled: true}", "auth: {enabled: false}"))
    weak = edited(("auth: {enabled: true}", "auth: {enabled: true, require_tls: false}"))
    found = changes(without, weak)
    assert [(c.element, c.what) for c in found if c.risky] == [
        ("auth.enabled", "SMTP AUTH enabled"), ("auth.require_tls", "AUTH accepted without TLS")]


def test_a_dropped_dnsbl_is_risky_an_added_one_is_not() -> None:
    dropped = edited(("dnsbl: [{zone: zen.spamhaus.org}, {zone: bl.spamcop.net}]", "dnsbl: [{zone: zen.spamhaus.org}]"))
    (removed,) = changes(BASE, dropped)
    assert removed.risky and removed.what.startswith("removed: bl.spamcop.net (reject on 127.0.0.[2..255]")
    (added,) = changes(dropped, BASE)
    assert not added.risky and added.what.startswith("added as rule 2 of 2: bl.spamcop.net")


@pytest.mark.parametrize(("flag", "command"), [("disable_vrfy", "VRFY"), ("disable_expn", "EXPN")])
def test_vrfy_and_expn_re_enabled_are_risky(flag: str, command: str) -> None:
    opened = edited(("smtp: {", f"smtp: {{{flag}: false, "))
    (change,) = changes(BASE, opened)
    assert change.risky and change.what == f"{command} re-enabled"
    (closed,) = changes(opened, BASE)
    assert not closed.risky and closed.what == f"{command} disabled"


def test_allow_wide_trusted_turned_on_is_risky() -> None:
    wide = edited(("networks: {trusted: [127.0.0.0/8, 192.0.2.0/24]}",
                   "networks: {trusted: [127.0.0.0/8, 192.0.2.0/24], allow_wide_trusted: true}"))
    (change,) = changes(BASE, wide)
    assert change.element == "networks.allow_wide_trusted" and change.risky


def test_a_waiver_added_is_risky_and_a_waiver_removed_is_not() -> None:
    waived = BASE + "targets: {qmail: {allow_unsupported: [header_checks]}}\n"
    (added,) = changes(BASE, waived)
    assert added.risky and added.what == "qmail may leave header_checks unenforced"
    (removed,) = changes(waived, BASE)
    assert not removed.risky and removed.element == "targets.qmail.allow_unsupported"


def test_trusted_networks_narrowed_removed_or_already_covered_are_not_risky() -> None:
    narrowed = changes(BASE, edited(("192.0.2.0/24", "192.0.2.0/25")))
    assert [(c.what, c.risky) for c in narrowed] == [("trusted network narrowed: 192.0.2.0/24 → 192.0.2.0/25", False)]
    removed = changes(BASE, edited((", 192.0.2.0/24]", "]")))
    assert [(c.what, c.risky) for c in removed] == [("trusted network removed: 192.0.2.0/24", False)]
    inside = changes(BASE, edited(("192.0.2.0/24]", "192.0.2.0/24, 192.0.2.128/25]")))
    assert [c.risky for c in inside] == [False] and "already trusted" in inside[0].what
    # two halves of a /24 already trusted: the /24 adds no address
    halves = edited(("192.0.2.0/24", "192.0.2.0/25, 192.0.2.128/25"))
    assert [c.risky for c in changes(halves, BASE)] == [False]


def test_limits_lowered_and_local_domains_are_not_risky() -> None:
    found = changes(BASE, edited(("max_recipients: 100", "max_recipients: 50"),
                                 ("local: [example.org]", "local: [example.org, example.net]"),
                                 ("relay: [dept.example.org]", "relay: []")))
    assert {(c.element, c.what) for c in found} == {
        ("domains.local", "local domain added: example.net"),
        ("domains.relay", "relay domain removed: dept.example.org"),
        ("smtp.max_recipients", "recipients per message lowered: 100 → 50"),
    }
    assert not any(c.risky for c in found)


def test_access_rules_added_changed_removed_and_reordered() -> None:
    first, second = "{match: 198.51.100.0/24, action: reject}", "{match: 203.0.113.0/24, action: reject}"
    reordered = edited((f"[{first}, {second}]", f"[{second}, {first}]"))
    assert [c.what for c in changes(BASE, reordered)] == [
        "reordered (first match wins): now 203.0.113.0/24, 198.51.100.0/24"]
    permit = edited((f"[{first}, ", "[{match: 198.51.100.7/32, action: permit}, " + first.replace("reject", "defer")
                     + ", "))
    found = changes(BASE, permit)
    assert [c.what for c in found if not c.element.startswith("meaning:")] == [
        "added as rule 1 of 3: permit 198.51.100.7/32",
        "changed: reject 198.51.100.0/24 → defer 198.51.100.0/24",
    ]
    # what the two edits do: the permitted client is accepted, the rest of the /24 only deferred
    assert sorted(c.what.split(": ", 1)[1].split(" (")[0] for c in found if c.risky) == [
        "reject by access.clients[0] → accept by access.clients[0]",
        "reject by access.clients[0] → defer by access.clients[1]",
    ]
    assert [c.what for c in changes(permit, BASE)][-1] == "removed: permit 198.51.100.7/32"


def test_header_checks_and_other_values_are_reported_in_words() -> None:
    found = changes(BASE, edited(("pattern: \"make money\"", "pattern: \"make money\", action: hold"),
                                 ("tls: {", "tls: {min_protocol: TLSv1.3, "))
                    + "role: mx+submission\nhostname: mx2.example.org\n")
    assert [(c.element, c.what) for c in found] == [
        ("header_checks", "changed: reject when Subject matches /make money/ → hold when Subject matches /make money/"),
        ("hostname", "set to mx2.example.org"),
        ("role", "mx → mx+submission"),
        ("tls.min_protocol", "TLSv1.2 → TLSv1.3"),
    ]
    assert not any(c.risky for c in found)


def test_tls_removed_is_reported_value_by_value() -> None:
    found = changes(BASE.replace("auth: {enabled: true}", "auth: {enabled: true, require_tls: false}"),
                    BASE.replace("auth: {enabled: true}", "auth: {enabled: true, require_tls: false}")
                    .replace("tls: {cert: /etc/ssl/mx.pem, key: /etc/ssl/mx.key}\n", ""))
    assert [c.what for c in found] == ["unset (was /etc/ssl/mx.pem)", "unset (was /etc/ssl/mx.key)",
                                       "unset (was may)", "unset (was TLSv1.2)"]


def test_reformatting_is_no_change() -> None:
    block = "\n".join([
        "smtp:", "  max_recipients: 100", "  max_message_size: 26214400",
        "header_checks:", "  - pattern: 'make money'", "    header: Subject",
        "access:", "  clients:", "    - {action: reject, match: '198.51.100.0/24'}",
        "    - {action: reject, match: 203.0.113.0/24}",
        "dnsbl:", "  - zone: zen.spamhaus.org   # comment", "  - {zone: bl.spamcop.net}",
        "tls: {key: /etc/ssl/mx.key, cert: /etc/ssl/mx.pem}",
        "auth:", "  enabled: true",
        "networks:", "  trusted:", "    - 127.0.0.0/8", "    - \"192.0.2.0/24\"",
        "domains: {relay: [dept.example.org], local: [EXAMPLE.org.]}", ""])
    assert changes(BASE, block) == []


# --- the command ------------------------------------------------------------------------------


def test_cli_exits_1_on_a_risky_change_and_shows_stances(tmp_path: Path) -> None:
    old = write_policy(tmp_path, BASE, "old.yml")
    widened = edited(("192.0.2.0/24", "192.0.0.0/16"), ("max_recipients: 100", "max_recipients: 50"))
    new = write_policy(tmp_path, widened, "new.yml")
    result = run("diff-policy", str(old), str(new))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{old} → {new}: 2 changes, 1 risky"
    assert lines[1].startswith("RISKY  networks.trusted: trusted network widened: 192.0.2.0/24 → 192.0.0.0/16 (")
    assert lines[2] == "       smtp.max_recipients: recipients per message lowered: 100 → 50"
    assert lines[3].startswith("relay stance before: this server relays only for 192.0.2.0/24 and authenticated")
    assert lines[4].startswith("relay stance after: this server relays only for 192.0.0.0/16 and authenticated")


def test_cli_exits_0_when_nothing_risky_changed(tmp_path: Path) -> None:
    old = write_policy(tmp_path, BASE, "old.yml")
    result = run("diff-policy", str(old), str(old))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"{old} → {old}: no change in meaning"
    assert result.stdout.splitlines()[1].startswith("relay stance (unchanged): this server relays only for")
    lowered = write_policy(tmp_path, edited(("max_recipients: 100", "max_recipients: 50")), "new.yml")
    assert run("diff-policy", str(old), str(lowered)).returncode == 0


def test_cli_json_and_markdown(tmp_path: Path) -> None:
    old = write_policy(tmp_path, BASE, "old.yml")
    new = write_policy(tmp_path, edited(("smtp: {", "smtp: {disable_vrfy: false, "),
                                        ('"make money"', '"make money", message: "no | *spam* <b>"')), "new.yml")
    data = json.loads(run("diff-policy", str(old), str(new), "--format", "json").stdout)
    assert data["risky"] is True and data["old"] == str(old) and data["new"] == str(new)
    assert data["changes"][0] == {"element": "smtp.disable_vrfy", "change": "VRFY re-enabled", "risky": True,
                                  "risk": "anyone can test which addresses exist"}
    assert data["relay_stance"]["old"] == data["relay_stance"]["new"]
    markdown = run("diff-policy", str(old), str(new), "--format", "markdown")
    assert markdown.returncode == 1
    assert "| **risky** | `smtp.disable_vrfy` | VRFY re-enabled | anyone can test which addresses exist |" \
        in markdown.stdout
    assert "**1 risky change** of 2." in markdown.stdout
    assert r"no \| \*spam\* \<b\>" in markdown.stdout, "policy text cannot break the table or add markup"


def test_cli_bad_policy_exits_2(tmp_path: Path) -> None:
    good = write_policy(tmp_path, BASE, "old.yml")
    bad = write_policy(tmp_path, "role: nope\n", "new.yml")
    result = run("diff-policy", str(good), str(bad))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"{bad}:1:7: role: ")


def test_example_policy_against_itself_with_a_risky_edit(tmp_path: Path) -> None:
    text = EXAMPLE_POLICY.read_text()
    new = write_policy(tmp_path, text.replace("require_tls: true", "require_tls: false"), "policy.yml")
    result = run("diff-policy", str(EXAMPLE_POLICY), str(new))
    assert result.returncode == 1
    assert "RISKY  auth.require_tls: AUTH no longer requires TLS (passwords may cross the network in clear)" \
        in result.stdout


def test_a_repeated_header_check_is_added_not_changed() -> None:
    again = edited(('header_checks: [{header: Subject, pattern: "make money"}]',
                    'header_checks: [{header: Subject, pattern: "make money"}, '
                    '{header: Subject, pattern: "make money", action: hold}]'))
    assert [c.what for c in changes(BASE, again)] == [
        "added as rule 2 of 2: hold when Subject matches /make money/"]
