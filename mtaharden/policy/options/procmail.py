"""``targets.procmail``: the procmail delivery filter's options."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ..types import AbsolutePath, PolicyValueError, absolute_path
from ._delivery import DeliveryOptions

_HOME_RELATIVE = re.compile(r"^\$HOME(?:/[A-Za-z0-9][A-Za-z0-9._-]*)+$")


def maildir_path(value: Any) -> str:
    """The recipient's Maildir: ``$HOME/...`` (procmail expands it per recipient) or an absolute path."""
    if isinstance(value, str) and value.startswith("$"):
        if not _HOME_RELATIVE.fullmatch(value):
            raise PolicyValueError(f"{value!r} is not a Maildir path", "write $HOME/Maildir or an absolute path")
        return value
    return absolute_path(value)


class ProcmailOptions(DeliveryOptions):
    rc_file: AbsolutePath = Field("/etc/procmailrc", description="where the recipes are installed (procmail's "
                                  "system-wide rcfile; or a path a .procmailrc names with INCLUDERC)")
    maildir: Annotated[str, BeforeValidator(maildir_path)] = Field(
        "$HOME/Maildir", description="the recipient's Maildir (Maildir++ folders .Junk/ inside, as Dovecot reads them)")


Options = ProcmailOptions
