"""The channel keywords of imta.cnf, per channel: SASL, TLS, VRFY and the size limit (decisions here, the
template lays them out as ``channel keyword ...`` lines for the administrator to merge)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...policy import Policy
from ..kit.coverage import Recorder
from . import capabilities as cap


@dataclass(frozen=True)
class Channel:
    name: str
    keywords: tuple[str, ...]


def channels(policy: Policy, rec: Recorder) -> tuple[Channel, ...]:
    """tcp_local (the Internet), tcp_intranet (trusted), and with AUTH tcp_auth and tcp_submit."""
    blocks = math.ceil(policy.smtp.max_message_size / cap.BLOCK)
    rec.approximated("smtp.max_message_size", cap.SIZE)
    common = (f"sourceblocklimit {blocks}",) + (("vrfyhide",) if policy.smtp.disable_vrfy else ())
    if policy.smtp.disable_vrfy:
        rec.approximated("smtp.disable_vrfy", cap.VRFY)
    tls: tuple[str, ...] = ()
    if policy.tls is not None:
        tls = ("musttls",) if policy.tls.inbound == "encrypt" else ("maytls", "maytlsserver")
        rec.approximated("tls", cap.TLS)
    local = [*common, *tls, "switchchannel"]
    found = [Channel("tcp_intranet", (*common, *tls, "allowswitchchannel"))]
    if policy.auth.enabled:
        rec.enforced("auth", cap.AUTH)
        if policy.auth.require_tls:
            rec.approximated("auth.require_tls", cap.AUTH_TLS)
        rec.unsupported("auth.mechanisms", cap.MECHANISMS)
        local += ["maysaslserver", "saslswitchchannel tcp_auth"]
        found.append(Channel("tcp_auth", (*common, *tls, "mustsaslserver", "noswitchchannel")))
        found.append(Channel("tcp_submit", (*common, "musttls" if policy.auth.require_tls else "maytls",
                                            "mustsaslserver", "submit")))
    return (Channel("tcp_local", tuple(local)), *found)
