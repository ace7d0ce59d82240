"""OpenSMTPD: the message ID from ``250 2.0.0 MSGID Message accepted for delivery``, its fate from the log
(``mta``/``mda delivery`` lines) and the queue (``smtpctl show queue``).

Why the log and not the queue decides "relayed": ``smtpctl show queue`` lists an envelope as ``mta`` as soon as
a ``relay`` action took it, also when its destination is the host itself (the percent and bang forms addressed
at its own name or address literal, which an opened OpenSMTPD hands back to its own SMTP server, a loop). Only
what leaves the host proves relaying, so an ``mta delivery evpid=…`` line decides, by its ``relay``: another
host (or a destination name that never resolved, which OpenSMTPD logs in place of an address) means relayed,
whatever the result; the host's own address (the ``source`` of that connection, or loopback) with a final
result means it delivered the message to itself: not relayed. ``mda delivery`` lines with a final result
(``Ok``, ``PermFail``) or an envelope turned ``bounce`` in the queue, and no ``mta`` line to another host,
mean delivered or bounced here: not relayed. An envelope ID is the message ID and 8 more hex digits.
Removal: ``smtpctl remove MSGID`` (every envelope of the message).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..verdict import Verdict
from . import Decision, QueueProof, Shell
from .syslog import LOG_COMMAND

_ACCEPTED = re.compile(r"\b2\.0\.0 ([0-9a-f]{8}) Message accepted")
_DELIVERY = re.compile(r"\b(?P<agent>mta|mda) delivery evpid=(?P<message>[0-9a-f]{8})[0-9a-f]{8} "
                       r"from=<[^>]*> to=<(?P<to>[^>]*)>.*?(?: source=\"(?P<source>[^\"]*)\")?"
                       r"(?: relay=\"(?P<relay>[^\"]*)\")?(?: user=\S+)? delay=\S+ result=\"?(?P<result>\w+)")
_FINAL = frozenset({"Ok", "PermFail"})


@dataclass(frozen=True)
class Delivery:
    """One ``mta``/``mda delivery`` log line of an envelope: who delivered, to where, and how it ended."""

    agent: str
    message: str
    to: str
    source: str
    relay: str
    result: str

    @property
    def to_itself(self) -> bool:
        """An ``mta`` delivery whose relay is the host's own address: the source of that very connection
        (Linux picks the destination's own address for a local one) or loopback."""
        relay = _address(self.relay.split(" ", 1)[0])
        return relay is not None and (relay.is_loopback or relay == _address(self.source))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def deliveries(log: str, wanted: set[str]) -> list[Delivery]:
    """The delivery lines of the messages in ``wanted``, in log order."""
    found = []
    for match in _DELIVERY.finditer(log):
        if match.group("message") in wanted:
            found.append(Delivery(match.group("agent"), match.group("message"), match.group("to"),
                                  match.group("source") or "", match.group("relay") or "", match.group("result")))
    return found


def bounced(queue: str, wanted: set[str]) -> dict[str, str]:
    """Message -> its first envelope that ``smtpctl show queue`` lists as a bounce
    (``EVPID|inet4|TYPE|…|SENDER|DEST|RCPT|…``, one envelope a line)."""
    found: dict[str, str] = {}
    for line in queue.splitlines():
        fields = line.split("|")
        if len(fields) > 6 and fields[0][:8] in wanted and fields[2] == "bounce":
            found.setdefault(fields[0][:8], f"envelope {fields[0]} queued as a bounce to {fields[5]}")
    return found


def decide_from(log: str, queue: str, ids: Sequence[str]) -> dict[str, Decision]:
    """The decisions the log and queue listing allow (see the module's docstring); undecided ones left out."""
    wanted = set(ids)
    remote: dict[str, str] = {}
    here: dict[str, str] = {}
    for delivery in deliveries(log, wanted):
        message = delivery.message
        if delivery.agent == "mta" and not delivery.to_itself:
            remote.setdefault(message, f"mta delivery of {message} to <{delivery.to}> (to another host: "
                                       f"{delivery.relay}): {delivery.result}")
        elif delivery.agent == "mta" and delivery.result in _FINAL:
            here.setdefault(message, f"mta delivery of {message} to <{delivery.to}> back to this host itself "
                                     f"({delivery.relay}): {delivery.result}, a loop, not relaying")
        elif delivery.agent == "mda" and delivery.result in _FINAL:
            here.setdefault(message, f"mda delivery (on this host) of {message} to <{delivery.to}>: "
                                     f"{delivery.result}")
    for message, why in bounced(queue, wanted).items():
        here.setdefault(message, why)
    decided: dict[str, Decision] = {message: (Verdict.RELAYED, why) for message, why in remote.items()}
    decided.update({message: (Verdict.NOT_RELAYED, why) for message, why in here.items() if message not in remote})
    return decided


class OpensmtpdProof(QueueProof):
    name = "opensmtpd"
    queue_id_pattern = _ACCEPTED

    async def decide(self, shell: Shell, ids: Sequence[str]) -> dict[str, Decision]:
        queue = await shell.run(("smtpctl", "show", "queue"))
        return decide_from(await shell.run(LOG_COMMAND), queue, ids)

    async def remove(self, shell: Shell, ids: Sequence[str]) -> None:
        for message in ids:
            await shell.run(("smtpctl", "remove", message))
