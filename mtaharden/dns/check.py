"""Compare what DNS serves with the records a policy needs; every difference is named, nothing is fixed.

Only the records of each kind are compared: an apex TXT RRset also holds other sites' verification
strings, so ours are picked by their tag (``v=spf1``, ``v=DMARC1`` …); a second record with our tag is
reported (two SPF records are a permanent error for receivers, RFC 7208 §4.5).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..nameserver import Nameserver
from .records import Record

Kind = Literal["missing", "different", "extra", "unchecked"]


@dataclass(frozen=True)
class Difference:
    name: str
    type: str
    kind: Kind
    expected: str  # empty for an extra record
    served: tuple[str, ...]
    detail: str


def served_values(name: str, rtype: str, *, server: Nameserver, timeout: float) -> tuple[str, ...]:
    """The values DNS serves at ``name``/``rtype`` (TXT strings joined), empty when there are none."""
    import dns.exception
    import dns.resolver

    from ..nameserver import resolver

    try:
        answer = resolver(server, timeout).resolve(name + ".", rtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return ()
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise LookupError(str(exc) or type(exc).__name__) from None
    if answer.rrset is None:
        return ()
    if rtype == "TXT":
        return tuple(b"".join(rdata.strings).decode("ascii", "replace") for rdata in answer.rrset)
    return tuple(rdata.to_text() for rdata in answer.rrset)


def compare(records: Iterable[Record], server: Nameserver, *, timeout: float = 3.0) -> list[Difference]:
    """Every difference between ``records`` and what ``server`` serves for them."""
    differences: list[Difference] = []
    groups: dict[tuple[str, str, str], list[Record]] = {}
    for record in records:
        groups.setdefault((record.name, record.type, record.tag), []).append(record)
    for (name, rtype, tag), wanted in groups.items():
        try:
            served = served_values(name, rtype, server=server, timeout=timeout)
        except LookupError as exc:
            differences += [Difference(name, rtype, "unchecked", record.value, (), f"DNS did not answer: {exc}")
                            for record in wanted]
            continue
        ours = [value for value in served if _has_tag(value, tag)] if rtype == "TXT" else list(served)
        differences += _differences(name, rtype, wanted, ours)
    return differences


def _differences(name: str, rtype: str, wanted: list[Record], served: list[str]) -> list[Difference]:
    found = {canonical(value, rtype): value for value in served}
    out = []
    for record in wanted:
        key = canonical(record.value, rtype)
        if key in found:
            del found[key]
        elif found and rtype == "TXT" and len(wanted) == 1:
            out.append(Difference(name, rtype, "different", record.value, tuple(found.values()),
                                  "DNS serves another value"))
            found.clear()
        else:
            out.append(Difference(name, rtype, "missing", record.value, tuple(served), "not served"))
    out += [Difference(name, rtype, "extra", "", (value,), "served but not in the policy's record set"
                       + (" (a next key's record during a rollover is expected)" if rtype == "TLSA" else ""))
            for value in found.values()]
    return out


def _has_tag(value: str, tag: str) -> bool:
    head = value.strip().split(";", 1)[0].split(None, 1)
    return bool(head) and head[0].replace(" ", "").lower() == tag.lower()


def canonical(value: str, rtype: str) -> str:
    """A value with the differences receivers ignore taken out (case of tags, spaces, tag order)."""
    if rtype != "TXT":
        return " ".join(value.lower().split())
    if value.lower().startswith("v=spf1"):
        return " ".join(value.lower().split())
    pairs = (part.split("=", 1) for part in value.split(";") if "=" in part)
    tags = {key.strip().lower(): "".join(text.split()) for key, text in pairs}
    return ";".join(f"{key}={tags[key]}" for key in sorted(tags))
