"""Hostile text Exchange takes, read back with the PowerShell grammar: the script parses, calls only
the commands its template calls, and holds each text as one verbatim (single-quoted) string literal,
so nothing in it is expanded or run. tests/unit/test_exchange_script.py does this for a few messages;
here every text field gets every hostile string.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mtaharden.targets.exchange import dotnet_regex
from tests.conftest import render_policy
from tests.powershell import Script, node_text, verbatim
from tests.robustness.hostile import HOSTILE, VALUE, WRITTEN, FieldPath, accepted_everywhere
from tests.unit.test_exchange_script import KNOWN_COMMANDS

# Where each text field shows in the script (Edge on, so the DNSBL reply is written too); None: nowhere.
SHOWN: dict[FieldPath, Callable[[str], str] | None] = {
    ("smtp", "banner"): lambda text: " " + text,  # ('220 ' + $fqdn + ' text')
    ("access", "clients", 0, "message"): str, ("access", "senders", 0, "message"): str,
    ("access", "recipients", 0, "message"): str, ("access", "helo", 0, "message"): None,  # no HELO control
    ("dnsbl", 0, "message"): str, ("header_checks", 0, "message"): str, ("header_checks", 0, "pattern"): dotnet_regex,
    ("targets", "exchange", "relay_connector"): str, ("targets", "postfix", "parameters", VALUE): None,
}


def test_every_text_field_is_placed() -> None:
    assert set(SHOWN) == set(WRITTEN)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_every_hostile_text_is_one_verbatim_string(tmp_path: Path, hostile: str) -> None:
    data, taken = accepted_everywhere(hostile, WRITTEN)
    data["targets"]["exchange"]["deployment"] = "edge"
    _, out = render_policy(data, tmp_path / "r", "exchange")
    script = Script((out / "harden.ps1").read_text())
    assert script.errors() == []
    assert {command.name for command in script.commands()} <= KNOWN_COMMANDS
    literals = {value for node in script.string_nodes() if (value := verbatim(node)) is not None}
    for field in taken:
        shown = SHOWN[field]
        if shown is not None:
            assert shown(hostile) in literals, field
    leaked = [node for node in script.string_nodes() if hostile in node_text(node) and verbatim(node) is None]
    assert leaked == [], "hostile text in a string PowerShell would expand"
