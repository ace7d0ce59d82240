"""Exim's authenticators: Cyrus SASL (``cyrus_sasl``, one per mechanism) or Dovecot (``dovecot``).

Exim's cyrus_sasl driver starts libsasl2 as the application ``exim``, so libsasl2 reads its settings from
``exim.conf`` in its config folder (the kit's :func:`~..kit.sasl.cyrus_conf`, as Postfix's smtpd.conf).
``server_advertise_condition`` both hides a mechanism before STARTTLS and refuses it there, which is the
contract's "AUTH only after STARTTLS".
"""

from __future__ import annotations

from ...policy import Policy
from ...policy.options.exim import EximOptions
from ..base import PlannedFile
from ..kit.coverage import Recorder
from ..kit.sasl import cyrus_conf
from . import capabilities as facts
from .config import Authenticator
from .quoting import plain

SASL_APP = "exim"  # the application name Exim's cyrus_sasl driver passes to sasl_server_init


def authenticators(policy: Policy, options: EximOptions, rec: Recorder) -> tuple[Authenticator, ...]:
    auth = policy.auth
    if not auth.enabled:
        return ()
    condition = tls_condition(policy)
    tls_only = (("server_advertise_condition", condition),) if condition else ()
    unique = tuple(dict.fromkeys(auth.mechanisms))  # one authenticator per mechanism: Exim refuses two names alike
    mechanisms = ", ".join(unique)
    found = []
    for mechanism in unique:
        name = f"{auth.backend}_{mechanism.lower().replace('-', '')}"
        if auth.backend == "cyrus":
            driver: tuple[tuple[str, str], ...] = (("driver", "cyrus_sasl"), ("server_set_id", "$auth1"))
        else:
            driver = (("driver", "dovecot"), ("server_socket", plain(options.dovecot_socket, "server_socket")),
                      ("server_set_id", "$auth1"))
        found.append(Authenticator(name, (*driver, ("public_name", mechanism), *tls_only)))
    tls = facts.AUTH_TLS if auth.require_tls else ""
    if auth.backend == "cyrus":
        rec.enforced("auth", facts.AUTH_CYRUS.format(mechanisms=mechanisms, tls=tls,
                                                     sasl_conf=f"{options.sasl_dir}/{SASL_APP}.conf"))
    else:
        rec.enforced("auth", facts.AUTH_DOVECOT.format(mechanisms=mechanisms, tls=tls, socket=options.dovecot_socket))
    return tuple(found)


def sasl_files(policy: Policy) -> list[PlannedFile]:
    """libsasl2's ``exim.conf`` for the cyrus backend."""
    if not policy.auth.enabled or policy.auth.backend != "cyrus":
        return []
    return [PlannedFile(f"sasl/{SASL_APP}.conf", "sasl.conf.j2", cyrus_conf(policy.auth))]


def tls_condition(policy: Policy) -> str:
    """When AUTH may be offered and used (server_advertise_condition), "" for always: over TLS, and without it
    only where the contract lets AUTH count in clear (port 25 without ``auth.require_tls``; the submission ports
    when the policy has no ``tls``)."""
    clear_on_25, clear_on_submission = not policy.auth.require_tls, policy.tls is None
    if clear_on_25 and clear_on_submission:
        return ""
    if not clear_on_25 and not clear_on_submission:
        return "${if def:tls_in_cipher}"
    port_25 = "{eq{$received_port}{25}}" if clear_on_25 else "{!eq{$received_port}{25}}"
    return "${if or{{def:tls_in_cipher}" + port_25 + "}}"


def advertise(policy: Policy) -> str:
    """auth_advertise_hosts: nobody without AUTH, else everyone (each authenticator's condition decides)."""
    return "*" if policy.auth.enabled else ""
