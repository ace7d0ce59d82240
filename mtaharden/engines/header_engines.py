"""Non-ASCII header rules judged by the engines that will run them, before a policy is accepted.

Each form of a rule's text (engines/header_forms.py) becomes a Postfix pcre line and, for the
ASCII-only RFC 2047 forms, a Sendmail regex map. A form one engine cannot compile would be skipped
at run time (Postfix logs a warning, ``postfix check`` stays silent), so validation compiles every
one here, with the library and options that engine uses, and refuses the policy if one fails.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from ..policy.pattern import has_text, parse
from . import header_forms, pcre2
from .regcomp import REG_EXTENDED, REG_NOSUB, regcomp_error

ERE_FLAGS = REG_EXTENDED | REG_NOSUB  # a Sendmail regex map with -f (the forms spell out case themselves)


def postfix_regex(header: str, form: header_forms.Form) -> str:
    """The regex of the form's header_checks.pcre line (before the / delimiter is escaped)."""
    return pcre2.postfix_header_regex(header, header_forms.pcre(form), False)


def problem(text: str, charsets: Sequence[str]) -> str | None:
    """Why the rule's non-ASCII forms cannot run in PCRE2 or libc ERE; None when all compile (or it is ASCII)."""
    return _problem(text, tuple(charsets))


@functools.lru_cache(maxsize=1024)  # validation, then each target's lines and coverage ask again
def _problem(text: str, charsets: tuple[str, ...]) -> str | None:
    parsed = parse(text)
    if not has_text(parsed):
        return None
    try:
        forms = header_forms.forms(parsed, charsets)
        for form in forms:
            if pcre2.available():
                pcre2.check(postfix_regex("X", form), pcre2.POSTFIX_HEADER_OPTIONS)
            if form.encoding != "raw":
                error = regcomp_error(header_forms.ere(form), ERE_FLAGS)
                if error:
                    return f"libc regcomp (Sendmail) refuses the {form.label} form: {error}"
    except header_forms.NotLiteral as exc:
        return str(exc)
    except pcre2.CompileError as exc:
        return f"PCRE2 (Postfix) refuses a generated form: {exc}"
    if not forms:
        return "none of the listed charsets can encode the text"
    return None
