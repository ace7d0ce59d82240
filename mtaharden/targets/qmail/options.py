"""The policy's ``targets.qmail`` options, typed: the Targets model is assembled from policy/options at run time."""

from __future__ import annotations

from ...policy import Policy
from ...policy.options.qmail import QmailOptions


def qmail_options(policy: Policy) -> QmailOptions:
    options = policy.targets.qmail
    assert isinstance(options, QmailOptions)  # Targets has a qmail field of this model (policy/options/qmail.py)
    return options
