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

from ..software_names import SOFTWARE_NAMES  # shared with the probe, which starts without pydantic
from . import canonical
from .wording import kind_of


class PolicyValueError(ValueError):
    """A value that does not fit its type; ``hint`` says how to fix it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_IDNA_HINT = "use letters, digits, hyphens and dots only; write an internationalised name in its xn-- form"


def _require_str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise PolicyValueError(f"{what} must be text, not {kind_of(value)}", f"write the {what} as text")
    return value


def _plain_name(value: Any, what: str) -> str:
    """A name as text, ASCII only (checked before ``lower()``, which turns e.g. the Kelvin sign into k)."""
    text = _require_str(value, what)
    if not text.isascii():
        bad = next(c for c in text if not c.isascii())
        raise PolicyValueError(f"{what} {_shown(text)} contains a non-ASCII character ({bad!r})", _IDNA_HINT)
    return text.strip().lower()


def _shown(text: str) -> str:
    """A value quoted for a message, cut short: an error repeats what was written, never a whole file."""
    return repr(text) if len(text) <= 60 else repr(text[:60]) + "…"


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
    name = _plain_name(value, "domain").removesuffix(".")
    return _check_labels(name, "domain", min_labels=2)


def domain_pattern(value: Any) -> str:
    """A mail domain: ``example.org`` (exactly that domain) or ``.example.org`` (every subdomain)."""
    text = _plain_name(value, "domain").removesuffix(".")
    if text.startswith("*."):
        raise PolicyValueError(
            f"domain {text!r} uses '*.'", "write .example.org (leading dot) to match every subdomain"
        )
    if text.startswith("."):
        return "." + _check_labels(text[1:], "domain", min_labels=2)
    return _check_labels(text, "domain", min_labels=2)


def helo_name(value: Any) -> str:
    """A HELO/EHLO argument to match: a host name (one label allowed) or an address literal."""
    text = _plain_name(value, "HELO name")
    literal = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    literal = literal.removeprefix("ipv6:")
    if ":" in literal or _DOTTED.fullmatch(literal):  # no host name has a colon or is all digits and dots
        return canonical.address(ip_address(literal, "HELO address"))
    return _check_labels(text.removesuffix("."), "HELO name", min_labels=1)


_DOTTED = re.compile(r"[0-9.]+")
_ADDRESS_TEXT = re.compile(r"[0-9A-Fa-f:.]{2,45}")
_PREFIX_TEXT = re.compile(r"0|[1-9][0-9]{0,2}")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_COMPATIBLE = ipaddress.IPv6Network("::/96")
_UNSPECIFIED_AND_LOOPBACK = (ipaddress.IPv6Network("::/128"), ipaddress.IPv6Network("::1/128"))
_IP_HINT = "write an address such as 192.0.2.7 or 2001:db8::7"
_NETWORK_HINT = "write an address such as 192.0.2.7 or a network such as 192.0.2.0/24 or 2001:db8::/32"


def _address_text(text: str, what: str, hint: str) -> None:
    """Refuse, before ``ipaddress`` sees it, any text but the plain hex/decimal form of an address."""
    if "%" in text:
        raise PolicyValueError(
            f"{what} {_shown(text)} carries an IPv6 zone id (the part from '%')",
            "leave out '%' and what follows: a zone id names an interface of one host, and no mail server "
            "reads one in an access rule, a trusted network or a listen address",
        )
    if not _ADDRESS_TEXT.fullmatch(text):
        raise PolicyValueError(f"{what} {_shown(text)} is not an IP address", hint)


def _refuse_embedded_ipv4(network: ipaddress.IPv4Network | ipaddress.IPv6Network, text: str, what: str) -> None:
    """IPv4-mapped (``::ffff:1.2.3.4``) and IPv4-compatible (``::1.2.3.4``) forms: MTAs read them apart."""
    if not isinstance(network, ipaddress.IPv6Network) or network.prefixlen < 96:
        return
    embedded = ipaddress.IPv4Address(int(network.network_address) & 0xFFFFFFFF)
    if network.subnet_of(_MAPPED):
        form = "IPv4-mapped"
    elif network.subnet_of(_COMPATIBLE) and network not in _UNSPECIFIED_AND_LOOPBACK:
        form = "IPv4-compatible"
    else:
        return
    plain = canonical.address(embedded) + ("" if network.prefixlen == 128 else f"/{network.prefixlen - 96}")
    raise PolicyValueError(
        f"{what} {_shown(text)} is an {form} IPv6 form of an IPv4 address",
        f"write it as IPv4: {plain} (mail servers match IPv4 clients against IPv4 entries only)",
    )


def ip_address(value: Any, what: str = "address") -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """One IP address in a plain form: no zone id, no IPv4-mapped or -compatible form, no leading zeros."""
    text = _require_str(value, what).strip()
    _address_text(text, what, _IP_HINT)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise PolicyValueError(f"{what} {_shown(text)} is not an IP address", _IP_HINT) from None
    _refuse_embedded_ipv4(ipaddress.ip_network(address), text, what)
    return address


def ip_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An IPv4/IPv6 address or CIDR network with no host bits set, in a plain form (see :func:`ip_address`)."""
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return value
    text = _require_str(value, "network").strip()
    address, slash, prefix = text.partition("/")
    _address_text(address, "network", _NETWORK_HINT)
    if slash and not _PREFIX_TEXT.fullmatch(prefix):
        raise PolicyValueError(
            f"network {_shown(text)} has a prefix length that is not a plain number ({_shown(prefix)})",
            "write the prefix length as a plain number, e.g. 192.0.2.0/24 (no netmask, no leading zero)",
        )
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise PolicyValueError(f"{_shown(text)} is not an IP address or CIDR network ({exc})",
                                   _NETWORK_HINT) from None
        _refuse_embedded_ipv4(loose, text, "network")
        raise PolicyValueError(
            f"{_shown(text)} has host bits set", f"did you mean {canonical.network(loose)}?"
        ) from None
    _refuse_embedded_ipv4(network, text, "network")
    return network


_LOCAL_PART = re.compile(r"^[a-z0-9._+=-]{1,64}$")


def address_pattern(value: Any) -> str:
    """An envelope address pattern: ``user@example.org``, ``@example.org``, ``example.org`` or ``user@``."""
    text = _plain_name(value, "address")
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


def dns_label(value: Any) -> str:
    """One DNS label (a DKIM selector), canonical lower case."""
    text = _plain_name(value, "label")
    if not _LABEL.fullmatch(text):
        raise PolicyValueError(f"{_shown(text)} is not a DNS label",
                               "use letters, digits and inner hyphens, at most 63 characters, e.g. s2026")
    return text


_MAILBOX_LOCAL = re.compile(r"^[A-Za-z0-9._+=-]{1,64}$")


def plain_mailbox(value: Any) -> str:
    """A mailbox ``local@domain`` with a plain local part (letters, digits and ``._+=-``)."""
    text = _require_str(value, "address")
    local, at, domain = text.rpartition("@")
    if not at or not _MAILBOX_LOCAL.fullmatch(local) or local.startswith(".") or ".." in local:
        raise PolicyValueError(f"{_shown(text)} is not a plain mail address",
                               "write local@domain with letters, digits and . _ + = - before the @")
    return f"{local}@{domain_name(domain)}"


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
# The README's units. A bare K, M or G (or Ki, Mi, Gi) is refused: Exim reads 10M as 10 MiB, other
# tools as 10 MB, and a limit should not depend on which one the reader has in mind.
_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}


def size_bytes(value: Any) -> int:
    """A size in bytes: a whole number or a number with a unit (25MiB, 10MB, 512KiB)."""
    if isinstance(value, bool | float):
        raise PolicyValueError(f"{value!r} is not a whole number of bytes", "write a size such as 25MiB or 10485760")
    if isinstance(value, int):
        number = value
    elif not isinstance(value, str):
        raise PolicyValueError(f"a size must be a number or text, not {kind_of(value)}",
                               "write a size such as 25MiB or 10485760")
    else:
        match = _SIZE.fullmatch(value)
        if not match:
            raise PolicyValueError(f"{value!r} is not a size", "write a size such as 25MiB, 10MB or 10485760")
        unit = (match.group(2) or "").lower()
        if unit not in _UNITS:
            count, letter = int(match.group(1)), unit[0].upper()
            power = "KMG".index(letter) + 1
            raise PolicyValueError(f"{value!r} has no unit of the policy ({letter} alone means 1000 to some tools "
                                   "and 1024 to others)", f"write {count}{letter}B ({count * 1000**power:,} bytes) "
                                   f"or {count}{letter}iB ({count * 1024**power:,} bytes)")
        number = int(match.group(1)) * _UNITS[unit]
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


def charset(value: Any) -> str:
    """A charset header text arrives in (its codec name): raw-header targets match its bytes and encoded words."""
    text = _require_str(value, "charset")
    from ..engines import header_forms  # header engines load with the first header rule, not with the probe

    name = header_forms.canonical_charset(text.strip())
    if name is None:
        raise PolicyValueError(f"{text!r} is not a charset mtaharden matches",
                               "use one of " + ", ".join(header_forms.charset_label(c) for c in header_forms.CHARSETS))
    return name


def header_regex(value: Any) -> str:
    """A header pattern in the portable grammar (policy/pattern.py) that PCRE2 also compiles.

    The grammar is the allow-list; then Python's ``re`` and, where the library is installed, PCRE2
    with Postfix's own options compile the pattern's readings, so neither can skip it at run time.
    """
    from ..engines import header_forms, pcre2
    from . import pattern

    text = _require_str(value, "pattern")
    try:
        parsed = pattern.parse(text)
    except pattern.PatternError as exc:
        raise PolicyValueError(f"pattern {text[:60]!r}: {exc}", exc.hint) from None
    if pattern.has_text(parsed):
        try:
            header_forms.literals(parsed)
        except header_forms.NotLiteral as exc:
            raise PolicyValueError(f"pattern {text[:60]!r}: {exc}", "write the non-ASCII part as literal text or "
                                   "alternatives of it, e.g. (?i)(发票|代开); put other conditions in another check") \
                from None
        return text
    body = pattern.pcre_body(parsed)
    try:
        pattern.python_regex(parsed)
        if pcre2.available():
            pcre2.check(pcre2.postfix_header_regex("X", body, parsed.anchored_start), pcre2.POSTFIX_HEADER_OPTIONS)
    except (re.error, pcre2.CompileError) as exc:
        raise PolicyValueError(f"pattern {text[:60]!r} does not compile: {exc}", "simplify the pattern") from None
    return text


# [0-9], not \d: \d takes the digits of every script, and the filter is written out as it was given
_OCTET = r"(?:[0-9]{1,3}|\[[0-9]{1,3}\.\.[0-9]{1,3}\]|\[[0-9]{1,3}(?:;[0-9]{1,3})*\])"
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


def filter_octets(text: str) -> list[set[int]]:
    """The values each octet of a valid return-code filter allows (the evaluator matches answers with it)."""
    return [_octet_values(part) for part in re.findall(_OCTET, text)]


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
    """An absolute file-system path without control characters, spaces or shell/config metacharacters.

    Canonical: no trailing slash, no empty, ``.`` or ``..`` segment (each tool resolves those its own way)."""
    text = _require_str(value, "path")
    path = text.rstrip("/") or "/"
    odd_segment = path != "/" and any(f"/{segment}/" in path + "/" for segment in ("", ".", ".."))
    if not re.fullmatch(r"/[A-Za-z0-9._/+@-]*", path) or odd_segment:
        raise PolicyValueError(
            f"{_shown(text)} is not a plain absolute path",
            "write an absolute path such as /etc/ssl/private/mx1.key (letters, digits, . _ - + @ and /; "
            "no '..', '.' or '//')",
        )
    return path


_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


def queue_path(value: Any) -> str:
    """A path below Postfix's queue folder, e.g. ``private/auth``: relative, no ``.``/``..`` or empty segment.

    Postfix resolves it from the queue (or the chroot); ``..`` would point a daemon at a socket elsewhere."""
    text = _require_str(value, "path").strip()
    segments = text.split("/")
    if len(text) > 200 or not all(_SEGMENT.fullmatch(s) and s.strip(".") for s in segments):
        raise PolicyValueError(
            f"{_shown(text)} is not a plain path below the queue folder",
            "write a relative path such as private/auth (letters, digits, . _ -; no leading /, no '..')",
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
    PlainSerializer(canonical.network, return_type=str),
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
Charset = Annotated[str, BeforeValidator(charset), _schema("charset: UTF-8, GB18030, GBK, GB2312, Big5, ...")]
HeaderRegex = Annotated[str, BeforeValidator(header_regex), _schema("header pattern in the portable regex syntax")]
DnsblFilter = Annotated[str, BeforeValidator(dnsbl_filter), _schema("return-code filter, e.g. 127.0.0.[2..11]")]
DnsblMessage = Annotated[
    str,
    BeforeValidator(lambda v: template_text(v, frozenset({"client", "zone"}))),
    _schema("reply text; {client} and {zone} are filled in"),
]
BannerText = Annotated[str, BeforeValidator(banner_text), _schema("greeting; starts with {hostname}")]
AbsolutePath = Annotated[str, BeforeValidator(absolute_path), _schema("absolute path")]
QueuePath = Annotated[str, BeforeValidator(queue_path), _schema("path relative to the queue folder")]
ElementPath = Annotated[str, BeforeValidator(element_path), _schema("policy element, e.g. access.helo")]


def host_name(value: Any) -> str:
    """A host name; a single label (NetBIOS-style server name) is allowed."""
    text = _plain_name(value, "host name").removesuffix(".")
    return _check_labels(text, "host name", min_labels=1)


def listen_address(value: Any) -> str:
    """Where a daemon listens: ``all``, ``loopback-only`` or one IP address."""
    text = _require_str(value, "listen address").strip().lower()
    if text in ("all", "loopback-only"):
        return text
    if not _ADDRESS_TEXT.fullmatch(text) and "%" not in text:
        raise PolicyValueError(f"{_shown(text)} is not a listen address",
                               "write all, loopback-only or an IP address such as 192.0.2.25")
    return canonical.address(ip_address(text, "listen address"))


HostName = Annotated[str, BeforeValidator(host_name), _schema("host name")]
ListenAddress = Annotated[str, BeforeValidator(listen_address), _schema("all, loopback-only or an IP address")]


def listen_ip(value: Any) -> str:
    """One IP address to bind to."""
    return canonical.address(ip_address(value))


def listen_ipv4(value: Any) -> str:
    """One IPv4 address to bind to (0.0.0.0: every address)."""
    address = ip_address(value, "IPv4 address")
    if address.version != 4:
        raise PolicyValueError(f"{address} is not an IPv4 address", "write an IPv4 address such as 192.0.2.25")
    return canonical.address(address)


ListenIP = Annotated[str, BeforeValidator(listen_ip), _schema("an IP address")]
ListenIPv4 = Annotated[str, BeforeValidator(listen_ipv4), _schema("an IPv4 address")]


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
