"""Strict value types for the policy.

Every string that ends up in a generated config file passes through one of these types, so that no
policy value can carry a newline, a comment character or a directive into a target's file. Each
validator raises :class:`PolicyValueError`, whose ``hint`` tells the user how to fix the value.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema


class PolicyValueError(ValueError):
    """A value that does not fit its type; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_IDNA_HINT = "use letters, digits, hyphens and dots only; write an internationalised name in its xn-- form"


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise PolicyValueError(f"{what} must be a string, not {type(value).__name__}", f"write the {what} as text")
    return value


def _check_labels(name: str, what: str, *, min_labels: int) -> str:
    if not name:
        raise PolicyValueError(f"empty {what}", f"write a {what} such as example.org")
    if len(name) > 253:
        raise PolicyValueError(f"{what} {name[:40]!r}… is longer than 253 characters", "shorten it")
    labels = name.split(".")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise PolicyValueError(f"{what} {name!r} has an invalid label {label!r}", _IDNA_HINT)
    if labels[-1].isdigit():  # MTAs read such a name as an address (Postfix: "numeric hostname")
        raise PolicyValueError(f"{what} {name!r} ends in an all-digit label, so it reads as an address",
                               "no top-level domain is all digits: write the full name, e.g. mail.example.org")
    if len(labels) < min_labels:
        raise PolicyValueError(
            f"{what} {name!r} is not fully qualified", "write the full name, e.g. mail.example.org"
        )
    return name


def domain_name(value: Any) -> str:
    """A fully qualified DNS domain, lower-cased, without a trailing dot."""
    name = _require_str(value, "domain").strip().lower().removesuffix(".")
    return _check_labels(name, "domain", min_labels=2)


def domain_pattern(value: Any) -> str:
    """A mail domain: ``example.org`` (exactly that domain) or ``.example.org`` (every subdomain)."""
    text = _require_str(value, "domain").strip().lower().removesuffix(".")
    if text.startswith("*."):
        raise PolicyValueError(
            f"domain {text!r} uses '*.'", "write .example.org (leading dot) to match every subdomain"
        )
    if text.startswith("."):
        return "." + _check_labels(text[1:], "domain", min_labels=2)
    return _check_labels(text, "domain", min_labels=2)


def helo_name(value: Any) -> str:
    """A HELO/EHLO argument to match: a host name (one label allowed) or an address literal."""
    text = _require_str(value, "HELO name").strip().lower()
    literal = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(literal.removeprefix("ipv6:")))
    except ValueError:
        pass
    return _check_labels(text.removesuffix("."), "HELO name", min_labels=1)


def ip_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IPv4/IPv6 address or CIDR network with no host bits set."""
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    text = _require_str(value, "network").strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise PolicyValueError(
                f"{text!r} is not an IP address or CIDR network ({exc})",
                "write an address such as 192.0.2.7 or a network such as 192.0.2.0/24 or 2001:db8::/32",
            ) from None
        raise PolicyValueError(
            f"{text!r} has host bits set", f"did you mean {loose.with_prefixlen}?"
        ) from None


_LOCAL_PART = re.compile(r"^[a-z0-9._+=-]{1,64}$")


def address_pattern(value: Any) -> str:
    """An envelope address pattern: ``user@example.org``, ``@example.org``, ``example.org`` or ``user@``."""
    text = _require_str(value, "address").strip().lower()
    hint = "write user@example.org, @example.org (whole domain), example.org, or user@ (any domain)"
    if text.count("@") > 1:
        raise PolicyValueError(f"address {text!r} has more than one '@'", hint)
    local, at, domain = text.partition("@")
    if not at:
        return domain_name(text)
    if not local and not domain:
        raise PolicyValueError("address '@' matches nothing", hint)
    if local and not _LOCAL_PART.fullmatch(local):
        raise PolicyValueError(
            f"local part {local!r} has characters that are not allowed",
            "use letters, digits and . _ + = - in the part before '@'",
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise PolicyValueError(f"local part {local!r} has a misplaced dot", hint)
    return f"{local}@{domain_name(domain)}" if domain else f"{local}@"


_MESSAGE_CHARS = re.compile(r"^[\x20-\x7e]*$")
MESSAGE_MAX = 200


def message_text(value: Any) -> str:
    """SMTP reply text: printable ASCII on one line, at most 200 characters."""
    text = _require_str(value, "message")
    if not _MESSAGE_CHARS.fullmatch(text):
        bad = next(c for c in text if not ("\x20" <= c <= "\x7e"))
        raise PolicyValueError(
            f"message contains the character {bad!r}",
            "write the message on one line in printable ASCII (SMTP replies are ASCII; no tabs or newlines)",
        )
    stripped = text.strip()
    if not stripped:
        raise PolicyValueError("message is empty", "write a short reason, or leave the key out")
    if len(stripped) > MESSAGE_MAX:
        raise PolicyValueError(f"message is {len(stripped)} characters long", f"keep it under {MESSAGE_MAX}")
    return stripped


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def template_text(value: Any, allowed: frozenset[str]) -> str:
    """Message text whose ``{name}`` placeholders are all in ``allowed`` (and no stray braces)."""
    text = message_text(value)
    names = set(_PLACEHOLDER.findall(text))
    unknown = names - allowed
    if unknown:
        raise PolicyValueError(
            f"unknown placeholder {{{sorted(unknown)[0]}}}",
            "use only " + ", ".join("{" + n + "}" for n in sorted(allowed)),
        )
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise PolicyValueError("message has an unmatched brace", "write placeholders as {name}; no lone braces")
    return text


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6, "mib": 2**20,
          "g": 10**9, "gb": 10**9, "gib": 2**30, "ki": 1024, "mi": 2**20, "gi": 2**30}


def size_bytes(value: Any) -> int:
    """A size in bytes: a whole number or a number with a unit (25MiB, 10MB, 512KiB)."""
    if isinstance(value, bool | float):
        raise PolicyValueError(f"{value!r} is not a whole number of bytes", "write a size such as 25MiB or 10485760")
    if isinstance(value, int):
        number = value
    else:
        match = _SIZE.fullmatch(_require_str(value, "size"))
        if not match:
            raise PolicyValueError(f"{value!r} is not a size", "write a size such as 25MiB, 10MB or 10485760")
        number = int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    if number <= 0:
        raise PolicyValueError("size must be positive", "write a size such as 25MiB (there is no 'unlimited')")
    if number > 2**40:
        raise PolicyValueError("size is larger than 1 TiB", "write a realistic size such as 50MiB")
    return number


_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,75}$")


def header_name(value: Any) -> str:
    """A message header field name such as ``Subject`` or ``X-Mailer``."""
    text = _require_str(value, "header name").strip().removesuffix(":")
    if not _HEADER_NAME.fullmatch(text):
        raise PolicyValueError(
            f"{text!r} is not a header name", "write the field name without the colon, e.g. Subject or X-Mailer"
        )
    return text


_FORBIDDEN_REGEX = (
    (re.compile(r"\(\?[a-zA-Z]*[aLux]"), "the flags a, L, u (Python-only) or x (verbose)"),
    (re.compile(r"\\N\{"), "\\N{...} named characters"),
)


def header_regex(value: Any) -> str:
    """A PCRE-compatible regular expression matched against a header's value (portable subset)."""
    text = _require_str(value, "pattern")
    if not text or not _MESSAGE_CHARS.fullmatch(text):
        raise PolicyValueError(
            "pattern is empty or contains a control character or non-ASCII",
            "write the pattern on one line in printable ASCII; use \\x escapes for other bytes",
        )
    for forbidden, what in _FORBIDDEN_REGEX:
        if forbidden.search(text):
            raise PolicyValueError(f"pattern uses {what}", "use only syntax that PCRE and Python share")
    try:
        re.compile(text)
    except re.error as exc:
        raise PolicyValueError(f"pattern does not compile: {exc}", "fix the regular expression") from None
    start = len(leading_flags(text))
    if any(position != start for position in _anchor_positions(text)) or "\\A" in text.replace("\\\\", ""):
        raise PolicyValueError(
            "pattern anchors with ^ or \\A somewhere other than its very start",
            "put ^ only first (it means: the header value starts with); use (?:^a|b) forms as ^(?:a|b)",
        )
    return text


_FLAGS_PREFIX = re.compile(r"^\(\?[a-zA-Z]+\)")


def leading_flags(pattern: str) -> str:
    """The inline flag group a pattern starts with, e.g. ``(?i)``, or an empty string."""
    match = _FLAGS_PREFIX.match(pattern)
    return match.group(0) if match else ""


def _anchor_positions(pattern: str) -> list[int]:
    """Positions of ``^`` used as an anchor (not escaped, not inside or negating a character class)."""
    positions: list[int] = []
    escaped = in_class = False
    for index, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]" or (pattern[index - 1] in "[^" and _class_start(pattern, index))
        elif char == "[":
            in_class = True
        elif char == "^":
            positions.append(index)
    return positions


def _class_start(pattern: str, index: int) -> bool:
    """Whether the ``]`` at ``index`` is a literal first member of its class (``[]...]`` or ``[^]...]``)."""
    before = pattern[:index]
    return before.endswith("[") or before.endswith("[^")


_OCTET = r"(?:\d{1,3}|\[\d{1,3}\.\.\d{1,3}\]|\[\d{1,3}(?:;\d{1,3})*\])"
_DNSBL_FILTER = re.compile(rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$")


def _octet_values(part: str) -> set[int]:
    if part.startswith("[") and ".." in part:
        low, high = (int(x) for x in part[1:-1].split(".."))
        if low > high:
            raise PolicyValueError(f"range [{part[1:-1]}] is backwards", "write the smaller number first")
        return set(range(low, high + 1))
    if part.startswith("["):
        return {int(x) for x in part[1:-1].split(";")}
    return {int(part)}


def dnsbl_filter(value: Any) -> str:
    """A DNSBL return-code filter in Postfix's d.d.d.d form (``127.0.0.[2..11]``, ``127.0.0.[2;4]``)."""
    text = _require_str(value, "return-code filter").strip()
    hint = "write a filter such as 127.0.0.2, 127.0.0.[2..11] or 127.0.0.[2;4;10]"
    if not _DNSBL_FILTER.fullmatch(text):
        raise PolicyValueError(f"{text!r} is not a return-code filter", hint)
    octets = [_octet_values(part) for part in re.findall(_OCTET, text)]
    if any(v > 255 for values in octets for v in values):
        raise PolicyValueError(f"{text!r} has a number above 255", hint)
    if octets[0] != {127}:
        raise PolicyValueError(f"{text!r} does not start with 127.", "DNSBL answers are in 127.0.0.0/8; " + hint)
    if 255 in octets[1] and 255 in octets[2]:
        raise PolicyValueError(
            f"{text!r} matches 127.255.255.x, which lists use for errors (e.g. 'query refused'), not listings",
            "exclude 255 from the second or third octet, e.g. 127.0.0.[2..11]",
        )
    return text


SOFTWARE_NAMES = ("postfix", "sendmail", "qmail", "exim", "exchange", "microsoft", "opensmtpd", "ubuntu", "debian")
_VERSION = re.compile(r"\d+\.\d+")


def banner_text(value: Any) -> str:
    """The SMTP greeting: starts with ``{hostname}``, names no software and no version."""
    text = template_text(value, frozenset({"hostname"}))
    if not text.startswith("{hostname}"):
        raise PolicyValueError(
            "banner does not start with {hostname}", "RFC 5321 wants the host name first, e.g. '{hostname} ESMTP'"
        )
    lowered = text.lower()
    for name in SOFTWARE_NAMES:
        if name in lowered:
            raise PolicyValueError(
                f"banner names the software ({name!r})", "leave the software out, e.g. '{hostname} ESMTP'"
            )
    if _VERSION.search(text):
        raise PolicyValueError("banner contains a version-like number", "leave versions out of the banner")
    return text


def absolute_path(value: Any) -> str:
    """An absolute file-system path without control characters, spaces or shell/config metacharacters."""
    text = _require_str(value, "path")
    if not re.fullmatch(r"/[A-Za-z0-9._/+@-]*", text) or "/../" in text + "/":
        raise PolicyValueError(
            f"{text!r} is not a plain absolute path",
            "write an absolute path such as /etc/ssl/private/mx1.key (letters, digits, . _ - + @ and /)",
        )
    return text


def list_file_name(value: Any) -> str:
    """The ``file:`` of a list-file item: a path on one line (relative ones start from the policy's folder)."""
    text = _require_str(value, "file name")
    if not text.strip() or re.search(r"[\x00-\x1f\x7f]", text):
        raise PolicyValueError(f"{text!r} is not a file name", "write the list file's path, e.g. blocklist.txt")
    return text


_ELEMENT = re.compile(r"[a-z_]+(?:\[\d+\])?(?:\.[a-z_]+(?:\[\d+\])?)*")


def element_path(value: Any) -> str:
    """A policy element as coverage names it: ``header_checks``, ``access.helo``, ``dnsbl[0]``.

    Waivers are echoed in reviews and reports, so they are held to that form like any other text."""
    text = _require_str(value, "policy element").strip()
    if not _ELEMENT.fullmatch(text):
        raise PolicyValueError(f"{text[:60]!r} is not a policy element",
                               "write it as COVERAGE.md names it, e.g. header_checks, access.helo or dnsbl[0]")
    return text


def _schema(description: str, **extra: Any) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "description": description, **extra})


DomainName = Annotated[str, BeforeValidator(domain_name), _schema("fully qualified domain name")]
DomainPattern = Annotated[
    str, BeforeValidator(domain_pattern), _schema("domain, or .domain for every subdomain")
]
HeloName = Annotated[str, BeforeValidator(helo_name), _schema("HELO host name or IP address")]
IPNetwork = Annotated[
    ipaddress.IPv4Network | ipaddress.IPv6Network,
    BeforeValidator(ip_network),
    PlainSerializer(lambda n: n.with_prefixlen, return_type=str),
    _schema("IPv4/IPv6 address or CIDR network"),
]
AddressPattern = Annotated[
    str, BeforeValidator(address_pattern), _schema("user@domain, @domain, domain or user@")
]
MessageText = Annotated[str, BeforeValidator(message_text), _schema("one line of printable ASCII")]
SizeBytes = Annotated[
    int, BeforeValidator(size_bytes), WithJsonSchema({"type": ["integer", "string"], "description": "bytes or 25MiB"})
]
HeaderName = Annotated[str, BeforeValidator(header_name), _schema("header field name")]
HeaderRegex = Annotated[str, BeforeValidator(header_regex), _schema("PCRE/Python-compatible regex")]
DnsblFilter = Annotated[str, BeforeValidator(dnsbl_filter), _schema("return-code filter, e.g. 127.0.0.[2..11]")]
DnsblMessage = Annotated[
    str,
    BeforeValidator(lambda v: template_text(v, frozenset({"client", "zone"}))),
    _schema("reply text; {client} and {zone} are filled in"),
]
BannerText = Annotated[str, BeforeValidator(banner_text), _schema("greeting; starts with {hostname}")]
AbsolutePath = Annotated[str, BeforeValidator(absolute_path), _schema("absolute path")]
ElementPath = Annotated[str, BeforeValidator(element_path), _schema("policy element, e.g. access.helo")]


def host_name(value: Any) -> str:
    """A host name; a single label (NetBIOS-style server name) is allowed."""
    text = _require_str(value, "host name").strip().lower().removesuffix(".")
    return _check_labels(text, "host name", min_labels=1)


def listen_address(value: Any) -> str:
    """Where a daemon listens: ``all``, ``loopback-only`` or one IP address."""
    text = _require_str(value, "listen address").strip().lower()
    if text in ("all", "loopback-only"):
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise PolicyValueError(
            f"{text!r} is not a listen address", "write all, loopback-only or an IP address such as 192.0.2.25"
        ) from None


HostName = Annotated[str, BeforeValidator(host_name), _schema("host name")]
ListenAddress = Annotated[str, BeforeValidator(listen_address), _schema("all, loopback-only or an IP address")]


def listen_ip(value: Any) -> str:
    """One IP address to bind to."""
    text = _require_str(value, "address").strip()
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise PolicyValueError(f"{text!r} is not an IP address", "write an address such as 192.0.2.25") from None


ListenIP = Annotated[str, BeforeValidator(listen_ip), _schema("an IP address")]


_PARAMETER_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def parameter_name(value: Any) -> str:
    """A configuration parameter name such as ``queue_directory``."""
    text = _require_str(value, "parameter name").strip()
    if not _PARAMETER_NAME.fullmatch(text):
        raise PolicyValueError(f"{text!r} is not a parameter name", "use lower-case letters, digits and _")
    return text


def parameter_value(value: Any) -> str:
    """A parameter value: one line of printable ASCII (numbers and booleans are written as text)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    text = _require_str(value, "parameter value")
    if not _MESSAGE_CHARS.fullmatch(text):
        raise PolicyValueError("parameter value has a control or non-ASCII character", "write it on one line")
    return text.strip()


ParameterName = Annotated[str, BeforeValidator(parameter_name), _schema("parameter name")]
ParameterValue = Annotated[str, BeforeValidator(parameter_value), _schema("parameter value")]
