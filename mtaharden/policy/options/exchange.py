"""``targets.exchange``: the Exchange target's options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..strict import TargetOptions
from ..types import HostName, ListenIP


class ExchangeOptions(TargetOptions):
    servers: list[HostName] = Field(
        default_factory=list, description="Mailbox servers to harden (the script's -Server default; empty: local)"
    )
    deployment: Literal["mailbox", "edge"] = Field(
        "mailbox", description="mailbox: Mailbox servers take Internet mail themselves; edge: Edge Transport servers "
        "face the Internet (the script gets an Edge section, run with -Edge there)"
    )
    server_addresses: list[ListenIP] = Field(
        default_factory=list, description="own addresses of the Exchange and Edge servers and of load balancers "
        "that proxy for them: kept off the anonymous relay connector"
    )
    relay_connector: str = Field(
        "mtaharden relay",
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9 ._-]{0,62}[A-Za-z0-9])?$",
        description="name of the receive connector through which networks.trusted may relay anonymously",
    )
    relay_bindings: list[ListenIP] = Field(
        default_factory=list, description="local addresses the relay connector listens on; empty means all"
    )
    relay_port: int = Field(25, ge=1, le=65535, description="port of the relay connector")


Options = ExchangeOptions
