"""The RFC 6186 SRV records of the domain (with RFC 8314's ``_submissions``), as zone-file lines.

Implicit TLS gets the lower priority value (preferred, RFC 8314 section 3.3); a service the account does
not offer is published with target ``.`` (RFC 6186 section 3.4: not available), so clients do not try it.
"""

from __future__ import annotations

from ..render import HEADER_TEXT
from .account import Account, Server

TTL = 3600
_LABELS = {("smtp", "tls"): "_submissions", ("smtp", "starttls"): "_submission", ("imap", "tls"): "_imaps",
           ("imap", "starttls"): "_imap", ("pop3", "tls"): "_pop3s", ("pop3", "starttls"): "_pop3"}


def records(account: Account) -> str:
    offered: dict[str, list[Server]] = {}
    for server in (*account.outgoing, *account.incoming):
        offered.setdefault(_LABELS[server.protocol, server.security], []).append(server)
    lines = [f"; {HEADER_TEXT}", f"; RFC 6186 / RFC 8314 service records for {account.domain} (paste into its zone)"]
    for label in _LABELS.values():
        name = f"{label}._tcp.{account.domain}."
        for server in offered.get(label, []):
            priority = 0 if server.security == "tls" else 10
            lines.append(f"{name} {TTL} IN SRV {priority} 1 {server.port} {server.host}.")
        if label not in offered:
            lines.append(f"{name} {TTL} IN SRV 0 0 0 .")
    return "\n".join(lines) + "\n"
