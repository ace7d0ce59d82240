"""How smtpd.conf lands on Debian 12: the check step, the service, what the host must provide, and the builtin facts.

Debian's init script (``/etc/init.d/opensmtpd``) runs ``smtpd -n`` itself before it starts the daemon; the
plan's check step runs it on the installed file first, so a role stops before the swap. OpenSMTPD reads its
configuration only at start, so every apply is a restart.
"""

from __future__ import annotations

from ...policy import Policy
from ..base import Service, Step
from ..kit.coverage import Recorder
from .capabilities import note
from .options import opensmtpd_options

INIT = "/etc/init.d/opensmtpd"
CONTROL = "/usr/sbin/smtpctl"


# Debian's `INIT stop` returns while smtpd's processes are still exiting, and `INIT restart` then finds the
# old daemon "running" and starts none: port 25 stays closed once it is gone (seen in the lab, about one
# restart in three under load). So a stop waits (bounded) until no smtpd process is left.
STOPPED = ("sh", "-c", "i=0; while pidof smtpd >/dev/null; do i=$((i+1)); if [ $i -gt 200 ]; then "
                       "echo 'OpenSMTPD did not stop within 20 s' >&2; exit 1; fi; sleep 0.1; done")


def steps(policy: Policy, checks: tuple[Step, ...] = ()) -> tuple[Step, ...]:
    """``smtpd -n`` and the ``checks`` the other pieces need (the signing filter's), then the restart."""
    config = opensmtpd_options(policy).config_file
    why = "OpenSMTPD reads smtpd.conf only at start: stop, wait until every smtpd process is gone, start"
    return (Step(("smtpd", "-n", "-f", config), "let OpenSMTPD parse smtpd.conf and its tables", "check"), *checks,
            Step((INIT, "stop"), why, "apply"), Step(STOPPED, why, "apply"), Step((INIT, "start"), why, "apply"))


def service() -> Service:
    # Not `INIT status`: Debian's script ends in `exit 0` and ignores status_of_proc's answer, so it says
    # "running" for a stopped daemon; smtpctl fails unless it reaches the daemon's control socket.
    return Service(running=(CONTROL, "show", "status"), start=((INIT, "start"),), stop=((INIT, "stop"), STOPPED))


def record_builtin(policy: Policy, rec: Recorder) -> None:
    """What stock OpenSMTPD does by itself, and the elements it needs filters for that Debian does not ship."""
    smtp = policy.smtp
    note(rec, "smtp.disable_vrfy", "on" if smtp.disable_vrfy else "off")
    note(rec, "smtp.disable_expn", "on" if smtp.disable_expn else "off")
    note(rec, "smtp.require_helo", "on" if smtp.require_helo else "off")
    note(rec, "smtp.strict_envelopes", "on" if smtp.strict_envelopes else "off")
    if not policy.accepts_inbound:
        note(rec, "smtp.max_connections_per_client", "no-listener", role=policy.role)
        if policy.dnsbl:
            note(rec, "dnsbl", "no-listener", role=policy.role)
        access = policy.access
        if access.clients or access.helo or access.senders or access.recipients:
            note(rec, "access", "no-listener", role=policy.role)
    else:
        note(rec, "smtp.max_connections_per_client", "none")
        for index, entry in enumerate(policy.dnsbl):
            note(rec, f"dnsbl[{index}]", "none", zone=entry.zone)
    for index, check in enumerate(policy.header_checks):
        note(rec, f"header_checks[{index}]", "none", header=check.header)
