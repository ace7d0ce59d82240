"""A policy change in words, with the risky parts flagged for a second reviewer.

Two validated Policies are compared, never two YAML texts, so reformatting a policy (comments, key
order, quoting, flow or block style) is no change at all. A change is *risky* when it can let more
clients relay or weakens a protection: a trusted network added or widened, wide networks allowed,
SMTP AUTH turned on or accepted without TLS, a relay domain added, a DNSBL dropped, VRFY/EXPN
re-enabled, a limit raised, or a target allowed to leave an element unenforced. Everything else is
reported plainly, so no change goes unmentioned.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from ..policy import Policy
from ..policy.lists import within
from ..policy.model import AddressRule, ClientRule, DnsblEntry, HeaderCheck, HeloRule, ListFileRule, Targets
from ..policy.transaction import Transaction

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Rule = TypeVar("Rule", bound=BaseModel)

TRUST_RISK = "clients there may relay without authenticating"
LIMITS = {
    "max_message_size": "largest message",
    "max_recipients": "recipients per message",
    "max_connections_per_client": "simultaneous connections per client",
}
# paths explained by the functions below; every other changed value is reported as it is
_EXPLAINED = re.compile(r"^(?:domains|networks|dnsbl|access|header_checks)(?:\.|$)|^auth\.(?:enabled|require_tls)$"
                        r"|^smtp\.(?:disable_vrfy|disable_expn|max_\w+)$|^targets\.\w+\.allow_unsupported$")


@dataclass(frozen=True)
class Change:
    """One change: the policy element, what changed in words, and why it is risky (None: it is not)."""

    element: str
    what: str
    risk: str | None = None

    @property
    def risky(self) -> bool:
        return self.risk is not None


def diff_policies(old: Policy, new: Policy) -> list[Change]:
    """Every change in meaning from ``old`` to ``new``, in the order of the policy contract."""
    edits = [
        *_domains(old, new),
        *_trusted(old.networks.trusted, new.networks.trusted),
        *_flag("networks.allow_wide_trusted", old.networks.allow_wide_trusted, new.networks.allow_wide_trusted,
               weak=True, weak_words="networks wider than /8 (IPv4) or /32 (IPv6) allowed as trusted",
               strong_words="networks wider than /8 (IPv4) or /32 (IPv6) no longer allowed as trusted",
               risk="one line can then make this server an open relay"),
        *_auth(old, new),
        *_rules("dnsbl", old.dnsbl, new.dnsbl, lambda e: e.zone, _dnsbl_words,
                removal_risk="mail from clients listed there is no longer refused"),
        *(change for stage in ("clients", "helo", "senders", "recipients")
          for change in _rules(f"access.{stage}", getattr(old.access, stage), getattr(new.access, stage),
                               _access_subject, _access_words)),
        *_rules("header_checks", old.header_checks, new.header_checks, lambda c: f"{c.header}: /{c.pattern}/",
                _header_words, change_risk=_header_weakened),
        *_flag("smtp.disable_vrfy", old.smtp.disable_vrfy, new.smtp.disable_vrfy, weak=False,
               weak_words="VRFY re-enabled", strong_words="VRFY disabled",
               risk="anyone can test which addresses exist"),
        *_flag("smtp.disable_expn", old.smtp.disable_expn, new.smtp.disable_expn, weak=False,
               weak_words="EXPN re-enabled", strong_words="EXPN disabled",
               risk="anyone can list the members of aliases and mailing lists"),
        *_limits(old, new),
        *_waivers(old.targets, new.targets),
        *_other_values(old, new),
    ]
    return edits + list(_meaning(old, new, [change.element for change in edits if change.risky]))


MEANING_RISK = {
    "accept": "mail the old policy refused is accepted now",
    "defer": "mail the old policy refused is only deferred now: the sender may retry until it is accepted elsewhere",
}
SWALLOW_RISK = "a relay domain's mail is delivered here now instead of being forwarded to its own server"


def _meaning(old: Policy, new: Policy, flagged: Sequence[str]) -> Iterator[Change]:
    """Weakenings the reference evaluator finds on sample transactions (what the edits above *do*), but for
    those an edit already flagged risky explains (the element that decided before or decides now)."""
    from ..policy.evaluate import authenticated, trusted
    from .weakenings import weakenings

    def explained(element: str | None) -> bool:
        base = (element or "").split("[", 1)[0]
        return bool(base) and any(e.startswith(base) or base.startswith(e) for e in flagged)

    def newly_trusted(t: Transaction) -> bool:
        """A client the flagged trust or AUTH change alone lets relay: that change is the finding."""
        return (explained("networks.trusted") and trusted(old, t) != trusted(new, t)) or (
            explained("auth") and authenticated(old, t) != authenticated(new, t))

    for found in weakenings(old, new, newly_trusted):
        if explained(found.before.element) or explained(found.after.element):
            continue
        risk = MEANING_RISK.get(found.after.verdict, "") if found.before.verdict != found.after.verdict else (
            SWALLOW_RISK)
        yield Change(f"meaning: {found.element}", found.words, risk)


def _domains(old: Policy, new: Policy) -> Iterator[Change]:
    for kind, risk in (("local", None), ("relay", "this server will accept mail for it and forward it")):
        before, after = getattr(old.domains, kind), getattr(new.domains, kind)
        yield from (Change(f"domains.{kind}", f"{kind} domain added: {d}", risk) for d in after if d not in before)
        yield from (Change(f"domains.{kind}", f"{kind} domain removed: {d}") for d in before if d not in after)


def _trusted(before: Sequence[Network], after: Sequence[Network]) -> Iterator[Change]:
    """Added, widened, narrowed and removed trusted networks; more addresses trusted is risky."""
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    element = "networks.trusted"
    for network in added:
        if any(within(network, o) for o in removed):
            continue  # a narrowed network: reported with the one it replaces
        wider_than = [o for o in removed if within(o, network)]
        if _already_trusted(network, before):
            yield Change(element, f"trusted network added: {network} (its addresses were already trusted)")
        elif wider_than:
            yield Change(element, f"trusted network widened: {_listed(wider_than)} → {network}", TRUST_RISK)
        else:
            yield Change(element, f"trusted network added: {network}", TRUST_RISK)
    for network in removed:
        if any(within(network, n) for n in added):
            continue  # reported as widened
        narrower = [n for n in added if within(n, network)]
        yield Change(element, f"trusted network narrowed: {network} → {_listed(narrower)}" if narrower
                     else f"trusted network removed: {network}")


def _already_trusted(network: Network, before: Sequence[Network]) -> bool:
    """Whether the old networks, merged, contain ``network`` (a CIDR inside a union lies inside one part)."""
    same_version = [n for n in before if n.version == network.version]
    merged = ipaddress.collapse_addresses(same_version)  # type: ignore[type-var]  # one version, as it needs
    return any(within(network, part) for part in merged)


def _flag(element: str, before: bool, after: bool, *, weak: bool, weak_words: str, strong_words: str,
          risk: str) -> Iterator[Change]:
    """A flag that changed; turning it to its ``weak`` value is risky."""
    if before != after:
        yield Change(element, weak_words, risk) if after == weak else Change(element, strong_words)


def _auth(old: Policy, new: Policy) -> Iterator[Change]:
    yield from _flag("auth.enabled", old.auth.enabled, new.auth.enabled, weak=True,
                     weak_words="SMTP AUTH enabled", strong_words="SMTP AUTH disabled: authenticated clients no "
                     "longer relay", risk="authenticated clients may relay, and passwords can be guessed")
    weak_before = old.auth.enabled and not old.auth.require_tls
    weak_after = new.auth.enabled and not new.auth.require_tls
    if weak_after and not weak_before:
        yield Change("auth.require_tls", "AUTH no longer requires TLS" if old.auth.enabled else
                     "AUTH accepted without TLS", "passwords may cross the network in clear")
    elif old.auth.require_tls != new.auth.require_tls:
        yield Change("auth.require_tls", f"AUTH {'requires' if new.auth.require_tls else 'no longer requires'} TLS"
                     + ("" if new.auth.enabled else " (AUTH is disabled)"))


def _rules(element: str, before: Sequence[Rule], after: Sequence[Rule], key: Callable[[Rule], str],
           words: Callable[[Rule], str], removal_risk: str | None = None,
           change_risk: Callable[[Rule, Rule], str | None] = lambda old, new: None) -> Iterator[Change]:
    """Rules added (with their place: first match wins), changed, removed and reordered, by ``key``."""
    old, new = _keyed(before, key), _keyed(after, key)
    for place, (name, rule) in enumerate(new.items(), start=1):
        if name not in old:
            yield Change(element, f"added as rule {place} of {len(new)}: {words(rule)}")
        elif old[name] != rule:
            yield Change(element, f"changed: {words(old[name])} → {words(rule)}", change_risk(old[name], rule))
    yield from (Change(element, f"removed: {words(rule)}", removal_risk) for name, rule in old.items()
                if name not in new)
    kept_before, kept_after = [n for n in old if n in new], [n for n in new if n in old]
    if kept_before != kept_after:
        yield Change(element, f"reordered (first match wins): now {', '.join(kept_after)}")


def _keyed(rules: Sequence[Rule], key: Callable[[Rule], str]) -> dict[str, Rule]:
    """Rules by key; a repeated key (two header checks on one pattern) gets its occurrence number."""
    keyed: dict[str, Rule] = {}
    for rule in rules:
        name, occurrence = key(rule), 1
        while name in keyed:
            occurrence += 1
            name = f"{key(rule)} (#{occurrence})"
        keyed[name] = rule
    return keyed


def _dnsbl_words(entry: DnsblEntry) -> str:
    return f"{entry.zone} ({entry.action} on {', '.join(entry.filters)}, reply {entry.message!r})"


def _access_subject(rule: ClientRule | HeloRule | AddressRule | ListFileRule) -> str:
    """What a rule matches: its pattern, or its list file (whose entries change without the policy)."""
    if isinstance(rule, ListFileRule):
        return f"list file {rule.file.name}"
    return str(rule.match)


def _access_words(rule: ClientRule | HeloRule | AddressRule | ListFileRule) -> str:
    entries = f" ({len(rule.file)} entries)" if isinstance(rule, ListFileRule) else ""
    return f"{rule.action} {_access_subject(rule)}{entries}" + (f" ({rule.message!r})" if rule.message else "")


def _header_weakened(before: HeaderCheck, after: HeaderCheck) -> str | None:
    """Risky when matching messages are delivered now (warn only logs), or fewer charsets are matched."""
    if after.action == "warn" and before.action != "warn":
        return f"matching messages are delivered now (warn only logs), not {before.action}ed"
    if set(after.charsets) < set(before.charsets):
        return "the pattern no longer matches text in " + ", ".join(sorted(set(before.charsets) - set(after.charsets)))
    return None


def _header_words(check: HeaderCheck) -> str:
    return f"{check.action} when {check.header} matches /{check.pattern}/" + (
        f" ({check.message!r})" if check.message else "")


def _limits(old: Policy, new: Policy) -> Iterator[Change]:
    for name, what in LIMITS.items():
        before, after = getattr(old.smtp, name), getattr(new.smtp, name)
        if before != after:
            shown = _size if name == "max_message_size" else str
            yield Change(f"smtp.{name}", f"{what} {'raised' if after > before else 'lowered'}: "
                         f"{shown(before)} → {shown(after)}", "more room for abuse" if after > before else None)


def _size(number: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if number % factor == 0:
            return f"{number // factor} {unit}"
    return f"{number} bytes"


def _waivers(old: Targets, new: Targets) -> Iterator[Change]:
    for target in Targets.model_fields:
        before = getattr(old, target).allow_unsupported
        after = getattr(new, target).allow_unsupported
        element = f"targets.{target}.allow_unsupported"
        yield from (Change(element, f"{target} may leave {w} unenforced",
                           f"{target} servers will not enforce {w}, and rendering no longer says so")
                    for w in after if w not in before)
        yield from (Change(element, f"{target} must enforce {w} again (rendering fails if it cannot)")
                    for w in before if w not in after)


def _other_values(old: Policy, new: Policy) -> Iterator[Change]:
    """Every other changed value (role, host name, auth details, TLS, target knobs), as it is."""
    before, after = _leaves(old.model_dump(mode="json")), _leaves(new.model_dump(mode="json"))
    for path in [*before, *(p for p in after if p not in before)]:
        was, now = before.get(path), after.get(path)
        if was == now or _EXPLAINED.match(path):
            continue
        if isinstance(now, bool) and isinstance(was, bool):
            yield Change(path, f"turned {'on' if now else 'off'}")
        elif was is None:
            yield Change(path, f"set to {_shown(now)}")
        elif now is None:
            yield Change(path, f"unset (was {_shown(was)})")
        else:
            yield Change(path, f"{_shown(was)} → {_shown(now)}")


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Dotted path → value for every value that is not a mapping (a list is one value)."""
    if not isinstance(value, Mapping):
        return {path: value}
    leaves: dict[str, Any] = {}
    for key, item in value.items():
        leaves.update(_leaves(item, f"{path}.{key}" if path else str(key)))
    return leaves


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def _listed(networks: Sequence[Network]) -> str:
    return ", ".join(map(str, networks))
