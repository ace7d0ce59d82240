"""Where the site's own hosts stop and the outside begins, and what in the chain does not add up.

A Received field is written by its ``by`` host, so only the fields the site's own hosts wrote can be
believed; everything below them is what the sender chose to write. Walking down from the top (the
newest field, written by the host that delivered the message to the reader), each trusted hop whose
``from`` address is also the site's own hands the trust on to the next field; the first trusted hop
that received from outside names the sending host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from .received import Hop

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Addresses that never appear on the Internet (RFC 1918, CGNAT, loopback, link-local, ULA, this-network).
# An explicit list: Python's is_private also covers the documentation blocks, which are routable in labs.
INTERNAL = [ipaddress.ip_network(net) for net in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8",
    "fc00::/7", "fe80::/10", "::1/128", "::/128")]
CLOCK_SKEW = timedelta(minutes=5)  # clocks disagree a little; a later time below this much is not flagged


@dataclass
class Trust:
    """The site's own hosts: names (exact), domains (the name and its subdomains), networks."""

    names: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)
    networks: list[Network] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # where the boundary came from, for the output

    @property
    def known(self) -> bool:
        return bool(self.names or self.domains or self.networks)

    def host(self, name: str | None) -> bool:
        if not name:
            return False
        name = name.lower().rstrip(".")
        return name in self.names or any(name == domain or name.endswith("." + domain) for domain in self.domains)

    def address(self, ip: str | None) -> bool:
        if ip is None:
            return False
        address = ipaddress.ip_address(ip)
        return any(address in network for network in self.networks)


@dataclass
class Flag:
    """Something in the chain that does not add up; ``hop`` is its 1-based position from the top."""

    kind: str
    hop: int
    message: str


@dataclass
class Verdict:
    trusted: int                    # how many hops from the top are believed
    boundary: int | None            # 1-based hop that received from outside; None: not found
    sender: Hop | None
    flags: list[Flag]
    notes: list[str]


def find_boundary(hops: list[Hop], trust: Trust) -> Verdict:
    """The trusted hops, the sending host and the flags for ``hops`` (newest first)."""
    notes = []
    if not trust.known:
        notes.append("no trust boundary is known (give --policy or --trust): only the topmost Received field "
                     "is trusted, and its sender is taken as the sending host")
    elif hops and hops[0].parsed and hops[0].by and not trust.host(hops[0].by) and not trust.address(hops[0].by_ip):
        notes.append(f"the topmost Received field was written by {hops[0].by}, which is none of your hosts: "
                     "it is trusted only because it was added last")
    boundary = None
    for position, hop in enumerate(hops):
        if not hop.parsed or (hop.ip is None and hop.helo is None and hop.rdns is None):
            continue  # a local hand-off (qmail's "invoked from network", Gmail's internal hop): same host
        if trust.known and (trust.address(hop.ip) or (hop.ip is None and trust.host(hop.rdns or hop.helo))):
            continue
        boundary = position
        break
    if boundary is None:
        notes.append("no Received field names a host outside your own: the message may have been sent from "
                     "inside, or the boundary is set too wide")
        trusted = len(hops)
    else:
        trusted = boundary + 1
    flags = list(_flags(hops, trusted, boundary, trust))
    return Verdict(trusted, None if boundary is None else boundary + 1,
                   None if boundary is None else hops[boundary], flags, notes)


def _flags(hops: list[Hop], trusted: int, boundary: int | None, trust: Trust) -> Iterable[Flag]:
    for position, hop in enumerate(hops, 1):
        if not hop.parsed:
            yield Flag("unparsed", position, "this Received field follows no known shape")
        elif hop.date is None and hop.date_text is not None:
            yield Flag("bad-date", position, "its date cannot be read")
    if boundary is not None:
        yield from _sender_flags(hops[boundary], boundary + 1, trust)
    yield from _time_flags(hops)
    for position in range(trusted, len(hops)):
        hop, above = hops[position], hops[position - 1]
        number = position + 1
        if hop.ip is not None and internal(hop.ip):
            yield Flag("private-outside", number, f"address {hop.ip} outside the boundary is not a public one "
                       "(normal inside the sender's network, impossible on the Internet)")
        if hop.by and _named_sender(hop) and _named_sender(above) and not _same_host(hop.by, above):
            yield Flag("chain-break", number, f"written by {hop.by}, but the hop above received from "
                       f"{_named(above)}: this field may be forged")
        if trust.host(hop.by) or trust.host(hop.helo):
            yield Flag("claims-ours", number, "a field outside the boundary claims one of your host names: forged")
    if trusted < len(hops):
        yield Flag("unverifiable", trusted + 1, f"{len(hops) - trusted} Received field(s) below the boundary were "
                   "written by the sending side and cannot be checked")


def _sender_flags(hop: Hop, number: int, trust: Trust) -> Iterable[Flag]:
    if hop.ip is None:
        yield Flag("no-address", number, "the receiving host did not record the sender's address")
        return
    if internal(hop.ip):
        yield Flag("private-sender", number, f"the sending address {hop.ip} is not a public one: your boundary is "
                   "probably incomplete (add the relaying host with --trust)")
    if hop.rdns == "unknown":
        yield Flag("no-rdns", number, f"{hop.ip} had no reverse DNS name when it was received")
    elif hop.rdns and hop.helo and hop.helo.lower() != hop.rdns.lower():
        yield Flag("helo-mismatch", number, f"HELO {hop.helo} differs from the reverse DNS name {hop.rdns}")
    if "may be forged" in hop.remarks:
        yield Flag("rdns-forged", number, "the receiver found the reverse name does not resolve back (may be forged)")
    if hop.helo and (trust.host(hop.helo) or hop.helo in ("localhost", "localhost.localdomain")):
        yield Flag("helo-ours", number, f"the sender greeted with {hop.helo}, a name that is not its own")


def _time_flags(hops: list[Hop]) -> Iterable[Flag]:
    previous: tuple[int, Hop] | None = None
    for position, hop in enumerate(hops, 1):
        if hop.date is None:
            continue
        if previous is not None and previous[1].date is not None and hop.date - previous[1].date > CLOCK_SKEW:
            yield Flag("time-backwards", position, f"received at {hop.date.isoformat()}, after the hop above it "
                       f"(hop {previous[0]}, {previous[1].date.isoformat()}): a clock is wrong or the field is forged")
        previous = (position, hop)


def _named(hop: Hop) -> str:
    rdns = hop.rdns if hop.rdns != "unknown" else None
    return rdns or hop.helo or hop.ip or "nobody named"


def _named_sender(hop: Hop) -> bool:
    """Whether ``hop`` names who handed it over well enough to compare: a field with no ``from`` (Gmail's
    internal hops) or from localhost (webmail handing to its own SMTP) is a hand-off inside one site."""
    names = {value for value in (hop.helo, hop.rdns) if value and value != "unknown"}
    if hop.ip is not None and internal(hop.ip) and names and names <= {"localhost", "localhost.localdomain"}:
        return False
    return bool(names or hop.ip)


def _same_host(name: str, above: Hop) -> bool:
    """Whether ``name`` (who wrote a field) could be the host the field above received from."""
    name = name.lower().rstrip(".")
    claimed = {value.lower() for value in (above.rdns, above.helo, above.ip) if value and value != "unknown"}
    if name in claimed or not claimed or (above.ip is not None and name == above.ip):
        return True
    short = name.split(".")[0]
    return any(value.split(".")[0] == short for value in claimed)  # Exchange and webmail write short names


def internal(ip: str) -> bool:
    """Whether ``ip`` is an address no Internet host can have."""
    address = ipaddress.ip_address(ip)
    return any(address in network for network in INTERNAL)


def delays(hops: list[Hop]) -> list[float | None]:
    """Seconds each hop took after the one below it (None where a date is missing or it is the last)."""
    out: list[float | None] = []
    for position, hop in enumerate(hops):
        below = hops[position + 1] if position + 1 < len(hops) else None
        if hop.date is None or below is None or below.date is None:
            out.append(None)
        else:
            out.append((hop.date - below.date).total_seconds())
    return out
