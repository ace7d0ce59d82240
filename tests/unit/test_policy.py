"""The policy model, value types, cross-field rules and located loader, tested through the public API."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mtaharden.policy import Policy, PolicyError, Problem, load_policy, load_policy_text, types
from mtaharden.policy.model import DEFAULT_DNSBL_FILTER, AddressRule
from mtaharden.policy.types import PolicyValueError

TLS = "tls: {cert: /etc/ssl/certs/mx1.pem, key: /etc/ssl/private/mx1.key}\n"


def load(text: str) -> Policy:
    return load_policy_text(text, "policy.yml")


def problems(text: str) -> list[Problem]:
    with pytest.raises(PolicyError) as caught:
        load(text)
    return caught.value.problems


# --- the empty policy is valid and safe -------------------------------------------------------


@pytest.mark.parametrize("text", ["", "{}", "# only a comment\n", "version: 1\n"])
def test_empty_policy_is_valid(text: str) -> None:
    assert isinstance(load(text), Policy)


def test_empty_policy_has_safe_defaults() -> None:
    policy = load("")
    assert policy.version == 1
    assert policy.role == "mx"
    assert policy.hostname is None
    assert policy.networks.trusted == [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    assert policy.networks.allow_wide_trusted is False
    assert policy.auth.enabled is False
    assert policy.auth.require_tls is True
    assert policy.domains.local == [] and policy.domains.relay == []
    assert policy.dnsbl == [] and policy.header_checks == []
    assert policy.smtp.disable_vrfy is True
    assert policy.smtp.disable_expn is True
    assert policy.smtp.require_helo is True
    assert policy.smtp.strict_envelopes is True
    assert policy.smtp.banner == "{hostname} ESMTP"
    assert policy.smtp.max_message_size == 25 * 2**20
    assert policy.tls is None
    assert policy.targets.postfix.allow_unsupported == []


def test_policy_is_immutable() -> None:
    policy = load("")
    with pytest.raises(ValueError):
        policy.role = "relay-only"  # type: ignore[misc]


# --- normalisation ----------------------------------------------------------------------------


def test_domains_are_lower_cased_and_lose_the_trailing_dot() -> None:
    policy = load("hostname: MX1.Example.ORG.\ndomains:\n  local: [Example.ORG., .Sub.Example.org]\n"
                  "  relay: [' Dept.Example.NET ']\n")
    assert policy.hostname == "mx1.example.org"
    assert policy.domains.local == ["example.org", ".sub.example.org"]
    assert policy.domains.relay == ["dept.example.net"]


@pytest.mark.parametrize(
    ("written", "normalised"),
    [
        ("@Spam.Example.", "@spam.example"),
        ("Spam.Example", "spam.example"),  # a bare domain stays a bare domain (Postfix: the whole domain)
        ("Bob@Example.org", "bob@example.org"),
        ("Postmaster@", "postmaster@"),
        ("first.last+tag@example.org", "first.last+tag@example.org"),
    ],
)
def test_address_patterns_are_normalised(written: str, normalised: str) -> None:
    policy = load(f'access:\n  senders:\n    - {{match: "{written}", action: reject}}\n')
    (rule,) = policy.access.senders
    assert isinstance(rule, AddressRule) and rule.match == normalised


@pytest.mark.parametrize("written", ["a@b@example.org", "@", "bad user@example.org", ".bob@example.org",
                                     "bob..x@example.org", "bob@localhost", "localhost"])
def test_bad_address_patterns_are_refused(written: str) -> None:
    with pytest.raises(PolicyValueError):
        types.address_pattern(written)


@pytest.mark.parametrize(
    ("written", "expected"),
    [("25MiB", 25 * 2**20), ("10MB", 10_000_000), ("10485760", 10_485_760), ("512 KiB", 512 * 1024),
     ("1gb", 10**9), ("2GiB", 2 * 2**30), ("100b", 100)],
)
def test_sizes(written: str, expected: int) -> None:
    assert load(f"smtp: {{max_message_size: {written}}}\n").smtp.max_message_size == expected


def test_a_unit_the_readme_does_not_list_is_refused_with_both_readings() -> None:
    (found,) = problems("smtp:\n  max_message_size: 10M\n")
    assert "has no unit of the policy" in found.message
    assert found.hint == "write 10MB (10,000,000 bytes) or 10MiB (10,485,760 bytes)"


def test_size_as_plain_yaml_integer() -> None:
    assert load("smtp:\n  max_message_size: 1048576\n").smtp.max_message_size == 1_048_576


@pytest.mark.parametrize("written", ["lots", "0", "-1", "25 MiBs", "2TiB", "true", "25.5MiB", "10M", "1g", "5Ki"])
def test_bad_sizes_are_refused(written: str) -> None:
    found = problems(f"smtp:\n  max_message_size: {written}\n")
    assert [p.path for p in found] == ["smtp.max_message_size"]
    assert (found[0].line, found[0].column) == (2, 21)


def test_size_above_one_tebibyte_is_refused() -> None:
    with pytest.raises(PolicyValueError, match="1 TiB"):
        types.size_bytes(2**40 + 1)
    assert types.size_bytes(2**40) == 2**40


def test_dnsbl_defaults() -> None:
    entry = load("dnsbl:\n  - zone: ZEN.Spamhaus.org.\n").dnsbl[0]
    assert entry.zone == "zen.spamhaus.org"
    assert entry.match == []
    assert entry.filters == [DEFAULT_DNSBL_FILTER] == ["127.0.0.[2..255]"]
    assert entry.action == "reject"
    assert entry.message == "Blocked: {client} listed at {zone}"


def test_dnsbl_explicit_filters_replace_the_default() -> None:
    entry = load('dnsbl:\n  - {zone: zen.spamhaus.org, match: ["127.0.0.[2..11]", "127.0.0.[2;4]"]}\n').dnsbl[0]
    assert entry.filters == ["127.0.0.[2..11]", "127.0.0.[2;4]"]


@pytest.mark.parametrize("value", ["127.0.0.2", "127.0.0.[2..11]", "127.0.0.[2;4;10]", "127.[0..254].255.[0..255]"])
def test_dnsbl_filters_accepted(value: str) -> None:
    assert types.dnsbl_filter(value) == value


@pytest.mark.parametrize(
    ("value", "why"),
    [("127.255.255.254", "127.255.255.x"), ("127.[250..255].[255;0].1", "127.255.255.x"),
     ("10.0.0.2", "does not start with 127"), ("127.0.0.[11..2]", "backwards"), ("127.0.0.256", "above 255"),
     ("127.0.0", "not a return-code filter"), ("127.0.0.*", "not a return-code filter")],
)
def test_dnsbl_filters_refused(value: str, why: str) -> None:
    with pytest.raises(PolicyValueError, match=re.escape(why)):
        types.dnsbl_filter(value)


def test_networks_accept_addresses_and_ipv6() -> None:
    policy = load('networks:\n  trusted: [192.0.2.7, "2001:db8::/48", 198.51.100.0/24]\n')
    assert [n.with_prefixlen for n in policy.networks.trusted] == ["192.0.2.7/32", "2001:db8::/48", "198.51.100.0/24"]


def test_network_with_host_bits_suggests_the_network() -> None:
    with pytest.raises(PolicyValueError) as caught:
        types.ip_network("192.0.2.77/24")
    assert caught.value.hint == "did you mean 192.0.2.0/24?"


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0", "10.0.0.0/7", "2001::/31"])
def test_wide_trusted_network_needs_the_acknowledgement(network: str) -> None:
    found = problems(f'networks:\n  trusted: ["{network}"]\n')
    assert [p.path for p in found] == ["networks.trusted.0"]
    assert "networks.allow_wide_trusted" in found[0].hint
    acknowledged = load(f'networks:\n  allow_wide_trusted: true\n  trusted: ["{network}"]\n')
    assert acknowledged.networks.trusted == [ipaddress.ip_network(network)]


@pytest.mark.parametrize("network", ["10.0.0.0/8", "2001:db8::/32"])
def test_widest_allowed_trusted_networks(network: str) -> None:
    assert load(f'networks:\n  trusted: ["{network}"]\n').networks.trusted[0].with_prefixlen == network


def test_banner_accepts_hostname_first_and_dollar() -> None:
    assert load('smtp: {banner: "{hostname} ESMTP ready $"}\n').smtp.banner == "{hostname} ESMTP ready $"


@pytest.mark.parametrize(
    ("banner", "why"),
    [("{hostname} ESMTP Sendmail", "names the software"), ("{hostname} Microsoft ESMTP", "names the software"),
     ("{hostname} ESMTP 8.17", "version"), ("hello {hostname}", "does not start with {hostname}"),
     ("{hostname} {version}", "unknown placeholder {version}"), ("{hostname} ESMTP }", "unmatched brace"),
     ("{hostname}\tESMTP", "character")],
)
def test_banner_refusals(banner: str, why: str) -> None:
    with pytest.raises(PolicyValueError, match=re.escape(why)):
        types.banner_text(banner)


def test_header_pattern_refusals() -> None:
    with pytest.raises(PolicyValueError, match="inline flags"):
        types.header_regex("(?u)money")
    with pytest.raises(PolicyValueError, match="does not compile"):
        types.header_regex("[a-")
    with pytest.raises(PolicyValueError, match="empty"):
        types.header_regex("")
    assert types.header_regex("(?i)make money fast") == "(?i)make money fast"


def test_header_name_drops_a_trailing_colon() -> None:
    assert load("header_checks:\n  - {header: 'X-Mailer:', pattern: spam}\n").header_checks[0].header == "X-Mailer"


# --- errors: location, order, format ----------------------------------------------------------


def test_several_errors_are_reported_at_once_sorted_by_line() -> None:
    text = (
        "smtp:\n"                                 # 1
        "  max_recipients: 0\n"                   # 2
        "role: backup\n"                          # 3
        "domains:\n"                              # 4
        "  local: [example.org, 'bad domain']\n"  # 5
        "hostnme: mx.example.org\n"               # 6
    )
    found = problems(text)
    assert [(p.line, p.path) for p in found] == [
        (2, "smtp.max_recipients"), (3, "role"), (5, "domains.local.1"), (6, "hostnme"),
    ]
    assert found == sorted(found)


def test_cross_field_findings_are_all_reported() -> None:
    text = "role: submission\ndomains:\n  local: [example.org]\n  relay: [example.org]\n"
    found = problems(text)
    assert [p.path for p in found] == ["role", "domains.relay.0"]


def test_cross_field_rules_run_only_on_a_well_typed_policy() -> None:
    # a type error stops before the rules: the open-relay finding waits until the type error is fixed
    found = problems('networks:\n  trusted: ["0.0.0.0/0"]\nrole: nope\n')
    assert [p.path for p in found] == ["role"]


def test_problem_string_format() -> None:
    problem = Problem("p.yml", 4, 12, "domains.local.0", "domain 'a b' has an invalid label", "use letters")
    assert str(problem) == "p.yml:4:12: domains.local.0: domain 'a b' has an invalid label (fix: use letters)"
    assert str(Problem("p.yml", 1, 1, "", "YAML: oops", "fix it")) == "p.yml:1:1: YAML: oops (fix: fix it)"


def test_policy_error_message_lists_every_problem_in_order() -> None:
    error = PolicyError([Problem("p.yml", 9, 1, "b", "second", "h"), Problem("p.yml", 2, 5, "a", "first", "h")])
    assert [p.line for p in error.problems] == [2, 9]
    assert str(error).splitlines() == ["p.yml:2:5: a: first (fix: h)", "p.yml:9:1: b: second (fix: h)"]


def test_source_name_appears_in_problems() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text("role: x\n", "/etc/mtaharden/site.yml")
    assert str(caught.value).startswith("/etc/mtaharden/site.yml:1:7: role: ")


def test_unknown_key_without_close_match_lists_known_keys() -> None:
    found = problems("smtp:\n  zzzzzz: 1\n")
    assert found[0].path == "smtp.zzzzzz"
    assert "known keys here:" in found[0].hint and "disable_vrfy" in found[0].hint


def test_unknown_key_points_at_the_key_not_the_value() -> None:
    found = problems("tls:\n  cert: /a/b.pem\n  key: /a/b.key\n  chain:   /a/c.pem\n")
    assert (found[0].line, found[0].column, found[0].path) == (4, 3, "tls.chain")


def test_nesting_is_limited() -> None:
    found = problems("a: " + "[" * 40 + "]" * 40 + "\n")
    assert "nested too deeply" in found[0].message


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(b"hostname: mx.example.org\nsmtp: {banner: '{hostname} caf\xe9'}\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert (caught.value.problems[0].line, caught.value.problems[0].message) == (2, "policy is not valid UTF-8")


def test_missing_file_is_a_problem_not_a_crash() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy("/nonexistent/mtaharden/policy.yml")
    assert "cannot read the policy" in caught.value.problems[0].message


# --- cross-field rules that must accept valid combinations ------------------------------------


def test_submission_with_auth_and_tls_is_valid() -> None:
    policy = load("role: mx+submission\nauth: {enabled: true}\n" + TLS)
    assert policy.offers_submission and policy.accepts_inbound


def test_auth_without_tls_is_valid_when_tls_is_not_required() -> None:
    assert load("auth: {enabled: true, require_tls: false}\n").auth.enabled


def test_null_client_neither_accepts_inbound_nor_offers_submission() -> None:
    policy = load("role: null-client\n")
    assert not policy.accepts_inbound and not policy.offers_submission


# --- a trailing newline must not slip through ($ also matches before a final newline) ---------


@pytest.mark.parametrize(
    ("validator", "value"),
    [(types.domain_name, "evil\n.example.org"), (types.address_pattern, "bob\n@example.org"),
     (types.header_name, "Subject\n:"), (types.header_regex, "money\n"), (types.absolute_path, "/etc/ssl/k.pem\n"),
     (types.host_name, "ex01\n.example.org")],
)
def test_a_newline_at_the_end_of_a_component_is_refused(validator: object, value: str) -> None:
    with pytest.raises(PolicyValueError):
        validator(value)  # type: ignore[operator]


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_message_text_is_refused_or_printable_ascii(value: str) -> None:
    try:
        result = types.message_text(value)
    except PolicyValueError:
        return
    assert re.fullmatch(r"[\x20-\x7e]+", result)
    assert result == result.strip() and len(result) <= types.MESSAGE_MAX


DOMAINISH = st.text(alphabet=st.sampled_from("abcXYZ019-._ \t\n\r\x00é@/"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), DOMAINISH).filter(lambda v: "\n" not in v))
def test_domain_name_is_refused_or_plain(value: str) -> None:
    try:
        result = types.domain_name(value)
    except PolicyValueError:
        return
    assert re.fullmatch(r"[a-z0-9.-]+", result)
    assert "." in result and not result.startswith(".") and not result.endswith(".")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), DOMAINISH))
@example("a\n.example.org")
def test_domain_name_is_refused_or_plain_even_with_newlines(value: str) -> None:
    try:
        result = types.domain_name(value)
    except PolicyValueError:
        return
    assert re.fullmatch(r"[a-z0-9.-]+", result)


@pytest.mark.parametrize("text", ['networks: {allow_wide_trusted: "yes"}\n', 'smtp: {max_recipients: "100"}\n',
                                  "smtp: {disable_vrfy: 1}\n"])
def test_values_are_not_coerced_across_types(text: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yml")
    assert caught.value.problems[0].line == 1


def test_states_tells_what_the_file_sets_from_defaults() -> None:
    policy = load_policy_text("smtp: {banner: '{hostname} hello'}\nheader_checks: [{header: A, pattern: x}]\n", "p.yml")
    assert policy.states("smtp.banner") and policy.states("header_checks[0]")
    assert not policy.states("smtp.require_helo") and not policy.states("tls") and not policy.states("auth.enabled")
