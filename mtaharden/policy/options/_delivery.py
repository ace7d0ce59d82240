"""What the delivery-filter targets (procmail, Sieve) share in their options: folders and the tag header.

Why one module: the same campus policy must file the same messages into the same folders with both
filters, so both targets take their folder and header names from the same allow-listed types. The
leading ``_`` keeps this module out of the target names (``options.names``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ..strict import TargetOptions
from ..types import PolicyValueError

# A Maildir++ folder name below INBOX, the same on disk for procmail (".Junk/") and for Dovecot's Sieve
# ("Junk"): ASCII only, since Dovecot stores other names in modified UTF-7 on disk, which procmail cannot spell.
_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_TAG_HEADER = re.compile(r"^X-[A-Za-z0-9][A-Za-z0-9-]{0,61}$")


def folder_name(value: Any) -> str:
    """A mail folder name both procmail (a Maildir++ ``.Name/``) and Sieve's ``fileinto`` read alike."""
    if not isinstance(value, str) or not _FOLDER.fullmatch(value):
        raise PolicyValueError(f"{value!r} is not a folder name mtaharden writes",
                               "use ASCII letters, digits, _ and - (at most 64), e.g. Junk or Quarantine")
    return value


def tag_header(value: Any) -> str:
    """The ``X-`` header a hold/warn rule adds before filing the message into the junk folder."""
    if not isinstance(value, str) or not _TAG_HEADER.fullmatch(value):
        raise PolicyValueError(f"{value!r} is not an X- header name",
                               "write X- and then letters, digits and -, e.g. X-Mtaharden-Filter")
    return value


FolderName = Annotated[str, BeforeValidator(folder_name)]
TagHeader = Annotated[str, BeforeValidator(tag_header)]


class DeliveryOptions(TargetOptions):
    """The folders and tag both delivery filters use (same defaults: same places)."""

    junk_folder: FolderName = Field("Junk", description="folder hold and warn rules file the tagged message into")
    quarantine_folder: FolderName | None = Field(
        "Quarantine", description="folder reject and discard rules file the message into; null: drop it (/dev/null)")
    tag_header: TagHeader = Field("X-Mtaharden-Filter", description="header hold and warn rules add")
