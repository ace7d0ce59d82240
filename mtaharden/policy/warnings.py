"""What a valid policy probably does not mean: entries another entry makes moot. Warnings, never errors.

- a relay domain under a local ``.domain`` entry: local delivery wins, so its mail is never forwarded;
- a rule that can never decide, because an earlier rule of the same list covers all it matches (first
  match wins): a client network inside an earlier one, a sender or recipient pattern inside an earlier
  one (``user@domain`` after ``@domain``, ``domain`` or ``user@``), a header check on the same header with
  the same pattern.

Each comes located like an error (``file:line:col: path: …``) by reading the policy's YAML again, which
only happens when there is something to say.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import Problem
from .evaluate import domain_matches
from .finding import Finding
from .lists import within
from .model import AddressItem, AddressRule, ClientRule, Policy


def findings(policy: Policy) -> list[Finding]:
    """Every warning for ``policy``, in the order of the policy contract."""
    return [*_swallowed_relay_domains(policy), *_shadowed_clients(policy),
            *_shadowed_addresses("senders", policy.access.senders),
            *_shadowed_addresses("recipients", policy.access.recipients), *_shadowed_header_checks(policy)]


def located(path: str | Path, policy: Policy) -> list[Problem]:
    """The warnings of the policy read from ``path``, located in its YAML."""
    from .load import locate_findings

    return locate_findings(path, findings(policy))


def _swallowed_relay_domains(policy: Policy) -> Iterator[Finding]:
    local = [name for name in policy.domains.local if name.startswith(".")]
    for index, name in enumerate(policy.domains.relay):
        covering = next((entry for entry in local if domain_matches([entry], name.lstrip("."))), None)
        if covering is not None:
            yield Finding(("domains", "relay", index), f"{name} lies under the local entry {covering}: its mail "
                          "is delivered here and never forwarded", f"remove {name} from domains.relay, or list "
                          f"the local subdomains by name instead of {covering}")


def _shadowed_clients(policy: Policy) -> Iterator[Finding]:
    earlier: list[tuple[int, ClientRule]] = []
    for index, item in enumerate(policy.access.clients):
        if not isinstance(item, ClientRule):
            continue
        cover = next(((i, rule) for i, rule in earlier if within(item.match, rule.match)), None)
        if cover is not None:
            yield _shadowed(("access", "clients", index), f"client {item.match}", cover[0], str(cover[1].match))
        earlier.append((index, item))


def _shadowed_addresses(stage: str, items: Sequence[AddressItem]) -> Iterator[Finding]:
    earlier: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        if not isinstance(item, AddressRule):
            continue
        cover = next(((i, pattern) for i, pattern in earlier if _address_covers(pattern, item.match)), None)
        if cover is not None and cover[1] != item.match:  # the same pattern twice is an error already
            yield _shadowed(("access", stage, index), item.match, *cover)
        earlier.append((index, item.match))


def _address_covers(outer: str, inner: str) -> bool:
    """Whether every address ``inner`` matches is matched by ``outer`` (the policy's address patterns)."""
    o_user, o_at, o_domain = outer.rpartition("@")
    i_user, i_at, i_domain = inner.rpartition("@")
    if not o_at:
        o_domain = outer  # "domain" means "@domain"
    if not i_at:
        i_user, i_domain = "", inner
    return (not o_user or o_user == i_user) and (not o_domain or o_domain == i_domain)


def _shadowed_header_checks(policy: Policy) -> Iterator[Finding]:
    seen: dict[tuple[str, str], int] = {}
    for index, check in enumerate(policy.header_checks):
        key = (check.header.lower(), check.pattern)
        if key in seen:
            first = policy.header_checks[seen[key]]
            yield _shadowed(("header_checks", index), f"{check.header}: /{check.pattern}/", seen[key],
                            f"{first.header}: /{first.pattern}/")
        seen.setdefault(key, index)


def _shadowed(path: tuple[str | int, ...], what: str, earlier: int, covering: str) -> Finding:
    listed = ".".join(map(str, path[:-1]))
    return Finding(path, f"{what} never decides: {listed}[{earlier}] ({covering}) comes first and matches all "
                   "it matches (first match wins)", f"remove it, or move it above {listed}[{earlier}] if it "
                   "should decide first")
