"""Each target's ``targets.<name>`` options and its own policy checks: one module (or package) per target.

Why: the policy core knows no MTA. A target adds ``policy/options/<name>.py`` defining ``Options`` (a
:class:`~mtaharden.policy.strict.TargetOptions` model) and, when it has checks of its own,
``findings(policy) -> Iterator[Finding]``; ``model.Targets`` and ``rules.check`` pick it up from this
folder (a name starting with ``_`` is not a target).

:func:`names` lists the folder without importing anything (no pydantic), so the command line can
offer the target names at start-up.
"""

from __future__ import annotations

import functools
import importlib
import os
from types import ModuleType


@functools.cache
def names() -> tuple[str, ...]:
    """The targets that have an options module (``name.py`` or ``name/``), in name order (the registry's order).

    A listing, not ``pkgutil`` (which loads ``inspect``): the command line asks this at every start."""
    found = set()
    for folder in __path__:
        for entry in os.scandir(folder):
            name, suffix = os.path.splitext(entry.name)
            package = entry.is_dir() and os.path.isfile(os.path.join(entry.path, "__init__.py"))
            if (package or (suffix == ".py" and entry.is_file())) and name.isidentifier() and not name.startswith("_"):
                found.add(entry.name if package else name)
    return tuple(sorted(found))


@functools.cache
def modules() -> tuple[ModuleType, ...]:
    """Every target's options module, imported, in name order; one missing ``Options`` is a TypeError."""
    found = tuple(importlib.import_module(f"{__name__}.{name}") for name in names())
    for module in found:
        if not isinstance(getattr(module, "Options", None), type):
            raise TypeError(f"{module.__name__} defines no Options model")
    return found
