"""Exim: the message from ``250 OK id=ID``, its fate from Exim's main log.

Exim logs each delivery as ``ID => address … T=transport`` (``->`` for more addresses of one delivery),
a bounce as ``ID ** address …`` and the end as ``ID Completed``. A delivery by the ``smtp`` transport
(``T=remote_smtp``, the only remote one the target writes; any ``H=`` host) went to another host: relayed;
``Completed`` with local deliveries or bounces only: not relayed. Removal: ``exim -Mrm`` of the probe's
messages still queued (an unknown ID is only a message on its error output).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..verdict import Verdict
from . import Decision, QueueProof, Shell

LOG_COMMAND = ("sh", "-c", "cat /var/log/exim4/mainlog /var/log/exim/mainlog 2>/dev/null")
_ACCEPTED = re.compile(r"\bid=([0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4})\b")
_DELIVERY = re.compile(r"^\S+ \S+ (\S+) [=-]> (\S+).* T=(\S+)")
_COMPLETED = re.compile(r"^\S+ \S+ (\S+) Completed\b")


class EximProof(QueueProof):
    name = "exim"
    queue_id_pattern = _ACCEPTED

    async def decide(self, shell: Shell, ids: Sequence[str]) -> dict[str, Decision]:
        wanted = set(ids)
        remote: dict[str, str] = {}
        completed: set[str] = set()
        for line in (await shell.run(LOG_COMMAND)).splitlines():
            if (match := _DELIVERY.match(line)) and match.group(1) in wanted:
                if match.group(3) == "remote_smtp":
                    remote.setdefault(match.group(1), match.group(2))
            elif (match := _COMPLETED.match(line)) and match.group(1) in wanted:
                completed.add(match.group(1))
        decided: dict[str, Decision] = {}
        for queue_id in wanted:
            if queue_id in remote:
                decided[queue_id] = (Verdict.RELAYED, f"exim delivered {queue_id} to {remote[queue_id]} on another "
                                                      "host (remote_smtp)")
            elif queue_id in completed:
                decided[queue_id] = (Verdict.NOT_RELAYED, f"exim delivered or bounced {queue_id} locally only")
        return decided

    async def remove(self, shell: Shell, ids: Sequence[str]) -> None:
        if ids:
            await shell.run(["exim", "-Mrm", *ids])
