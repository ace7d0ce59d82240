# kit: ready
"""The one place that decides whether text may go into a generated file as is, and the one error for "cannot".

Every output format mtaharden writes is line-based for some reader: a control character, a lone CR, or a
Unicode line break (U+0085, U+2028, U+2029, which Python's ``splitlines``, libyaml and .NET break at) could end
a line early and inject a directive; bidi and zero-width characters hide text from the reviewer. So fitness
is an allow-list, the one the policy loader applies to the policy (``policy/characters.allowed``, reused here):
printable ASCII, and other characters only when Unicode calls them letters, marks, numbers, punctuation or symbols.
Format-specific quoting (m4 quotes, PowerShell quotes, qmail's leading ``#``) stays with its target; this
module only answers "is this text fit at all".

:class:`RenderError` lives here (not in ``render.py``, which re-exports it) because ``render.py`` itself checks
text with :func:`unfit`: defining the error there would make ``render`` and the kit import each other.

Beyond the issue's API: ``tabs=True`` admits TAB for a table whose caller counts its field separators
(``render.key_block``), so that check too uses this one predicate.
"""

from __future__ import annotations

import re
import unicodedata

from ...policy.characters import allowed  # the policy's allow-list: what a policy may hold, an output may hold

# Anything but printable ASCII (and the allowed whitespace): the candidates the allow-list then judges.
_CANDIDATES = {
    (breaks, tabs): re.compile("[^" + ("\\n" if breaks else "") + ("\\t" if tabs else "") + "\\x20-\\x7e]")
    for breaks in (False, True) for tabs in (False, True)
}
# The same allow-list within ASCII, spelled as its complement there: 0.28 s instead of 0.49 s for a million keys.
_ASCII_REFUSED = {
    (breaks, tabs): re.compile("[" + "".join(f"\\x{code:02x}" for code in (*range(0x20), 0x7F)
                                             if not (breaks and code == 0x0A) and not (tabs and code == 0x09)) + "]")
    for breaks in (False, True) for tabs in (False, True)
}


class RenderError(Exception):
    """A plan could not be laid out (a value unfit for its file format, a template fault)."""


class Unexpressible(RenderError, ValueError):
    """This target cannot express this value (in its file format, its regex dialect, its syntax).

    A :class:`RenderError`, so the CLI reports it as bad input (exit 2) with the file it was for; also a
    ``ValueError``, so a pydantic validator that calls a kit function turns it into a located policy error
    instead of a crash, and callers that caught the old ``ValueError`` subclasses keep working.
    """


def unfit(text: str, *, breaks: bool = False, tabs: bool = False) -> str | None:
    """Why ``text`` cannot go into a generated file as is (a control character, U+0085/2028/2029, …), or None.

    ``breaks=True`` allows LF (multi-line values); ``tabs=True`` allows TAB. The reason names the first
    offending character in the user's terms (its code point and Unicode name), never the whole text.
    """
    if text.isascii():  # the usual case: one regex search at C speed, even for a million-key table
        found = _ASCII_REFUSED[breaks, tabs].search(text)
        return None if found is None else _describe(found.group())
    refused = {char for char in set(_CANDIDATES[breaks, tabs].findall(text)) if not _printable_non_ascii(char)}
    if not refused:
        return None
    return _describe(min(refused, key=text.index))


def fit(text: str, what: str, *, breaks: bool = False, tabs: bool = False) -> str:
    """``text`` unchanged, or raise :class:`Unexpressible` naming ``what`` (e.g. "a PowerShell string")."""
    why = unfit(text, breaks=breaks, tabs=tabs)
    if why is not None:
        raise Unexpressible(f"refusing to write {why} into {what}")
    return text


def _printable_non_ascii(char: str) -> bool:
    return char > "\x7f" and allowed(char)


_CONTROL_NAMES = {"\t": "tab", "\n": "line feed", "\r": "carriage return", "\x1b": "escape", "\x00": "NUL"}


def _describe(char: str) -> str:
    code = ord(char)
    name = "lone surrogate" if 0xD800 <= code <= 0xDFFF else _CONTROL_NAMES.get(char, unicodedata.name(char, ""))
    kind = "a control character" if unicodedata.category(char) == "Cc" else "the character"
    return f"{kind} U+{code:04X}" + (f" ({name})" if name else "")
