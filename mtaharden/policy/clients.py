"""``clients``: what mail-client settings need beyond the policy's server facts (``mtaharden clients``).

The submission host, its ports and AUTH mechanisms are the policy's own (``hostname``, ``auth``); a client
also needs where it reads mail, how it spells the user name and what to call the account, which no MTA
setting says. Only TLS transports can be chosen (an allow-list): a password never travels in the clear.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .strict import StrictModel
from .types import DomainName, MessageText


class Incoming(StrictModel):
    """A server the client reads mail from (IMAP or POP3), over implicit TLS or STARTTLS only."""

    protocol: Literal["imap", "pop3"] = "imap"
    host: DomainName | None = Field(None, description="the server's name; the policy's hostname when unset")
    port: int | None = Field(None, ge=1, le=65535, description="default: 993 (IMAP) or 995 (POP3) for tls, "
                             "143 or 110 for starttls")
    security: Literal["tls", "starttls"] = Field("tls", description="implicit TLS, or STARTTLS before login")

    @property
    def chosen_port(self) -> int:
        defaults = {("imap", "tls"): 993, ("imap", "starttls"): 143, ("pop3", "tls"): 995, ("pop3", "starttls"): 110}
        return self.port if self.port is not None else defaults[self.protocol, self.security]


class Clients(StrictModel):
    """Account settings for Thunderbird (autoconfig), Outlook (Autodiscover), Apple Mail (profile), Foxmail."""

    domain: DomainName | None = Field(None, description="the users' mail domain; the first domains.local when unset")
    display_name: MessageText = Field("Mail", description="the account's name in the client")
    username: Literal["address", "local-part"] = Field(
        "address", description="what users log in with: the whole address or the part before @")
    incoming: list[Incoming] = Field(default_factory=lambda: [Incoming()], min_length=1, max_length=4)
