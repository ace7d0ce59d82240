"""Postfix: the queue ID from ``250 2.0.0 Ok: queued as ID``, its fate from the ``to=`` log lines.

``smtp``/``lmtp`` (any name under ``postfix/`` ending so, e.g. ``postfix-out/smtp``) hand the message to
another host: relayed. ``local``, ``virtual``, ``error``, ``discard`` with a final status: not relayed.
Removal: ``postsuper -d ID`` for each of the probe's IDs (it refuses IDs that are no longer queued).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from . import Decision, QueueProof, Shell
from .syslog import LOG_COMMAND, Delivery, decide

_QUEUED = re.compile(r"queued as ([0-9A-Za-z]+)")
_REMOTE = ("smtp", "lmtp")
_FINAL = ("sent", "bounced", "expired")


def _agent(delivery: Delivery) -> str:
    return delivery.program.rsplit("/", 1)[-1]


class PostfixProof(QueueProof):
    name = "postfix"
    queue_id_pattern = _QUEUED

    async def decide(self, shell: Shell, ids: Sequence[str]) -> dict[str, Decision]:
        return decide(await shell.run(LOG_COMMAND), ids,
                      remote=lambda d: _agent(d) in _REMOTE and d.fields.get("relay") != "local",
                      final=lambda d: d.fields.get("status") in _FINAL)

    async def remove(self, shell: Shell, ids: Sequence[str]) -> None:
        for queue_id in ids:
            await shell.run(["postsuper", "-d", queue_id])
