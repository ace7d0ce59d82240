"""HOST[:PORT] parsing, IPv6 in brackets."""

from __future__ import annotations

import pytest

from mtaharden.probe import Endpoint, parse_endpoint


@pytest.mark.parametrize(("text", "expected"), [
    ("mx.example.org", Endpoint("mx.example.org", 25)),
    ("mx.example.org:2525", Endpoint("mx.example.org", 2525)),
    ("192.0.2.1:587", Endpoint("192.0.2.1", 587)),
    ("[::1]:25", Endpoint("::1", 25)),
    ("[2001:db8::1]", Endpoint("2001:db8::1", 25)),
    ("2001:db8::1", Endpoint("2001:db8::1", 25)),
])
def test_parse(text: str, expected: Endpoint) -> None:
    assert parse_endpoint(text, 25) == expected


@pytest.mark.parametrize("text", ["", ":25", "mx:0", "mx:port", "[::1", "[::1]25", "[mx.example.org]:25",
                                  "2001:db8::zz", "mx example:25"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="fix:"):
        parse_endpoint(text, 25)


def test_port_required_without_default() -> None:
    with pytest.raises(ValueError, match="no port"):
        parse_endpoint("127.0.0.1", None)


def test_str_round_trips() -> None:
    assert str(Endpoint("::1", 25)) == "[::1]:25" and str(Endpoint("mx", 25)) == "mx:25"
