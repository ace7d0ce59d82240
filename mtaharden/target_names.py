"""The names of the registered targets, known without importing them.

Why: click builds every command's help and choices when ``mtaharden`` starts; asking the registry
would import every target and the policy model (about 0.3 s) even for ``--version``.
tests/unit/test_startup.py keeps this tuple equal to ``mtaharden.targets.base.registered()``.
"""

TARGET_NAMES = ("exchange", "postfix", "qmail", "sendmail")
