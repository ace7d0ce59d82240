"""The policy: contract (model), value types, cross-field rules and the located YAML loader.

Names are imported on first use (PEP 562): building the pydantic model costs about 0.15 s, and
commands that never read a policy (``--version``, a probe without ``--policy``) must not pay it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mtaharden.lazy import exports

if TYPE_CHECKING:
    from .errors import PolicyError, Problem
    from .load import load_policy, load_policy_text
    from .model import Policy

__all__ = ["Policy", "PolicyError", "Problem", "load_policy", "load_policy_text"]

_HOME = {"Policy": ".model", "PolicyError": ".errors", "Problem": ".errors", "load_policy": ".load",
         "load_policy_text": ".load"}


__getattr__ = exports(__name__, _HOME)
