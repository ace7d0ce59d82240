"""qmail: the message from ``250 ok TIME qp PID``, its fate from qmail-send's log.

qmail-send logs ``info msg N: bytes B from <s> qp PID uid U`` (PID: the qmail-queue that took the
message, as in the DATA reply), then ``starting delivery D: msg N to remote|local ADDRESS`` and
``end msg N``. Any ``to remote`` delivery: relayed; ``end msg N`` with local deliveries only (delivered
or bounced here): not relayed. qmail has no removal tool: a message for a reserved-TLD domain fails
its DNS lookup and bounces by itself, so nothing of the probe's stays queued.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..verdict import Verdict
from . import Decision, QueueProof, Shell

# multilog's current file (the qmail docs' layout, and the lab's), else syslog (Debian's qmail packaging).
LOG_COMMAND = ("sh", "-c", "cat /var/log/qmail/current 2>/dev/null || cat /var/log/qmail/qmail-send/current "
                           "2>/dev/null || cat /var/log/mail.log 2>/dev/null")
_QP = re.compile(r"\bqp (\d+)\b")
_INFO = re.compile(r"info msg (\d+): bytes \d+ from <[^>]*> qp (\d+)\b")
_DELIVERY = re.compile(r"starting delivery \d+: msg (\d+) to (remote|local) (\S+)")
_END = re.compile(r"end msg (\d+)\b")


class QmailProof(QueueProof):
    name = "qmail"
    queue_id_pattern = _QP

    async def decide(self, shell: Shell, ids: Sequence[str]) -> dict[str, Decision]:
        wanted = set(ids)
        message_of: dict[str, str] = {}  # qp -> msg (the last one: a qp may be reused much later)
        remote: dict[str, str] = {}
        ended: set[str] = set()
        for line in (await shell.run(LOG_COMMAND)).splitlines():
            if match := _INFO.search(line):
                if match.group(2) in wanted:  # a reused message number starts afresh
                    message_of[match.group(2)] = match.group(1)
                    remote.pop(match.group(1), None)
                    ended.discard(match.group(1))
            elif match := _DELIVERY.search(line):
                if match.group(2) == "remote":
                    remote.setdefault(match.group(1), match.group(3))
            elif match := _END.search(line):
                ended.add(match.group(1))
        decided: dict[str, Decision] = {}
        for qp, message in message_of.items():
            if message in remote:
                decided[qp] = (Verdict.RELAYED, f"qmail-send delivered msg {message} to remote {remote[message]}")
            elif message in ended:
                decided[qp] = (Verdict.NOT_RELAYED, f"qmail-send delivered or bounced msg {message} locally only")
        return decided

    async def remove(self, shell: Shell, ids: Sequence[str]) -> None:
        """Nothing to remove: see the module's docstring."""
