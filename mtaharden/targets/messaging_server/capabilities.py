"""What Oracle Communications Messaging Server 8.x can do with the policy, as coverage texts (README cites
the sources: the Sun/Oracle Messaging Server 6.x administration guide and reference, whose mapping and
channel-keyword model 8.x keeps; "unverified" marks what those pages do not show for 8.x)."""

from __future__ import annotations

RELAY_REFUSED = ("INTERNAL_IP switches these clients to tcp_intranet; ORIG_SEND_ACCESS refuses tcp_local to "
                 "tcp_local (relaying) for every other unauthenticated client")
DEFER_AS_REJECT = ("access mappings answer $N with a permanent refusal; a temporary-failure flag is unverified, "
                   "so the rule rejects instead of deferring")
IPV6_MATCH_UNVERIFIED = "the $(...) IP match is documented with IPv4 examples; IPv6 entries in it are unverified"
LOCAL_DOMAINS = ("hosted domains live in the directory (Delegated Administrator/LDAP), not in a file mtaharden "
                 "writes: GUIDE.md lists them to check; any other destination from tcp_local is refused")
AUTH = ("channel keywords: maysaslserver and saslswitchchannel tcp_auth on tcp_local, mustsaslserver on "
        "tcp_auth and tcp_submit; authenticated clients relay from tcp_auth")
AUTH_TLS = "musttls on tcp_submit; whether AUTH is withheld before STARTTLS on tcp_local is unverified"
MECHANISMS = "the SASL mechanism list is a server option whose 8.x name is unverified"
NO_DNSBL = ("the dns_verify callouts (dns_verify_domain_port in PORT_ACCESS) are documented for 6.x only, their "
            "8.x library path and arguments are unverified: add them by hand or filter upstream")
NO_HELO = "no access mapping table probes the HELO/EHLO name"
NO_HEADERS = "header filtering needs Sieve or a conversion channel; mtaharden writes neither for this target"
VRFY = "channel keyword vrfyhide (VRFY answers without looking the address up)"
EXPN = "option DISABLE_EXPAND=1 (tcp_local_option; the 8.x option name is unverified)"
RECIPIENTS = "option ALLOW_RECIPIENTS_PER_TRANSACTION (the 8.x option name is unverified)"
SIZE = "channel keyword sourceblocklimit, in blocks of 1024 bytes (the default BLOCK_SIZE), rounded up"
TLS = ("channel keywords maytls (may) or musttls (encrypt) on tcp_local; tls.cert and tls.key are not used: the "
       "certificate is the one installed in the server's own store")
ROLE = ("the dispatcher's SMTP services (25, and 587 on tcp_submit) are the installation's: GUIDE.md's channel "
        "keywords assume them")
HOSTNAME = "the host name is the installation's (the banner and HELO use it); GUIDE.md and the probe check it"
UNVERIFIED = "no setting for this found in the Messaging Server documentation (unverified)"
BLOCK = 1024
