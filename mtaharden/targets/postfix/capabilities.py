"""What Postfix (3.6+, Debian 12's package) does for each policy element: the facts COVERAGE.md and ``explain``
show and the README's Postfix section states.

Each fact is stated here once, as data; the lowering step that decides an element records the fact that
applies (one :class:`~mtaharden.targets.kit.coverage.Recorder` per plan), filling in the ``{name}`` fields
it knows. Postfix carries out every element but EXPN on (it has no EXPN), header text in encoded forms and
the message size at end of DATA (it counts its own envelope information too).
"""

from __future__ import annotations

# A domain list longer than this goes to a hash table (one lookup) instead of main.cf (a list scan).
DOMAIN_TABLE_MIN = 20

ROLE = "{role}: listeners in master.cf, relay rules in main.cf"
HOSTNAME = "myhostname"
HOSTNAME_FROM_SYSTEM = "the system host name (myhostname unset)"
DOMAINS = {"local": "mydestination", "relay": "relay_domains"}
DOMAIN_TABLE = " (hash:{kind}_domains: more than {limit} names)"
# mydestination compares names as strings; subdomains need a table whose lookup is a match.
SUBDOMAIN_TABLE = " (.domain entries: regexp:local_subdomains, one pattern each)"
RELAY_RECIPIENTS_UNVERIFIED = "; recipients are not verified (no relay_recipient_maps)"
TRUSTED = "mynetworks + permit_mynetworks in smtpd_relay_restrictions"
AUTH = ("SASL ({backend}); permit_sasl_authenticated; smtpd_sasl_mechanism_filter; "
        "smtpd_tls_auth_only={tls_only}")
# Cyrus opens an auxprop sasldb after smtpd's chroot (Debian's SASL notes).
CHROOTED_SASLDB = ("; smtpd is chrooted, so Cyrus opens {sasldb} inside the queue folder: copy it to "
                   "{queue}{sasldb} (root:sasl, 0640; postfix in group sasl) after each saslpasswd2, or set "
                   "targets.postfix.chroot: false")
NO_AUTH = "SMTP AUTH disabled (smtpd_sasl_auth_enable = no)"
DNSBL = "reject_rbl_client {zone} with filter(s) {filters}; reply from rbl_reply_maps"
# Access rules sit in smtpd_recipient_restrictions, never in smtpd_relay_restrictions: OK cannot relay.
ACCESS = "{tables} in smtpd_recipient_restrictions; OK never relays"
ACCESS_TABLES = {"clients": "client_access.cidr (cidr)", "helo": "helo_access (hash)",
                 "senders": "sender_access (hash)", "recipients": "recipient_access (hash)"}
# A user@ entry before a list of domains needs a user@domain key per pair: past a bound, a new table instead.
ADDRESS_TABLES = "; then {tables}, read in order (where earlier user@ entries meet many domains)"
CLIENT_FILES = "; each list file: its IPv4 addresses in a hash table, the rest in a cidr table, at its place"
HEADER = "header_checks.pcre: {header} ({action})"
HEADER_FORMS = "{how}; {limits}"  # Postfix decodes nothing: one line per charset and encoded form
BANNER = "smtpd_banner"
VRFY = "disable_vrfy_command = {value}"
NO_EXPN = "Postfix has no EXPN command"
EXPN_STAYS_OFF = NO_EXPN + "; it stays off"
REQUIRE_HELO = "smtpd_helo_required = {value}"
STRICT_ENVELOPES = "strict_rfc821_envelopes, reject_non_fqdn_sender/recipient"
LAX_ENVELOPES = "strict_rfc821_envelopes = no"
# message_size_limit counts "envelope information" too (postconf(5)): the queue file's envelope records and the
# Received: header smtpd adds. Raising the limit by a margin would accept messages over the policy's limit and
# the margin is not fixed (TLS details, address lengths, recipients), so the limit stays exact and the stricter
# error is declared: refusing a message just under the limit, never accepting one over it.
MESSAGE_SIZE = ("message_size_limit; SIZE= at MAIL is exact, but at end of DATA Postfix also counts its own "
                "Received: header and the queue file's envelope records (about 1 KiB for one recipient, more with "
                "TLS, long addresses or many recipients), so a message that close under the limit is refused (552); "
                "none over it is accepted")
LIMITS = (("smtp.max_recipients", "smtpd_recipient_limit"),
          ("smtp.max_connections_per_client", "smtpd_client_connection_count_limit (anvil)"))
TLS = "smtpd_tls_* (security level {inbound}, >= {min_protocol})"
NO_TLS = "no TLS (smtpd_tls_security_level = none)"
# Bot screening: postscreen on port 25 only (the submission listeners stay plain smtpd).
SCREENING_OFF = "off: port 25 is smtpd itself (no postscreen)"
SCREENING = ("postscreen on port 25 (smtpd pass, dnsblog, tlsproxy with TLS); its after-220 tests stay off; "
             "submission ports unscreened")
PREGREET = "postscreen_greet_wait = {wait}s, postscreen_greet_action = {action}"
SCREENING_DNSBL = ("postscreen_dnsbl_sites ({count} weighted, one zone=filter*weight each), threshold {threshold}, "
                   "postscreen_dnsbl_action = {action}; smtpd's reject_rbl_client steps (dnsbl) still follow")
SCREENING_NO_DNSBL = "no weighted lists (postscreen_dnsbl_sites empty)"
SCREENING_DNSBL_SPLIT = ("; a site whose filters differ in more than one octet gets one entry per filter, so a "
                         "listing that answers addresses of two of them adds its weight twice")
SCREENING_ALLOW = "postscreen_access_list = {how}: trusted and allowed clients skip every test"
# Outbound TLS: the SMTP client's security level; DANE needs DNSSEC-validated answers (a validating resolver).
OUTBOUND = {"may": "smtp_tls_security_level = may", "encrypt": "smtp_tls_security_level = encrypt",
            "dane": "smtp_tls_security_level = dane, smtp_dns_support_level = dnssec: DANE-verified TLS where the "
                    "destination publishes DNSSEC-signed TLSA records (none matching: the message stays deferred), "
                    "opportunistic elsewhere; the check step refuses a host whose resolver does not validate DNSSEC "
                    "(Postfix's dnssec_probe, via posttls-finger)"}
