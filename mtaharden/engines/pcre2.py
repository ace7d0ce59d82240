"""The PCRE2 library itself (libpcre2-8, through ctypes), so Postfix's own engine judges its patterns.

Postfix's ``pcre:`` tables (dict_pcre.c) call ``pcre2_compile`` with ``PCRE2_CASELESS | PCRE2_DOTALL``,
each flag after the closing delimiter toggling one (``i`` turns case-insensitivity off), and
``pcre2_match`` with no options. A pattern PCRE2 cannot compile is skipped at lookup time with only a
log warning, so mtaharden compiles every pattern here first. ctypes on the library Debian's
postfix-pcre links (and grep, so it is on every host) needs no extra Python package and is the very
code Postfix runs; the ``pcre2`` binding on PyPI would bundle its own copy of the library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

CASELESS = 0x00000008
DOTALL = 0x00000020
POSTFIX_DEFAULT = CASELESS | DOTALL  # a pcre: table line with no flags
POSTFIX_FLAG_BITS = {"i": CASELESS, "s": DOTALL}
ERROR_NOMATCH = -1
MATCH_LIMITS = (-47, -53, -63)  # PCRE2_ERROR_MATCHLIMIT, _DEPTHLIMIT, _HEAPLIMIT: Postfix skips the rule then
_ZERO_TERMINATED = ctypes.c_size_t(-1).value


class Pcre2Unavailable(RuntimeError):
    """libpcre2-8 is not installed."""


class CompileError(ValueError):
    """PCRE2 refused a pattern; ``offset`` is the byte it stopped at."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"PCRE2 refuses it at offset {offset}: {message}")
        self.offset, self.reason = offset, message


@functools.cache
def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("pcre2-8") or "libpcre2-8.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise Pcre2Unavailable(f"the PCRE2 library ({name}) cannot be loaded: {exc}") from None
    lib.pcre2_compile_8.restype = ctypes.c_void_p
    lib.pcre2_compile_8.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32,
                                    ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p]
    lib.pcre2_code_free_8.argtypes = [ctypes.c_void_p]
    lib.pcre2_get_error_message_8.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
    lib.pcre2_match_data_create_from_pattern_8.restype = ctypes.c_void_p
    lib.pcre2_match_data_create_from_pattern_8.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.pcre2_match_data_free_8.argtypes = [ctypes.c_void_p]
    lib.pcre2_match_8.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t,
                                  ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p]
    return lib


def available() -> bool:
    """Whether the library can be loaded here."""
    try:
        _library()
    except Pcre2Unavailable:
        return False
    return True


def _compile(lib: ctypes.CDLL, pattern: str, options: int) -> int:
    error, offset = ctypes.c_int(), ctypes.c_size_t()
    code = lib.pcre2_compile_8(pattern.encode("latin-1"), _ZERO_TERMINATED, options,
                               ctypes.byref(error), ctypes.byref(offset), None)
    if not code:
        buffer = ctypes.create_string_buffer(256)
        lib.pcre2_get_error_message_8(error.value, buffer, len(buffer))
        raise CompileError(offset.value, buffer.value.decode("latin-1"))
    return int(code)


def check(pattern: str, options: int = POSTFIX_DEFAULT) -> None:
    """Compile ``pattern`` as Postfix would; raise :class:`CompileError` with PCRE2's reason if it cannot."""
    lib = _library()
    lib.pcre2_code_free_8(_compile(lib, pattern, options))


class MatchLimit(RuntimeError):
    """PCRE2 stopped backtracking at its limit: no answer, and Postfix logs a warning and skips the rule."""


def search(pattern: str, subject: bytes, options: int = POSTFIX_DEFAULT) -> bool:
    """Whether ``pattern`` matches somewhere in ``subject``, as a Postfix table lookup runs it."""
    lib = _library()
    code = _compile(lib, pattern, options)
    match_data = lib.pcre2_match_data_create_from_pattern_8(code, None)
    try:
        result = lib.pcre2_match_8(code, subject, len(subject), 0, 0, match_data, None)
    finally:
        lib.pcre2_match_data_free_8(match_data)
        lib.pcre2_code_free_8(code)
    if result in MATCH_LIMITS:
        raise MatchLimit(f"pcre2_match gave up (code {result}) on {pattern!r}: Postfix would skip this rule")
    if result < 0 and result != ERROR_NOMATCH:
        raise RuntimeError(f"pcre2_match failed with code {result} on {pattern!r}")
    return bool(result > 0)


def postfix_header_regex(header: str, body: str, anchored: bool) -> str:
    """The regex of a ``header_checks.pcre`` line for ``body`` (a pattern without its ``^``).

    Postfix hands the whole logical header, ``Name: value``, to the table. The name is matched
    case-insensitively; the line's ``i`` flag turns Postfix's default case-insensitivity off so the
    body keeps its own case rule. ``^`` means the value starts with the pattern (after blanks).
    """
    value = f"[ \\t]*(?:{body})" if anchored else f"(?:.*?)(?:{body})"
    return f"^(?i:{header}):{value}"


POSTFIX_HEADER_OPTIONS = POSTFIX_DEFAULT ^ POSTFIX_FLAG_BITS["i"]  # the /i after the closing delimiter
