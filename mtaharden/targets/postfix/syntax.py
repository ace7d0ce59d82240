"""How Postfix spells a value in main.cf and its maps: literal text, networks, listen addresses, flags.

Every module of the target writes values through these, so each spelling is decided once.
"""

from __future__ import annotations

import ipaddress

from ...policy import canonical

CONFIG = "$config_directory"  # main.cf names its own tables relative to this, so config_dir moves them all


def escape_dollar(text: str) -> str:
    """Literal text for a Postfix parameter or reply template: ``$`` means expansion, so double it."""
    return text.replace("$", "$$")


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def network(value: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """mynetworks form: ``192.0.2.0/24``, ``[2001:db8::]/32`` (IPv6 in brackets, as postconf(5) asks)."""
    text = canonical.network(value)
    if value.version == 6:
        address, prefix = text.split("/")
        return f"[{address}]/{prefix}"
    return text


def interface(value: str) -> str:
    """An inet_interfaces entry: ``all``, ``loopback-only`` or one canonical address."""
    return value if value in ("all", "loopback-only") else canonical.address(value)


Value = str | list[str]  # a main.cf value: one line, or a list laid out one item per line
