"""Delivery lines of syslog-logging MTAs (Postfix, Sendmail): ``prog[pid]: QUEUEID: to=<...>, ...``.

Why shared: both log one ``to=`` line per delivery attempt, tagged with the agent that made it, so the
fate of a queue ID is read the same way; each MTA only says which agents leave the host.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..verdict import Verdict
from . import Decision

# Debian: busybox syslogd's ring buffer, rsyslog's mail.log, or the journal (short format keeps the tag).
LOG_COMMAND = ("sh", "-c", "logread 2>/dev/null || cat /var/log/mail.log 2>/dev/null || "
                           "journalctl -q --no-pager -o short 2>/dev/null")
# Sendmail logs the recipient as the client gave it: ``to=r@x`` when RCPT TO had no angle brackets.
_LINE = re.compile(r"\s(?P<prog>[\w./-]+)\[\d+\]: (?P<id>[0-9A-Za-z]+): "
                   r"to=(?:<(?P<to>[^>]*)>|(?P<bare>[^,<>\s]+))(?P<rest>.*)")
_FIELD = re.compile(r"(\w+)=([^,\s]+)")


@dataclass(frozen=True)
class Delivery:
    program: str
    queue_id: str
    recipient: str
    fields: dict[str, str]


def deliveries(log: str, ids: Sequence[str]) -> list[Delivery]:
    """Every ``to=`` line of the queue IDs in ``ids``, in log order."""
    wanted = set(ids)
    found = []
    for line in log.splitlines():
        match = _LINE.search(line)
        if match and match.group("id") in wanted:
            fields = dict(_FIELD.findall(match.group("rest")))
            recipient = match.group("to") if match.group("to") is not None else match.group("bare")
            found.append(Delivery(match.group("prog"), match.group("id"), recipient, fields))
    return found


def decide(log: str, ids: Sequence[str], remote: Callable[[Delivery], bool],
           final: Callable[[Delivery], bool]) -> dict[str, Decision]:
    """``relayed`` once any attempt went to another host; ``not-relayed`` once a local attempt was final
    (delivered or bounced); a queue ID with neither is left out (still undecided)."""
    decided: dict[str, Decision] = {}
    for delivery in deliveries(log, ids):
        if delivery.queue_id in decided and decided[delivery.queue_id][0] is Verdict.RELAYED:
            continue
        line = f"{delivery.program}: to=<{delivery.recipient}>, " + ", ".join(
            f"{key}={value}" for key, value in delivery.fields.items())
        if remote(delivery):
            decided[delivery.queue_id] = (Verdict.RELAYED, f"queued for another host: {line}")
        elif final(delivery):
            decided.setdefault(delivery.queue_id, (Verdict.NOT_RELAYED, f"delivered locally or bounced: {line}"))
    return decided
