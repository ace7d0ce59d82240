"""Files compared by meaning rather than by text, per target: ``semantic/<target>.py`` defines ``BY_MEANING``.

Why a module per target: the reviewer knows no MTA. A target whose config files the MTA reads in a way
a text diff would misreport (Postfix's main.cf: continuations, list separators, the last setting wins)
adds ``BY_MEANING = {file: compare}`` here; every other target's files are compared as text.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping

# file → comparison by meaning: lines of difference, empty when the files mean the same; a ValueError
# when the current file is one the MTA itself would refuse
Compare = Callable[[str, str], list[str]]


def comparer(target: str, path: str) -> Compare | None:
    """How ``target``'s file ``path`` is compared by meaning, or None (compared as text)."""
    name = f"{__name__}.{target}"
    if not target.isidentifier() or importlib.util.find_spec(name) is None:
        return None
    by_meaning: Mapping[str, Compare] = importlib.import_module(name).BY_MEANING
    return by_meaning.get(path)
