"""qmail: the message from ``250 ok TIME qp PID``, its fate from qmail-send's log.

qmail-send logs ``info msg N: bytes B from <s> qp PID uid U`` (PID: the qmail-queue that took the
message, as in the DATA reply), then ``starting delivery D: msg N to remote|local ADDRESS`` and
``end msg N``. Any ``to remote`` delivery: relayed (unless the address ends in ``@``: no host to
reach); ``end msg N`` with local deliveries only (delivered or bounced here): not relayed. qmail has
no removal tool: a message for a reserved-TLD domain fails its DNS lookup and bounces by itself, so
nothing of the probe's stays queued.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..verdict import Verdict
from . import Decision, QueueProof, Shell

# multilog's folder (the qmail docs' layout, and the lab's): its rotated files (@TAI64N.s, in time order) and
# current, since multilog rotates at 99999 bytes by default, a few probe runs' worth (seen in the lab: a run
# whose lines had moved to @….s was left undecided); else syslog (Debian's qmail packaging).
LOG_COMMAND = ("sh", "-c", "for d in /var/log/qmail /var/log/qmail/qmail-send; do if [ -f $d/current ]; then "
                           "cat $d/@* $d/current 2>/dev/null; exit 0; fi; done; cat /var/log/mail.log 2>/dev/null")
_QP = re.compile(r"\bqp (\d+)\b")
_INFO = re.compile(r"info msg (\d+): bytes \d+ from <[^>]*> qp (\d+)\b")
_DELIVERY = re.compile(r"starting delivery \d+: msg (\d+) to (remote|local) (\S+)")
_END = re.compile(r"end msg (\d+)\b")


class QmailProof(QueueProof):
    name = "qmail"
    queue_id_pattern = _QP

    async def decide(self, shell: Shell, ids: Sequence[str]) -> dict[str, Decision]:
        """Read the log in order. A message number is an inode number, so qmail-send reuses it at once (the
        next probe message, a bounce): each delivery and end line belongs to the message that last took the
        number, never to an earlier one that had it."""
        wanted = set(ids)
        owner: dict[str, str | None] = {}  # msg -> the qp of the probe message that holds the number now
        message_of: dict[str, str] = {}
        remote: dict[str, str] = {}
        hostless: dict[str, str] = {}
        ended: set[str] = set()
        for line in (await shell.run(LOG_COMMAND)).splitlines():
            if match := _INFO.search(line):
                message, qp = match.groups()
                owner[message] = qp if qp in wanted else None
                if qp in wanted:  # a reused qp (PID) starts afresh
                    message_of[qp] = message
                    remote.pop(qp, None)
                    hostless.pop(qp, None)
                    ended.discard(qp)
            elif (match := _DELIVERY.search(line)) and (qp := owner.get(match.group(1))):
                # an address ending in @ has no host to look up: qmail-remote bounces it, wherever it points
                if match.group(2) == "remote" and match.group(3).endswith("@"):
                    hostless.setdefault(qp, match.group(3))
                elif match.group(2) == "remote":
                    remote.setdefault(qp, match.group(3))
            elif (match := _END.search(line)) and (qp := owner.pop(match.group(1), None)):
                ended.add(qp)
        decided: dict[str, Decision] = {}
        for qp, message in message_of.items():
            if qp in remote:
                decided[qp] = (Verdict.RELAYED, f"qmail-send delivered msg {message} to remote {remote[qp]}")
            elif qp in ended and qp in hostless:
                decided[qp] = (Verdict.NOT_RELAYED, f"qmail-send bounced msg {message}: remote {hostless[qp]} "
                               "names no host after the last @")
            elif qp in ended:
                decided[qp] = (Verdict.NOT_RELAYED, f"qmail-send delivered or bounced msg {message} locally only")
        return decided

    async def remove(self, shell: Shell, ids: Sequence[str]) -> None:
        """Nothing to remove: see the module's docstring."""
