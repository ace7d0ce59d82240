"""Errors in the user's terms: YAML syntax, a key at the wrong level, a value of the wrong kind, a stray colon."""

from __future__ import annotations

import pytest

from mtaharden.policy import PolicyError, load_policy_text


def problem(text: str, *overrides: str) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yml", overrides)
    (found,) = caught.value.problems
    return str(found)


@pytest.mark.parametrize(("text", "words", "fix"), [
    ("domains:\n  local: [a.org]\n   relay: [b.org]\n", "this line is indented differently",
     "start the keys of one mapping"),
    ("smtp:\n  banner: x: y\n", "a ':' where no key can start", "quote a value that holds ': '"),
    ("smtp:\n  banner: \"a: b\n", "a quote that is never closed", "close the quoted text"),
    ("access:\n  clients: [{match: 10.0.0.0/8, action: reject}\n", "a [ … ] list that is not closed", "close the list"),
    ("header_checks:\n  - {header: Subject, pattern: \"\\d+\"}\n", "a backslash in double quotes",
     "use single quotes"),
])
def test_yaml_syntax_errors_say_what_the_editor_did(text: str, words: str, fix: str) -> None:
    message = problem(text)
    assert message.startswith("p.yml:") and words in message and f"(fix: {fix}" in message
    assert "(the YAML reader: " in message  # the reader's own words stay, for searching


def test_a_key_at_the_wrong_level_names_where_it_belongs() -> None:
    message = problem("auth:\n  enabled: true\nrequire_tls: false\n")
    assert message == ("p.yml:3:1: require_tls: unknown key 'require_tls' (fix: require_tls is a key of auth: move it "
                       "there (indent it under that key))")


def test_a_list_where_a_mapping_belongs_lists_its_keys() -> None:
    message = problem("networks:\n  - 10.0.0.0/8\n")
    assert "expected a mapping of keys to values here, not a list" in message
    assert "(fix: write networks: on a line of its own and its keys (trusted, allow_wide_trusted) indented" in message
    assert "Input should" not in message and "instance of" not in message


@pytest.mark.parametrize("override", ["smtp.banner=discard:", "role=mx:",
                                      "header_checks=[{header: Subject, pattern: x, action: discard:}]"])
def test_a_word_with_a_stray_colon_is_explained(override: str) -> None:
    message = problem("domains: {local: [a.org]}\n", override)
    assert "without the ':' after it" in message
    assert "CommentedMap" not in message and "Input should" not in message


def test_choices_and_bounds_are_said_with_what_was_written() -> None:
    assert "expected 'reject', 'defer' or 'permit' here, not 'bounce'" in problem(
        "access: {senders: [{match: '@a.org', action: bounce}]}\n")
    assert "expected at least 1 here, not 0 (fix: write a number at least 1)" in problem(
        "smtp: {max_recipients: 0}\n")
