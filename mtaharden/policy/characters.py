"""One YAML: the characters and directives a policy may hold, so both YAML readers read the same file.

The loader reads a policy with libyaml and, for located errors, with ruamel.yaml; reviewers read it
with ``cat`` and ``git diff``. Characters on which these disagree hide text: libyaml breaks lines at
U+0085, U+2028 and U+2029 where ruamel and a terminal do not, a lone CR lets a terminal overwrite a
line, tabs are accepted by one reader and refused by the other, bidi and zero-width characters
reorder or hide text on screen. So the text is screened by an allow-list before either reader sees
it: line feeds (optionally after CR), printable ASCII, and other characters only when Unicode calls
them letters, marks, numbers, punctuation or symbols. A directive (``%YAML 1.1``, ``%TAG``) would
switch both readers to other scalar rules, so a line starting with ``%`` is refused too.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import Problem

BOM = "\ufeff"
MAX_REPORTED = 20
_ALLOWED_CATEGORIES = frozenset("LMNPS")  # first letter of the Unicode general category
_LONE_CR = re.compile(r"\r(?!\n)")
_ASCII_CONTROL = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")  # all but LF and CR
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_DIRECTIVE = re.compile(r"^%", re.MULTILINE)
_HINTS = {
    "\t": "indent and separate with spaces; YAML readers disagree on tabs",
    "\r": "save the file with LF or CRLF line endings; a lone CR hides text on screen",
}
_DEFAULT_HINT = ("delete it (it is invisible, or read differently by the two YAML readers or on screen); "
                 "inside a double-quoted string write it as the escape \\u{code:04X}")


def allowed(character: str) -> bool:
    """Whether ``character`` may appear in a policy (CR is allowed only before LF: see :func:`problems`)."""
    if " " <= character <= "~" or character in "\n\r":
        return True
    return character > "\x7f" and unicodedata.category(character)[0] in _ALLOWED_CATEGORIES


def problems(text: str, source: str) -> list[Problem]:
    """Every refused character (the first :data:`MAX_REPORTED`) and directive of ``text``, located."""
    found: list[Problem] = []
    refused = "".join(sorted(_refused(text)))
    if refused:
        pattern = re.compile(f"[{re.escape(refused)}]")
        for match in pattern.finditer(text):
            character = match.group()
            hint = _HINTS.get(character) or _DEFAULT_HINT.format(code=ord(character))
            found.append(_problem(text, source, match.start(), _describe(character), hint))
            if len(found) == MAX_REPORTED:
                break
    if "\r" in text:
        for match in _LONE_CR.finditer(text):
            found.append(_problem(text, source, match.start(), "a carriage return (CR) not followed by a line feed",
                                  _HINTS["\r"]))
            if len(found) >= 2 * MAX_REPORTED:
                break
    if "%" in text:
        for match in _DIRECTIVE.finditer(text):
            found.append(_problem(text, source, match.start(), "YAML directives (%YAML, %TAG) are not allowed",
                                  "delete the line: a policy is always read as YAML 1.2 with the standard tags"))
    return sorted(found)[:MAX_REPORTED]


def _refused(text: str) -> set[str]:
    """The distinct refused characters of ``text``, at C speed for the usual all-ASCII policy."""
    refused = set(_ASCII_CONTROL.findall(text))
    if not text.isascii():
        refused.update(c for c in set(_NON_ASCII.findall(text)) if not allowed(c))
    return refused


def _describe(character: str) -> str:
    code = ord(character)
    name = unicodedata.name(character, "") if not 0xD800 <= code <= 0xDFFF else "lone surrogate"
    return f"character U+{code:04X}{f' ({name})' if name else ''} is not allowed in a policy"


def _problem(text: str, source: str, index: int, message: str, hint: str) -> Problem:
    line = text.count("\n", 0, index) + 1
    column = index - text.rfind("\n", 0, index)  # rfind is -1 on the first line: column index + 1
    return Problem(source, line, column, "", message, hint)
