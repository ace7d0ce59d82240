"""The probe's own option values (--ehlo, --external-domain, --canary-domain): RFC 5321 names and literals,
judged without the policy model, agreeing with the policy's validators on what both accept (issue 25)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from mtaharden.policy.types import PolicyValueError, domain_name, host_name
from mtaharden.probe.cli import probe
from mtaharden.probe.wire import WireValueError, domain, ehlo_argument

NAMES = ["mx.example.org", "MX.Example.ORG.", " mx.example.org ", "a", "a-b.c-d.example", "xn--bcher-kva.example",
         "0mail.example", "x" * 63 + ".example", "x" * 64 + ".example", ".".join(["a" * 60] * 5), "bad domain",
         "-mx.example", "mx-.example", "mx..example", "mx.example.123", "192.0.2.1", "mx_1.example", "",
         "bücher.example", "mx.example\n", "mx.example\u2028", "mx\r\nMAIL FROM:<a@b>"]


@pytest.mark.parametrize("text", NAMES)
def test_domains_agree_with_the_policy(text: str) -> None:
    for wire, policy, labels in ((domain, domain_name, 2), (ehlo_argument, host_name, 1)):
        try:
            expected: str | None = policy(text)
        except PolicyValueError:
            expected = None
        try:
            got: str | None = wire(text) if wire is ehlo_argument else domain(text, min_labels=labels)
        except WireValueError as exc:
            assert exc.fix  # every refusal says how to fix it
            got = None
        assert got == expected, (wire.__name__, text)


@pytest.mark.parametrize(("text", "canonical"), [
    ("[192.0.2.7]", "[192.0.2.7]"), ("[IPv6:2001:DB8::7]", "[IPv6:2001:db8::7]"),
    ("[ipv6:2001:db8:0::7]", "[IPv6:2001:db8::7]"),
])
def test_ehlo_address_literals_come_out_canonical(text: str, canonical: str) -> None:
    assert ehlo_argument(text) == canonical


@pytest.mark.parametrize("text", ["[2001:db8::7]", "[IPv6:192.0.2.7]", "[192.0.2.300]", "[]", "[mx.example]",
                                  "[192.0.2.7\r\nRSET]"])
def test_ehlo_refuses_what_is_no_rfc_5321_address_literal(text: str) -> None:
    with pytest.raises(WireValueError, match="not an address literal"):
        ehlo_argument(text)


@pytest.mark.parametrize(("option", "value"), [("--ehlo", "bad name"), ("--ehlo", "[2001:db8::7]"),
                                               ("--external-domain", "single"), ("--external-domain", "a..b")])
def test_a_bad_value_is_a_usage_error_with_a_fix(option: str, value: str) -> None:
    result = CliRunner().invoke(probe, ["127.0.0.1:1", option, value])
    assert result.exit_code == 2
    assert option in result.output and "(fix: " in result.output
