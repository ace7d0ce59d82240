"""The Exim queue proof reads Exim's main log as the lab's stock Exim writes it (lines copied from a lab run);
tests/lab/test_probe_proof.py runs it against the real daemon."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from mtaharden.probe.proof import Shell, proof_for
from mtaharden.probe.session import Reply
from mtaharden.probe.verdict import Verdict

MAINLOG = """\
2026-12-02 03:27:21 1xYb05-00001L-1u <= x@sub.spam.example H=(bad.helo.test) [192.0.2.40] P=esmtp S=246
2026-12-02 03:27:21 1xYb05-00001L-1u => someone@relay.example.test R=dnslookup T=remote_smtp H=relay.example.test
2026-12-02 03:27:21 1xYb05-00001L-1u Completed
2026-12-02 03:27:22 1xYb06-00001M-2v <= a@client.test H=(client.test) [192.0.2.20] P=esmtp S=300
2026-12-02 03:27:22 1xYb06-00001M-2v => /var/mail/mail <root@example.test> R=mail4root T=address_file
2026-12-02 03:27:22 1xYb06-00001M-2v Completed
2026-12-02 03:27:23 1xYb07-00001N-3w <= a@client.test H=(client.test) [192.0.2.20] P=esmtp S=300
"""


class _Log(Shell):
    """A shell whose only command prints the log above."""

    async def run(self, argv: Sequence[str]) -> str:
        return MAINLOG if argv[0] == "sh" else ""


def test_remote_delivery_is_relayed_local_is_not_and_a_queued_one_is_undecided() -> None:
    proof = proof_for("exim")
    assert proof.queue_id(Reply(250, ("OK id=1xYb05-00001L-1u",))) == "1xYb05-00001L-1u"
    decided = asyncio.run(proof.decide(_Log(), ["1xYb05-00001L-1u", "1xYb06-00001M-2v", "1xYb07-00001N-3w"]))
    assert decided["1xYb05-00001L-1u"][0] == Verdict.RELAYED
    assert decided["1xYb06-00001M-2v"][0] == Verdict.NOT_RELAYED
    assert "1xYb07-00001N-3w" not in decided
