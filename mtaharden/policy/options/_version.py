"""``targets.<t>.version``: the MTA version a render assumes (Postfix, Sendmail, Exim), as dotted digits.

Why a knob: what a target may write depends on the installed version (``smtpd_forbid_bare_newline``
exists in Postfix 3.7.10 but not 3.7.9), and a render happens on a machine that may not have the MTA. The
default is what Debian 12 ships; the plan's check step reads the installed version on the host and stops
the deploy when it is older than the one rendered for. The leading ``_`` keeps this module out of the
target names (``options.names``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

from ..types import PolicyValueError

_DOTTED = re.compile(r"^(0|[1-9][0-9]{0,5})(\.(0|[1-9][0-9]{0,5})){0,4}$")

# What Debian 12 (bookworm, with its security updates) installs; the defaults of the knob.
DEBIAN_12 = {"postfix": "3.7.11", "sendmail": "8.17.1.9", "exim": "4.96"}


def dotted_version(value: Any) -> str:
    """A version as its MTA prints it: 1 to 5 numbers joined by dots, no leading zeros, no suffix."""
    if not isinstance(value, str) or not _DOTTED.fullmatch(value):
        raise PolicyValueError(f"{value!r} is not a version of dotted numbers",
                               "write the version the MTA reports, e.g. 3.7.11 (postconf -h mail_version)")
    return value


def numbers(version: str) -> tuple[int, ...]:
    """``"3.7.11"`` -> ``(3, 7, 11)``: versions compare as tuples."""
    return tuple(int(part) for part in version.split("."))


Version = Annotated[str, BeforeValidator(dotted_version),
                    WithJsonSchema({"type": "string", "pattern": _DOTTED.pattern,
                                    "description": "MTA version the render assumes, e.g. 3.7.11"})]
