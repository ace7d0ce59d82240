"""What Exim 4.96 does with each policy element, as data: the details COVERAGE.md and ``explain`` show.

Each lowering step records its element with one of these texts (``str.format`` fields are what that step
knows). The facts were checked on Debian 12's exim4-daemon-heavy (tests/lab/exim.py, tests/unit/test_exim_*).
"""

from __future__ import annotations

ROLE = ("{role}: daemon_smtp_ports {ports}; the relay decision in acl_check_rcpt; on the submission ports "
        "an authenticated client is accepted and any other refused (null-client: loopback only)")
HOSTNAME = "primary_hostname"
LOCAL = ("domainlist local_domains (.domain as *.domain); unknown users refused (verify = recipient, after the "
         "access lists, so a permitted recipient is not verified)")
LOCAL_NULL_CLIENT = "null-client: no local domain (local_domains is empty)"
RELAY = "domainlist relay_to_domains (.domain as *.domain); recipients are not verified"
TRUSTED = "hostlist relay_from_hosts: relays, and skips the DNSBLs (accept hosts = +relay_from_hosts)"
AUTH_CYRUS = ("cyrus_sasl authenticators ({mechanisms}), libsasl2 config {sasl_conf}; authenticated clients "
              "relay and skip the DNSBLs{tls}")
AUTH_DOVECOT = ("dovecot authenticators ({mechanisms}) on {socket}; authenticated clients relay and skip the "
                "DNSBLs{tls}")
AUTH_TLS = ("; AUTH advertised and accepted only after STARTTLS (server_advertise_condition), on the submission "
            "ports too whenever tls is set")
DNSBL = "dnslists = {zone}={count} return code(s) of {filters} in acl_check_rcpt ({action})"
DNSBL_WIDE = "the filters {filters} match more than {limit} return codes: too many for an Exim = list"
ACCESS = ("acl_check_rcpt statements in policy order (first match wins; permit is accept, after the relay "
          "decision){extra}")
ACCESS_HELO = ("; HELO names compared caselessly with the rule's name, its address and the address literal "
               "in canonical spelling (a non-canonical IPv6 literal is not recognised)")
HEADER = "acl_check_data: {header} ({action}) in $h_{header}: (RFC 2047 decoded to UTF-8){caveat}"
HEADER_RAW = "; raw 8-bit forms for {charsets} in $rh_{header}:"
HEADER_CAVEAT = ("; approximated: several {header} lines are matched as one joined value, and rules act in "
                 "policy order, not header-line order")
HEADER_NAME = "the header name {header!r} is not one Exim's $h_ variable can spell"
BANNER = "smtp_banner (no version: the default's $version_number is gone; Received has no version either)"
VRFY = "no acl_smtp_vrfy: Exim refuses VRFY and leaves it out of the EHLO reply"
VRFY_ALLOWED = "acl_smtp_vrfy accepts VRFY"
EXPN = "no acl_smtp_expn: Exim refuses EXPN and leaves it out of the EHLO reply"
EXPN_ALLOWED = "acl_smtp_expn accepts EXPN"
REQUIRE_HELO = ("acl_check_mail refuses MAIL before HELO/EHLO; acl_check_rcpt refuses an invalid HELO name "
                "(helo_accept_junk_hosts = *, so the refusal comes at RCPT as the contract orders it); "
                "approximated: an address literal is checked for its characters, not parsed")
NO_HELO_CHECK = ("hosts_require_helo empty: MAIL needs no HELO/EHLO (also after STARTTLS); "
                 "helo_accept_junk_hosts = *: any HELO name is taken")
STRICT = ("acl_check_rcpt refuses a sender or recipient written without an @ inside <> ($smtp_command), or "
          "whose domain is not a host name of two labels or an address literal, at RCPT in the contract's order "
          "(Exim itself would qualify them: sender/recipient_unqualified_hosts = *); approximated: the domain's "
          "syntax is checked by a regex (label lengths and the literal's address are not)")
LAX = "sender_unqualified_hosts and recipient_unqualified_hosts = *: Exim takes them and adds its hostname"
SIZE = ("SIZE= at MAIL against message_size_limit; at end of DATA acl_check_data refuses $message_size + "
        "$message_linecount over the limit (Exim stores LF line ends: that sum is the size as the client sent it)")
RECIPIENTS = "acl_check_rcpt defers a recipient after {limit} accepted ones ($recipients_count)"
CONNECTIONS = "smtp_accept_max_per_host = {limit} (421 to the next connection)"
TLS = "tls_certificate, tls_privatekey, tls_require_ciphers {priority} (GnuTLS){encrypt}"
TLS_ENCRYPT = "; acl_check_mail refuses MAIL without STARTTLS"
# Bot screening: acl_smtp_connect on port 25 (trusted, allowed and submission clients are accepted first).
SCREENING_OFF = ("off (no connect ACL; Exim 4.96 advertises PIPECONNECT to every host, so input sent before the "
                 "greeting is taken as pipelining)")
SCREENING = "acl_smtp_connect = acl_check_connect, on port 25 only"
SCREENING_ALLOW = ("accept hosts = +relay_from_hosts and the allow-list first, with control = no_enforce_sync: never "
                   "screened")
PREGREET = {
    "reject": ("delay = {wait}s in the connect ACL with smtp_enforce_sync (PIPECONNECT not advertised): an early "
               "talker gets 554 SMTP synchronization error and the connection is closed at once (not refused at RCPT)"),
    "drop": ("delay = {wait}s in the connect ACL with smtp_enforce_sync (PIPECONNECT not advertised): an early "
             "talker gets 554 SMTP synchronization error (not 521) and the connection is closed"),
}
PREGREET_LOG = ("Exim cannot only log an early talker: smtp_enforce_sync refuses it, or (false) turns off every "
                "synchronization check; the greeting is not held back, use action reject or drop")
SCREENING_NO_DNSBL = "no weighted lists"
SCREENING_DNSBL = {
    "reject": ("{count} warn dnslists statements sum the weights in acl_c_screen; at the threshold the connect ACL "
               "denies: 550 before the greeting, not a refusal at RCPT"),
    "drop": ("{count} warn dnslists statements sum the weights in acl_c_screen; at the threshold the connect ACL "
             "denies: 550 (not 521), and the connection is closed"),
}
SCREENING_DNSBL_LOG = "{count} warn dnslists statements sum the weights in acl_c_screen; at the threshold: log_message"
# Outbound TLS: the smtp transport (remote_smtp) and the dnslookup router.
OUTBOUND = {"may": ("remote_smtp's default hosts_try_tls = *: STARTTLS when offered, else in clear; and Exim's "
                    "default DANE (hosts_try_dane = *, dnssec_request_domains = *) stays on: with a DNSSEC-validating "
                    "resolver, a destination whose signed TLSA records match no served key keeps the message "
                    "deferred, which Postfix's may would deliver"),
            "dane": ("hosts_try_dane = * in remote_smtp, dnssec_request_domains = * in dnslookup, dns_dnssec_ok = 1: "
                     "DANE-verified TLS where the destination publishes DNSSEC-signed TLSA records (none matching: "
                     "the message stays deferred, no fallback), opportunistic elsewhere; needs a DNSSEC-validating "
                     "resolver, which the check step proves before the swap: a dnssec_strict NS lookup of "
                     "targets.exim.dnssec_probe must come back authenticated"),
            "encrypt": "hosts_require_tls = * in remote_smtp: no delivery without TLS"}
