"""An Apple configuration profile (``.mobileconfig``) with one ``com.apple.mail.managed`` payload.

The keys are those of Apple's Mail payload: ``EmailAccountType`` ``EmailTypeIMAP`` or ``EmailTypePOP``,
``…UseSSL`` always true (Mail then uses TLS, STARTTLS on 587/143), ``…Authentication`` ``EmailAuthPassword``
or ``EmailAuthCRAMMD5``. No user name or password is written: Mail asks for them when the profile is
installed. UUIDs derive from the domain, so the same policy yields the same profile (an update replaces it).
The profile is unsigned: sign it (e.g. ``openssl smime -sign``) before handing it out, or devices warn.
"""

from __future__ import annotations

import plistlib
import uuid

from ..render import HEADER_TEXT
from .account import Account, Server

TYPE = {"imap": "EmailTypeIMAP", "pop3": "EmailTypePOP"}


def _auth(server: Server) -> str:
    return "EmailAuthCRAMMD5" if server.auth[0] == "password-encrypted" else "EmailAuthPassword"


def profile(account: Account) -> str:
    identifier = ".".join(reversed(account.domain.split("."))) + ".mtaharden.mail"
    incoming, outgoing = account.incoming[0], account.outgoing[0]  # a Mail payload holds one of each
    mail = {
        "PayloadType": "com.apple.mail.managed", "PayloadVersion": 1,
        "PayloadIdentifier": identifier + ".account", "PayloadUUID": _uuid(account, "account"),
        "PayloadDisplayName": account.display_name,
        "EmailAccountDescription": account.display_name, "EmailAccountType": TYPE[incoming.protocol],
        "IncomingMailServerHostName": incoming.host, "IncomingMailServerPortNumber": incoming.port,
        "IncomingMailServerUseSSL": True, "IncomingMailServerAuthentication": _auth(incoming),
        "OutgoingMailServerHostName": outgoing.host, "OutgoingMailServerPortNumber": outgoing.port,
        "OutgoingMailServerUseSSL": True, "OutgoingMailServerAuthentication": _auth(outgoing),
        "OutgoingPasswordSameAsIncomingPassword": True,
    }
    top = {"PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": identifier,
           "PayloadUUID": _uuid(account, "profile"), "PayloadDisplayName": f"{account.display_name} ({account.domain})",
           "PayloadContent": [mail]}
    text = plistlib.dumps(top, sort_keys=True).decode()
    declaration, _, rest = text.partition("\n")
    return f"{declaration}\n<!-- {HEADER_TEXT} -->\n{rest}"


def _uuid(account: Account, what: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{what}.{account.domain}.mtaharden")).upper()
