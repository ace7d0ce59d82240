"""Exim's value syntax: no policy value can become an expansion, a macro or a second directive.

The model test decodes what :func:`literal` writes the way Exim's expansion reads ``\\xHH``; the real-binary
test hands hostile texts to Debian's exim (the lab's cached stock root behind a private overlay,
tests/unit/exim_chroot.py) as an ACL message and reads the reply ``exim -bh`` sends: it must be the text itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtaharden.targets.exim.lists import address_item, semicolon_list
from mtaharden.targets.exim.quoting import edges, list_item, literal, plain, regex
from mtaharden.targets.kit.escape import Unexpressible
from tests.unit.exim_chroot import exim_chroot

HOSTILE = ["cost $5 ${run{/bin/sh -c id}}", "a}{b\\", "_HAVE_TLS and _DRIVER_ROUTER_ACCEPT", "x\\N y \\",
           "# not a comment", 'quote " and \\" end', "${if eq{1}{1}{yes}{no}}", "tab-free ; list : sep"]
_ESCAPE = re.compile(r"\\x([0-9a-f]{2})")


def _expanded(value: str) -> str:
    """What Exim's expansion makes of a literal: every \\xHH one byte, nothing else special left."""
    assert not re.search(r"[$\\{}_\"]", _ESCAPE.sub("", value)), value
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_text_is_spelled_as_itself(text: str) -> None:
    assert _expanded(literal(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60))
def test_every_printable_text_expands_to_itself(text: str) -> None:
    assert _expanded(edges(literal(text))) == text
    assert not edges(literal(text)).startswith(" ") and not edges(literal(text)).endswith(" ")


@pytest.mark.parametrize("text", ["line\nbreak", "nul\x00", "cr\r", "next\u2028line"])
def test_line_breaks_and_control_characters_are_refused(text: str) -> None:
    with pytest.raises(Unexpressible):
        literal(text)


@pytest.mark.parametrize("text", ["a;b", "$x", "+local_domains", "a b", "x_HAVE"])
def test_list_items_take_only_their_characters(text: str) -> None:
    with pytest.raises(Unexpressible):
        list_item(text)


def test_address_items_keep_the_contract_meaning() -> None:
    assert address_item("spam.example") == "*@spam.example"
    assert address_item("postmaster@") == "postmaster@*"
    assert address_item("a.b+c@example.org") == "a.b+c@example.org"
    assert semicolon_list(["192.0.2.0/24", "2001:db8::/32"]) == "<; 192.0.2.0/24 ; 2001:db8::/32"
    with pytest.raises(Unexpressible):
        address_item("+list@example.org")


def test_plain_values_refuse_a_macro_name() -> None:
    assert plain("/run/dovecot/auth-client", "a socket") == "/run/dovecot/auth-client"
    with pytest.raises(Unexpressible):
        plain("/run/_HAVE_TLS", "a socket")


def test_a_regex_cannot_end_its_unexpanded_text_early() -> None:
    assert regex(r"a\\Nb_c") == r"\Na\x5cNb\x5fc\N"
    assert regex(r"\_x") == r"\N\x5fx\N"


def test_the_real_exim_replies_with_each_hostile_text_as_written(tmp_path: Path) -> None:
    exim = exim_chroot(tmp_path)
    statements = "".join(f"  deny hosts = 192.0.2.{i}\n       message = {edges(literal(t))}\n"
                         for i, t in enumerate(HOSTILE, 1))
    exim.put("/etc/exim4/quoting.conf", "primary_hostname = mx.example.org\nacl_smtp_rcpt = rcpt\n"
             f"keep_environment =\nbegin acl\nrcpt:\n{statements}  accept\n")
    session = "HELO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nQUIT\r\n"
    for i, text in enumerate(HOSTILE, 1):
        result = exim.run(["exim4", "-C", "/etc/exim4/quoting.conf", "-bh", f"192.0.2.{i}"], stdin=session)
        replies = [line for line in result.stdout.splitlines() if line.startswith("550 ")]
        assert replies == [f"550 {text}"], result.stdout + result.stderr
