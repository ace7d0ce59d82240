"""``targets.sieve``: the Sieve (RFC 5228) delivery filter's options, per what the server enables."""

from __future__ import annotations

from pydantic import Field

from ..types import AbsolutePath
from ._delivery import DeliveryOptions


class SieveOptions(DeliveryOptions):
    script_file: AbsolutePath = Field(
        "/etc/dovecot/sieve/mtaharden.sieve", description="where the script is installed (Pigeonhole: name it in "
        "sieve_before and compile it with sievec)")
    editheader: bool = Field(
        False, description="the server enables RFC 5293 editheader (Pigeonhole: sieve_extensions = +editheader): "
        "hold and warn rules then add the tag header")
    mailbox: bool = Field(True, description="the server has RFC 5490 mailbox (fileinto :create makes a missing folder)")


Options = SieveOptions
