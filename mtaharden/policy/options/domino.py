"""``targets.domino``: no options beyond the waivers (the output is a checklist)."""

from __future__ import annotations

from ..strict import TargetOptions


class DominoOptions(TargetOptions):
    """Only ``allow_unsupported``: what the product is told is the policy's, where it lives is the site's."""


Options = DominoOptions
