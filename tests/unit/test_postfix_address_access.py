"""Postfix's sender and recipient maps keep the policy's first match for list-file entries too (issue 17: a list
file holding ``root@`` before an inline ``local2.test`` permit lost to it), in bulk, with a new table where
earlier ``user@`` entries meet many domains. Lookups follow access(5): per table, in the order
``check_recipient_access`` reads them, ``user@domain``, then ``domain``, then ``user@``."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from mtaharden.policy.lists import EntryFile
from mtaharden.policy.model import AccessAction, AddressFile, AddressRule
from mtaharden.render import render_plan
from mtaharden.targets.base import registered
from mtaharden.targets.postfix.access import access_value
from mtaharden.targets.postfix.address_access import CROSS_KEYS_MAX, FEW, address_tables
from mtaharden.targets.postfix.tables import Table
from tests.unit.test_kit_address_parts import first_match
from tests.unit.test_list_file_targets import body, coverage, load

Item = AddressRule | AddressFile
ACTIONS: tuple[AccessAction, ...] = ("reject", "defer", "permit")
# Inline rules and list files over the same users and domains, so every kind of shadowing occurs.
ITEMS = (("root@",), ("local2.test",), ("root@local2.test",), ("root@", "other.test"), ("@local2.test", "x@"),
         ("root@other.test", "x@local2.test"))
ADDRESSES = ("root@local2.test", "x@local2.test", "y@local2.test", "root@other.test", "x@other.test",
             "root@third.test", "x@third.test", "y@third.test")


def item(patterns: tuple[str, ...], index: int, *, inline: bool) -> Item:
    action = ACTIONS[index % 3]
    message = f"rule {index}"
    if inline:
        return AddressRule(match=patterns[0], action=action, message=message)
    entries = tuple(p[1:] if p.startswith("@") else p for p in patterns)
    return AddressFile.model_construct(file=EntryFile(f"f{index}.txt", f"f{index}.txt", "address", entries),
                                       action=action, message=message)


def keys(table: Table) -> dict[str, str]:
    lines = dict(table.lines)
    for block in table.blocks:
        for key in block.keys:
            assert key not in lines, f"{key} written twice: postmap warns"
            lines[key] = block.value
    assert len(lines) == len(table.lines) + sum(len(block.keys) for block in table.blocks)
    return lines


def postfix_answer(tables: list[dict[str, str]], address: str) -> str | None:
    """check_recipient_access over each table in turn: the first table with any key for the address decides."""
    user, _, domain = address.partition("@")
    for lines in tables:
        for key in (address, domain, f"{user}@"):
            if key in lines:
                return lines[key]
    return None


def policy_answer(items: list[Item], address: str) -> str | None:
    rules = [(pattern, access_value(rule.action, rule.message)) for rule in items
             for pattern in ((rule.match,) if isinstance(rule, AddressRule) else rule.file.entries)]
    return first_match(rules, address)


# bound 0: a new table wherever a user@ entry meets a domain; few 0: earlier names looked up, not prefix-tested
@pytest.mark.parametrize(("bound", "few"), [(CROSS_KEYS_MAX, FEW), (0, FEW), (CROSS_KEYS_MAX, 0)])
def test_every_order_of_inline_rules_and_list_files_gives_the_first_match(bound: int, few: int,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mtaharden.targets.postfix.address_access.CROSS_KEYS_MAX", bound)
    monkeypatch.setattr("mtaharden.targets.postfix.address_access.FEW", few)
    checked = split = 0
    for count in (1, 2, 3):
        for chosen in itertools.permutations(range(len(ITEMS)), count):
            for inline in itertools.product((True, False), repeat=count):
                if any(flag and len(ITEMS[i]) > 1 for i, flag in zip(chosen, inline, strict=True)):
                    continue
                items = [item(ITEMS[i], n, inline=flag) for n, (i, flag) in enumerate(zip(chosen, inline, strict=True))]
                tables = [keys(table) for _, table in address_tables("recipient_access", items, access_value)]
                split += len(tables) > 1
                for address in ADDRESSES:
                    assert postfix_answer(tables, address) == policy_answer(items, address), (items, address)
                    checked += 1
    assert checked == 3624 and (split > 0) == (bound == 0)


def test_the_issue_17_case_a_listed_user_before_a_domain_permit() -> None:
    items = [item(("root@",), 0, inline=False), AddressRule(match="local2.test", action="permit")]
    ((start, table),) = address_tables("recipient_access", items, access_value)
    assert start == 0
    assert keys(table) == {"root@": "REJECT rule 0", "local2.test": "OK", "root@local2.test": "REJECT rule 0"}


def test_entries_that_keep_their_file_value_stay_in_bulk() -> None:
    items = [AddressRule(match="example.org", action="permit"),
             item(("a@example.org", "b@example.net", "c@example.net"), 1, inline=False)]
    ((_, table),) = address_tables("sender_access", items, access_value)
    assert table.lines == (("example.org", "OK"), ("a@example.org", "OK"))
    assert [(list(b.keys), b.value) for b in table.blocks] == [(["b@example.net", "c@example.net"], "DEFER rule 1")]


def test_a_user_rule_before_many_domains_starts_a_new_table() -> None:
    domains = tuple(f"d{n}.example" for n in range(CROSS_KEYS_MAX + 1))
    items = [AddressRule(match="postmaster@", action="permit"), item(domains, 1, inline=False),
             AddressRule(match="d0.example", action="reject")]
    parts = address_tables("recipient_access", items, access_value)
    assert [(start, table.name) for start, table in parts] == [(0, "recipient_access"), (1, "recipient_access.1")]
    tables = [keys(table) for _, table in parts]
    assert sum(map(len, tables)) == len(domains) + 1  # no postmaster@dN key
    assert postfix_answer(tables, "postmaster@d7.example") == "OK"
    assert postfix_answer(tables, "x@d7.example") == "DEFER rule 1"
    few = address_tables("recipient_access", [items[0], item(domains[:CROSS_KEYS_MAX], 1, inline=False)],
                         access_value)
    assert len(few) == 1 and len(keys(few[0][1])) == 1 + 2 * CROSS_KEYS_MAX  # under the bound: keys, one table


def test_rendered_tables_are_read_in_order_and_postmap_builds_them(tmp_path: Path) -> None:
    domains = "".join(f"d{n}.example\n" for n in range(CROSS_KEYS_MAX + 1))
    policy = load(tmp_path, "access:\n  recipients:\n    - {match: postmaster@, action: permit}\n"
                            "    - {file: domains.txt, action: reject}\n", domains=domains)
    files = {f.path: f.content for f in render_plan(registered()["postfix"].plan(policy), registered()["postfix"])}
    restrictions = files["main.cf"].split("smtpd_recipient_restrictions =\n")[1].split("\n")[:2]
    assert [line.strip().rstrip(",") for line in restrictions] == [
        "check_recipient_access hash:$config_directory/recipient_access",
        "check_recipient_access hash:$config_directory/recipient_access.1"]
    assert body(files["recipient_access"]) == ["postmaster@\tOK"]
    assert len(body(files["recipient_access.1"])) == CROSS_KEYS_MAX + 1
    assert "recipient_access.1" in coverage(registered()["postfix"].plan(policy))["access.recipients"][1]
    if shutil.which("postmap") is None:
        pytest.skip("postmap (Debian package postfix) is not installed")
    (tmp_path / "main.cf").touch()
    for name in ("recipient_access", "recipient_access.1"):
        (tmp_path / name).write_text(files[name])
        built = subprocess.run(["postmap", "-c", str(tmp_path), f"hash:{tmp_path / name}"], capture_output=True,
                               text=True, timeout=60)
        assert (built.returncode, built.stderr) == (0, "")
    query = subprocess.run(["postmap", "-c", str(tmp_path), "-q", "d5.example", f"hash:{tmp_path}/recipient_access.1"],
                           capture_output=True, text=True, timeout=60)
    assert query.stdout == "REJECT\n"
