"""What Sendmail (8.15+, cf.m4) does for each policy element: the facts COVERAGE.md and ``explain`` show.

Each fact is stated here once, as data; the lowering step that decides an element records the fact that
applies (one :class:`~mtaharden.targets.kit.coverage.Recorder` per plan). ``{name}`` fields are filled in
by that step. The README's Sendmail section states the same facts.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..base import Status

ROLE = "{role}: DAEMON_OPTIONS (no default MSA), {listeners}"
LISTEN_ADDRESS = "bound to targets.sendmail.listen_address"
# Sendmail sets no IPV6_V6ONLY: an IPv4 daemon beside [::] cannot bind, so one socket takes both families.
DUAL_STACK = ("Family=inet6 on [::] for IPv6 and IPv4 clients (Linux with net.ipv6.bindv6only=0, its "
              "default; elsewhere set targets.sendmail.listen_address)")
HOSTNAME = "confDOMAIN_NAME"
HOSTNAME_FROM_SYSTEM = "the system host name"
LOCAL_DOMAINS = "local-host-names (class w, FEATURE use_cw_file)"
LOCAL_SUBDOMAINS = "class w (local-host-names) has no subdomain wildcard"
RELAY_DOMAINS = "relay-domains (class R) with FEATURE(relay_hosts_only): exact names"
RELAY_SUBDOMAINS = ("with FEATURE(relay_hosts_only) class R holds exact names: a .domain entry relays for the "
                    "parent name only")
TRUSTED = "access Connect: RELAY (CIDR written as whole-octet prefixes)"
# proto.m4's Relay_ok relays for loopback, the host's own addresses ([addr] in class w) and its own names
# before the access map is read: a client on the host itself is trusted whatever networks.trusted says
SELF_RELAY = ("Sendmail also relays for loopback and for the host's own addresses and names (class w; "
              "proto.m4 Relay_ok, before the access map), whatever networks.trusted says: a probe from the "
              "host itself proves nothing")
AUTH = "confAUTH_MECHANISMS, TRUST_AUTH_MECH, confAUTH_OPTIONS ({options})"
AUTH_TLS_ONLY = "p: no plaintext AUTH before STARTTLS"
AUTH_DOVECOT = "Sendmail authenticates through Cyrus SASL only (no dovecot socket)"
NO_AUTH = "no AUTH offered (no mechanisms configured)"
DNSBL = "FEATURE(enhdnsbl) {zone}"
DNSBL_DEFER = "; 450 reply text (the enhanced status stays 5.7.1)"
DNSBL_WIDENED = "; filter widened to any 127.0.0.x answer (the feature holds at most six exact values)"
DNSBL_TOO_WIDE = "the return-code filters need more than six patterns and do not all lie in 127.0.0.x"
# Each access list as a whole: (status, how).
ACCESS: Mapping[str, tuple[Status, str]] = {
    "clients": ("enforced", "access ClientRule: keys, read in Local_check_rcpt before every other check at RCPT "
                            "(not on the submission daemons, where only AUTH decides), "
                            "so no recipient or sender permit, trusted network or AUTH lifts a reject or defer; "
                            "Connect: holds the trusted networks' RELAY and the permits"),
    "helo": ("approximated", "Local_check_mail on the HELO name ($s); permit only ends the HELO rules; a name "
                             "given before STARTTLS is forgotten when it came with EHLO, not with HELO (Sendmail "
                             "keeps $s, and its $r tells only an EHLO since STARTTLS apart)"),
    "senders": ("enforced", "access From:"),
    "recipients": ("enforced", "access To: / Spam: FRIEND (delay_checks): a permit skips the HELO, sender and "
                               "DNSBL checks, never an explicit client reject"),
}
# How one access rule differs from the contract (joined with "; " when several apply to one rule).
CLIENT_PERMIT = ("a permit ends the client rules only (Connect: OK): the sender (From:) and recipient (To:) "
                 "rules still apply to the client")
DEFER = ("defer answers 4xx to relay attempts too: Sendmail reads the access rules before the relay decision "
         "(check_rcpt with delay_checks), where the contract refuses a relay attempt with 5xx first")
PARENT_DOMAINS = ("{match} also matches the addresses of every subdomain of {domain}: the access map looks parent "
                  "domains up")
AUTH_PASSES = ("an authenticated client's mail passes it: Rcpt_ok relays the client (TRUST_AUTH_MECH) and ends "
               "the checks before delay_checks reads the HELO and sender rules (the client rules and To: refusals "
               "still apply)")
FRIEND_THEN_REFUSAL = ("a later refusing recipient rule that also matches still refuses: the permit is Spam: FRIEND, "
                       "looked up apart from the To: refusals, so the first match is not kept for addresses both "
                       "rules cover")
ANY_DOMAIN_USER = ("{match} applies to the local and relay domains only (written as To:/Spam: user@domain for each "
                   "relay domain): Sendmail looks user@ up for local users alone, so mail a trusted or "
                   "authenticated client sends to other domains passes it")
HELO_FILE_TOO_LONG = ("{count} HELO names: more than the {limit} mtaharden writes as ruleset lines (Sendmail tries "
                      "each in turn at every MAIL)")
HEADER = "LOCAL_RULESETS H{header} with a POSIX regex map"
HEADER_FORMS = "{how} per RFC 2047 form; {limits}"
HEADER_WARN = "Sendmail header rulesets cannot log without rejecting (action warn)"
BANNER = ("confSMTP_LOGIN_MSG; no other reply names the software or its version: HELP reads mtaharden's help "
          "file (HELP_FILE), Received: is cf.m4's without ($v/$Z)")
BANNER_HOST_ONLY = "{reason}; the greeting is the host name alone"
# (element, how when true, how when false) for the session switches
SWITCHES = (("smtp.disable_vrfy", "PrivacyOptions novrfy", "VRFY allowed"),
            ("smtp.disable_expn", "PrivacyOptions noexpn", "EXPN allowed"))
# Sendmail counts a session greeted before STARTTLS as greeted after it; Local_check_mail tells an EHLO since
# STARTTLS apart by $r (ESMTPS), which a HELO does not change.
# Without confALLOW_BOGUS_HELO Sendmail answers 501 to a HELO/EHLO name that is not a host name, before any
# access rule is read; the contract judges the name at RCPT, after the client and recipient rules.
INVALID_HELO = ("a HELO/EHLO name that is not a host name is refused at EHLO itself (501), so every recipient is "
                "refused 5xx, also where a client or recipient rule decides otherwise (a defer, a permit)")
NEED_MAIL_HELO = "PrivacyOptions needmailhelo; " + INVALID_HELO
REQUIRE_HELO = (NEED_MAIL_HELO + "; after STARTTLS a new EHLO (Local_check_rcpt on $r: every recipient "
                "refused, 503); differs when the session was greeted with HELO (not EHLO) before STARTTLS: "
                "MAIL without a new greeting is accepted")
HELO_OPTIONAL = "HELO optional; confALLOW_BOGUS_HELO: a HELO name that is not a host name is accepted"
# Elements Sendmail carries out the same way whatever the policy says: (element, status, how).
FIXED: tuple[tuple[str, Status, str], ...] = (
    ("smtp.strict_envelopes", "approximated",
     "Sendmail always parses RFC 5321 paths; FEATURE nouucp/nopercenthack reject ! and % routing"),
    ("smtp.max_message_size", "approximated",
     "confMAX_MESSAGE_SIZE: MAIL SIZE= above it is refused exactly; at end of DATA MaxMessageSize counts LF line "
     "ends, so a message over the limit by at most its number of lines is accepted"),
    ("smtp.max_recipients", "enforced", "confMAX_RCPTS_PER_MESSAGE"),
    ("smtp.max_connections_per_client", "enforced", "FEATURE(conncontrol) with access ClientConn:"),
)
TLS = "confSERVER_CERT/KEY, confSERVER_SSL_OPTIONS (>= {min_protocol})"
TLS_REQUIRED = "requiring STARTTLS from every client needs a site ruleset"
NO_TLS = "no certificate: STARTTLS not offered"
# Bot screening: FEATURE(greet_pause) with GreetPause: access entries; no DNS list scores.
SCREENING_OFF = "off (no FEATURE greet_pause)"
SCREENING = "FEATURE(greet_pause) on every daemon, GreetPause: 0 access entries for the unscreened"
PREGREET = {
    "reject": ("FEATURE(greet_pause, {wait}000): an early talker gets a 554 greeting (not accepting messages), then "
               "550 Command rejected to MAIL and RCPT"),
    "drop": ("FEATURE(greet_pause, {wait}000): an early talker gets a 554 greeting and 550 to MAIL and RCPT, but the "
             "connection stays open (no 521)"),
}
PREGREET_SUBMISSION = "; the pause also holds back the submission ports' greeting (greet_pause knows no port)"
PREGREET_LOG = ("greet_pause always refuses an early talker; only logging it is not possible: use action reject, "
                "or leave screening off")
NOTHING_TO_ALLOW = "no greet_pause, so nothing to exempt"
SCREENING_ALLOW = "GreetPause: entries of 0 for networks.trusted and screening.allow (access map)"
NO_WEIGHTS = ("Sendmail's FEATURE dnsbl/enhdnsbl refuse on one listing and add no scores; list the zones whose "
              "single listing suffices under dnsbl instead")
NO_WEIGHTED_LISTS = "no weighted lists"
OUTBOUND_MAY = ("Sendmail's client default (built with STARTTLS): STARTTLS when the server offers it, the certificate "
                "not verified; not proven in the lab, whose sink offers no STARTTLS")
NO_DANE = "Debian's sendmail 8.17.1.9 is built without DANE (sendmail -d0.1 lists no DANE)"
NO_REQUIRE_TLS = ("not rendered: requiring TLS for every destination needs TLS_Srv: access entries per destination "
                  "(e.g. TLS_Srv:example.org ENCR:128); add them yourself")
