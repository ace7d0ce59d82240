"""Canonical or refused: the address formatter, the plain-form address types, trust by union, the other
typed values (names, paths), and messages in the user's terms."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mtaharden.policy import PolicyError, canonical, load_policy, load_policy_text, trust, types
from mtaharden.policy.types import PolicyValueError
from mtaharden.review.stance import relay_stance

SAFE = set("0123456789abcdefABCDEF:./")


def refusal(text: str) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "policy.yml")
    return str(caught.value)


# --- the formatter --------------------------------------------------------------------------

@pytest.mark.parametrize(("written", "emitted"), [
    ("192.0.2.7", "192.0.2.7"), ("2001:DB8:0:0:0:0:0:7", "2001:db8::7"), ("64:ff9b::192.0.2.1", "64:ff9b::c000:201"),
    ("::1", "::1"), ("FE80::1", "fe80::1"), ("0.0.0.0", "0.0.0.0"),
])
def test_the_formatter_rebuilds_addresses_from_their_number(written: str, emitted: str) -> None:
    assert canonical.address(ipaddress.ip_address(written)) == emitted
    assert canonical.address(written) == emitted
    assert set(emitted) <= SAFE


@pytest.mark.parametrize(("written", "network", "client"), [
    ("192.0.2.0/24", "192.0.2.0/24", "192.0.2.0/24"), ("192.0.2.7", "192.0.2.7/32", "192.0.2.7"),
    ("2001:DB8::/32", "2001:db8::/32", "2001:db8::/32"), ("2001:db8::7/128", "2001:db8::7/128", "2001:db8::7"),
])
def test_the_formatter_writes_networks_and_client_keys(written: str, network: str, client: str) -> None:
    parsed = ipaddress.ip_network(written)
    assert (canonical.network(parsed), canonical.client(parsed)) == (network, client)


@pytest.mark.parametrize("value", [ipaddress.ip_address("fe80::1%x ok"), "fe80::1%eth0",
                                   ipaddress.ip_network("fe80::1%x/128"), "1.2.3.4 OK"])
def test_the_formatter_refuses_a_zone_id_or_stray_text_instead_of_writing_it(value: object) -> None:
    with pytest.raises(canonical.NotCanonical):
        if isinstance(value, ipaddress.IPv6Network):
            canonical.network(value)
        else:
            canonical.address(value)  # type: ignore[arg-type]


# --- plain forms only -------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "words", "hint"), [
    ("fe80::1%eth0", "zone id", "leave out '%'"),
    ("fe80::1%x] static:all [::1", "zone id", "leave out '%'"),
    ("::ffff:192.0.2.1", "IPv4-mapped", "write it as IPv4: 192.0.2.1"),
    ("::ffff:0:0/96", "IPv4-mapped", "write it as IPv4: 0.0.0.0/0"),
    ("::192.0.2.1", "IPv4-compatible", "write it as IPv4: 192.0.2.1"),
    ("10.0.0.0/255.0.0.0", "prefix length that is not a plain number", "no netmask"),
    ("10.0.0.0/08", "prefix length", "no leading zero"),
    ("010.0.0.1", "not an IP address", "192.0.2.0/24"),
    ("\u0661\u0660.0.0.0/8", "not an IP address", "192.0.2.0/24"),
    ("0x7f.0.0.1", "not an IP address", "192.0.2.0/24"),
])
def test_networks_take_plain_forms_only(value: str, words: str, hint: str) -> None:
    with pytest.raises(PolicyValueError) as caught:
        types.ip_network(value)
    assert words in str(caught.value) and hint in caught.value.hint


@pytest.mark.parametrize("value", ["::", "::1", "::/0", "::/64", "64:ff9b::/96", "2001:db8::/32"])
def test_ipv6_forms_that_are_not_ipv4_in_disguise_are_taken(value: str) -> None:
    assert types.ip_network(value) == ipaddress.ip_network(value)


@pytest.mark.parametrize(("value", "words"), [
    ("fe80::1%x ok", "zone id"), ("[IPv6:fe80::1%x]", "zone id"), ("[ipv6:::ffff:192.0.2.1]", "IPv4-mapped"),
    ("192.0.2.1 ok", "invalid label"), ("1.2.3.04", "not an IP address"), ("\u212aexample.org", "non-ASCII"),
])
def test_helo_names_cannot_carry_an_action_or_a_zone(value: str, words: str) -> None:
    with pytest.raises(PolicyValueError) as caught:
        types.helo_name(value)
    assert words in str(caught.value)


@pytest.mark.parametrize(("value", "emitted"), [("[IPv6:2001:DB8::1]", "2001:db8::1"), ("[192.0.2.1]", "192.0.2.1"),
                                                ("MX.Example.ORG.", "mx.example.org")])
def test_helo_names_are_canonical(value: str, emitted: str) -> None:
    assert types.helo_name(value) == emitted


@pytest.mark.parametrize(("check", "value"), [
    (types.listen_ip, "fe80::1%esyscmd(touch PWNED)dnl"), (types.listen_ip, "::ffff:127.0.0.1"),
    (types.listen_address, "fe80::1%lo"), (types.listen_ipv4, "::1"), (types.listen_ipv4, "0177.0.0.1"),
    (types.domain_name, "\u212aexample.org"), (types.address_pattern, "user@exampl\u0131.org"),
    (types.dnsbl_filter, "127.0.0.\u0662"),
])
def test_other_address_and_name_fields_refuse_what_is_not_plain(check: object, value: str) -> None:
    with pytest.raises(PolicyValueError):
        check(value)  # type: ignore[operator]


@pytest.mark.parametrize("value", ["../..", "../../run/dovecot/auth", "/run/dovecot/auth", "private/../../x",
                                   "private//auth", "./private/auth", "private/auth/", "private/.."])
def test_the_dovecot_socket_stays_below_the_queue(value: str) -> None:
    with pytest.raises(PolicyValueError):
        types.queue_path(value)


@pytest.mark.parametrize(("value", "emitted"), [("/etc/postfix/", "/etc/postfix"), ("/", "/")])
def test_absolute_paths_are_canonical(value: str, emitted: str) -> None:
    assert types.absolute_path(value) == emitted


@pytest.mark.parametrize("value", ["/etc/postfix/../../tmp", "/etc//postfix", "/etc/./postfix"])
def test_absolute_paths_refuse_odd_segments(value: str) -> None:
    with pytest.raises(PolicyValueError):
        types.absolute_path(value)


def test_a_list_file_entry_with_a_zone_id_is_refused_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "clients.txt").write_text("192.0.2.1\n  fe80::1%eth0\n")
    policy = tmp_path / "policy.yml"
    policy.write_text("access:\n  clients:\n    - {file: clients.txt, action: reject}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(policy)
    (problem,) = caught.value.problems
    assert (problem.source, problem.line, problem.column) == (str(tmp_path / "clients.txt"), 2, 3)
    assert "zone id" in problem.message


# --- trust by union ---------------------------------------------------------------------------

def trusted(*networks: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n) for n in networks]


@pytest.mark.parametrize(("networks", "index"), [
    ([f"{octet}.0.0.0/8" for octet in range(256)], 1),
    (["10.0.0.0/8", "192.0.2.0/24"], 1),
    (["10.0.0.0/9", "10.128.0.0/9", "11.0.0.0/9"], 2),
    (["0.0.0.0/1"], 0),
    (["::/64"], 0),  # holds ::ffff:0:0/96, every IPv4 address in mapped form
    (["2001:db8::/33", "2001:db8:8000::/33", "2001:db9::/48"], 2),
])
def test_a_union_wider_than_the_limit_is_found_at_the_entry_that_crosses(networks: list[str], index: int) -> None:
    (crossing, *_) = trust.crossings(trusted(*networks))
    assert crossing.index == index


@pytest.mark.parametrize("networks", [
    ["10.0.0.0/9", "10.128.0.0/9"], ["10.0.0.0/8", "10.1.0.0/16", "127.0.0.0/8", "::1"],
    ["2001:db8::/33", "2001:db8:8000::/33"], ["10.0.0.0/8", "2001:db8::/32"],
])
def test_a_union_of_at_most_one_slash8_or_slash32_is_fine(networks: list[str]) -> None:
    assert trust.crossings(trusted(*networks)) == []


def test_256_slash8_networks_are_refused_at_the_second_one_and_explain_calls_them_an_open_relay() -> None:
    listed = ", ".join(f"{octet}.0.0.0/8" for octet in range(256))
    message = refusal(f"networks:\n  trusted: [{listed}]\n")
    assert message.startswith("policy.yml:2:24: networks.trusted.1: with 1.0.0.0/8 the trusted networks together "
                              "span as many IPv4 addresses as a /7"), message
    assert "networks.allow_wide_trusted: true" in message
    acknowledged = load_policy_text(f"networks:\n  allow_wide_trusted: true\n  trusted: [{listed}]\n")
    assert " — an open relay;" in relay_stance(acknowledged)


def test_two_slash9_networks_are_not_an_open_relay() -> None:
    policy = load_policy_text("networks:\n  trusted: [10.0.0.0/9, 10.128.0.0/9]\n")
    assert "open relay" not in relay_stance(policy)


def test_everything_v6_is_one_finding_not_two() -> None:
    message = refusal('networks:\n  trusted: ["::/0"]\n')
    assert message.count("networks.trusted.0") == 1 and "::/0 is wider than /32" in message


# --- the host name is not a relay domain ------------------------------------------------------

def test_the_host_name_as_a_relay_domain_is_refused() -> None:
    message = refusal("hostname: MX.Example.ORG.\ndomains:\n  relay: [dept.example.org, mx.example.org]\n")
    assert message.startswith("policy.yml:3:29: domains.relay.1: mx.example.org is this server's own host name")


def test_the_host_name_in_a_relay_list_file_is_refused_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "relay.txt").write_text("dept.example.org\nmx.example.org\n")
    policy = tmp_path / "policy.yml"
    policy.write_text("hostname: mx.example.org\ndomains:\n  relay: [{file: relay.txt}]\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(policy)
    (problem,) = caught.value.problems
    assert (problem.source, problem.line, problem.column) == (str(tmp_path / "relay.txt"), 2, 1)


# --- messages in the user's terms -------------------------------------------------------------

INTERNAL_NAMES = ("CommentedMap", "CommentedSeq", "ScalarFloat", "ScalarBoolean", "instance of", "valid dictionary",
                  "NoneType", "'int'", " int ", " str ", " bool", "Policy", "Auth", "Tls", "ClientRule")


@pytest.mark.parametrize(("text", "words"), [
    ("hostname: {a: 1}\n", "domain must be text, not a mapping"),
    ("hostname: [mx.example.org]\n", "domain must be text, not a list"),
    ("networks: {trusted: [1.5]}\n", "network must be text, not a number with a decimal point"),
    ("networks: {trusted: [true]}\n", "network must be text, not true/false"),
    ("auth: [1]\n", "expected a mapping of keys to values here, not a list"),
    ("tls: x\n", "expected a mapping of keys to values here, not text"),
    ("access: {clients: [3]}\n", "expected a mapping of keys to values here, not a whole number"),
    ("smtp: {max_recipients: 1.5}\n", "expected a whole number here, not a number with a decimal point"),
    ("dnsbl: [{zone: 2020-01-01}]\n", "domain must be text, not a date or time"),
    ("domains: {local: 3}\n", "expected a list here, not a whole number"),
    ("smtp: {max_message_size: [1]}\n", "a size must be a number or text, not a list"),
    ("targets: {postfix: {chroot: null}}\n", "expected true or false here, not nothing"),
])
def test_messages_name_the_kind_of_value_never_an_internal_type(text: str, words: str) -> None:
    message = refusal(text)
    assert words in message, message
    assert not any(name in message for name in INTERNAL_NAMES), message
