"""libc's regcomp(3), through ctypes: the engine Sendmail's ``regex`` maps compile with.

Sendmail compiles a map's pattern with ``REG_EXTENDED | REG_NOSUB`` (plus ``REG_ICASE`` without
``-f``); asking this host's libc the same way refuses a translation Sendmail would refuse.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

REG_EXTENDED, REG_ICASE, REG_NOSUB = 1, 2, 8


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c"))


def regcomp_error(ere: str, flags: int) -> str | None:
    """libc's message when regcomp(3) refuses ``ere`` with ``flags``, or None when it compiles."""
    libc = _libc()
    buffer = ctypes.create_string_buffer(256)  # regex_t is 64 bytes on glibc; leave room
    code = libc.regcomp(buffer, ere.encode("ascii"), flags)
    if code == 0:
        libc.regfree(buffer)
        return None
    message = ctypes.create_string_buffer(256)
    libc.regerror(code, buffer, message, len(message))
    return message.value.decode("ascii", "replace")
