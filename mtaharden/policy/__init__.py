"""The policy: contract (model), value types, cross-field rules and the located YAML loader."""

from .errors import PolicyError, Problem
from .load import load_policy, load_policy_text
from .model import Policy

__all__ = ["Policy", "PolicyError", "Problem", "load_policy", "load_policy_text"]
