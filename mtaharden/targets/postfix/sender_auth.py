"""Inbound SPF, DKIM and DMARC, and outbound DKIM signing, for Postfix (issue 26).

SPF is postfix-policyd-spf-python, a policy service spawned by master(8) and asked at RCPT after the
trusted and authenticated clients were permitted (so their mail is never checked); its own file
(``policyd-spf.conf`` in the config folder) carries the action. It can reject a fail or a softfail, or only
tag; a defer is Postfix's ``defer_if_reject`` before the call, which turns its reject into 450. DKIM and
DMARC are OpenDKIM and OpenDMARC as milters (:mod:`..kit.milters`), OpenDKIM first so OpenDMARC reads its
result; OpenDKIM also signs the mail of the trusted and authenticated clients. Both run as Debian's services
(``/etc/opendkim.conf``, ``/etc/opendmarc.conf``, their init scripts), so they start at boot before Postfix.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy
from ..base import PlannedFile, Requirement, Step
from ..kit import milters as kit
from ..kit.coverage import Recorder
from ..kit.sender_auth import OFF
from .master_cf import MasterRow

SPF_SERVICE = "policyd-spf"
SPF_PACKAGE = "postfix-policyd-spf-python"
SPF_TIME_LIMIT = "3600"  # Debian's README: above smtpd's policy connection lifetime (smtpd_policy_service_max_ttl)
# (on_fail, on_softfail) -> policyd-spf's Mail_From_reject, and whether Postfix defers instead of rejecting.
SPF_ACTIONS: dict[tuple[str, str], tuple[str, bool]] = {
    ("tag", "tag"): ("False", False), ("reject", "tag"): ("Fail", False), ("defer", "tag"): ("Fail", True),
    ("defer", "defer"): ("Softfail", True),
    # Neither can be said to policyd-spf, which rejects or defers both results alike: the softfail is tagged.
    ("reject", "defer"): ("Fail", False), ("tag", "defer"): ("False", False),
}


@dataclass(frozen=True)
class SenderAuth:
    """What sender authentication adds to Postfix: main.cf values, RCPT steps, services, files, steps."""

    parameters: dict[str, str]
    restrictions: tuple[str, ...]
    services: tuple[MasterRow, ...]
    files: tuple[PlannedFile, ...]
    milters: tuple[kit.Milter, ...]
    requirements: tuple[Requirement, ...]

    def check_steps(self) -> tuple[Step, ...]:
        return tuple(step for milter in self.milters for step in milter.check)

    def apply_steps(self) -> tuple[Step, ...]:
        return tuple(step for milter in self.milters for step in milter.restart)


def lower(policy: Policy, config_dir: str, milter_dir: str, record: Recorder) -> SenderAuth:
    """Every piece, recording ``sender_auth.*`` and ``dkim_signing`` as each is decided; the milters' files
    go to ``milter_dir`` (``/etc``, where Debian's packages read them), the rest to ``config_dir``."""
    restrictions, services, files = _spf(policy, config_dir, record)
    found = kit.milters(policy, milter_dir)
    kit.record(policy, record, MILTERS)
    parameters: dict[str, str] = {}
    if found:
        parameters["smtpd_milters"] = ", ".join(map(_socket, found))
        signer = [m for m in found if m.name == "opendkim" and kit.signs(policy)]
        parameters["non_smtpd_milters"] = ", ".join(map(_socket, signer))  # sendmail(1) submissions are signed too
        parameters["milter_default_action"] = "tempfail"  # a milter down defers mail, never passes it unsigned
    files += [file for milter in found for file in milter.files]
    return SenderAuth(parameters, restrictions, services, tuple(files), found, kit.requirements(policy))


def _socket(milter: kit.Milter) -> str:
    """Postfix's spelling of a milter's TCP socket (MILTER_README)."""
    return f"inet:127.0.0.1:{milter.port}"


def _spf(policy: Policy, config_dir: str, record: Recorder) -> tuple[tuple[str, ...], tuple[MasterRow, ...],
                                                                     list[PlannedFile]]:
    spf = policy.sender_auth.spf
    if not spf.enabled:
        record.enforced("sender_auth.spf", OFF["sender_auth.spf"])
        return (), (), []
    mail_from, defer = SPF_ACTIONS[spf.on_fail, spf.on_softfail]
    how = (f"{SPF_PACKAGE} (check_policy_service unix:private/{SPF_SERVICE} at RCPT, after permit_mynetworks"
           f"{' and permit_sasl_authenticated' if policy.auth.enabled else ''}); Mail_From_reject = {mail_from}"
           f"{', defer_if_reject before it (450)' if defer else ''}; a Received-SPF header on what passes")
    if (spf.on_fail, spf.on_softfail) in (("reject", "defer"), ("tag", "defer")):
        record.approximated("sender_auth.spf", how + f"; softfail is only tagged, not deferred: policyd-spf acts on "
                            f"fail and softfail alike (on_fail {spf.on_fail}), so set on_softfail: tag or "
                            "on_fail: defer to match")
    else:
        record.enforced("sender_auth.spf", how)
    helo = "False" if mail_from == "False" else "Null"  # the HELO identity stands in only for the null sender
    settings = (("debugLevel", "1"), ("TestOnly", "1"), ("HELO_reject", helo), ("Mail_From_reject", mail_from),
                ("PermError_reject", "False"), ("TempError_Defer", "False"),
                ("skip_addresses", "127.0.0.0/8,::ffff:127.0.0.0/104,::1"), ("Header_Type", "SPF"),
                ("Hide_Receiver", "Yes"))
    conf = PlannedFile("policyd-spf.conf", "policyd-spf.conf.j2", {"lines": settings})
    row = MasterRow(SPF_SERVICE, "unix", unpriv="n", chroot="n", maxproc="0", command="spawn",
                    args=(f"-o {SPF_SERVICE}_time_limit={SPF_TIME_LIMIT}", "user=policyd-spf",
                          f"argv=/usr/bin/policyd-spf {config_dir}/policyd-spf.conf"))
    steps = (*(["defer_if_reject"] if defer else []), f"check_policy_service unix:private/{SPF_SERVICE}")
    return steps, (row,), [conf]


MILTERS = kit.Wording(
    call="smtpd_milters", verified="untrusted clients", spf="the Received-SPF header or its own check",
    held="Postfix's hold queue (HoldQuarantinedMessages; postsuper -H releases it)",
    signed="mail from the trusted and authenticated clients and local submissions (non_smtpd_milters) whose From: "
           "domain has a key ({keys})")
