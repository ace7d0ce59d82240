"""What HCL Domino 12/14 can do with the policy, as coverage texts (README cites the sources: the HCL Domino
12.0.0 admin help on inbound anti-relay settings and SMTP ports, the Domino 6.5/8.5 help pages of the same
Configuration Settings fields). Everything is set by hand in the Domino Administrator, so nothing better than
"approximated"; where the field's exact name was not found, it says so."""

from __future__ import annotations

CONFIG = "Configuration Settings document > Router/SMTP > Restrictions and Controls > SMTP Inbound Controls"
RELAY = ("by hand: Inbound Relay Controls allow the trusted hosts to send to external Internet domains and deny "
         "every other host, with anti-relay enforcement for all connecting hosts")
WILDCARD = ("Domino takes [address] and *-wildcard octets ([192.0.2.*]); a prefix not on an octet boundary or an "
            "IPv6 network is written in CIDR form, whose acceptance is unverified")
LOCAL = "by hand: the local Internet domains are Global Domain documents' business; GUIDE.md lists them to check"
RELAY_DOMAINS = ("by hand: Inbound Relay Controls \"Allow messages to be sent only to the following external "
                 "internet domains\" (wording unverified)")
AUTH = "by hand: the Server document's SMTP Inbound port takes Name & password, and authenticated users may relay"
AUTH_TLS = ("by hand: Name & password on the SSL/TLS port only; whether Domino withholds AUTH before STARTTLS on 25 "
            "is unverified")
CLIENTS = ("by hand: Inbound Connection Controls \"Deny connections from the following SMTP internet host "
           "names/IP addresses\"")
SENDERS = "by hand: Inbound Sender Controls \"Deny messages from the following Internet addresses/domains\""
DEFER = "Domino refuses; it has no temporary refusal for these lists (unverified)"
NO_PERMIT = "Domino's deny lists only refuse: a permit, a user@ rule or a reply text of the policy has no field"
DNSBL = ("by hand: DNS Blacklist Filters enabled, the zones listed, \"Log and reject message\"; Domino has no "
         "return-code filter and no temporary refusal")
VRFY = "by hand: Router/SMTP > Advanced > Commands and Extensions: VRFY command Disabled (the default)"
EXPN = "by hand: Router/SMTP > Advanced > Commands and Extensions: EXPN command Disabled"
RECIPIENTS = ("the notes.ini setting SMTPMaxForRecipients is cited for this, but its meaning was not found in "
              "HCL's documentation (unverified)")
NO_HEADERS = "header filtering is Domino's mail rules', which mtaharden does not write (unverified for SMTP time)"
UNVERIFIED = "no setting for this found in the HCL Domino documentation read (unverified)"
INSTALLATION = ("Domino's installation decides it (the server's own name, the services it runs): mtaharden "
                "writes no setting for it; check it by hand against the policy")
