"""The main.cf parameters ``targets.postfix.parameters`` may set: an allow-list, each with its value kind.

Only parameters known not to affect relaying, trust, client identity (PROXY, XCLIENT, XFORWARD, peer
names), accepted domains or recipients, program or library locations, the users Postfix runs as, its
environment, or anything mtaharden writes itself are listed. Each value is checked against the kind
of value Postfix reads there and written back in one canonical spelling; no kind but the reply footer
takes ``$``, and the footer only the session attributes Postfix expands in it (never a parameter).
Everything else is refused, with the reason the parameter is not safe to pass through.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ...types import PolicyValueError

INT_MAX = 2**31 - 1  # Postfix reads numbers and times into a C int
TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
INDEXED_MAPS = ("hash", "btree")  # indexed files built by postmap/postalias (Debian's postfix package has both)
FOOTER_ATTRIBUTES = ("client_address", "client_port", "localtime", "server_name")  # postconf(5)
FOOTER_MAX = 200
PATH_MAX = 1024

# Every main.cf parameter the Postfix target's main.cf may write (tests keep this in step): site parameters may
# set none of them (they take only ALLOWED).
MANAGED_PARAMETERS = frozenset({
    "allow_percent_hack", "allow_untrusted_routing", "append_dot_mydomain", "biff", "broken_sasl_auth_clients",
    "compatibility_level", "cyrus_sasl_config_path", "disable_vrfy_command", "header_checks", "inet_interfaces",
    "inet_protocols", "local_transport", "mailbox_size_limit", "message_size_limit", "mydestination",
    "myhostname", "mynetworks", "mynetworks_style", "myorigin", "parent_domain_matches_subdomains",
    "permit_mx_backup_networks", "rbl_reply_maps", "readme_directory", "relay_domains",
    "resolve_dequoted_address", "resolve_null_domain", "smtpd_authorized_xclient_hosts",
    "smtpd_authorized_xforward_hosts", "smtpd_banner", "smtpd_client_connection_count_limit",
    "smtpd_client_restrictions", "smtpd_data_restrictions", "smtpd_delay_reject", "smtpd_helo_required",
    "smtpd_helo_restrictions", "smtpd_recipient_limit", "smtpd_recipient_restrictions",
    "smtpd_reject_unlisted_recipient", "smtpd_reject_unlisted_sender", "smtpd_relay_restrictions",
    "smtpd_sasl_auth_enable", "smtpd_sasl_mechanism_filter", "smtpd_sasl_path", "smtpd_sasl_security_options",
    "smtpd_sasl_tls_security_options", "smtpd_sasl_type", "smtpd_sender_restrictions", "smtpd_tls_auth_only",
    "smtpd_tls_cert_file", "smtpd_tls_key_file", "smtpd_tls_mandatory_protocols", "smtpd_tls_protocols",
    "smtpd_tls_received_header", "smtpd_tls_security_level", "strict_rfc821_envelopes", "swap_bangpath",
    "postscreen_access_list", "postscreen_bare_newline_enable", "postscreen_dnsbl_action", "postscreen_dnsbl_sites",
    "postscreen_dnsbl_threshold", "postscreen_greet_action", "postscreen_greet_wait",
    "postscreen_non_smtp_command_enable", "postscreen_pipelining_enable", "smtp_dns_support_level",
    "smtp_tls_security_level",
    "milter_default_action", "non_smtpd_milters", "smtpd_milters",
    "smtpd_forbid_bare_newline", "smtpd_forbid_bare_newline_exclusions", "smtpd_forbid_bare_newline_reject_code",
})

_WORD_LIST = re.compile(r"[,\s]+")
_PATH = re.compile(r"/(?:[A-Za-z0-9_+-][A-Za-z0-9._+-]*/)*[A-Za-z0-9_+-][A-Za-z0-9._+-]*")
_FOOTER_DOLLAR = re.compile(r"\$(?:\$|\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Boolean:
    """yes or no (a YAML boolean arrives as yes/no)."""

    def canonical(self, text: str, example: str) -> str:
        if text.lower() not in ("yes", "no"):
            raise PolicyValueError(f"{text!r} is not yes or no", "write yes or no (or true/false)")
        return text.lower()

    def describe(self) -> str:
        return "yes/no"


@dataclass(frozen=True)
class Integer:
    """A whole number in [low, high], written without sign or leading zeros."""

    low: int = 1
    high: int = INT_MAX

    def canonical(self, text: str, example: str) -> str:
        if not text.isascii() or not text.isdigit() or not self.low <= int(text) <= self.high:
            raise PolicyValueError(f"{text!r} is not a whole number from {self.low} to {self.high}",
                                   f"write a number such as {example}")
        return str(int(text))

    def describe(self) -> str:
        return f"integer from {self.low} to {self.high}" if self.high < INT_MAX else f"integer of at least {self.low}"


@dataclass(frozen=True)
class Time:
    """A number with its unit (s, m, h, d, w): a bare number would mean the parameter's own default unit."""

    low: int = 1  # seconds
    high: int = INT_MAX

    def canonical(self, text: str, example: str) -> str:
        number, unit = text[:-1], text[-1:]
        if not (number.isascii() and number.isdigit() and unit in TIME_UNITS
                and self.low <= int(number) * TIME_UNITS[unit] <= self.high):
            raise PolicyValueError(f"{text!r} is not a time {self._range()} with its unit",
                                   f"write a number and one unit of s, m, h, d, w, e.g. {example}")
        return f"{int(number)}{unit}"

    def describe(self) -> str:
        return f"time with unit (s, m, h, d, w), {self._range()}"

    def _range(self) -> str:
        return f"from {self.low}s to {self.high}s" if self.high < INT_MAX else f"of at least {self.low}s"


@dataclass(frozen=True)
class Choice:
    """One word of a fixed set."""

    words: tuple[str, ...]

    def canonical(self, text: str, example: str) -> str:
        if text not in self.words:
            raise PolicyValueError(f"{text!r} is not one of {', '.join(self.words)}",
                                   f"write one of them, e.g. {example}")
        return text

    def describe(self) -> str:
        return "one of " + ", ".join(f"`{word}`" for word in self.words)


@dataclass(frozen=True)
class Words:
    """A list of distinct words of a fixed set (comma or blank separated), written comma-separated."""

    words: tuple[str, ...]

    def canonical(self, text: str, example: str) -> str:
        given = [word for word in _WORD_LIST.split(text) if word]
        unknown = [word for word in given if word not in self.words]
        if unknown or len(set(given)) < len(given):
            problem = f"{unknown[0]!r} is not one of {', '.join(self.words)}" if unknown else "a word repeats"
            raise PolicyValueError(problem, f"write distinct words of that set, e.g. {example}")
        return ", ".join(given)

    def describe(self) -> str:
        return "list of " + ", ".join(f"`{word}`" for word in self.words)


@dataclass(frozen=True)
class Maps:
    """Lookup tables as ``type:/absolute/path`` of indexed file types only (no $name, no proxy or
    network tables, no inline or static tables), written comma-separated; empty means none."""

    types: tuple[str, ...] = INDEXED_MAPS

    def canonical(self, text: str, example: str) -> str:
        tables = [table for table in _WORD_LIST.split(text) if table]
        for table in tables:
            kind, colon, path = table.partition(":")
            if not colon or kind not in self.types or not _plain_path(path):
                raise PolicyValueError(f"{table!r} is not a table of type {', '.join(self.types)} at an absolute "
                                       "path", f"write type:/absolute/path, e.g. {example}")
        return ", ".join(tables)

    def describe(self) -> str:
        return "tables `type:/absolute/path`, type " + ", ".join(f"`{kind}`" for kind in self.types)


def _plain_path(path: str) -> bool:
    """An absolute path of plain names: no ``.``/``..`` steps, no empty steps, no blanks or $ or quotes."""
    return len(path) <= PATH_MAX and bool(_PATH.fullmatch(path)) and not any(
        step in (".", "..") for step in path.split("/"))


@dataclass(frozen=True)
class Footer:
    """One line of reply text. Postfix expands no parameter in it, only a few session attributes, so
    ``$`` may only start one of those (``$client_address`` or ``${client_address}``) or be doubled."""

    def canonical(self, text: str, example: str) -> str:
        if len(text) > FOOTER_MAX:
            raise PolicyValueError(f"the footer is longer than {FOOTER_MAX} characters", "shorten it")
        rest = _FOOTER_DOLLAR.sub(lambda m: "" if (m[1] or m[2] or "$") in (*FOOTER_ATTRIBUTES, "$") else "$", text)
        if "$" in rest:
            raise PolicyValueError(f"{text!r} uses $ other than $$ or a footer attribute",
                                   "write $$ for a dollar sign; only $" + ", $".join(FOOTER_ATTRIBUTES)
                                   + " are expanded")
        return text

    def describe(self) -> str:
        return "one line of text (`$$`, and `$` only for " + ", ".join(f"`{a}`" for a in FOOTER_ATTRIBUTES) + ")"


Kind = Boolean | Integer | Time | Choice | Words | Maps | Footer


@dataclass(frozen=True)
class Parameter:
    """An allowed parameter: the kind of value it takes, a valid example, and why it is safe."""

    name: str
    kind: Kind
    example: str
    why: str


_TIME_ZERO = Time(low=0)
_RATE = Integer(low=0)  # 0 means no limit
_TLS_PROTOCOLS = Choice((">=TLSv1", ">=TLSv1.1", ">=TLSv1.2", ">=TLSv1.3"))
_OUTBOUND = "outbound SMTP client only: how this host sends, never what it accepts"

ALLOWED: Mapping[str, Parameter] = {p.name: p for p in (
    # Queue and retry timing: when mail is retried, warned about or bounced.
    Parameter("maximal_queue_lifetime", _TIME_ZERO, "5d", "queue timing: how long delivery is retried"),
    Parameter("bounce_queue_lifetime", _TIME_ZERO, "5d", "queue timing: how long a bounce is retried"),
    Parameter("delay_warning_time", _TIME_ZERO, "4h", "queue timing: when the sender is warned (0h: never)"),
    Parameter("minimal_backoff_time", Time(), "300s", "queue timing: the shortest retry interval"),
    Parameter("maximal_backoff_time", Time(), "4000s", "queue timing: the longest retry interval"),
    Parameter("queue_run_delay", Time(), "300s", "queue timing: how often the deferred queue is scanned"),
    Parameter("default_destination_rate_delay", _TIME_ZERO, "0s", "delivery pacing per destination"),
    # Delivery concurrency and batch sizes.
    Parameter("default_destination_concurrency_limit", Integer(), "20", "delivery parallelism per destination"),
    Parameter("default_destination_recipient_limit", Integer(), "50", "recipients per delivery"),
    Parameter("initial_destination_concurrency", Integer(), "5", "delivery parallelism at start"),
    Parameter("local_destination_concurrency_limit", Integer(), "2", "parallel deliveries to one local user"),
    Parameter("local_destination_recipient_limit", Integer(), "1", "recipients per local delivery"),
    Parameter("default_process_limit", Integer(), "100", "how many processes of a service run at once"),
    Parameter("qmgr_message_active_limit", Integer(), "20000", "queue manager memory: messages in memory"),
    Parameter("qmgr_message_recipient_limit", Integer(), "20000", "queue manager memory: recipients in memory"),
    Parameter("duplicate_filter_limit", _RATE, "1000", "memory for removing duplicate recipients"),
    # Message size and shape limits (message_size_limit is smtp.max_message_size).
    Parameter("header_size_limit", Integer(low=10240), "102400",
              "memory per header; at least 10 KiB, so header checks still see what they match"),
    Parameter("header_address_token_limit", Integer(), "10240", "the most tokens parsed per address header"),
    Parameter("mime_nesting_limit", Integer(), "100", "the deepest MIME nesting accepted"),
    Parameter("hopcount_limit", Integer(), "50", "the most Received: headers before mail is bounced as a loop"),
    Parameter("bounce_size_limit", Integer(), "50000", "how much of a message a bounce returns"),
    Parameter("strict_7bit_headers", Boolean(), "no", "refuses 8-bit headers: refuses more, never accepts more"),
    Parameter("strict_8bitmime", Boolean(), "no", "refuses undeclared 8-bit mail: refuses more, never accepts more"),
    Parameter("strict_8bitmime_body", Boolean(), "no", "refuses undeclared 8-bit bodies: refuses more"),
    Parameter("strict_mime_encoding_domain", Boolean(), "no", "refuses bad MIME encodings: refuses more"),
    # SMTP server session limits and timeouts: how long and how much a client may try.
    Parameter("smtpd_timeout", Time(), "300s", "how long the server waits for a client"),
    Parameter("smtpd_starttls_timeout", Time(), "300s", "how long a TLS handshake may take"),
    Parameter("smtpd_error_sleep_time", _TIME_ZERO, "1s", "tarpit delay after a client error"),
    Parameter("smtpd_soft_error_limit", Integer(), "10", "errors before the server slows a client down"),
    Parameter("smtpd_hard_error_limit", Integer(), "20", "errors before the server disconnects a client"),
    Parameter("smtpd_junk_command_limit", Integer(), "100", "NOOP/RSET/... before a client is slowed down"),
    Parameter("smtpd_history_flush_threshold", Integer(), "100", "command history kept for postmaster notices"),
    Parameter("smtpd_recipient_overshoot_limit", Integer(), "1000",
              "recipients past smtp.max_recipients before a client counts as erring"),
    Parameter("smtpd_client_message_rate_limit", _RATE, "0", "anvil rate limit per client (0: none)"),
    Parameter("smtpd_client_recipient_rate_limit", _RATE, "0", "anvil rate limit per client (0: none)"),
    Parameter("smtpd_client_connection_rate_limit", _RATE, "0", "anvil rate limit per client (0: none)"),
    Parameter("smtpd_client_new_tls_session_rate_limit", _RATE, "0", "anvil rate limit per client (0: none)"),
    Parameter("smtpd_client_auth_rate_limit", _RATE, "0", "anvil rate limit per client (0: none)"),
    Parameter("anvil_rate_time_unit", Time(), "60s", "the time unit of the anvil rate limits"),
    Parameter("in_flow_delay", Time(low=0, high=10), "1s", "slows message input when the queue is busy"),
    Parameter("smtpd_client_port_logging", Boolean(), "no", "logging only"),
    Parameter("smtpd_reject_footer", Footer(), "\\c. For help call 800-555-0101 (ref $localtime)",
              "text appended to 4xx/5xx replies; not expanded as main.cf text"),
    Parameter("unknown_local_recipient_reject_code", Choice(("450", "550")), "550",
              "reply code for an unknown local user: which refusal, never whether"),
    Parameter("show_user_unknown_table_name", Boolean(), "yes", "reply text only"),
    # Outbound SMTP client (how mail leaves; the server side is decided by the policy).
    Parameter("smtp_connect_timeout", _TIME_ZERO, "30s", _OUTBOUND),
    Parameter("smtp_helo_timeout", Time(), "300s", _OUTBOUND),
    Parameter("smtp_data_done_timeout", Time(), "600s", _OUTBOUND),
    Parameter("smtp_address_preference", Choice(("any", "ipv4", "ipv6")), "any", _OUTBOUND),
    Parameter("smtp_skip_5xx_greeting", Boolean(), "yes", _OUTBOUND),
    Parameter("smtp_mx_address_limit", _RATE, "5", _OUTBOUND),
    Parameter("smtp_mx_session_limit", _RATE, "2", _OUTBOUND),
    Parameter("smtp_tls_loglevel", Integer(low=0, high=4), "1", _OUTBOUND),
    Parameter("smtp_tls_protocols", _TLS_PROTOCOLS, ">=TLSv1.2", _OUTBOUND),
    Parameter("smtp_tls_mandatory_protocols", _TLS_PROTOCOLS, ">=TLSv1.2", _OUTBOUND),
    Parameter("smtp_tls_ciphers", Choice(("medium", "high")), "medium", _OUTBOUND),
    Parameter("smtp_tls_mandatory_ciphers", Choice(("medium", "high")), "high", _OUTBOUND),
    Parameter("smtp_tls_note_starttls_offer", Boolean(), "yes", _OUTBOUND + "; logging"),
    Parameter("smtp_tls_policy_maps", Maps(), "hash:/etc/postfix/tls_policy", _OUTBOUND),
    # Local aliases (Debian's hash:/etc/aliases): which local user gets a local name's mail.
    Parameter("alias_maps", Maps(), "hash:/etc/aliases",
              "local delivery of the local domains only; indexed files only, so no table reads arbitrary text"),
    Parameter("alias_database", Maps(), "hash:/etc/aliases", "what newaliases rebuilds: the alias_maps files"),
    # Notices and logging.
    Parameter("notify_classes", Words(("bounce", "2bounce", "data", "delay", "policy", "protocol", "resource",
                                       "software")), "resource, software", "which problems postmaster is told of"),
    Parameter("syslog_facility", Choice(("mail", "daemon", "user", *(f"local{n}" for n in range(8)))), "mail",
              "logging only"),
    Parameter("enable_long_queue_ids", Boolean(), "no", "queue file names and logging only"),
)}

# What the policy says instead of a parameter mtaharden writes (the rest are fixed to keep relaying closed).
POLICY_KEYS: Mapping[str, str] = {
    "myhostname": "hostname", "mydestination": "domains.local", "relay_domains": "domains.relay",
    "mynetworks": "networks.trusted", "inet_interfaces": "targets.postfix.inet_interfaces",
    "inet_protocols": "targets.postfix.inet_protocols", "smtpd_banner": "smtp.banner",
    "disable_vrfy_command": "smtp.disable_vrfy", "smtpd_helo_required": "smtp.require_helo",
    "strict_rfc821_envelopes": "smtp.strict_envelopes", "message_size_limit": "smtp.max_message_size",
    "smtpd_recipient_limit": "smtp.max_recipients",
    "smtpd_client_connection_count_limit": "smtp.max_connections_per_client", "header_checks": "header_checks",
    "rbl_reply_maps": "dnsbl", "smtpd_recipient_restrictions": "access and dnsbl",
    "smtpd_relay_restrictions": "networks.trusted and auth", "smtpd_sasl_auth_enable": "auth.enabled",
    "smtpd_sasl_type": "auth.backend", "smtpd_sasl_path": "auth.dovecot_socket",
    "smtpd_sasl_mechanism_filter": "auth.mechanisms", "smtpd_tls_auth_only": "auth.require_tls",
    "smtpd_tls_cert_file": "tls.cert", "smtpd_tls_key_file": "tls.key", "smtpd_tls_security_level": "tls.inbound",
    "smtpd_tls_protocols": "tls.min_protocol", "smtpd_tls_mandatory_protocols": "tls.min_protocol",
    "smtp_tls_security_level": "outbound.tls", "smtp_dns_support_level": "outbound.tls",
    "smtpd_milters": "sender_auth", "non_smtpd_milters": "dkim_signing", "milter_default_action": "sender_auth",
    **{name: "screening" for name in MANAGED_PARAMETERS if name.startswith("postscreen_")},
}

# Why a parameter is not on the list, by family (first match; the list above decides, these only explain).
_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(pattern), reason) for pattern, reason in (
    (r"proxy_protocol|xclient|xforward|peername|debug_peer|proxy_interfaces",
     "it decides who a client is or claims to be (PROXY, XCLIENT, XFORWARD, peer names), and trust follows "
     "identity"),
    (r"environment", "it passes environment variables to the programs Postfix runs as root"),
    (r"_directory$|_path$|^mail_owner$|^setgid_group$|^default_privs$|^(?:shlib|meta|mail_spool|maillog_file)",
     "it names a place Postfix runs programs or loads libraries from, keeps its queue or data in or writes its "
     "log to, or a user it runs as"),
    (r"reject_code$|^soft_bounce$", "it changes the replies of the policy's own refusals (a reject would become a "
     "defer, and explain would no longer say what the server does)"),
    (r"restrictions|mynetworks|relay|_domains$|recipient_maps|sasl|smtpd_tls|tls_|permit_|authorized|trust"
     r"|_exceptions$",
     "it takes part in deciding relaying, trust, TLS, accepted domains or recipients"),
    (r"command|transport|_maps$|_checks$|bcc|canonical|masquerade|luser|forward|filter|milter|relayhost|myorigin",
     "it routes, rewrites, copies, filters or runs a program on mail"),
))
_UNLISTED = ("only parameters known not to affect relaying, trust, client identity, accepted domains, program or "
             "library locations or the environment are accepted")
_HINT = ("leave it out: targets.postfix.parameters takes only the parameters listed in README.md (Postfix site "
         "parameters); a site that needs another one needs a reviewed change to mtaharden")


def canonical(name: str, value: str, written: Collection[str] = ()) -> str:
    """``value`` as main.cf gets it; PolicyValueError when ``name`` is not allowed or ``value`` not its kind.

    ``written`` names the parameters the target writes itself (they are refused with that reason)."""
    parameter = ALLOWED.get(name)
    if parameter is None or name in written:
        raise _refusal(name, written)
    try:
        return parameter.kind.canonical(value, parameter.example)
    except PolicyValueError as exc:
        raise PolicyValueError(f"{name}: {exc}", exc.hint) from None


def _refusal(name: str, written: Collection[str]) -> PolicyValueError:
    start = f"{name}: this parameter is not managed safely by mtaharden"
    if name in written or name in POLICY_KEYS:
        key = POLICY_KEYS.get(name)
        return PolicyValueError(f"{start}; mtaharden writes it itself",
                                f"set {key} in the policy instead" if key else
                                "leave it out: mtaharden fixes it so that relaying stays closed")
    reason = next((reason for pattern, reason in _REASONS if pattern.search(name)), _UNLISTED)
    return PolicyValueError(f"{start}; {reason}", _HINT)
