"""Queue proof: what the MTA on the probed host did with the probe's message, read from its own queue and logs.

Why: a 2xx at RCPT proves nothing (qmail accepts and then delivers locally or bounces). After DATA to a
reserved-TLD foreign address (which can never be delivered), the MTA's queue and log say whether it took
the message for the foreign domain (``relayed``) or delivered it locally or bounced it (``not-relayed``).
One small :class:`QueueProof` per MTA knows its queue IDs, log lines and removal command and nothing of
the product's templates. Its tools run on the probed host itself, or behind a command prefix
(``--queue-via``, e.g. ``ssh root@mx1``) that runs them there; the probe's own messages are removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..session import Reply
from ..verdict import Verdict

COMMAND_TIMEOUT = 20.0
POLL_SECONDS = 0.5
MAX_OUTPUT = 32 * 2**20

Decision = tuple[Verdict, str]


class ProofError(Exception):
    """A queue or log command could not be run on the probed host."""


@dataclass(frozen=True)
class Shell:
    """Runs the MTA's tools on the probed host: directly, or behind ``prefix`` (a command that runs its
    arguments there, such as ``ssh root@mx1`` or ``nsenter -t PID -a``)."""

    prefix: tuple[str, ...] = ()
    timeout: float = COMMAND_TIMEOUT

    async def run(self, argv: Sequence[str]) -> str:
        """The command's standard output (its exit status is the proof's business, not a failure here)."""
        try:
            process = await asyncio.create_subprocess_exec(  # its own process group: a timeout ends all of it
                *self.prefix, *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL, limit=MAX_OUTPUT, start_new_session=True)
        except OSError as exc:
            raise ProofError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
        try:
            async with asyncio.timeout(self.timeout):
                output, _ = await process.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):  # children too: one holding the pipe keeps wait() waiting
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            raise ProofError(f"{argv[0]} gave no answer within {self.timeout:g} s") from None
        return output.decode("utf-8", "replace")


class QueueProof(ABC):
    """What one MTA tells about a message it accepted, found by the queue ID of its end-of-DATA reply."""

    name: str
    queue_id_pattern: re.Pattern[str]  # finds the ID in the 250 reply to the end of DATA, as group 1

    def queue_id(self, reply: Reply) -> str | None:
        """The queue ID in the MTA's 250 reply to the end of DATA (``queued as ABC``, ``qp 123``)."""
        match = self.queue_id_pattern.search(" ".join(reply.lines))
        return match.group(1) if reply.positive and match else None

    @abstractmethod
    async def decide(self, shell: Shell, ids: Sequence[str]) -> dict[str, Decision]:
        """A decision for each queue ID whose fate is known by now (the others are left out)."""

    @abstractmethod
    async def remove(self, shell: Shell, ids: Sequence[str]) -> None:
        """Remove the probe's messages that are still queued (best effort)."""


async def prove(proof: QueueProof, shell: Shell, ids: Mapping[str, str], wait: float) -> dict[str, Decision]:
    """Poll (bounded by ``wait``) until every token's message is decided; then remove the probe's messages.

    ``ids`` maps token -> queue ID; a token left out of the answer stays undecided (``accepted``)."""
    wanted = sorted(set(ids.values()))
    decided: dict[str, Decision] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    try:
        while True:
            decided = await proof.decide(shell, wanted)
            if set(decided) >= set(wanted) or loop.time() >= deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
    finally:
        with contextlib.suppress(ProofError):
            await proof.remove(shell, wanted)
    return {token: decided[queue_id] for token, queue_id in ids.items() if queue_id in decided}


def proof_for(mta: str) -> QueueProof:
    """The queue proof of ``mta`` (one of :data:`MTAS`)."""
    from .exim import EximProof
    from .postfix import PostfixProof
    from .qmail import QmailProof
    from .sendmail import SendmailProof

    proofs: dict[str, QueueProof] = {"postfix": PostfixProof(), "sendmail": SendmailProof(), "qmail": QmailProof(),
                                     "exim": EximProof()}
    from .opensmtpd import OpensmtpdProof
    proofs["opensmtpd"] = OpensmtpdProof()
    return proofs[mta]


MTAS = ("postfix", "sendmail", "qmail", "opensmtpd", "exim")
