"""The MTA and platform names a banner or reply must not show, known without loading the policy model.

Why here: the policy's banner validator and the probe's leak check judge the same thing, and the probe
starts without pydantic (tests/unit/test_startup.py); both import this tuple.
"""

SOFTWARE_NAMES = ("postfix", "sendmail", "qmail", "exim", "exchange", "microsoft", "opensmtpd", "ubuntu", "debian")
