"""What OpenSMTPD 6.8 (Debian 12) can and cannot do with each policy element, as data: one table.

Each element (``[]`` stands for an index) maps the cases a lowering step tells apart to a status and a detail
template, filled in with the fields that step knows (``str.format``). The table's order is COVERAGE.md's.
The facts come from smtpd.conf(5) of Debian's 6.8.0p2 and its source (smtp_session.c, lka_filter.c); the
DNSBL and header filters OpenSMTPD relies on (filter-dnsbl, filter-regex and the like) are not in Debian 12.
"""

from __future__ import annotations

from ..kit.facts import FactTable
from ..kit.facts import approximated as _a
from ..kit.facts import enforced as _e
from ..kit.facts import unsupported as _u

SOFTWARE_IN_GREETING = "'220 <hostname> ESMTP OpenSMTPD' (the software name is compiled in)"
NO_FILTER_PACKAGE = "it needs a proc filter, and Debian 12 ships none for this"
_FILTER_ORDER = ("builtin filters at phase rcpt-to, in the contract's order (clients, recipients, HELO, senders): "
                 "reject answers 5xx, defer 4xx, permit is 'bypass'")


_NO_LISTENER = "role {role}: no public port-25 listener"
# builtin filters have one condition each, so a defer filter cannot also ask "and is this recipient relayable?"
_DEFER = _a("a defer rule answers 4xx to relay attempts too (filters run before the match rules, where the contract "
            "refuses a relay attempt 5xx first)")

CAPABILITIES = FactTable({
    "role": {
        "inbound": _e("listen on {addresses} port {port}"),
        "submission": _e("no port-25 listener; only the submission listeners"),
        "null-client": _a("no SMTP listener; the host's own mail (the sendmail enqueuer) is relayed by MX; point it "
                          "at a smarthost yourself (not rendered)"),
    },
    "hostname": {
        "set": _a("the listeners' hostname option (greeting and EHLO reply); the name OpenSMTPD uses outbound and "
                  "in bounces is /etc/mailname or the system's name (not rendered)"),
        "unset": _e("OpenSMTPD uses /etc/mailname or the system's name"),
    },
    "smtp.banner": {
        "always": _a("only the host name of the greeting is set: it reads " + SOFTWARE_IN_GREETING
                     + "{rest}; for HELP see smtp.banner[HELP]"),
    },
    "smtp.banner[HELP]": {
        "always": _a("HELP answers '214- This is OpenSMTPD' and a bug-report address (compiled in); no setting "
                     "changes it"),
    },
    "domains.local": {
        "table": _e("table local_domains, 'match from any for domain <local_domains> action \"local\"' (maildir, "
                    "/etc/aliases); unknown users are refused at RCPT"),
        "none": _e("no local domains: no such match rule"),
        "null-client": _e("role null-client: no local delivery rule for them"),
    },
    "domains.local[]": {
        "wildcard": _a("{domain} is written *{domain}: OpenSMTPD's '*' spans the name up to the next '.', so only "
                       "one label of subdomain matches (a.{bare}, not a.b.{bare})"),
    },
    "domains.relay": {
        "table": _e("table relay_domains, 'match from any for domain <relay_domains> action \"relay\"' (by MX); "
                    "recipients are not verified"),
        "none": _e("no relay domains: no such match rule"),
    },
    "domains.relay[]": {
        "wildcard": _a("{domain} is written *{domain}: OpenSMTPD's '*' spans the name up to the next '.', so only "
                       "one label of subdomain matches (a.{bare}, not a.b.{bare})"),
    },
    "networks.trusted": {
        "table": _e("table trusted, 'match from src <trusted> for any action \"relay\"' after the domain rules; "
                    "any other recipient matches no rule and is refused (550 Invalid recipient)"),
    },
    "auth": {
        "off": _e("no listener offers AUTH"),
        "no-tls": _u("OpenSMTPD offers AUTH only after STARTTLS, which Debian 12's build cannot complete (see tls)"),
    },
    "auth.submission": {
        "no-tls": _u("no submission listener: 587 and 465 need TLS, which Debian 12's build cannot complete (see "
                     "tls)"),
    },
    "dnsbl": {"no-listener": _e(f"{_NO_LISTENER}, so no client reaches these rules")},
    "access": {"no-listener": _e(f"{_NO_LISTENER}, so no client reaches these rules")},
    "dnsbl[]": {
        "none": _u("{zone}: OpenSMTPD has no DNSBL check of its own; " + NO_FILTER_PACKAGE
                   + " (filter-dnsbl is not packaged)"),
    },
    "access.clients": {"filters": _e(_FILTER_ORDER + "; 'src <table>'")},
    "access.recipients": {
        "filters": _a(_FILTER_ORDER + "; 'rcpt-to <table>': OpenSMTPD drops a '+tag' from the client's local part "
                      "before it compares, so user+tag@ matches a user@ rule (mailaddr.c; not measured)"),
    },
    "access.helo": {
        "filters": _e(_FILTER_ORDER + "; 'helo <table>' (an address also as its [literal])"),
    },
    "access.senders": {
        "filters": _a(_FILTER_ORDER + "; 'mail-from <table>': OpenSMTPD drops a '+tag' from the sender's local part "
                      "before it compares, so user+tag@ matches a user@ rule (mailaddr.c; not measured)"),
    },
    "access.clients[]": {
        "defer": _DEFER,
    },
    "access.helo[]": {
        "defer": _DEFER,
    },
    "access.senders[]": {
        "defer": _DEFER,
    },
    "access.recipients[]": {
        "defer": _DEFER,
    },
    "header_checks[]": {
        "none": _u("{header}: OpenSMTPD's builtin filters do not read headers; " + NO_FILTER_PACKAGE
                   + " (filter-regex is not packaged; rspamd through opensmtpd-filter-rspamd is not rendered)"),
    },
    "smtp.disable_vrfy": {
        "on": _e("OpenSMTPD has no VRFY (502)"),
        "off": _a("OpenSMTPD has no VRFY (502)"),
    },
    "smtp.disable_expn": {
        "on": _e("OpenSMTPD has no EXPN (502)"),
        "off": _a("OpenSMTPD has no EXPN (502)"),
    },
    "smtp.require_helo": {
        "on": _a("OpenSMTPD refuses MAIL before HELO/EHLO (503), and an invalid HELO name at HELO itself (501), "
                 "where the contract refuses it per recipient, after a recipient permit"),
        "off": _a("OpenSMTPD always requires HELO/EHLO before MAIL"),
    },
    "smtp.strict_envelopes": {
        "on": _a("OpenSMTPD requires <> around addresses, but accepts a sender or recipient without a domain "
                 "(it completes it with its own name) where the contract refuses it"),
        "off": _a("OpenSMTPD requires <> around addresses"),
    },
    "smtp.max_message_size": {
        "set": _a("smtp max-message-size {size}, 552 at end of DATA; differs (1) when a message is over the limit by "
                  "at most its number of lines: accepted (OpenSMTPD counts LF line ends, the contract CRLF), and (2) "
                  "when MAIL gives SIZE= over the limit: accepted at MAIL (6.8 does not compare SIZE=), so the message "
                  "is refused only at end of DATA"),
    },
    "smtp.max_recipients": {"set": _e("smtp limit max-rcpt {count} (452 past it)")},
    "smtp.max_connections_per_client": {
        "none": _u("OpenSMTPD 6.8 has no limit of sessions per client (smtp limit max-mails counts messages per "
                   "session)"),
        "no-listener": _e(_NO_LISTENER),
    },
    "tls": {
        "broken": _u("no pki and no STARTTLS: Debian 12's OpenSMTPD 6.8.0p2 with OpenSSL 3 fails every TLS handshake "
                     "(its privilege-separated key signing ends in 'SSL routines::EVP lib'; OpenSMTPD issues #1171 and "
                     "#1239), and a STARTTLS that always fails would stop senders that insist on it; OpenSMTPD 7.x "
                     "fixes it"),
        "off": _e("no pki: no listener offers STARTTLS"),
    },
    "screening": {
        "off": _e("off (no filter before the SMTP dialogue)"),
        "none": _u("OpenSMTPD 6.8 has no pregreet test and no weighted DNS lists by itself; both need a proc "
                   "filter (filter-senderscore, filter-dnsbl), and Debian 12 ships none"),
    },
    "outbound.tls": {
        "may": _a("the relay action's default (STARTTLS when the server offers it, no verification); not proven "
                  "on Debian 12's 6.8.0p2, whose TLS fails with OpenSSL 3 on the server side"),
        "dane": _u("OpenSMTPD 6.8 has no DANE (no TLSA lookups)"),
        "encrypt": _u("not rendered: the relay action would need 'tls' (TLS required, certificate verified), which "
                      "mtaharden does not write; add it to the action yourself"),
    },
    "sender_auth.spf": {
        "off": _e("off: no SPF check"),
        "on": _u("OpenSMTPD 6.8 checks no SPF by itself and Debian 12 ships no SPF filter; check SPF through "
                 "opensmtpd-filter-rspamd with an rspamd you run (not rendered), or on an MTA in front"),
    },
    "sender_auth.dkim": {
        "off": _e("off: no DKIM verification"),
        "on": _u("OpenSMTPD 6.8 verifies no DKIM by itself; use opensmtpd-filter-rspamd with an rspamd you run "
                 "(not rendered)"),
    },
    "sender_auth.dmarc": {
        "off": _e("off: no DMARC evaluation"),
        "on": _u("OpenSMTPD 6.8 has no DMARC evaluation; use opensmtpd-filter-rspamd with an rspamd you run "
                 "(not rendered)"),
    },
    "dkim_signing": {
        "off": _e("off: nothing is signed"),
        "on": _a("filter-dkimsign (package opensmtpd-filter-dkimsign, run as _dkimsign) on a loopback listener, "
                 "127.0.0.1 port {port}: the host's own mail and the trusted networks' to other domains take the "
                 "'sign' action to it and leave signed ({domains}, selector {selector}); mail to a relay domain is "
                 "relayed unsigned, and mail whose From: is in none of these domains is signed as {first} "
                 "(unaligned); any local process may relay through that listener, as through the sendmail command"),
        "several": _u("filter-dkimsign signs with one key file, selector and algorithm (and a domain per From:); "
                      "a chain of filters would sign every message once per key: give every key the same three"),
        "port": _u("targets.opensmtpd.signing_port {port} is the public SMTP port too: give the signing listener "
                   "a port of its own"),
    },
    # SMTP smuggling, as the lab's CVE-2023-51764 payloads showed on Debian's 6.8.0p2 (tests/lab/test_smuggling.py).
    "smtp.bare_newlines": {
        "any": _u("OpenSMTPD 6.8 has no setting for it and reads a bare LF as a line end, so LF.CRLF, LF.LF and "
                  "CRLF.LF end DATA (a send split after them was answered 250 there); commands that arrive with "
                  "that end in one write are refused (500 5.5.1 Pipelining not supported, disconnect) and the "
                  "message is lost; a bare CR stays in the line and never ends DATA; under the lab's batch of these "
                  "payloads smtpd exited now and then ('process pony socket closed'), holding the queue until a "
                  "restart. Put a relay that requires "
                  "CRLF.CRLF in front (Postfix with smtpd_forbid_bare_newline), or waive it"),
    },
    "smtp.bare_newlines_exempt_trusted": {
        "exempt": _a("no per-client line handling: trusted clients are read like everyone (see smtp.bare_newlines)"),
        "held": _e("every client, trusted or not, is read alike (see smtp.bare_newlines)"),
    },
})

note = CAPABILITIES.note
in_table_order = CAPABILITIES.in_table_order
