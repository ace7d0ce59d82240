"""What a delivery filter (procmail, Sieve) decides alike: where each header rule files a message, and the gaps.

Why shared: a mail delivery agent sees a message the MTA has already accepted, so it cannot refuse one
(``reject`` and ``discard`` file it into the quarantine folder, or drop it when there is none) nor hold it
in a queue (``hold`` and ``warn`` tag it with an ``X-`` header and file it into the junk folder). Both
filters must put the same messages in the same places, so both take that decision from here; and every
policy element other than ``header_checks`` belongs to the MTA, so both record it unsupported alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy
from ...policy.model import HeaderCheck
from ...policy.options._delivery import DeliveryOptions
from .coverage import Recorder, stated_elements


@dataclass(frozen=True)
class Disposition:
    """Where one rule's matching message goes: ``folder`` (None: dropped) and the tag header's value, if any."""

    folder: str | None
    tag: str | None

    @property
    def summary(self) -> str:
        """What the coverage and the file's comment say happens to the message."""
        where = f"filed into the {self.folder} folder" if self.folder else "dropped (/dev/null)"
        return f"tagged {self.tag!r} and {where}" if self.tag else where


def disposition(check: HeaderCheck, index: int, options: DeliveryOptions) -> Disposition:
    """Reject and discard: the quarantine folder (or dropped); hold and warn: tagged, into the junk folder.

    The tag's value holds letters, digits, spaces and parentheses only: procmail then runs formail without a
    shell (no SHELLMETAS), and no Sieve string needs an escape."""
    if check.action in ("reject", "discard"):
        return Disposition(options.quarantine_folder, None)
    return Disposition(options.junk_folder, f"{check.action} by header check {index} ({check.header})")


def action_note(check: HeaderCheck, where: Disposition) -> str:
    """Why the policy's action became this disposition (an MDA can neither refuse nor queue)."""
    if check.action in ("reject", "discard"):
        return f"{check.action}: an MDA cannot refuse a message the MTA accepted, so it is {where.summary}"
    return f"{check.action}: an MDA has no hold queue and no log the policy reads, so the message is {where.summary}"


def record_mta_elements(policy: Policy, coverage: Recorder, target: str) -> None:
    """Each element the policy states, but header_checks, unsupported: the MTA carries it, before the message
    reaches ``target``. Defaults are left to the MTA target rendered beside this one, which reports its own gaps
    (a delivery filter is an addition to an MTA, never instead of one)."""
    detail = (f"{target} runs at delivery, after the MTA has accepted the message: this is the MTA's to enforce "
              "(render an MTA target for it)")
    for element in stated_elements(policy):
        if element != "header_checks":
            coverage.unsupported(element, detail)
