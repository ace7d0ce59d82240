"""The SMTP relay probe: a relay-attack matrix, canary confirmation and policy conformance checks.

Entry points: :func:`probe_host` and :func:`probe_fleet` (async), and the ``probe`` click command in
:mod:`mtaharden.probe.cli`. See ``reference/relay-matrix.md`` for where each case comes from.
"""

from .canary import Canary
from .cases import CASES, Case, Placeholders
from .conformance import Credentials, Expectations
from .endpoint import Endpoint, parse_endpoint
from .runner import ProbeOptions, probe_fleet, probe_host
from .session import ProbeError, Reply, ServerClosing, SessionOptions, SmtpSession
from .verdict import CaseResult, CheckResult, CheckStatus, HostResult, HostStatus, Verdict, exit_code

__all__ = [
    "CASES", "Canary", "Case", "CaseResult", "CheckResult", "CheckStatus", "Credentials", "Endpoint",
    "Expectations", "HostResult", "HostStatus", "Placeholders", "ProbeError", "ProbeOptions", "Reply",
    "ServerClosing", "SessionOptions", "SmtpSession", "Verdict", "exit_code", "parse_endpoint", "probe_fleet",
    "probe_host",
]
