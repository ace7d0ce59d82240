"""Sendmail: the queue ID from ``250 2.0.0 ID Message accepted for delivery``, its fate from ``to=`` lines.

``mailer=esmtp`` (or ``smtp``, ``smtp8``, ``dsmtp``, ``relay``) sends to another host: relayed; ``local``
or ``prog`` with a final ``stat=`` (anything but Deferred/queued): not relayed. Removal: the probe's own
``qf``/``df`` files under ``/var/spool/mqueue`` (Sendmail has no removal command).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import Decision, QueueProof, Shell
from .syslog import LOG_COMMAND, decide

_ACCEPTED = re.compile(r"\b([0-9A-Za-z]{8,20}) Message accepted")
_REMOTE = frozenset({"esmtp", "smtp", "smtp8", "dsmtp", "relay"})
QUEUE_DIR = "/var/spool/mqueue"


class SendmailProof(QueueProof):
    name = "sendmail"
    queue_id_pattern = _ACCEPTED

    async def decide(self, shell: Shell, ids: Sequence[str]) -> dict[str, Decision]:
        return decide(await shell.run(LOG_COMMAND), ids,
                      remote=lambda d: d.fields.get("mailer") in _REMOTE,
                      final=lambda d: not d.fields.get("stat", "Deferred").startswith(("Deferred", "queued")))

    async def remove(self, shell: Shell, ids: Sequence[str]) -> None:
        names = [arg for queue_id in ids for arg in ("-name", f"?f{queue_id}", "-o")][:-1]
        if names:
            await shell.run(["find", QUEUE_DIR, "(", *names, ")", "-type", "f", "-delete"])
