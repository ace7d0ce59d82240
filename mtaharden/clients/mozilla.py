"""Mozilla's autoconfig file (``config-v1.1.xml``), served at ``https://autoconfig.<domain>/mail/config-v1.1.xml``.

The elements are those of Mozilla's clientConfig 1.1 format (Thunderbird's autoconfig): ``socketType`` ``SSL``
(implicit TLS) or ``STARTTLS``, never ``plain``; ``authentication`` ``password-encrypted`` or
``password-cleartext`` (the latter only ever on one of those sockets); ``username`` a placeholder.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .account import Account, Server
from .xmltext import child, document

SOCKET = {"tls": "SSL", "starttls": "STARTTLS"}


def username(account: Account) -> str:
    return "%EMAILADDRESS%" if account.username == "address" else "%EMAILLOCALPART%"


def autoconfig(account: Account) -> str:
    root = ET.Element("clientConfig", version="1.1")
    provider = child(root, "emailProvider", id=account.domain)
    child(provider, "domain", account.domain)
    child(provider, "displayName", account.display_name)
    child(provider, "displayShortName", account.short_name)
    for server in account.incoming:
        _server(child(provider, "incomingServer", type=server.protocol), server, account)
    for server in account.outgoing:
        _server(child(provider, "outgoingServer", type="smtp"), server, account)
    return document(root)


def _server(element: ET.Element, server: Server, account: Account) -> None:
    child(element, "hostname", server.host)
    child(element, "port", server.port)
    child(element, "socketType", SOCKET[server.security])
    child(element, "username", username(account))
    for auth in server.auth:
        child(element, "authentication", auth)
