"""What Exchange can and cannot do, as data: the limits the lowering obeys and the fixed coverage texts.

COVERAGE.md, GUIDE.md and ``mtaharden explain`` all read these facts through the Plan's coverage; each is
written here once (docs/exchange.md cites the sources).
"""

from __future__ import annotations

# Ports that Exchange's own services hold on every Mailbox server.
RESERVED_PORTS = {465: "Client Proxy (Transport service)", 475: "Mailbox Transport Delivery",
                  717: "Outbound Proxy Frontend", 2525: "Default (Transport service)"}
SUBMISSION_PORT = 587
MESSAGE_SIZE_RANGE = (65536, 2147483647)  # what -MaxMessageSize accepts, in bytes
REJECTION_RESPONSE_MAX = 240  # -RejectionResponse of a block list provider
IP_MATCH_LIMIT = 256  # return codes a DNSBL filter may expand to in -IPAddressesMatch
RULE_PREFIX = "mtaharden "
ACCESS_STAGES = ("clients", "recipients", "senders")  # Postfix's evaluation order, HELO excepted
# A list file becomes one transport rule listing its entries; Exchange caps a rule's size
# (TransportRuleSizeLimit) and all rules' regex text (TransportRuleCollectionRegexCharacterLimit),
# and a cmdlet script is no way to load a long block list, so longer files are reported unsupported.
LIST_FILE_MAX = 100
# A trusted network this wide (per IP version) gets a warning: an unnamed server or load balancer in it
# would reach the anonymous relay connector (the most specific RemoteIPRanges wins).
WIDE_PREFIX = {4: 16, 6: 48}
ORG_SIZE_DEFAULT = 10 * 2**20  # the organization's MaxReceiveSize unless changed (message-size-limits.md)
EDGE_HEADER_ACTIONS = ("reject", "discard")  # header checks an Edge rule carries out during the SMTP session
USER_AUTH = ("Integrated", "BasicAuth", "BasicAuthRequireTLS")  # the AUTH mechanisms the policy owns

# The order COVERAGE.md lists elements in (the policy's own order); an element's [n] entries follow it.
ELEMENT_ORDER = (
    "role", "hostname", "domains.local", "domains.relay", "networks.trusted",
    "auth", "auth.mechanisms", "auth.submission.port", "auth.submission.smtps_port", "dnsbl",
    "access.clients", "access.helo", "access.senders", "access.recipients", "header_checks",
    "smtp.banner", "smtp.disable_vrfy", "smtp.disable_expn", "smtp.require_helo", "smtp.strict_envelopes",
    "smtp.max_message_size", "smtp.max_recipients", "smtp.max_connections_per_client", "tls", "tls.min_protocol",
    "screening", "outbound.tls", "sender_auth.spf", "sender_auth.dkim", "sender_auth.dmarc", "dkim_signing",
    "smtp.bare_newlines", "smtp.bare_newlines_exempt_trusted",
)

# --- fixed facts, each one coverage text ------------------------------------------------------

NO_HELO_CONTROL = ("Exchange has no HELO/EHLO access control (no cmdlet or rule condition sees the EHLO name); "
                   "filter HELO upstream")
NO_VRFY_CONTROL = ("no cmdlet controls VRFY or EXPN; Exchange is said to answer VRFY with 252 and no lookup "
                   "(KB 289521, unverified for 2016+): GUIDE.md has the check by hand")
NO_HOLD = ("no Mailbox-server rule action holds a message for review (Quarantine runs only on Edge and needs the "
           "content filter's quarantine mailbox)")
NO_MAILBOX_DNSBL = ("block list providers belong to the Connection Filtering agent, which runs only on Edge "
                    "Transport servers (Sender Reputation is no substitute: it scores a sender after 20 messages "
                    "and probes the sender for open proxies); set targets.exchange.deployment: edge or filter "
                    "upstream")
NO_DEFER = "Exchange answers 550, it cannot defer"
AFTER_ACCEPTANCE = ("the transport rules run after the message was accepted, so they delete it without an NDR "
                    "(an NDR would go to the often forged sender) and the policy's message is not sent")
NO_SMTPS = "Exchange has no implicit-TLS SMTP listener; point those clients there"
NO_TLS13_ONLY = ("TLS 1.3 needs Exchange 2019 CU15 or later or SE on Windows Server 2022 or later, and no Exchange "
                 "version documents TLS 1.3 as the only protocol for SMTP; TLS 1.2 is the highest minimum "
                 "mtaharden sets (GUIDE.md)")
TLS_BY_REGISTRY = "SCHANNEL and .NET registry settings from the GUIDE.md checklist: no cmdlet sets protocol versions"
OWN_CERTIFICATE = "Exchange uses the certificate enabled for SMTP (GUIDE.md), not tls.cert/tls.key"
ALWAYS_STARTTLS = "Exchange always offers STARTTLS, with a self-signed certificate at least"
WILDCARD_PARENT = "Exchange's *.domain may also take the parent domain"
