"""The names of the registered targets, known without importing them.

Why: click builds every command's help and choices when ``mtaharden`` starts; asking the registry
would import every target and the policy model (about 0.3 s) even for ``--version``. Every target
owns one options module in ``policy/options/``, so listing that folder (no import) names them all;
tests/unit/test_startup.py keeps this tuple equal to ``mtaharden.targets.base.registered()``.
"""

from .policy.options import names

TARGET_NAMES = names()
