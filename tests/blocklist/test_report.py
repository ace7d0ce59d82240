"""The text report escapes what a DNS server wrote; the exit code follows the worst result."""

from __future__ import annotations

from mtaharden.blocklist import catalogue
from mtaharden.blocklist.interpret import Verdict
from mtaharden.blocklist.report import Run, as_text, shown


def test_control_and_bidi_characters_are_escaped_and_text_is_kept() -> None:
    assert shown("a\x1b[31mb\x9bc\u202ed\n发票") == "a\\x1b[31mb\\x9bc\\u202ed\\x0a发票"


def run(*statuses: str) -> Run:
    verdicts = [Verdict(f"192.0.2.{n}", "bl.test", "", status) for n, status in enumerate(statuses)]  # type: ignore[arg-type]
    return Run([v.address for v in verdicts], [], [catalogue.zone_option("bl.test")], "test", verdicts)


def test_exit_code_listed_over_could_not_check_over_clean() -> None:
    assert run("clean", "skipped").exit_code == 0
    assert run("clean", "error").exit_code == 3
    assert run("error", "listed", "clean").exit_code == 1


def test_many_clean_results_are_counted_not_listed() -> None:
    text = as_text(run(*["clean"] * 150, "listed"))
    assert "(150 clean results not shown; --format json lists every one)" in text
    assert text.count("\n") == 4  # resolver, the listed row, the hidden count, the summary
