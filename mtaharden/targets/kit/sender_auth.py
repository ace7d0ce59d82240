"""Which sender-authentication elements a policy turns on (issue 26): one answer for every target's coverage."""

from __future__ import annotations

from collections.abc import Mapping

from ...policy import Policy
from .coverage import Recorder

INBOUND = ("sender_auth.spf", "sender_auth.dkim", "sender_auth.dmarc")  # judged on mail that comes in
ELEMENTS = (*INBOUND, "dkim_signing")


def wanted(policy: Policy) -> dict[str, bool]:
    """Each element of :data:`ELEMENTS` and whether the policy turns it on (signing: any key listed)."""
    auth = policy.sender_auth
    return {"sender_auth.spf": auth.spf.enabled, "sender_auth.dkim": auth.dkim.enabled,
            "sender_auth.dmarc": auth.dmarc.enabled, "dkim_signing": bool(policy.dkim_signing)}


OFF = {"sender_auth.spf": "off: no SPF check", "sender_auth.dkim": "off: no DKIM verification",
       "sender_auth.dmarc": "off: no DMARC evaluation", "dkim_signing": "off: nothing is signed"}


def record_gaps(policy: Policy, rec: Recorder, unsupported: Mapping[str, str]) -> None:
    """For a target that carries out none of :data:`ELEMENTS`: each off (enforced) or on (unsupported, with
    the text for it in ``unsupported``, which says what to do instead)."""
    for element, on in wanted(policy).items():
        if on:
            rec.unsupported(element, unsupported[element])
        else:
            rec.enforced(element, OFF[element])
