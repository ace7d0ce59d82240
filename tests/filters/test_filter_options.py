"""The delivery filters' folder and tag names are allow-listed where the policy is read: a value that could
leave the Maildir, start a procmail action or end a Sieve string is refused, located, before any file exists."""

from __future__ import annotations

import pytest

from mtaharden.policy import PolicyError, load_policy_text

BASE = "version: 1\nrole: mx\ndomains: {local: [example.org]}\n"


@pytest.mark.parametrize(("key", "value"), [
    ("procmail.junk_folder", "../../etc"), ("sieve.quarantine_folder", '"x"; discard'), ("sieve.junk_folder", "垃圾"),
    ("procmail.tag_header", "Subject"), ("sieve.tag_header", "X-A: b"), ("procmail.maildir", "$HOME/../x"),
    ("procmail.maildir", "$MAILDIR"), ("procmail.maildir", "relative/Maildir"),
])
def test_a_name_outside_the_allow_list_is_refused_located(key: str, value: str) -> None:
    target, option = key.split(".")
    text = BASE + f"targets:\n  {target}:\n    {option}: '{value}'\n"
    with pytest.raises(PolicyError) as refused:
        load_policy_text(text, "p.yml")
    (problem,) = refused.value.problems
    assert (problem.line, problem.path) == (6, f"targets.{key}")
    assert "(fix: " in str(problem)


def test_the_defaults_are_the_same_places_for_both_filters() -> None:
    targets = load_policy_text(BASE, "p.yml").targets
    fields = ("junk_folder", "quarantine_folder", "tag_header")
    assert [getattr(targets.procmail, f) for f in fields] == [getattr(targets.sieve, f) for f in fields] == [
        "Junk", "Quarantine", "X-Mtaharden-Filter"]
