"""The report names the resolver, and warns when it is a shared public one that lists refuse."""

from __future__ import annotations

from mtaharden.blocklist.check import resolver_notes
from mtaharden.nameserver import Nameserver


def test_a_public_resolver_is_named_and_warned_about() -> None:
    described, notes = resolver_notes(Nameserver("8.8.8.8"))
    assert described == "8.8.8.8:53"
    assert notes == ["warning: 8.8.8.8 is a public resolver: several lists (Spamhaus, Barracuda) refuse or "
                     "mis-answer queries from it; use your own recursive resolver with --nameserver"]


def test_an_own_resolver_gets_no_warning() -> None:
    assert resolver_notes(Nameserver("192.0.2.53", 5353)) == ("192.0.2.53:5353", [])
    assert resolver_notes(Nameserver("2001:db8::53")) == ("[2001:db8::53]:53", [])
