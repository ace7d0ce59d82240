"""DNS blocklists as FEATURE(enhdnsbl): the zone, the reply, and the return codes as at most six patterns."""

from __future__ import annotations

from ...policy import Policy
from ..kit.coverage import Recorder
from ..kit.dnsbl import octets, return_codes
from ..kit.escape import Unexpressible
from ..kit.placeholders import pieces
from . import capabilities as facts
from .m4 import RESCANS, m4_quote, rule_string

ENHDNSBL_SLOTS = 6


def features(policy: Policy, coverage: Recorder) -> list[str]:
    """One FEATURE(enhdnsbl) per entry; an entry Sendmail cannot carry is recorded unsupported instead."""
    out: list[str] = []
    for index, entry in enumerate(policy.dnsbl):
        element = f"dnsbl[{index}]"
        try:
            exact = return_codes(entry.filters, ENHDNSBL_SLOTS)
            patterns = _patterns(entry.filters, exact)
            code = "550" if entry.action == "reject" else "450"
            message = _reply(f"{code} {rule_string(entry.message, 'the message')}", entry.zone)
        except Unexpressible as exc:
            coverage.unsupported(element, str(exc))
            continue
        how = facts.DNSBL.format(zone=entry.zone) + (facts.DNSBL_DEFER if entry.action == "defer" else "")
        if exact is not None:
            coverage.enforced(element, how)
        else:
            coverage.approximated(element, how + facts.DNSBL_WIDENED)
        args = [m4_quote("enhdnsbl"), m4_quote(entry.zone, RESCANS), m4_quote(message, RESCANS), m4_quote(""),
                *(m4_quote(p) for p in patterns)]
        out.append(f"FEATURE({', '.join(args)})")
    return out


def _reply(template: str, zone: str) -> str:
    """The reply as rule tokens: literal text (the zone filled in) quoted, ``{client}`` as its macro."""
    tokens: list[str] = []
    for piece in pieces(template, {"zone": zone}):
        if isinstance(piece, str):
            tokens.append(f'"{piece}"')
        elif piece.name == "client":
            tokens.append("$&{client_addr}")
        else:
            raise Unexpressible(f"the placeholder {{{piece.name}}} has no Sendmail macro in a DNSBL reply")
    return " ".join(tokens)


def _patterns(filters: list[str], exact: tuple[str, ...] | None) -> list[str]:
    """enhdnsbl's answer patterns: each address (at most six), or any 127.0.0.x answer, else unexpressible."""
    if exact is not None:
        return [f"{value}." for value in exact]
    if all(octets(f)[:3] == ((127,), (0,), (0,)) for f in filters):
        return ["127.0.0.$-."]
    raise Unexpressible(facts.DNSBL_TOO_WIDE)
