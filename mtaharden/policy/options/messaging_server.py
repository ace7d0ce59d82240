"""``targets.messaging_server``: no options beyond the waivers (the output is a mappings fragment and a checklist)."""

from __future__ import annotations

from ..strict import TargetOptions


class MessagingServerOptions(TargetOptions):
    """Only ``allow_unsupported``: what the product is told is the policy's, where it lives is the site's."""


Options = MessagingServerOptions
