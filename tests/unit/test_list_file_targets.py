"""List files in every target: a file's entries act at the file item's place, in bulk, and what a
target cannot carry is in its coverage. First match wins is property-tested against each MTA's own
lookup order (Sendmail's access map and tcpserver both follow the longest key, not the file order)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtaharden.policy import Policy, load_policy
from mtaharden.render import RenderError, key_block, render_plan
from mtaharden.targets.base import Block, Plan, registered
from mtaharden.targets.exchange import LIST_FILE_MAX
from tests.unit.test_qmail_plan import lookup, observed_outcome, parse_rules


def load(folder: Path, policy: str, **files: str) -> Policy:
    for name, text in files.items():
        (folder / f"{name}.txt").write_text(text)
    (folder / "policy.yml").write_text(policy)
    return load_policy(folder / "policy.yml")


def rendered(target: str, policy: Policy) -> dict[str, str]:
    chosen = registered()[target]
    return {f.path: f.content for f in render_plan(chosen.plan(policy), chosen)}


def coverage(plan: Plan) -> dict[str, tuple[str, str]]:
    return {item.element: (item.status, item.detail) for item in plan.coverage}


def body(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


# --- Postfix ------------------------------------------------------------------------------------


def test_postfix_keeps_the_file_item_place_among_client_tables(tmp_path: Path) -> None:
    policy = load(tmp_path, "access:\n  clients:\n    - {match: 192.0.2.0/24, action: permit}\n"
                            "    - {file: block.txt, action: reject, message: Listed}\n"
                            "    - {match: 198.51.100.0/24, action: defer}\n",
                  block="192.0.2.7\n203.0.113.0/25\n2001:db8::7\n10.0.0.1\n")
    files = rendered("postfix", policy)
    assert body(files["client_access.cidr"]) == ["192.0.2.0/24\tOK"]
    assert body(files["client_access.1"]) == ["192.0.2.7\tREJECT Listed", "10.0.0.1\tREJECT Listed"]
    assert body(files["client_access.1.cidr"]) == ["203.0.113.0/25\tREJECT Listed",
                                                   "2001:db8::7/128\tREJECT Listed"]
    assert body(files["client_access.2.cidr"]) == ["198.51.100.0/24\tDEFER"]
    restrictions = files["main.cf"].split("smtpd_recipient_restrictions =\n")[1].split("\n")[:4]
    assert [line.strip().rstrip(",") for line in restrictions] == [
        "check_client_access cidr:$config_directory/client_access.cidr",
        "check_client_access hash:$config_directory/client_access.1",
        "check_client_access cidr:$config_directory/client_access.1.cidr",
        "check_client_access cidr:$config_directory/client_access.2.cidr"]
    postmaps = [step.argv[-1] for step in registered()["postfix"].plan(policy).steps if step.argv[0] == "postmap"]
    assert postmaps == ["hash:/etc/postfix/client_access.1"]


def test_postfix_address_and_helo_files_join_their_stage_tables(tmp_path: Path) -> None:
    policy = load(tmp_path, "access:\n  senders:\n    - {match: a@x.example, action: permit}\n"
                            "    - {file: senders.txt, action: reject}\n"
                            "  helo:\n    - {file: helo.txt, action: defer}\n",
                  senders="@spam.example\nuser@\nbad.example\n", helo="localhost\n192.0.2.1\n")
    files = rendered("postfix", policy)
    assert body(files["sender_access"]) == ["a@x.example\tOK", "spam.example\tREJECT", "user@\tREJECT",
                                            "bad.example\tREJECT"]
    assert body(files["helo_access"]) == ["localhost\tDEFER", "192.0.2.1\tDEFER", "[192.0.2.1]\tDEFER"]


def test_postfix_puts_a_long_domain_list_in_a_hash_table(tmp_path: Path) -> None:
    names = [f"d{n}.example.org" for n in range(25)]
    policy = load(tmp_path, "domains:\n  local: [a.example.org]\n  relay: [{file: relay.txt}]\n",
                  relay="\n".join(names))
    files = rendered("postfix", policy)
    assert "relay_domains = hash:$config_directory/relay_domains\n" in files["main.cf"]
    assert "mydestination = $myhostname, localhost, a.example.org\n" in files["main.cf"]
    assert body(files["relay_domains"]) == [f"{name}\tOK" for name in names]
    assert "hash:relay_domains" in coverage(registered()["postfix"].plan(policy))["domains.relay"][1]


# --- Sendmail -----------------------------------------------------------------------------------


def test_sendmail_writes_file_entries_as_access_keys(tmp_path: Path) -> None:
    policy = load(tmp_path, "networks: {trusted: [127.0.0.1/32]}\naccess:\n  clients:\n"
                            "    - {file: block.txt, action: reject, message: Listed}\n"
                            "  senders:\n    - {file: senders.txt, action: defer}\n"
                            "  recipients:\n    - {file: friends.txt, action: permit}\n",
                  block="192.0.2.7\n127.0.0.1\n198.51.100.0/24\n", senders="@spam.example\njoe@x.example\n",
                  friends="postmaster@\n")
    access = body(rendered("sendmail", policy)["access"])
    assert 'ClientRule:192.0.2.7\tERROR:5.7.1:"550 Listed"' in access
    assert 'ClientRule:198.51.100\tERROR:5.7.1:"550 Listed"' in access
    assert not any(line.startswith(("Connect:192.0.2.7", "Connect:198.51.100")) for line in access)
    # the trusted network relays (the relay decision comes first); the client re-check refuses it
    assert [line for line in access if line.startswith(("Connect:127.0.0.1", "ClientRule:127.0.0.1"))] == [
        "Connect:127.0.0.1\tRELAY", 'ClientRule:127.0.0.1\tERROR:5.7.1:"550 Listed"']
    assert 'From:spam.example\tERROR:4.7.1:"450 Sender address rejected"' in access
    assert "Spam:postmaster@\tFRIEND" in access


def test_sendmail_expands_short_helo_files_and_reports_long_ones(tmp_path: Path) -> None:
    short = load(tmp_path, "access:\n  helo:\n    - {file: helo.txt, action: reject}\n", helo="bad.example\n")
    mc = rendered("sendmail", short)["sendmail.mc"]
    assert "Rbad.example" in mc.replace("`", "").replace("'", "")
    long = load(tmp_path, "access:\n  helo:\n    - {file: helo.txt, action: reject}\n",
                helo="".join(f"h{n}.example\n" for n in range(1001)))
    assert coverage(registered()["sendmail"].plan(long))["access.helo[0]"][0] == "unsupported"


def test_sendmail_checks_a_long_domain_list_at_both_ends(tmp_path: Path) -> None:
    names = [f"d{n}.example.org" for n in range(100)]
    policy = load(tmp_path, "domains:\n  relay: [{file: relay.txt}]\n", relay="\n".join(names))
    scenarios = rendered("sendmail", policy)["relay-check.bt"]
    assert "d0.example.org" in scenarios and "d99.example.org" in scenarios and "d50.example.org" not in scenarios


def sendmail_lookup(access: dict[str, str], ip: str, tag: str = "Connect") -> str | None:
    """Sendmail's access map for a client: the whole address, then shorter and shorter octet prefixes."""
    octets = ip.split(".")
    return next((access[f"{tag}:{'.'.join(octets[:n])}"] for n in (4, 3, 2, 1)
                 if f"{tag}:{'.'.join(octets[:n])}" in access), None)


def sendmail_outcome(access: dict[str, str], ip: str) -> tuple[str, bool]:
    """The client rules' decision (the re-check's ClientRule: keys when a rule refuses, else Connect:) and
    whether the client relays (Connect: RELAY)."""
    tag = "ClientRule" if any(key.startswith("ClientRule:") for key in access) else "Connect"
    value = sendmail_lookup(access, ip, tag)
    got = {None: "accept", "OK": "accept", "RELAY": "accept"}.get(value) or (
        "defer" if value and value.startswith("ERROR:4") else "reject")
    return got, sendmail_lookup(access, ip) == "RELAY"


networks = st.builds(lambda address, prefix: ipaddress.IPv4Network((address, prefix), strict=False),
                     st.integers(0, 2**32 - 1), st.sampled_from([8, 16, 23, 24, 25, 30, 32]))
hosts = st.lists(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address), min_size=1, max_size=6, unique=True)
actions = st.sampled_from(["reject", "defer", "permit"])


def first_match_policy(tmp_path: Path, before: list[tuple[ipaddress.IPv4Network, str]],
                       listed: list[ipaddress.IPv4Address], action: str,
                       after: list[tuple[ipaddress.IPv4Network, str]], trusted: list[ipaddress.IPv4Network]
                       ) -> tuple[Policy, dict[str, Any]]:
    """Inline rules, one list file of single addresses, more inline rules; and what each client gets."""
    (tmp_path / "block.txt").write_text("".join(f"{host}\n" for host in listed))
    rules = [*({"match": n.with_prefixlen, "action": a} for n, a in before),
             {"file": str(tmp_path / "block.txt"), "action": action, "message": "Listed"},
             *({"match": n.with_prefixlen, "action": a} for n, a in after)]
    data = {"networks": {"trusted": [n.with_prefixlen for n in trusted], "allow_wide_trusted": True},
            "access": {"clients": rules}, "targets": {"qmail": {"allow_unsupported": ["smtp"]}}}
    (tmp_path / "policy.yml").write_text(str(data).replace("'", '"').replace("True", "true"))
    return load_policy(tmp_path / "policy.yml"), data


def expected(policy: Policy, ip: ipaddress.IPv4Address) -> tuple[str, bool]:
    """First match wins over inline rules and the list file's entries: (action, relays)."""
    trusted = any(ip in n for n in policy.networks.trusted)
    rule = next((rule for rule in policy.access.clients if rule.covers(ip)), None)
    if rule is None or rule.action == "permit":
        return "accept", trusted
    return rule.action, False


rule_lists = st.lists(st.tuples(networks, actions), max_size=3, unique_by=lambda rule: rule[0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule_lists, hosts, actions, rule_lists, st.lists(networks, max_size=2, unique=True))
def test_list_file_entries_take_the_file_item_place_in_sendmail_and_qmail(
        tmp_path: Path, before: list[tuple[ipaddress.IPv4Network, str]], listed: list[ipaddress.IPv4Address],
        action: str, after: list[tuple[ipaddress.IPv4Network, str]], trusted: list[ipaddress.IPv4Network]) -> None:
    clash = {n for n, _ in before} & {n for n, _ in after} | {ipaddress.IPv4Network(h) for h in listed}
    after = [(n, a) for n, a in after if n not in clash]
    before = [(n, a) for n, a in before if n not in {ipaddress.IPv4Network(h) for h in listed}]
    policy, _ = first_match_policy(tmp_path, before, listed, action, after, trusted)
    samples = [*listed, *(n.network_address for n, _ in [*before, *after]), *(n.network_address for n in trusted)]
    access = dict(line.split("\t", 1) for line in body(rendered("sendmail", policy)["access"]))
    table = parse_rules(rendered("qmail", policy)["tcp.smtp"])
    for ip in samples:
        relays = any(ip in n for n in policy.networks.trusted)  # Sendmail: the relay decision comes first
        assert sendmail_outcome(access, str(ip)) == (expected(policy, ip)[0], relays), ip
        verb, relay, _ = observed_outcome(lookup(table, str(ip)), dnsbl=False)
        assert (verb, relay == "relay") == expected(policy, ip), (ip, lookup(table, str(ip)))


# --- qmail --------------------------------------------------------------------------------------


def test_qmail_writes_sender_files_to_badmailfrom_and_reports_what_it_cannot(tmp_path: Path) -> None:
    policy = load(tmp_path, "access:\n  senders:\n    - {file: senders.txt, action: reject}\n  clients:\n"
                            "    - {file: block.txt, action: reject}\n",
                  senders="spam.example\n@bad.example\njoe@x.example\nroot@\n", block="192.0.2.7\n2001:db8::1\n")
    files = rendered("qmail", policy)
    assert body(files["control/badmailfrom"]) == ["@spam.example", "@bad.example", "joe@x.example"]
    assert "192.0.2.7:deny" in body(files["tcp.smtp"])
    found = coverage(registered()["qmail"].plan(policy))
    assert found["access.senders[0]"][0] == "approximated" and "1 of the form user@" in found["access.senders[0]"][1]
    assert found["access.clients[0]"] == ("approximated", "1 IPv6 entries of block.txt are not written: ucspi-tcp "
                                                          "0.88 accepts IPv4 clients only")


# --- Exchange -----------------------------------------------------------------------------------


def test_exchange_makes_one_transport_rule_of_a_short_file_and_reports_a_long_one(tmp_path: Path) -> None:
    short = load(tmp_path, "access:\n  clients:\n    - {file: block.txt, action: reject}\n",
                 block="192.0.2.7\n198.51.100.0/24\n")
    script = rendered("exchange", short)["harden.ps1"]
    assert "'192.0.2.7/32', '198.51.100.0/24'" in script
    long = load(tmp_path, "access:\n  clients:\n    - {file: block.txt, action: reject}\n",
                block="".join(f"10.0.{n // 256}.{n % 256}\n" for n in range(LIST_FILE_MAX + 1)))
    plan = registered()["exchange"].plan(long)
    assert coverage(plan)["access.clients[0]"][0] == "unsupported"
    assert "10.0.0.1/32" not in rendered("exchange", long)["harden.ps1"]


# --- the bulk layout ------------------------------------------------------------------------------


def test_a_block_is_laid_out_in_one_piece_and_refuses_line_breaks_and_tabs() -> None:
    assert key_block(Block(["a", "b"], "OK", prefix="From:")) == "From:a\tOK\nFrom:b\tOK"
    assert key_block(Block(["1.2.3.4"], "deny", separator=":")) == "1.2.3.4:deny"
    for bad in (["a\nb"], ["a\tb"], ["a\x00"]):
        with pytest.raises(RenderError):
            key_block(Block(bad, "OK"))
