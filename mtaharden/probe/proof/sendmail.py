"""Sendmail: the queue ID from ``250 2.0.0 ID Message accepted for delivery``, its fate from ``to=`` lines.

``mailer=esmtp`` (or ``smtp``, ``smtp8``, ``dsmtp``, ``relay``) sends to another host: relayed, unless
the next hop is this host or no host name at all; ``local`` or ``prog`` (or such a remote attempt) with a
final ``stat=`` (anything but Deferred/queued): not relayed. Removal: the probe's own
``qf``/``df`` files under ``/var/spool/mqueue`` (Sendmail has no removal command).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import Decision, QueueProof, Shell
from .syslog import LOG_COMMAND, Delivery, decide

_ACCEPTED = re.compile(r"\b([0-9A-Za-z]{8,20}) Message accepted")
_REMOTE = frozenset({"esmtp", "smtp", "smtp8", "dsmtp", "relay"})
QUEUE_DIR = "/var/spool/mqueue"
LOOPS_BACK = "5.3.5"


def _to_another_host(delivery: Delivery) -> bool:
    """An attempt by a remote mailer that could reach another host. Not one that found the next hop to be
    this host (``dsn=5.3.5``, "mail loops back to me": the source-routed and percent forms at the host's own
    address), nor one whose next hop is no host name (``relay=relaytest.invalid@.`` from a trailing ``@``):
    such a message bounces, wherever the real recipient is (both seen on the lab's opened Sendmail)."""
    if delivery.fields.get("mailer") not in _REMOTE or delivery.fields.get("dsn") == LOOPS_BACK:
        return False
    return "@" not in delivery.fields.get("relay", "")


class SendmailProof(QueueProof):
    name = "sendmail"
    queue_id_pattern = _ACCEPTED

    async def decide(self, shell: Shell, ids: Sequence[str]) -> dict[str, Decision]:
        return decide(await shell.run(LOG_COMMAND), ids, remote=_to_another_host,
                      final=lambda d: not d.fields.get("stat", "Deferred").startswith(("Deferred", "queued")))

    async def remove(self, shell: Shell, ids: Sequence[str]) -> None:
        names = [arg for queue_id in ids for arg in ("-name", f"?f{queue_id}", "-o")][:-1]
        if names:
            await shell.run(["find", QUEUE_DIR, "(", *names, ")", "-type", "f", "-delete"])
