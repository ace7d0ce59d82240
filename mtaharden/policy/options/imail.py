"""``targets.imail``: no options beyond the waivers (the output is a checklist)."""

from __future__ import annotations

from ..strict import TargetOptions


class IMailOptions(TargetOptions):
    """Only ``allow_unsupported``: what the product is told is the policy's, where it lives is the site's."""


Options = IMailOptions
