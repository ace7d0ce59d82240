"""What qmail can and cannot do with each policy element, as data: one table, read by every lowering step.

Each element (``[]`` stands for an index) maps the cases a lowering step tells apart to a status and a
detail template, filled in with the fields that step knows (``str.format``). The table's order is the order
of COVERAGE.md, ``explain`` and the README's qmail column, whatever order the steps decide in. The facts
were measured on notqmail 1.09 and ucspi-tcp 0.88 (tests/lab/test_qmail_stock.py).
"""

from __future__ import annotations

from ..kit.facts import FactTable
from ..kit.facts import approximated as _a
from ..kit.facts import enforced as _e
from ..kit.facts import unsupported as _u

AUTH_PATCH_MECHANISMS = "LOGIN, PLAIN and CRAM-MD5"
HELP_LEAK = ("qmail-smtpd's answer is compiled in and names the software (notqmail: '214 notqmail home page: "
             "https://notqmail.org', qmail 1.03 and netqmail: '214 qmail home page: http://pobox.com/~djb/"
             "qmail.html'); no control file changes it")
# What stock qmail-smtpd + qmail-send do with relay-looking recipients from a client without RELAYCLIENT.
ACCEPT_THEN_BOUNCE = (
    "from every other client nothing is sent on to a foreign domain, although qmail-smtpd answers 250 at RCPT "
    "to relay-looking recipients whose domain after the last @ is its own or missing (qmail-send adds "
    "control/me): the percent hack (user%foreign@local), bang paths (foreign!user@local, foreign!user), a "
    "quoted local part (\"user@foreign\"@local), user@foreign@local, and the same at [own IP] (qmail-smtpd "
    "reads its own address literal as control/localiphost); qmail-send takes the whole local part literally "
    "(percenthack is empty) and bounces it as an unknown user. RCPT-only relay tests (nmap's smtp-open-relay) "
    "count these 250s as relaying")


_NO_SMTPD = "role {role}: no qmail-smtpd service"
_IPV4_ONLY = "not written: ucspi-tcp 0.88"

# badmailfrom and badrcptto: reject-only lists of user@domain and @domain, without exceptions
_ENVELOPE = {
    "defer": _u("{file} refuses permanently; qmail-smtpd has no temporary rule"),
    "formless": _u("{file} has no form for {label} (a local part in any domain)"),
    "partly-formless": _a("{file}: {written}, except {count} of the form user@ (a local part in any domain), "
                          "which it has no form for"),
    "shadows": _a("{file}: {written}; also refuses {shadows}, which come first ({file} has no exceptions)"),
    "reject": _e("{file}: {written} (553 at RCPT)"),
    "unexempt": _a("qmail-smtpd cannot exempt it from {refusers}"),
    "exempt": _e("nothing in qmail-smtpd would refuse it later"),
}

_SMUGGLED_CR = ("qmail-smtpd keeps a bare CR in the line, and notqmail's qmail-remote sends a bare CR as CRLF "
                "without dot-stuffing what follows: CR.CRLF sent to this host leaves it as CRLF.CRLF, so the next "
                "hop ends DATA there and reads the rest as commands (the lab's sink received the smuggled message). "
                "No setting changes it: take mail in through a relay that refuses a bare CR (Sendmail 8.18, or "
                "Debian's 8.17.1.9 by default), or waive it")

CAPABILITIES = FactTable({
    "role": {
        "null-client": _a("no qmail-smtpd service and an empty control/locals; point control/smtproutes at a "
                          "smarthost yourself (not rendered)"),
        "inbound": _e("qmail-smtpd under tcpserver on {listen}:{port}"),
        "submission": _u("no port-25 service for role submission, and mtaharden renders no qmail submission "
                         "service"),
    },
    "hostname": {
        "set": _e("control/me"),
        "unset": _a("control/me is left as installed; the name is missing from locals and rcpthosts (qmail "
                    "control files cannot refer to 'me')"),
    },
    "smtp.banner": {
        "esmtp": _e("control/smtpgreeting (qmail-smtpd appends ' ESMTP' itself); for HELP see smtp.banner[HELP]"),
        "text": _a("control/smtpgreeting; qmail-smtpd appends ' ESMTP', so the greeting reads '<banner> ESMTP'; "
                   "for HELP see smtp.banner[HELP]"),
        "default": _a("qmail's default greeting: control/me and ' ESMTP'; for HELP see smtp.banner[HELP]"),
        "unfilled": _a("qmail's default greeting (control/me ESMTP): the policy's text needs hostname to be "
                       "filled in; for HELP see smtp.banner[HELP]"),
    },
    # a row of its own, so that a probe excuses the HELP answer and nothing else (a software name in the
    # greeting, EHLO, errors or QUIT stays a finding)
    "smtp.banner[HELP]": {"always": _a(f"the greeting is set, but HELP is answered otherwise: {HELP_LEAK}")},
    "domains.local": {
        "always": _a("control/locals and {where}; percenthack is empty. qmail-smtpd accepts every local part and "
                     "qmail-send bounces unknown users after accepting the mail; differs when the sender is "
                     "forged: the bounce, with a copy of the message, goes to the forged address (backscatter, also "
                     "for the relay-looking forms it accepts), and its text says it comes from 'the qmail-send "
                     "program'"),
    },
    "domains.local[]": {
        "wildcard": _u("{domain} is in {where}, but control/locals matches exact names only, so qmail-send would "
                       "treat its subdomains as remote and bounce the mail; list the subdomains or route them in "
                       "control/virtualdomains"),
    },
    "domains.relay": {
        "always": _e("{where}; forwarded by MX or control/smtproutes (not rendered); recipients are not verified"),
    },
    "networks.trusted": {"always": _e(f"tcp.smtp: RELAYCLIENT=\"\" (and no DNSBL check) per network; "
                                      f"{ACCEPT_THEN_BOUNCE}")},
    "networks.trusted[]": {
        "ipv6": _a(f"{{network}} is {_IPV4_ONLY} listens and matches on IPv4 only, so no IPv6 client reaches "
                   "qmail-smtpd"),
    },
    "auth": {
        "patch-idle": _a("qmail-smtpd runs without checkpassword arguments: the {patch} patch still advertises "
                         "AUTH, but every attempt fails"),
        "off": _e("no SMTP AUTH (stock qmail-smtpd has none)"),
        "no-patch": _u("stock qmail-smtpd has no SMTP AUTH; build it with the qmail-smtpd-auth patch and set "
                       "targets.qmail.auth_patch"),
        "patch": _a(f"{{patch}} with {{checkpassword}} (instead of {{backend}}); the patch offers "
                    f"{AUTH_PATCH_MECHANISMS} whatever auth.mechanisms says"),
    },
    "auth.require_tls": {
        "clear": _u("qmail-smtpd-auth offers AUTH without STARTTLS, and mtaharden renders no TLS patch setup: "
                    "passwords would cross the network in clear"),
    },
    "auth.submission": {
        "none": _u("no qmail submission service is rendered (587 needs a second tcpserver with the AUTH patch, "
                   "465 needs sslserver or a TLS patch)"),
    },
    "dnsbl": {"no-smtpd": _e(f"{_NO_SMTPD}, so no client reaches these rules")},
    "access": {"no-smtpd": _e(f"{_NO_SMTPD}, so no client reaches these rules")},
    "dnsbl[]": {
        "rblsmtpd": _a("rblsmtpd -r {zone}, {code} at RCPT: any TXT record lists a client, so the return-code "
                       "filter(s) {filters} are not applied (an error answer with a TXT record, e.g. from a public "
                       "resolver, blocks everyone) and the reply text is the zone's TXT record, not the policy's "
                       "message"),
    },
    "access.clients": {
        "tcprules": _e("tcp.smtp, longest-prefix rules equal to first match wins: reject drops the connection "
                       "(deny) or, with a message, answers every RCPT with 553 (RBLSMTPD=\"-text\"); defer answers "
                       "451 (RBLSMTPD=\"text\"); permit skips the DNSBL"),
    },
    "access.clients[]": {
        "ipv6": _a(f"{{what}} {_IPV4_ONLY} accepts IPv4 clients only"),
        "defer": _a("rblsmtpd answers 451 to every RCPT, relay attempts too (it runs before qmail-smtpd's "
                    "rcpthosts check), where the contract refuses a relay attempt with 5xx first"),
        "drop": _a("without a message a reject drops the connection (tcpserver deny) before any reply: the client "
                   "sees no 5xx and retries later; give the rule a message to have every RCPT answered 553"),
        "badmailfrom": _a("a permitted client still meets control/badmailfrom, which qmail-smtpd applies to every "
                          "client"),
    },
    "access.helo": {"ignored": _u("stock qmail-smtpd ignores the HELO/EHLO name")},
    "access.senders[]": _ENVELOPE,
    "access.recipients[]": {
        "no-file": _u("stock qmail-smtpd has no recipient rules (the badrcptto patch adds control/badrcptto; set "
                      "targets.qmail.badrcptto_patch)"),
        **_ENVELOPE,
    },
    "header_checks[]": {
        "none": _u("{header}: qmail-smtpd has no header filter; it needs a qmail-queue wrapper (QMAILQUEUE patch "
                   "with qmail-qfilter or simscan), not rendered; at delivery the procmail and sieve targets "
                   "file matching messages instead (see their COVERAGE.md)"),
    },
    "smtp.disable_vrfy": {
        "on": _e("qmail-smtpd answers every VRFY with 252 and verifies nothing"),
        "off": _a("qmail-smtpd cannot verify addresses (VRFY always 252)"),
    },
    "smtp.disable_expn": {
        "on": _e("qmail-smtpd has no EXPN (502 unimplemented)"),
        "off": _a("qmail-smtpd has no EXPN (502 unimplemented)"),
    },
    "smtp.require_helo": {
        "on": _u("stock qmail-smtpd accepts MAIL without HELO/EHLO and checks no HELO name"),
        "off": _e("HELO/EHLO is optional, as in stock qmail-smtpd"),
    },
    "smtp.strict_envelopes": {
        "on": _u("qmail-smtpd's addrparse accepts addresses without <>, strips source routes and quotes, and "
                 "checks only the domain after the last @"),
        "off": _e("lenient envelope syntax, as in stock qmail-smtpd"),
    },
    "smtp.max_message_size": {
        "databytes": _a("control/databytes, 552 at end of DATA; differs (1) when a message is over the limit by at "
                        "most its number of lines: accepted (databytes counts LF line ends, the contract CRLF), and "
                        "(2) when MAIL gives SIZE= over the limit: accepted (qmail-smtpd offers no SIZE and ignores "
                        "SIZE=), so the message is refused only at end of DATA"),
    },
    "smtp.max_recipients": {"none": _u("stock qmail-smtpd has no recipient limit (a patch adds one; not rendered)")},
    "smtp.max_connections_per_client": {
        "global": _a("tcpserver -c {concurrency} limits all sessions together (targets.qmail.concurrency), not per "
                     "client: one client may take every slot"),
        "no-smtpd": _e(_NO_SMTPD),
    },
    "tls": {
        "on": _u("stock qmail-smtpd has no STARTTLS; a TLS patch (e.g. netqmail's by Frederik Vermeulen, "
                 "control/servercert.pem) is needed and not rendered"),
        "off": _e("no TLS (stock qmail-smtpd has none)"),
    },
    "screening": {
        "off": _e("off (tcpserver hands every connection to qmail-smtpd at once)"),
        "none": _u("tcpserver and qmail-smtpd have no pregreet test, no weighted DNS lists (rblsmtpd refuses on "
                   "one listing) and no allow-list for either; list the zones whose single listing suffices under "
                   "dnsbl instead"),
    },
    "outbound.tls": {
        "may": _a("qmail-remote has no STARTTLS (notqmail ships no TLS): mail leaves unencrypted, never "
                  "opportunistically encrypted"),
        "dane": _u("qmail-remote has no STARTTLS, so no DANE (notqmail ships no TLS)"),
        "encrypt": _u("qmail-remote has no STARTTLS, so it cannot insist on TLS (notqmail ships no TLS)"),
    },
    "sender_auth.spf": {
        "off": _e("off: no SPF check"),
        "on": _u("qmail-smtpd has no SPF check (notqmail applies no SPF patch); check SPF on an MTA in front of "
                 "qmail, or in a QMAILQUEUE filter"),
    },
    "sender_auth.dkim": {
        "off": _e("off: no DKIM verification"),
        "on": _u("qmail has no DKIM verifier; verify in a QMAILQUEUE filter or on an MTA in front of qmail"),
    },
    "sender_auth.dmarc": {
        "off": _e("off: no DMARC evaluation"),
        "on": _u("qmail has no DMARC evaluation; evaluate it on an MTA in front of qmail"),
    },
    "dkim_signing": {
        "off": _e("off: nothing is signed"),
        "on": _u("qmail-remote does not sign and notqmail ships no signer; relay outbound mail through a signing "
                 "MTA, or wrap qmail-remote with a DKIM signer yourself (not rendered)"),
    },
    # SMTP smuggling, as the lab's CVE-2023-51764 payloads showed on notqmail (tests/lab/test_smuggling.py).
    "smtp.bare_newlines": {
        "normalize": _u("a bare LF in DATA is refused, not normalised (451 See https://cr.yp.to/docs/smtplf.html "
                        "and a hang-up, a temporary refusal); " + _SMUGGLED_CR),
        "reject": _u("a bare LF in DATA is refused with 451 See https://cr.yp.to/docs/smtplf.html and a hang-up (a "
                     "temporary code: the sender retries), a bare CR is not refused; " + _SMUGGLED_CR),
    },
    "smtp.bare_newlines_exempt_trusted": {
        "exempt": _a("qmail-smtpd reads every client alike: trusted clients' bare LF is refused too"),
        "held": _e("qmail-smtpd reads every client alike"),
    },
})

note = CAPABILITIES.note
in_table_order = CAPABILITIES.in_table_order
