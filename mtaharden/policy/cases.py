"""``mtaharden test``: transactions with expected outcomes, checked against the reference evaluator.

A policy repository keeps its own regression cases in a small YAML file; CI runs ``mtaharden test
POLICY --cases FILE`` and fails when the policy no longer means what the cases say. The file is read
as strictly as a policy (same YAML screen and reader, every problem at ``file:line:col`` with a fix).
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError

from ..safe_read import UnsafeFile, read_regular
from . import characters
from .errors import PolicyError, Problem
from .evaluate import Decision, Outcome, Stage, Verdict, evaluate
from .load import _locate, _parse
from .model import Policy
from .strict import StrictModel
from .transaction import DEFAULT_ANSWER, MX_PORT, DmarcPolicy, DmarcResult, SpfResult, Transaction
from .types import MessageText, PolicyValueError, domain_name, element_path, ip_address
from .wording import type_message

MAX_CASES_BYTES = 4 * 2**20
_VERDICTS = ("accept", "reject", "defer")


def listed_zone(value: Any) -> tuple[str, str]:
    """``ZONE`` (listed, answering 127.0.0.2) or ``ZONE=127.0.0.9``: what the client's DNSBL lookup answers."""
    if not isinstance(value, str):
        raise PolicyValueError("a listing must be text", "write ZONE or ZONE=127.0.0.9")
    zone, equals, answer = value.partition("=")
    address = ip_address(answer if equals else DEFAULT_ANSWER, "DNSBL answer")
    if address.version != 4:
        raise PolicyValueError(f"{answer!r} is not an IPv4 answer",
                               "DNSBLs answer with IPv4 addresses such as 127.0.0.2")
    return domain_name(zone), str(address)


def expected(value: Any) -> tuple[Verdict, str | None]:
    """``accept``, ``reject``, ``defer``, optionally ``by ELEMENT`` (``reject by access.clients[0]``)."""
    text = value.strip() if isinstance(value, str) else ""
    verdict, _, rest = text.partition(" ")
    element = rest.strip().removeprefix("by ").strip() if rest.strip().startswith("by ") else None
    if verdict not in _VERDICTS or (rest.strip() and element is None):
        raise PolicyValueError(f"{str(value)[:60]!r} is not an expected outcome",
                               "write accept, reject or defer, optionally 'by ELEMENT', e.g. 'reject by domains'")
    return verdict, None if element is None else element_path(element)  # type: ignore[return-value]


Listing = Annotated[tuple[str, str], BeforeValidator(listed_zone)]
Expected = Annotated[tuple[str, str | None], BeforeValidator(expected)]
Client = Annotated[ipaddress.IPv4Address | ipaddress.IPv6Address, BeforeValidator(ip_address)]
Text = Annotated[str, BeforeValidator(lambda v: v if not isinstance(v, str) else v.strip())]


class Expect(StrictModel):
    """Expected outcomes; a stage left out is not checked. ``rcpt``: one per recipient, in order."""

    connect: Expected | None = None
    helo: Expected | None = None
    mail: Expected | None = None
    rcpt: list[Expected] | None = None
    data: Expected | None = None


class Case(StrictModel):
    name: MessageText
    client: Client
    helo: MessageText | None = "client.example"
    sender: Text = Field("", alias="from")
    to: list[MessageText] = Field(default_factory=list)
    tls: bool = False
    auth: MessageText | None = None
    headers: list[MessageText] = Field(default_factory=list)
    size: int = Field(0, ge=0)
    mail_size: int | None = Field(None, ge=0)
    port: int = Field(MX_PORT, ge=1, le=65535)
    listed: list[Listing] = Field(default_factory=list)
    spf: SpfResult = "none"
    dmarc: DmarcResult = "none"
    dmarc_policy: DmarcPolicy = "none"
    bare_newlines: bool = False
    expect: Expect

    def transaction(self) -> Transaction:
        return Transaction(self.client, self.helo, self.sender, tuple(self.to), self.tls, self.auth,
                           tuple(self.headers), self.size, MappingProxyType(dict(self.listed)), self.mail_size,
                           self.port, self.spf, self.dmarc, self.dmarc_policy, self.bare_newlines)


class CasesFile(StrictModel):
    cases: list[Case] = Field(min_length=1)


@dataclass(frozen=True)
class Located:
    case: Case
    where: str  # file:line:col of the case


def load_cases(path: str | Path) -> list[Located]:
    """Read and validate a cases file; raise :class:`PolicyError` with every problem located."""
    source = str(path)
    try:
        text = read_regular(path, MAX_CASES_BYTES).decode("utf-8")
    except UnsafeFile as exc:
        raise PolicyError([Problem(source, 1, 1, "", f"cannot read the cases file: it {exc.reason}", exc.hint)]
                          ) from None
    except UnicodeDecodeError:
        raise PolicyError([Problem(source, 1, 1, "", "the file is not UTF-8", "save it as UTF-8")]) from None
    refused = characters.problems(text.removeprefix(characters.BOM), source)
    if refused:
        raise PolicyError(refused)
    document = _parse(text.removeprefix(characters.BOM), source)
    try:
        parsed = CasesFile.model_validate(document, by_alias=True)
    except ValidationError as exc:
        raise PolicyError([_problem(document, source, err) for err in exc.errors()]) from None
    return [Located(case, _where(document, source, index)) for index, case in enumerate(parsed.cases)]


def _where(document: Any, source: str, index: int) -> str:
    found = _locate(document, ("cases", index), source, "", "")
    return f"{found.source}:{found.line}:{found.column}"


def _problem(document: Any, source: str, err: Any) -> Problem:
    path = tuple(err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, PolicyValueError):
        return _locate(document, path, source, str(cause), cause.hint)
    if err["type"] == "extra_forbidden":
        known = _known_keys(path)
        close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "remove it; known keys here: " + ", ".join(known)
        return _locate(document, path, source, f"unknown key {path[-1]!r}", hint, at_key=True)
    message = type_message(err["type"], err["msg"].removeprefix("Value error, "), err.get("input"))
    return _locate(document, path, source, message, "see 'mtaharden test' in README.md")


def _known_keys(path: tuple[Any, ...]) -> list[str]:
    if "expect" in path:
        return sorted(Expect.model_fields)
    if "cases" in path and len(path) > 2:
        return sorted(f.alias or name for name, f in Case.model_fields.items())
    return ["cases"]


# --- running and reporting --------------------------------------------------------------------


def shown(decision: Decision) -> str:
    by = f" by {decision.element}" if decision.element else ""
    return f"{decision.verdict}{by}"


def mismatches(policy: Policy, case: Case) -> list[tuple[str, str, str]]:
    """(stage and argument, expected, actual) for every checked stage that differs."""
    outcome = evaluate(policy, case.transaction())
    found: list[tuple[str, str, str]] = []
    expect = case.expect
    for stage in ("connect", "helo", "mail", "data"):
        wanted = getattr(expect, stage)
        if wanted is not None:
            found += _compare(stage, outcome.at(stage), [wanted])
    if expect.rcpt is not None:
        found += _compare("rcpt", outcome.at("rcpt"), expect.rcpt)
    return found


def _compare(stage: Stage, decisions: Sequence[Decision], wants: Sequence[tuple[str, str | None]]
             ) -> list[tuple[str, str, str]]:
    found = []
    for index, want in enumerate(wants):
        decision = decisions[index] if index < len(decisions) else None
        label = f"{stage} {decision.argument}" if decision else f"{stage} #{index + 1}"
        wanted = want[0] + (f" by {want[1]}" if want[1] else "")
        if decision is None:
            found.append((label, wanted, "not reached"))
        elif decision.verdict != want[0] or (want[1] is not None and decision.element != want[1]):
            found.append((label, wanted, shown(decision)))
    return found


def report(policy: Policy, cases: Iterable[Located]) -> tuple[bool, str]:
    """(every case matched, a diff-like report: ``-`` expected, ``+`` what the policy says)."""
    lines, failed, total = [], 0, 0
    for located in cases:
        total += 1
        found = mismatches(policy, located.case)
        if not found:
            continue
        failed += 1
        lines.append(f"{located.where}: case {located.case.name!r}")
        for label, wanted, actual in found:
            lines += [f"-  {label}: {wanted}", f"+  {label}: {actual}"]
    lines.append(f"{total - failed} of {total} cases match" + (f", {failed} differ" if failed else ""))
    return failed == 0, "\n".join(lines)


def outcome_text(outcome: Outcome) -> str:
    rows = [(d.stage, d.argument, d.verdict, d.reply_class, d.element or "-", d.note) for d in outcome.decisions]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)) + "  " + row[5]
                     for row in rows)


def outcome_json(outcome: Outcome) -> str:
    return json.dumps({"decisions": [
        {"stage": d.stage, "argument": d.argument, "verdict": d.verdict, "class": d.reply_class,
         "element": d.element, "note": d.note, "matched": list(d.matched)} for d in outcome.decisions]}, indent=2)



OPTION_NAMES = {"client": "--client", "helo": "--helo", "from": "--from", "to": "--to", "auth": "--auth",
                "headers": "--header", "size": "--size", "listed": "--listed", "mail_size": "--mail-size",
                "port": "--port", "spf": "--spf", "dmarc": "--dmarc", "dmarc_policy": "--dmarc-policy",
                "bare_newlines": "--bare-newlines"}


def command_line_case(values: dict[str, Any]) -> Case:
    """The transaction the command line gives (keys as in a cases file); problems name the option."""
    try:
        return Case.model_validate({"name": "command line", **values, "expect": {}}, by_alias=True)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0])
            cause = (err.get("ctx") or {}).get("error")
            message, hint = (str(cause), cause.hint) if isinstance(cause, PolicyValueError) else (
                type_message(err["type"], err["msg"].removeprefix("Value error, "), err.get("input")),
                "see 'mtaharden test --help'")
            problems.append(Problem(OPTION_NAMES.get(key, key), 1, 1, "", message, hint))
        raise PolicyError(problems) from None
