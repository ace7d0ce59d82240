"""Named lists and list files: domains, trusted networks, and the entries of the policy's list files.

A ``<;`` list (separator ``;``) holds IPv6 networks as they are; a long list file becomes a file Exim reads
itself (one item per line), referenced from the list by its absolute path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..base import PlannedFile
from ..kit.escape import Unexpressible, fit
from .quoting import list_item

_LOCAL_PART = re.compile(r"(?:[a-z0-9._=-][a-z0-9._+=-]*)?")


def semicolon_list(items: Iterable[str], checked: bool = False) -> str:
    """``<; a ; b`` (empty: ``<;``, which matches nothing); ``checked``: the items are already fit."""
    found = list(items) if checked else [list_item(item) for item in items]
    return "<; " + " ; ".join(found) if found else "<;"


def domain_item(pattern: str) -> str:
    """``example.org`` as is, ``.example.org`` (every subdomain, not the parent) as ``*.example.org``."""
    return f"*{pattern}" if pattern.startswith(".") else pattern


def address_item(pattern: str) -> str:
    """A canonical address pattern as an Exim address-list item: ``u@d``, ``*@d`` (``@d``, ``d``), ``u@*``.

    Exim matches address-list local parts caselessly (unless ``+caseful``), as the contract does. A local
    part Exim would read as something else (``+name`` is a named list, ``!`` negates, ``^`` a regex) is refused.
    """
    if "@" not in pattern:
        return f"*@{list_item(pattern)}"
    user, _, domain = pattern.rpartition("@")
    fit(user, "an Exim address list")
    if not _LOCAL_PART.fullmatch(user):
        raise Unexpressible(f"refusing to write the local part {user!r} into an Exim address list: letters, digits "
                            "and . _ = - (and + after the first character) only")
    return f"{user or '*'}@{list_item(domain) if domain else '*'}"


def list_file(path: str, keys: Sequence[str]) -> PlannedFile:
    """A list file Exim reads as a list's item (one entry per line; ``#`` starts a comment)."""
    return PlannedFile(path, "list.j2", {"items": tuple(keys)})
