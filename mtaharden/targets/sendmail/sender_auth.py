"""Inbound SPF, DKIM and DMARC, and outbound DKIM signing, on Sendmail (issue 26): three milters.

Sendmail 8.17 (Debian 12, compiled with MILTER) checks none of these itself; sendmail.mc calls Debian's
milters with ``INPUT_MAIL_FILTER`` in this order: OpenDKIM (verifies, and signs the mail of the trusted
and authenticated clients), OpenDMARC (:mod:`..kit.milters`, their files exactly as for Postfix), then
pyspf-milter for SPF. ``F=T``: a milter that is down defers the mail, never passes it unchecked or unsigned.
All three run as Debian's services (their init scripts, their files where the packages read them:
``<milter_dir>/opendkim.conf``, ``opendmarc.conf``, ``pyspf-milter/pyspf-milter.conf``), so they start at
boot before Sendmail. No policy text reaches sendmail.mc here: its lines are names and ports of this module.

pyspf-milter judges SPF at MAIL FROM, from what it knew at connect: the trusted networks and loopback are
its ``InternalHosts`` (never checked), and ``MacroList daemon_name|MTA`` checks only the port-25 daemon, so
the submission daemons (where clients must authenticate) are never checked. A client that authenticates
on port 25 is checked all the same, and so is one an access rule permits: coverage says so. It restarts
first: until it reads this file, the package runs it on OpenDMARC's port (8893).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy, canonical
from ..base import PlannedFile, Requirement, Step
from ..kit import milters as kit
from ..kit.coverage import Recorder
from ..kit.escape import Unexpressible, fit
from ..kit.sender_auth import OFF
from .m4 import define, m4_quote

SPF = "pyspf-milter"  # Debian's package, program, user and init script
SPF_PORT = 8894  # Debian's default (8893) is OpenDMARC's
SPF_CONF = "pyspf-milter/pyspf-milter.conf"  # below milter_dir: where Debian's init script reads it
TIMEOUTS = "T=C:10s;S:30s;R:1m;E:5m"  # R above pyspf-milter's Lookup_Time (20 s), as its man page asks
# The macros the milters read, as cf.m4 ships them (spelt out so no other .mc text can drop one): the daemon's
# name at connect (pyspf-milter's MacroList), {auth_type}/{auth_authen} at MAIL (OpenDKIM signs an authenticated
# client's mail, OpenDMARC's IgnoreAuthenticatedClients).
MACROS = {"confMILTER_MACROS_CONNECT": "j, _, {daemon_name}, {if_name}, {if_addr}",
          "confMILTER_MACROS_ENVFROM": "i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, "
                                       "{mail_host}, {mail_addr}"}
MTA_DAEMON = "MTA"  # the port-25 daemon's Name= (mc.daemons)
# (on_fail, on_softfail) -> Mail_From_reject and what it cannot say. pyspf-milter answers a result it acts on
# with 550 (it defers only a temperror) and rejects fail whenever it rejects softfail. A softfail (~all) is the
# domain's "do not refuse": where it is to be deferred, it is tagged (as on Postfix), never refused for good.
SOFTFAIL_TAGGED = "a softfail is only tagged, not deferred (pyspf-milter could only refuse it 550)"
SPF_ACTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("tag", "tag"): ("False", ""), ("reject", "tag"): ("Fail", ""),
    ("defer", "tag"): ("Fail", "a fail is refused 550, not deferred 450"),
    ("defer", "defer"): ("Fail", "a fail is refused 550, not deferred 450; " + SOFTFAIL_TAGGED),
    ("reject", "defer"): ("Fail", SOFTFAIL_TAGGED),
    ("tag", "defer"): ("False", SOFTFAIL_TAGGED),
}
SPF_GAPS = ("refused at MAIL FROM, before Sendmail's RCPT checks, so a client an access rule permits is checked "
            "too, and so is one that authenticates on port 25 (pyspf-milter decides whom to check at connect, "
            "before AUTH)")


# Debian's init script stops pyspf-milter without waiting and starts the new one a second later, while the old
# one still holds its port (it takes longer to exit): the new one cannot bind and exits. So wait for it. $0: PID file.
SPF_RESTART = (r"""pid=$(cat "$0" 2>/dev/null); /etc/init.d/pyspf-milter stop || exit; i=0; """
               r"""while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do """
               r"""[ $i -lt 600 ] || { echo "error: pyspf-milter $pid did not stop"; exit 1; }; """
               r"""sleep 0.1; i=$((i+1)); done; exec /etc/init.d/pyspf-milter start""")


@dataclass(frozen=True)
class SpfMilter(kit.Milter):
    """pyspf-milter: restarted by its init script's stop, a wait until the old process has exited, and start."""

    @property
    def launch(self) -> tuple[str, ...]:
        return ("sh", "-c", SPF_RESTART, f"/run/{SPF}/{SPF}.pid")


@dataclass(frozen=True)
class SenderAuth:
    """What sender authentication adds to Sendmail: .mc statements, the milters (files, checks, restarts)."""

    statements: tuple[str, ...]
    milters: tuple[kit.Milter, ...]
    requirements: tuple[Requirement, ...]

    @property
    def files(self) -> tuple[PlannedFile, ...]:
        return tuple(file for milter in self.milters for file in milter.files)

    def check_steps(self) -> tuple[Step, ...]:
        return tuple(step for milter in self.milters for step in milter.check)

    @property
    def restart_order(self) -> tuple[kit.Milter, ...]:
        """pyspf-milter first: the package starts it on OpenDMARC's port (8893) until it reads this config."""
        return tuple(sorted(self.milters, key=lambda milter: milter.name != SPF))

    def apply_steps(self) -> tuple[Step, ...]:
        return tuple(step for milter in self.restart_order for step in milter.restart)


def lower(policy: Policy, record: Recorder) -> SenderAuth:
    """Every piece, recording ``sender_auth.*`` and ``dkim_signing`` as each is decided."""
    milter_dir = policy.targets.sendmail.milter_dir
    found = [*kit.milters(policy, milter_dir)]
    spf = _spf(policy, milter_dir, record)
    if spf is not None:
        found.append(spf)
    kit.record(policy, record, MILTERS)
    statements = [input_mail_filter(milter) for milter in found]
    if found:
        statements = [*(define(name, value) for name, value in MACROS.items()), *statements]
    return SenderAuth(tuple(statements), tuple(found), kit.requirements(policy))


def input_mail_filter(milter: kit.Milter) -> str:
    """``INPUT_MAIL_FILTER`` for a milter on loopback TCP: tempfail when it is down."""
    return (f"INPUT_MAIL_FILTER({m4_quote(milter.name)}, "
            f"{m4_quote(f'S=inet:{milter.port}@127.0.0.1, F=T, {TIMEOUTS}')})")


def _spf_value(text: str) -> str:
    """A value for pyspf-milter's ``Name = value`` lines: its reader cuts at ``#`` and splits at ``=``."""
    value = fit(text, SPF_CONF)
    if any(c in value for c in "#=,\n"):
        raise Unexpressible(f"{SPF_CONF} cannot carry {value!r}")
    return value


def _spf(policy: Policy, milter_dir: str, record: Recorder) -> kit.Milter | None:
    spf = policy.sender_auth.spf
    if not spf.enabled:
        record.enforced("sender_auth.spf", OFF["sender_auth.spf"])
        return None
    mail_from, gap = SPF_ACTIONS[spf.on_fail, spf.on_softfail]
    record.approximated("sender_auth.spf", "; ".join(filter(None, (
        f"pyspf-milter (package {SPF}; INPUT_MAIL_FILTER, inet:127.0.0.1:{SPF_PORT}, F=T, after OpenDKIM and "
        f"OpenDMARC) on the port-25 daemon (MacroList daemon_name|{MTA_DAEMON}), never for loopback or "
        f"networks.trusted (InternalHosts) nor on the submission ports; Mail_From_reject = {mail_from}; the result "
        "in an Authentication-Results header", SPF_GAPS, gap))))
    internal = dict.fromkeys([*kit.LOOPBACK, *(canonical.network(n) for n in policy.networks.trusted)])
    helo = "False" if mail_from == "False" else "Null"  # the HELO identity stands in only for the null sender
    lines = (("debugLevel", "1"), ("TestOnly", "1"), ("HELO_reject", helo), ("Mail_From_reject", mail_from),
             ("PermError_reject", "False"), ("TempError_Defer", "False"),
             ("skip_addresses", "127.0.0.0/8,::ffff:127.0.0.0/104,::1"), ("Hide_Receiver", "Yes"),
             ("Authserv_Id", _spf_value(policy.hostname or "HOSTNAME")),
             ("Socket", f"inet:{SPF_PORT}@127.0.0.1"), ("PidFile", f"/run/{SPF}/{SPF}.pid"), ("UserID", SPF),
             ("InternalHosts", ",".join(map(_spf_value, internal))),
             ("MacroList", f"daemon_name|{MTA_DAEMON}"))
    conf = PlannedFile(SPF_CONF, "pyspf-milter.conf.j2", {"lines": lines})
    return SpfMilter(SPF, SPF_PORT, f"{milter_dir}/{SPF_CONF}", (conf,), ())


MILTERS = kit.Wording(
    call="INPUT_MAIL_FILTER, F=T", verified="untrusted, unauthenticated clients", spf="its own check",
    held="Sendmail's quarantine (HoldQuarantinedMessages; mailq -qQ lists it, sendmail -qQ -Q releases it)",
    signed="mail from loopback, networks.trusted (InternalHosts) and authenticated clients ({{auth_type}} at MAIL) "
           "whose From: domain has a key, and local submissions (Debian's MSP relays sendmail -t mail to "
           "[127.0.0.1]:25) ({keys})")
