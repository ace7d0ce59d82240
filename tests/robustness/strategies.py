"""Hypothesis strategies for valid policies, derived from the policy model itself.

Why from the model: every field of every model gets its strategy from its type (Literal, bool, int
bounds, str patterns, optionals, unions, lists, nested models) and, for the strict value types of
:mod:`mtaharden.policy.types`, from :data:`VALUES`, keyed by the type's validator. A field added to the
contract is fuzzed the day it is added; a new value type without an entry here fails loudly. Drawn
text leans on what breaks configuration files: m4 words, shell and PowerShell metacharacters, comment
and separator characters. Cross-field rules are met by repairing a drawn policy with the findings of
:mod:`mtaharden.policy.rules` itself, so the strategy never restates them.
"""

from __future__ import annotations

import ipaddress
import re
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from annotated_types import Ge, Le, MinLen
from hypothesis import reject
from hypothesis import strategies as st
from pydantic import BaseModel, BeforeValidator

from mtaharden.policy import Policy, hardening, rules
from mtaharden.policy import options as target_options
from mtaharden.policy import types as policy_types
from mtaharden.policy.lists import EntryFile
from mtaharden.policy.model import Tls
from mtaharden.policy.options import _delivery, procmail
from mtaharden.policy.options._version import DEBIAN_12
from mtaharden.policy.options.postfix import PostfixOptions
from mtaharden.policy.options.postfix.parameters import ALLOWED
from mtaharden.policy.types import PolicyValueError

Strategy = st.SearchStrategy[Any]
MAX_ITEMS = 3

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
# Words that mean something to a target's file format or tool: m4 macros (with and without
# arguments; those that run print to stderr, which fails the m4 check), Sendmail and Postfix macros,
# shell and PowerShell syntax, comment and separator characters.
TRICKY_WORDS = (
    "dnl", "divert", "m4exit", "LOCAL_CONFIG", "esyscmd(echo injected >&2)", "errprint(injected)",
    "include(/etc/passwd)", "`quoted'",
    "$v", "$j", "$$", "${client_address}", "$(whoami)", "`id`", "; rm -rf /", "a|b", "a&b", "@' x '@", "'", '"',
    "#", "=", ",", ":", "\\", "%s", "<>", "[x]", "(", ")",
)
# Domain labels that are m4 or sendmail-cf macro names (m4 expands a word wherever it stands).
M4_LABELS = ("dnl", "divert", "undivert", "m4exit", "m4", "lower", "unix", "include", "index", "define", "eval")
LABEL = st.one_of(st.sampled_from(M4_LABELS), st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,14}[a-z0-9])?", fullmatch=True))
# Site parameters come from the allow-list (anything else is refused, and a refused policy draws no
# render): each with its own valid example, and the reply footer — the one free-text value — with text
# that holds the "$" forms it allows ("$$" and the attributes Postfix expands there).
FOOTER_WORDS = (*(w for w in TRICKY_WORDS if "$" not in w), "$$", "$client_address", "$server_name", "$localtime")
SITE_EXAMPLES = st.sampled_from(sorted(ALLOWED)).map(lambda name: (name, ALLOWED[name].example))
WAIVABLE = ("header_checks", "access", "access.helo", "dnsbl", "smtp", "smtp.banner", "smtp.require_helo",
            "smtp.strict_envelopes", "smtp.max_recipients", "tls", "auth", "role", "domains.local")


def _accepted_by(validator: Callable[[Any], Any]) -> Callable[[Any], bool]:
    def accepted(value: Any) -> bool:
        try:
            validator(value)
        except PolicyValueError:
            return False
        return True

    return accepted


def text(max_size: int, words: Sequence[str] = TRICKY_WORDS, alphabet: Strategy = PRINTABLE
         ) -> st.SearchStrategy[str]:
    """One line of printable ASCII, often made of words a configuration format would act on."""
    piece = st.one_of(st.sampled_from(words), st.text(alphabet, min_size=1, max_size=12))
    return (st.lists(piece, min_size=1, max_size=8).map(" ".join).map(lambda s: s[:max_size].strip())
            .filter(bool))


def domains(min_labels: int = 2) -> st.SearchStrategy[str]:
    name = st.lists(LABEL, min_size=min_labels, max_size=4).map(".".join)
    return st.one_of(name, name.map(str.upper), name.map(lambda n: n + "."))


def ip_addresses() -> st.SearchStrategy[str]:
    return st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))


def networks() -> st.SearchStrategy[str]:
    """Networks without host bits (the types refuse those), and bare addresses."""
    v4 = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)).map(
        lambda t: ipaddress.IPv4Network(t, strict=False).with_prefixlen)
    v6 = st.tuples(st.integers(0, 2**128 - 1), st.integers(0, 128)).map(
        lambda t: ipaddress.IPv6Network(t, strict=False).with_prefixlen)
    return st.one_of(v4, v6, ip_addresses())


def address_patterns() -> st.SearchStrategy[str]:
    local = st.from_regex(r"[a-z0-9_+=-](?:[a-z0-9._+=-]{0,10}[a-z0-9_+=-])?", fullmatch=True).filter(
        lambda s: ".." not in s)
    return st.one_of(st.tuples(local, domains()).map("@".join), domains().map(lambda d: "@" + d), domains(),
                     local.map(lambda s: s + "@"))


def header_patterns() -> st.SearchStrategy[str]:
    """Regexes the policy accepts: escaped tricky text, a few constructs, an optional (?i) and ^ first."""
    atom = st.one_of(text(20).map(re.escape), st.sampled_from(
        [".", ".*", "\\d+", "[a-z]+", "[^#]", "(?:ab|cd)", "x{2,3}", "\\s", "a?", "/", "'", "`", "$"]))
    built = st.tuples(st.sampled_from(["", "(?i)"]), st.sampled_from(["", "^"]),
                      st.lists(atom, min_size=1, max_size=4).map("".join)).map("".join)
    return st.one_of(built, st.text(PRINTABLE, min_size=1, max_size=15))


def dnsbl_filters() -> st.SearchStrategy[str]:
    number = st.integers(0, 255).map(str)
    span = st.tuples(st.integers(0, 255), st.integers(0, 255)).map(lambda t: f"[{min(t)}..{max(t)}]")
    listed = st.lists(st.integers(0, 255).map(str), min_size=1, max_size=4).map(lambda xs: f"[{';'.join(xs)}]")
    octet = st.one_of(number, span, listed)
    return st.tuples(octet, octet, octet).map(lambda t: "127." + ".".join(t))


def placeholder_text(allowed: Sequence[str], max_size: int = 150) -> st.SearchStrategy[str]:
    words = [w for w in TRICKY_WORDS if "{" not in w and "}" not in w] + ["{" + name + "}" for name in allowed]
    return text(max_size, words)


def banners() -> st.SearchStrategy[str]:
    rest = placeholder_text(["hostname"], 120)
    return st.one_of(st.just("{hostname} ESMTP"), rest.map(lambda s: "{hostname} " + s))


def absolute_paths() -> st.SearchStrategy[str]:
    part = st.one_of(st.sampled_from(["dnl", "m4exit", "LOCAL_CONFIG", "divert", "+x", "@y", "-z", ".d"]),
                     st.from_regex(r"[A-Za-z0-9._+@-]{1,12}", fullmatch=True))
    return st.lists(part, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))


def sizes() -> st.SearchStrategy[int | str]:
    unit = st.sampled_from(["", "B", "KB", "KiB", "MB", "MiB", "GB", "GiB", "k", "m"])
    written = st.tuples(st.integers(1, 2048), unit).map(lambda t: f"{t[0]}{t[1]}")
    return st.one_of(st.integers(1, 2**40), written)


def _validator(alias: Any) -> Callable[..., Any]:
    return next(m.func for m in alias.__metadata__ if isinstance(m, BeforeValidator))


# Strategies for the strict value types, keyed by the validator each type runs.
_DRAWN: dict[Callable[..., Any], Strategy] = {
    _validator(policy_types.DomainName): domains(),
    _validator(policy_types.DomainPattern): st.one_of(domains(), domains().map(lambda d: "." + d)),
    _validator(policy_types.HeloName): st.one_of(domains(1), ip_addresses(), ip_addresses().map(lambda a: f"[{a}]")),
    _validator(policy_types.IPNetwork): networks(),
    _validator(policy_types.AddressPattern): address_patterns(),
    _validator(policy_types.MessageText): text(200),
    _validator(policy_types.SizeBytes): sizes(),
    _validator(policy_types.HeaderName): st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,30}:?", fullmatch=True),
    _validator(policy_types.HeaderRegex): header_patterns(),
    _validator(policy_types.Charset): st.sampled_from(["UTF-8", "utf8", "GB18030", "gbk", "GB2312", "Big5"]),
    _validator(policy_types.DnsblFilter): dnsbl_filters(),
    _validator(policy_types.DnsblMessage): placeholder_text(["client", "zone"]),
    _validator(policy_types.BannerText): banners(),
    _validator(policy_types.AbsolutePath): absolute_paths(),
    _validator(policy_types.HostName): domains(1),
    _validator(policy_types.ListenAddress): st.one_of(st.sampled_from(["all", "loopback-only"]), ip_addresses()),
    _validator(policy_types.ListenIP): ip_addresses(),
    _validator(policy_types.ListenIPv4): st.ip_addresses(v=4).map(str),
    _delivery.folder_name: st.one_of(st.sampled_from(["Junk", "Quarantine", "INBOX", "Spam-2"]), text(70)),
    _delivery.tag_header: st.one_of(st.from_regex(r"X-[A-Za-z0-9][A-Za-z0-9-]{0,20}", fullmatch=True), text(30)),
    procmail.maildir_path: st.one_of(st.sampled_from(["$HOME/Maildir", "$HOME/.mail"]), absolute_paths(), text(30)),
    policy_types.dns_label: st.one_of(st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True), text(30)),
    hardening.report_uri: st.one_of(st.sampled_from(["mailto:dmarc@example.org", "tlsrpt@example.org"]), text(30)),
    hardening.mx_pattern: st.one_of(st.sampled_from(["mx1.example.org", "*.example.org"]), text(30)),
    _validator(policy_types.QueuePath): st.from_regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,10}(?:/[A-Za-z0-9_-]{1,10}){0,2}",
                                                      fullmatch=True),
}
# Each kept to what its validator accepts: the drawing leans on edge cases, the type decides.
VALUES = {validator: strategy.filter(_accepted_by(validator)) for validator, strategy in _DRAWN.items()}
SITE_FOOTERS = text(80, FOOTER_WORDS, PRINTABLE.filter(lambda c: c != "$")).map(lambda t: ("smtpd_reject_footer", t))
# Fields whose type says too little (free lists of names) or that name things on the host.
FIELDS: dict[tuple[type[BaseModel], str], Strategy] = {
    **{(options, "allow_unsupported"): st.lists(st.sampled_from(WAIVABLE), max_size=6, unique=True)
       for options in (module.Options for module in target_options.modules())},
    (PostfixOptions, "parameters"): st.lists(st.one_of(SITE_EXAMPLES, SITE_FOOTERS), max_size=MAX_ITEMS).map(dict),
    # the version each MTA of the fuzzing hosts runs: a render for another version is the unit tests' to check
    **{(module.Options, "version"): st.just(DEBIAN_12[name])
       for name, module in zip(target_options.names(), target_options.modules(), strict=True) if name in DEBIAN_12},
}


def for_type(annotation: Any, metadata: Sequence[Any] = ()) -> Strategy:
    """A strategy for values of ``annotation`` (with pydantic's constraint ``metadata``)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    validator = next((m.func for m in metadata if isinstance(m, BeforeValidator)), None)
    if origin is typing.Annotated:
        return for_type(args[0], [*metadata, *annotation.__metadata__])
    if validator is not None:
        return VALUES[validator]
    if annotation is EntryFile:  # a list file is read from disk: fuzzed policies keep every entry inline
        return st.nothing()
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(for_type(arg, metadata) for arg in args))
    if origin is list:
        min_size = max((m.min_length for m in metadata if isinstance(m, MinLen)), default=0)
        return st.lists(for_type(args[0]), min_size=min_size, max_size=MAX_ITEMS)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_dicts(annotation)
    return _scalar(annotation, metadata)


def _scalar(annotation: Any, metadata: Sequence[Any]) -> Strategy:
    if annotation is type(None):
        return st.none()
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = max((typing.cast(int, m.ge) for m in metadata if isinstance(m, Ge)), default=0)
        high = min((typing.cast(int, m.le) for m in metadata if isinstance(m, Le)), default=10**6)
        return st.integers(low, high)
    pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
    if annotation is str and pattern:
        return st.from_regex(pattern, fullmatch=True)
    raise TypeError(f"no strategy for {annotation!r} {metadata!r}: add one to VALUES or FIELDS")


def model_dicts(model: type[BaseModel], *, every_field: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping for ``model`` as a policy file writes it: each optional key present or left to its default."""
    fields = {name: FIELDS[model, name] if (model, name) in FIELDS else for_type(field.annotation, field.metadata)
              for name, field in model.model_fields.items()}
    required = {name: fields[name] for name, field in model.model_fields.items() if field.is_required() or every_field}
    optional = {name: strategy for name, strategy in fields.items() if name not in required}
    return st.fixed_dictionaries(required, optional=optional)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy, as the dict a policy file holds. AUTH comes with a certificate (it wants STARTTLS
    by default); whatever else a cross-field rule finds is removed."""
    data = draw(model_dicts(Policy))
    if data.get("auth", {}).get("enabled") and data.get("tls") is None:
        data["tls"] = draw(model_dicts(Tls, every_field=True))
    repaired = repair(data)
    if repaired is None:
        reject()
    return repaired


def repair(data: dict[str, Any], passes: int = 12) -> dict[str, Any] | None:
    """Remove what a cross-field rule finds, one finding at a time, until none does (None: gave up)."""
    for _ in range(passes):
        findings = rules.check(Policy.model_validate(data))
        if not findings:
            return data
        _remove(data, findings[0].path)
    return None


def _remove(data: dict[str, Any], path: tuple[Any, ...]) -> None:
    """Drop the list item (or key) a finding names; when the key is absent, its parent, back to the defaults."""
    cut = next((i + 1 for i, step in enumerate(path) if isinstance(step, int)), len(path))
    path = path[:cut]
    while path:
        parent: Any = data
        for step in path[:-1]:
            parent = parent[step] if isinstance(parent, list) or step in parent else {}
        key = path[-1]
        if key < len(parent) if isinstance(parent, list) else key in parent:
            del parent[key]
            return
        path = path[:-1]
