"""The coverage recorder: order kept, one record per element, statuses as the methods name them."""

from __future__ import annotations

import pytest

from mtaharden.targets.base import Coverage
from mtaharden.targets.kit.coverage import RecordedTwice, Recorder


def test_items_keep_the_order_recorded_with_each_status() -> None:
    recorder = Recorder()
    recorder.unsupported("access.helo", "no HELO control")
    recorder.enforced("hostname", "myhostname")
    recorder.approximated("dnsbl[0]", "one provider per zone")
    recorder.record("auth", "enforced", "cyrus")
    assert recorder.items() == (
        Coverage("access.helo", "unsupported", "no HELO control"),
        Coverage("hostname", "enforced", "myhostname"),
        Coverage("dnsbl[0]", "approximated", "one provider per zone"),
        Coverage("auth", "enforced", "cyrus"),
    )


def test_an_empty_recorder_has_no_items() -> None:
    assert Recorder().items() == ()


@pytest.mark.parametrize("second", ["enforced", "approximated", "unsupported"])
def test_a_second_record_of_one_element_raises_and_keeps_the_first(second: str) -> None:
    recorder = Recorder()
    recorder.enforced("hostname", "myhostname")
    with pytest.raises(RecordedTwice, match=r"'hostname' recorded twice: enforced \('myhostname'\), then " + second):
        getattr(recorder, second)("hostname", "other")
    assert recorder.items() == (Coverage("hostname", "enforced", "myhostname"),)


def test_a_twice_recorded_element_is_a_bug_not_bad_input() -> None:
    """The CLI turns ValueError into exit 2 (bad input): a target bug must not pass for the user's fault."""
    assert not issubclass(RecordedTwice, ValueError)


def test_places_of_one_element_are_distinct_elements() -> None:
    recorder = Recorder()
    recorder.enforced("smtp.banner", "smtpd_banner")
    recorder.approximated("smtp.banner[HELP]", "fixed text")
    recorder.enforced("networks.trusted[host]", "mynetworks")
    recorder.enforced("networks.trusted", "mynetworks")
    assert [item.element for item in recorder.items()] == [
        "smtp.banner", "smtp.banner[HELP]", "networks.trusted[host]", "networks.trusted"]


def test_items_is_a_snapshot() -> None:
    recorder = Recorder()
    recorder.enforced("a", "x")
    before = recorder.items()
    recorder.enforced("b", "y")
    assert before == (Coverage("a", "enforced", "x"),) and len(recorder.items()) == 2
