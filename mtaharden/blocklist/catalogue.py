"""The zones to check: the shipped catalogue (catalogue.toml), the policy's ``dnsbl:`` zones and ``--zone``.

Return-code filters use the policy's syntax and validator (``policy.types.dnsbl_filter``), so a zone reads the
same here as in ``dnsbl: - zone: …, match: […]``, and 127.255.255.x can never be a listing filter.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..policy.types import PolicyValueError, dnsbl_filter, domain_name
from .errors import BadInput

CATALOGUE = Path(__file__).with_name("catalogue.toml")
DEFAULT_FILTERS = ("127.0.0.[2..255]",)  # the policy's default (model.DEFAULT_DNSBL_FILTER)


@dataclass(frozen=True)
class Zone:
    """A DNSBL zone and what its answers mean. ``listed``: return-code filters that mean "listed"."""

    zone: str
    listed: tuple[str, ...] = DEFAULT_FILTERS
    name: str = ""
    source: str = "--zone"
    ipv6: bool = True  # a zone of unknown kind is asked about IPv6 addresses too
    codes: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    delist: str = ""
    terms: str = ""


def _zone(entry: Mapping[str, Any]) -> Zone:
    return Zone(zone=domain_name(entry["zone"]), listed=tuple(dnsbl_filter(f) for f in entry["listed"]),
                name=entry["name"], source="catalogue", ipv6=bool(entry["ipv6"]), codes=dict(entry["codes"]),
                errors=dict(entry.get("errors", {})), delist=entry["delist"], terms=entry["terms"])


def catalogue(path: Path = CATALOGUE) -> tuple[Zone, ...]:
    """The shipped zones, validated as a user's ``--zone`` would be (a broken entry fails loudly)."""
    with path.open("rb") as data:
        return tuple(_zone(entry) for entry in tomllib.load(data)["zones"])


def zone_option(text: str) -> Zone:
    """``--zone ZONE`` or ``--zone ZONE=CODE,CODE``: a zone name and, optionally, the filters meaning listed."""
    name, has_codes, codes = text.partition("=")
    try:
        zone = domain_name(name.strip())
        filters = tuple(dnsbl_filter(code) for code in codes.split(",")) if has_codes else DEFAULT_FILTERS
    except PolicyValueError as exc:
        raise BadInput(f"--zone {text!r}", str(exc), exc.hint) from None
    return Zone(zone=zone, listed=filters)


def policy_zone(index: int, zone: str, filters: Sequence[str]) -> Zone:
    """A zone of the policy's ``dnsbl:`` list, with the filters the site's MTA rejects on."""
    return Zone(zone=zone, listed=tuple(filters), source=f"policy dnsbl[{index}]")


def select(shipped: Sequence[Zone], only: Iterable[str], skip: Iterable[str]) -> list[Zone]:
    """``--only``/``--skip``: catalogue zones by name; a name the catalogue lacks is a mistake, not a no-op."""
    known = {zone.zone: zone for zone in shipped}
    only, skip = list(only), list(skip)
    for option, names in (("--only", only), ("--skip", skip)):
        for name in names:
            if name.lower().rstrip(".") not in known:
                raise BadInput(f"{option} {name!r}", "not a zone of the catalogue",
                               f"choose from {', '.join(known)}, or add another zone with --zone")
    wanted = {n.lower().rstrip(".") for n in only} or set(known)
    unwanted = {n.lower().rstrip(".") for n in skip}
    return [zone for zone in shipped if zone.zone in wanted - unwanted]


def merge(*groups: Iterable[Zone]) -> list[Zone]:
    """Zones in order, each once: a later entry for the same zone sets its filters, the catalogue's words stay."""
    merged: dict[str, Zone] = {}
    for group in groups:
        for zone in group:
            earlier = merged.get(zone.zone)
            merged[zone.zone] = zone if earlier is None else replace(
                earlier, listed=zone.listed, source=f"{earlier.source}, {zone.source}")
    return list(merged.values())
