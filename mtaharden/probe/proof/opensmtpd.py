"""OpenSMTPD: the message ID from ``250 2.0.0 MSGID Message accepted for delivery``, its fate from the
queue (``smtpctl show queue``) and the log.

An envelope ID is the message ID and 8 more hex digits. An envelope of the message queued as ``mta``, or an
``mta delivery evpid=…`` log line (any result: OpenSMTPD tried another host), means relayed; ``mda delivery``
lines with a final result (``Ok``, ``PermFail``) or the envelope turned ``bounce``, and no ``mta`` one, mean
delivered or bounced here: not relayed. Removal: ``smtpctl remove MSGID`` (every envelope of the message).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..verdict import Verdict
from . import Decision, QueueProof, Shell
from .syslog import LOG_COMMAND

_ACCEPTED = re.compile(r"\b2\.0\.0 ([0-9a-f]{8}) Message accepted")
_DELIVERY = re.compile(r"\b(mta|mda) delivery evpid=([0-9a-f]{8})[0-9a-f]{8} .*?\bresult=\"?(\w+)")
_FINAL = frozenset({"Ok", "PermFail"})


class OpensmtpdProof(QueueProof):
    name = "opensmtpd"
    queue_id_pattern = _ACCEPTED

    async def decide(self, shell: Shell, ids: Sequence[str]) -> dict[str, Decision]:
        wanted = set(ids)
        remote: dict[str, str] = {}
        here: dict[str, str] = {}
        for line in (await shell.run(("smtpctl", "show", "queue"))).splitlines():
            fields = line.split("|")
            if len(fields) > 6 and fields[0][:8] in wanted and fields[2] in ("mta", "bounce"):
                where = " (for another host)" if fields[2] == "mta" else ""
                (remote if fields[2] == "mta" else here).setdefault(
                    fields[0][:8], f"envelope {fields[0]} queued as {fields[2]}{where} to {fields[5]}")
        for match in _DELIVERY.finditer(await shell.run(LOG_COMMAND)):
            agent, message, result = match.groups()
            if message not in wanted:
                continue
            if agent == "mta":
                remote.setdefault(message, f"mta delivery (to another host) of {message}: {result}")
            elif result in _FINAL:
                here.setdefault(message, f"mda delivery (on this host) of {message}: {result}")
        decided: dict[str, Decision] = {message: (Verdict.RELAYED, why) for message, why in remote.items()}
        decided.update({message: (Verdict.NOT_RELAYED, why) for message, why in here.items() if message not in remote})
        return decided

    async def remove(self, shell: Shell, ids: Sequence[str]) -> None:
        for message in ids:
            await shell.run(("smtpctl", "remove", message))
