"""The kit's capability table: a fact per case, recorded filled in, and COVERAGE.md in the table's order."""

from __future__ import annotations

import pytest

from mtaharden.targets.base import Coverage
from mtaharden.targets.kit.coverage import Recorder
from mtaharden.targets.kit.facts import Fact, FactTable, approximated, enforced, row, unsupported

TABLE = FactTable({
    "role": {"inbound": enforced("listener on port {port}")},
    "dnsbl[]": {"zone": approximated("{zone}: any answer lists"), "none": unsupported("no DNSBL for {zone}")},
    "tls": {"off": enforced("no TLS")},
})


def test_the_status_helpers_make_facts_of_their_status() -> None:
    assert enforced("a") == Fact("enforced", "a")
    assert approximated("b") == Fact("approximated", "b")
    assert unsupported("c") == Fact("unsupported", "c")


def test_an_indexed_element_reads_its_row() -> None:
    assert row("dnsbl[12]") == "dnsbl[]"
    assert row("access.clients") == "access.clients"
    assert row("domains.local[]") == "domains.local[]"


def test_note_records_the_case_filled_in_under_the_element_as_given() -> None:
    recorder = Recorder()
    TABLE.note(recorder, "dnsbl[1]", "none", zone="bl.example")
    TABLE.note(recorder, "role", "inbound", port=25)
    assert recorder.items() == (Coverage("dnsbl[1]", "unsupported", "no DNSBL for bl.example"),
                                Coverage("role", "enforced", "listener on port 25"))


@pytest.mark.parametrize(("element", "case"), [("dnsbl[0]", "inbound"), ("hostname", "set"), ("dnsbl", "zone")])
def test_a_case_the_table_lacks_is_a_bug_in_the_target(element: str, case: str) -> None:
    """A KeyError, not a ValueError: the CLI would take a ValueError for bad input (exit 2)."""
    recorder = Recorder()
    with pytest.raises(KeyError):
        TABLE.note(recorder, element, case, zone="z", port=1)
    assert recorder.items() == ()


def test_a_missing_field_is_a_bug_too() -> None:
    with pytest.raises(KeyError, match="zone"):
        TABLE.note(Recorder(), "dnsbl[0]", "zone")


def test_coverage_comes_in_table_order_an_element_before_its_indexes_by_number() -> None:
    recorded = [Coverage("tls", "enforced", "no TLS"), Coverage("dnsbl[10]", "approximated", "x"),
                Coverage("dnsbl[2]", "approximated", "y"), Coverage("role", "enforced", "z")]
    assert [c.element for c in TABLE.in_table_order(recorded)] == ["role", "dnsbl[2]", "dnsbl[10]", "tls"]


def test_an_element_outside_the_table_cannot_be_ordered() -> None:
    with pytest.raises(KeyError):
        TABLE.in_table_order([Coverage("hostname", "enforced", "myhostname")])


def test_the_table_reads_as_a_mapping_in_its_order() -> None:
    assert list(TABLE) == ["role", "dnsbl[]", "tls"]
    assert len(TABLE) == 3
    assert TABLE["tls"] == {"off": Fact("enforced", "no TLS")}
    assert "hostname" not in TABLE


def test_swapping_the_rows_is_what_note_reads() -> None:
    """Targets' tests watch which cases the lowering reads by replacing ``rows``."""
    table = FactTable({"tls": {"off": enforced("no TLS")}})
    table.rows = {"tls": {"off": unsupported("watched")}}
    recorder = Recorder()
    table.note(recorder, "tls", "off")
    assert recorder.items() == (Coverage("tls", "unsupported", "watched"),)
