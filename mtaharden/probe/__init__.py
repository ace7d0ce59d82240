"""The SMTP relay probe: a relay-attack matrix, canary confirmation and policy conformance checks.

Entry points: :func:`probe_host` and :func:`probe_fleet` (async), and the ``probe`` click command in
:mod:`mtaharden.probe.cli`. See ``reference/relay-matrix.md`` for where each case comes from.
Names are imported on first use (PEP 562), so ``mtaharden --version`` does not load the probe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mtaharden.lazy import exports

if TYPE_CHECKING:
    from .canary import Canary
    from .cases import CASES, Case, Placeholders
    from .conformance import Credentials, Expectations
    from .endpoint import Endpoint, parse_endpoint
    from .runner import ProbeOptions, probe_fleet, probe_host
    from .session import ProbeError, Reply, ServerClosing, SessionOptions, SmtpSession
    from .verdict import CaseResult, CheckResult, CheckStatus, HostResult, HostStatus, Verdict, exit_code

_HOME = {
    ".canary": ("Canary",), ".cases": ("CASES", "Case", "Placeholders"),
    ".conformance": ("Credentials", "Expectations"), ".endpoint": ("Endpoint", "parse_endpoint"),
    ".runner": ("ProbeOptions", "probe_fleet", "probe_host"),
    ".session": ("ProbeError", "Reply", "ServerClosing", "SessionOptions", "SmtpSession"),
    ".verdict": ("CaseResult", "CheckResult", "CheckStatus", "HostResult", "HostStatus", "Verdict", "exit_code"),
}
_MODULE_OF = {name: module for module, names in _HOME.items() for name in names}

__all__ = [
    "CASES", "Canary", "Case", "CaseResult", "CheckResult", "CheckStatus", "Credentials", "Endpoint",
    "Expectations", "HostResult", "HostStatus", "Placeholders", "ProbeError", "ProbeOptions", "Reply",
    "ServerClosing", "SessionOptions", "SmtpSession", "Verdict", "exit_code", "parse_endpoint", "probe_fleet",
    "probe_host",
]


__getattr__ = exports(__name__, _MODULE_OF)
