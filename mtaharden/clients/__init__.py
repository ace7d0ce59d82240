"""Mail-client settings from the policy: what a user's mail program needs to submit mail with AUTH over TLS.

:mod:`.account` decides (server, ports, TLS, AUTH, user name form; refusals), and one module per format lays
the decision out: :mod:`.mozilla` (autoconfig ``config-v1.1.xml``), :mod:`.microsoft` (Autodiscover POX),
:mod:`.apple` (``.mobileconfig``), :mod:`.srv` (RFC 6186 records), :mod:`.guides` (per client); :mod:`.cli`
is ``mtaharden clients``.
"""
