"""The policy's ``targets.opensmtpd`` options, typed: the Targets model is assembled from policy/options at run time."""

from __future__ import annotations

from ...policy import Policy
from ...policy.options.opensmtpd import OpensmtpdOptions


def opensmtpd_options(policy: Policy) -> OpensmtpdOptions:
    options = policy.targets.opensmtpd
    assert isinstance(options, OpensmtpdOptions)  # Targets has an opensmtpd field of this model
    return options
