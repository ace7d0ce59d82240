"""Microsoft's Autodiscover answer (POX, the Outlook response schema 2006a), as a static ``autodiscover.xml``.

Outlook asks ``https://autodiscover.<domain>/autodiscover/autodiscover.xml`` with the user's address and reads
``Protocol`` entries: ``SSL on`` and ``Encryption`` ``SSL`` (implicit TLS) or ``TLS`` (STARTTLS), never
``None``; ``SPA off`` (no NTLM); ``AuthRequired on`` for SMTP. A static answer names no user, so there is no
``LoginName``: Outlook then logs in with the address, which is right for ``clients.username: address``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .account import Account, Server
from .xmltext import child, document

REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
ENCRYPTION = {"tls": "SSL", "starttls": "TLS"}
TYPE = {"smtp": "SMTP", "imap": "IMAP", "pop3": "POP3"}


def autodiscover(account: Account) -> str:
    root = ET.Element("Autodiscover", xmlns=REQUEST_NS)
    response = child(root, "Response", xmlns=OUTLOOK_NS)
    entry = child(response, "Account")
    child(entry, "AccountType", "email")
    child(entry, "Action", "settings")
    for server in (*account.incoming, *account.outgoing):
        _protocol(child(entry, "Protocol"), server)
    return document(root)


def _protocol(element: ET.Element, server: Server) -> None:
    child(element, "Type", TYPE[server.protocol])
    child(element, "Server", server.host)
    child(element, "Port", server.port)
    child(element, "DomainRequired", "off")
    child(element, "SPA", "off")
    child(element, "SSL", "on")
    child(element, "Encryption", ENCRYPTION[server.security])
    child(element, "AuthRequired", "on")
    if server.protocol == "smtp":
        child(element, "UsePOPAuth", "on")  # the same user name and password as the incoming server
