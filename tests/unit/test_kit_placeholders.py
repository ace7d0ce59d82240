"""Placeholders split once: literal text and ``{name}`` pieces, each target spelling its own."""

from __future__ import annotations

import pytest

from mtaharden.targets.kit.escape import Unexpressible
from mtaharden.targets.kit.placeholders import Placeholder, fill, pieces, spelled

CLIENT, ZONE, HOSTNAME = Placeholder("client"), Placeholder("zone"), Placeholder("hostname")


@pytest.mark.parametrize(("template", "expected"), [
    ("", ()),
    ("no placeholder", ("no placeholder",)),
    ("{hostname}", (HOSTNAME,)),
    ("{hostname} ESMTP", (HOSTNAME, " ESMTP")),
    ("Blocked: {client} listed at {zone}", ("Blocked: ", CLIENT, " listed at ", ZONE)),
    ("{client}{zone}", (CLIENT, ZONE)),  # adjacent: no empty text between
    ("{{client}}", ("{", CLIENT, "}")),  # only the innermost braces make a placeholder
    ("lone } and { stay text", ("lone } and { stay text",)),
    ("{ and }", (Placeholder(" and "),)),  # any name between braces: the policy allows only its own
    ("{}", (Placeholder(""),)),
])
def test_pieces(template: str, expected: tuple[object, ...]) -> None:
    assert pieces(template) == expected


def test_filled_placeholders_merge_into_the_text_and_are_not_read_again() -> None:
    assert pieces("550 Blocked: {client} listed at {zone}", {"zone": "zen.example"}) == (
        "550 Blocked: ", CLIENT, " listed at zen.example")
    assert pieces("{zone} {client}", {"zone": "{client}"}) == ("{client} ", CLIENT)
    assert pieces("{zone}", {"zone": ""}) == ()


def postfix_literal(text: str) -> str:
    return text.replace("$", "$$")


def test_literal_escaping_never_touches_a_spelling() -> None:
    assert fill("$5 off {hostname}", {"hostname": "$myhostname"}, postfix_literal) == "$$5 off $myhostname"


MESSAGES = ["Blocked: {client} listed at {zone}", "{zone} says {client} is bad ($)", "no placeholders at all",
            "{client}{client} {zone}{zone}", "5.7.1 see https://{zone}/query?ip={client}"]


@pytest.mark.parametrize("message", MESSAGES)
def test_fill_keeps_what_the_replace_chains_wrote(message: str) -> None:
    """The targets' replace chains gave these for every policy-valid reply; the kit must give the same."""
    postfix = {"client": "${client_address}", "zone": "${rbl_domain}"}
    chained = postfix_literal(message)
    for name, variable in postfix.items():
        chained = chained.replace("{" + name + "}", variable)
    assert fill(message, postfix, postfix_literal) == chained
    exchange = message.replace("{zone}", "zen.example").replace("{client}", "your address")
    assert fill(message, {"zone": "zen.example", "client": "your address"}) == exchange


def test_spelled_keeps_non_text_spellings() -> None:
    fqdn = object()
    assert spelled("{hostname} ESMTP {hostname}", {"hostname": fqdn}) == (fqdn, " ESMTP ", fqdn)


def test_an_unknown_placeholder_is_unexpressible() -> None:
    with pytest.raises(Unexpressible, match=r"the placeholder \{client\} has no spelling here \(use \{zone\}\)"):
        fill("Blocked: {client}", {"zone": "z"})
