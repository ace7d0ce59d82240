"""The shipped catalogue, --zone and the selection of zones."""

from __future__ import annotations

import ipaddress

import pytest

from mtaharden.blocklist import catalogue
from mtaharden.blocklist.errors import BadInput
from mtaharden.blocklist.interpret import _matches


def test_every_shipped_zone_is_complete_and_its_codes_mean_what_its_filters_say() -> None:
    zones = catalogue.catalogue()
    assert len(zones) >= 10
    assert len({z.zone for z in zones}) == len(zones)
    for zone in zones:
        assert zone.name and zone.delist.startswith("https://") and zone.terms, zone.zone
        for code in zone.codes:
            assert _matches(zone.listed, ipaddress.IPv4Address(code)), (zone.zone, code)
        for code in zone.errors:
            assert not _matches(zone.listed, ipaddress.IPv4Address(code)), (zone.zone, code)
        assert not _matches(zone.listed, ipaddress.IPv4Address("127.0.0.1")), zone.zone


def test_spamhaus_refusal_through_a_public_resolver_is_an_error_code() -> None:
    (zen,) = [z for z in catalogue.catalogue() if z.zone == "zen.spamhaus.org"]
    assert "public" in zen.errors["127.255.255.254"] and "public resolvers" in zen.terms


def test_zone_option_takes_the_policy_filter_syntax() -> None:
    zone = catalogue.zone_option("BL.Example.ORG.=127.0.0.2,127.0.0.[4..6]")
    assert (zone.zone, zone.listed, zone.source) == ("bl.example.org", ("127.0.0.2", "127.0.0.[4..6]"), "--zone")
    assert catalogue.zone_option("bl.example.org").listed == ("127.0.0.[2..255]",)


@pytest.mark.parametrize(("text", "message"), [
    ("bl.example.org=127.255.255.254", "127.255.255.x, which lists use for errors"),
    ("bl.example.org=10.0.0.2", "does not start with 127."),
    ("bl.example.org=127.0.0.2;rm", "is not a return-code filter"),
    ("bl example.org", "--zone 'bl example.org'"),
    ("bl.example.org\nzone evil", "--zone"),
])
def test_bad_zones_are_refused_with_a_fix(text: str, message: str) -> None:
    with pytest.raises(BadInput, match="fix:") as caught:
        catalogue.zone_option(text)
    assert message in str(caught.value)


def test_only_and_skip_pick_catalogue_zones_and_refuse_unknown_names() -> None:
    shipped = catalogue.catalogue()
    assert [z.zone for z in catalogue.select(shipped, ["bl.spamcop.net", "ZEN.spamhaus.org."], [])] == [
        "zen.spamhaus.org", "bl.spamcop.net"]
    assert "bl.spamcop.net" not in {z.zone for z in catalogue.select(shipped, [], ["bl.spamcop.net"])}
    with pytest.raises(BadInput, match=r"--only 'bl\.test': not a zone of the catalogue \(fix: choose from"):
        catalogue.select(shipped, ["bl.test"], [])


def test_a_later_entry_for_a_zone_sets_its_filters_and_keeps_the_catalogue_words() -> None:
    shipped = catalogue.select(catalogue.catalogue(), ["zen.spamhaus.org"], [])
    merged = catalogue.merge(shipped, [catalogue.policy_zone(0, "zen.spamhaus.org", ["127.0.0.[2..3]"])],
                             [catalogue.zone_option("bl.test")])
    assert [z.zone for z in merged] == ["zen.spamhaus.org", "bl.test"]
    assert merged[0].listed == ("127.0.0.[2..3]",) and merged[0].codes and merged[0].delist
    assert merged[0].source == "catalogue, policy dnsbl[0]"
