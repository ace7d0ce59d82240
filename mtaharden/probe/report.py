"""Probe results as a terminal table, as JSON (a stable, versioned schema) and as JUnit XML.

JSON schema, version 3 (``schema_version``; fields are only ever added within a version; version 2
added the ``suspect`` status, the ``not-relayed`` verdict, exit code 3 and ``proof``; version 3 the
``declared`` check status, each check's ``element`` and ``declared``, one ``leaks:PLACE`` check per
place instead of one ``leaks`` check, and proof ``queue+canary``)::

    {
      "schema_version": 3,
      "tool": {"name": "mtaharden", "version": str},
      "exit_code": 0 | 1 | 2 | 3,
      "hosts": [{
        "target": "HOST:PORT" ("[v6]:PORT"), "host": str, "port": int,
        "status": "open" | "suspect" | "deviates" | "inconclusive" | "error" | "closed" | "ok",
        "proof": "none" | "canary" | "queue" | "queue+canary",   # how accepted cases were proven
        "address": str | null,          # the server address dialled
        "source_address": str | null,   # the probe's own address, as the server sees it without NAT
        "server_name": str | null,      # first word of the banner (nmap's SRVNAME)
        "banner": Reply | null,
        "tls": "none" | "starttls" | "smtps",
        "duration_s": float,
        "error": str | null,            # why the host could not be probed (fully)
        "warnings": [str],
        "counts": {"relayed": int, "not-relayed": int, "accepted": int, "refused": int, "deferred": int,
                   "not-tested": int, "error": int},
        "cases": [{
          "id": str, "description": str, "source": str,
          "verdict": "relayed" | "not-relayed" | "accepted" | "refused" | "deferred" | "not-tested" | "error",
          "mail": {"command": str, "reply": Reply | null},
          "rcpt": {"command": str, "reply": Reply | null},
          "data_reply": Reply | null,   # only with a proof mode, only after a 2xx at RCPT
          "detail": str
        }],
        "checks": [{"id": str, "description": str,
                    "status": "ok" | "deviation" | "declared" | "inconclusive" | "error", "detail": str,
                    "element": str,     # the policy element tested, place in brackets: "smtp.banner[HELP]"
                    "declared": str}],  # "declared" only: the target's coverage text that excuses it
        "findings": [str]   # one line per case or check that stands against the host (empty when closed)
      }]
    }
    Reply = {"code": int, "lines": [str]}

JSON Lines (``--format jsonl``, same schema version): one object per line, written as each host finishes
(so in completion order, not input order), then one summary line; nothing is kept in memory::

    {"record": "host", "schema_version": 3, ...every field of one "hosts" entry above...}
    {"record": "summary", "schema_version": 3, "tool": {...}, "exit_code": int, "hosts": int,
     "statuses": {"closed": int, ...}}   # only statuses that occurred

Host status (exit code): ``open`` (1) = some case proven relayed; ``suspect`` (1) = some case accepted at
RCPT and not proven either way; ``deviates`` (1) = a policy check failed or a reply leaks the software;
``declared`` checks (deviations the ``--mta`` target's coverage for ``--policy`` says it cannot
enforce) are shown with the reply and the coverage text and are no finding;
``inconclusive`` (3) = a vantage inside the trusted networks, deferred cases, or nothing reached RCPT;
``error`` (2) = the host could not be probed (fully); ``closed`` (0) = matrix refused or proven not
relayed; ``ok`` (0) = checks only, all passed.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mtaharden import __version__

from .session import Reply
from .verdict import CaseResult, CheckStatus, HostResult, HostStatus, Verdict

SCHEMA_VERSION = 3
TABLE_MAX_HOSTS = 50  # past this many hosts, text output is one plain line per host (a screenful, no table)

_VERDICT_STYLE = {Verdict.RELAYED: "bold red", Verdict.NOT_RELAYED: "green", Verdict.ACCEPTED: "red",
                  Verdict.REFUSED: "green",
                  Verdict.DEFERRED: "yellow", Verdict.NOT_TESTED: "dim", Verdict.ERROR: "magenta"}
_CHECK_STYLE = {CheckStatus.OK: "green", CheckStatus.DEVIATION: "red", CheckStatus.INCONCLUSIVE: "yellow",
                CheckStatus.ERROR: "magenta", CheckStatus.DECLARED: "cyan"}
_STATUS_STYLE = {HostStatus.OPEN: "bold red", HostStatus.SUSPECT: "red", HostStatus.DEVIATES: "red",
                 HostStatus.INCONCLUSIVE: "yellow",
                 HostStatus.ERROR: "magenta", HostStatus.CLOSED: "green", HostStatus.OK: "green"}


def _reply(reply: Reply | None) -> dict[str, Any] | None:
    return None if reply is None else {"code": reply.code, "lines": list(reply.lines)}


def _case(result: CaseResult) -> dict[str, Any]:
    return {"id": result.case.id, "description": result.case.description, "source": result.case.source,
            "verdict": result.verdict.value,
            "mail": {"command": result.mail_command, "reply": _reply(result.mail_reply)},
            "rcpt": {"command": result.rcpt_command, "reply": _reply(result.rcpt_reply)},
            "data_reply": _reply(result.data_reply), "detail": result.detail}


def host_json(result: HostResult) -> dict[str, Any]:
    return {
        "target": str(result.endpoint), "host": result.endpoint.host, "port": result.endpoint.port,
        "status": result.status.value, "proof": result.proof, "address": result.address,
        "source_address": result.source_address,
        "server_name": result.server_name, "banner": _reply(result.banner), "tls": result.tls,
        "duration_s": round(result.duration, 3), "error": result.error, "warnings": list(result.warnings),
        "counts": result.counts(), "cases": [_case(case) for case in result.cases],
        "checks": [{"id": c.id, "description": c.description, "status": c.status.value, "detail": c.detail,
                    "element": c.element, "declared": c.declared} for c in result.checks],
        "findings": result.findings(),
    }


def to_json(results: list[HostResult], exit_code: int) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "tool": {"name": "mtaharden", "version": __version__},
            "exit_code": exit_code, "hosts": [host_json(result) for result in results]}


def json_document(results: Iterable[HostResult], exit_code: int) -> Iterator[str]:
    """``json.dumps(to_json(results, exit_code), indent=2)`` in pieces, one host at a time.

    Why: built whole, a 1000-host document (its dicts and its text) tripled the probe's peak memory; in
    pieces only one host's dicts and text exist at a time. tests/probe/test_report.py holds it to to_json."""
    head = json.dumps(to_json([], exit_code), indent=2)
    before, _, after = head.rpartition('"hosts": []')
    yield f'{before}"hosts": ['
    separator = "\n"
    for result in results:
        text = json.dumps(host_json(result), indent=2)
        yield separator + "    " + text.replace("\n", "\n    ")
        separator = ",\n"
    yield ("\n  ]" if separator != "\n" else "]") + after


def host_record(result: HostResult) -> dict[str, Any]:
    """One host's JSON Lines record."""
    return {"record": "host", "schema_version": SCHEMA_VERSION, **host_json(result)}


def summary_record(statuses: dict[str, int], exit_code: int) -> dict[str, Any]:
    """The last JSON Lines record: what a reader of the document's header and counts would want."""
    return {"record": "summary", "schema_version": SCHEMA_VERSION,
            "tool": {"name": "mtaharden", "version": __version__}, "exit_code": exit_code,
            "hosts": sum(statuses.values()), "statuses": dict(sorted(statuses.items()))}


def summary_line(result: HostResult) -> str:
    """One plain line per host for a long fleet: no table to measure, nothing kept (see ``render_stream``)."""
    counts = ", ".join(f"{count} {verdict}" for verdict, count in result.counts().items() if count)
    failed = sum(check.status not in (CheckStatus.OK, CheckStatus.DECLARED) for check in result.checks)
    checks = f"; {failed} checks failed" if failed else ""
    return f"{result.endpoint}  {result.status.value}  {counts or 'no cases'}{checks}"


def render_stream_host(console: Console, result: HostResult) -> None:
    """A long fleet's text output for one host, as it finishes: its summary line, and its details when the
    host is not clean (the fleet's whole table, measured over every row, would cost time and memory)."""
    console.print(Text(summary_line(result), style=_STATUS_STYLE[result.status]))
    if result.status not in (HostStatus.CLOSED, HostStatus.OK):
        _host_detail(console, result)
        console.print()


def _outcome(result: CaseResult) -> str:
    reply = result.rcpt_reply or result.mail_reply
    text = f"{'RCPT' if result.rcpt_reply else 'MAIL'} {reply}" if reply else ""
    return "; ".join(part for part in (text, result.detail) if part)


def _host_detail(console: Console, result: HostResult) -> None:
    status = result.status
    head = Text(f"{result.endpoint}  ")
    head.append(status.value.upper(), style=_STATUS_STYLE[status])
    facts = [f"address {result.address}" if result.address else "", f"name {result.server_name}"
             if result.server_name else "", f"TLS {result.tls}", f"from {result.source_address}"
             if result.source_address else "", f"{result.duration:.1f} s"]
    head.append("  (" + ", ".join(fact for fact in facts if fact) + ")", style="dim")
    console.print(head)
    for warning in result.warnings:
        console.print(Text(warning, style="bold yellow" if warning.startswith("WARNING") else "yellow"))
    if result.error:
        console.print(Text(f"error: {result.error}", style="magenta"))
    if result.cases and any(case.mail_reply for case in result.cases):
        table = Table(show_lines=False, pad_edge=False)
        for column in ("case", "verdict", "RCPT command", "reply / detail"):
            table.add_column(column, overflow="fold")
        for case in result.cases:
            table.add_row(Text(case.case.id), Text(case.verdict.value, style=_VERDICT_STYLE[case.verdict]),
                          Text(case.rcpt_command), Text(_outcome(case)))
        console.print(table)
    if result.checks:
        checks = Table(show_lines=False, pad_edge=False)
        for column in ("check", "status", "detail"):
            checks.add_column(column, overflow="fold")
        for check in result.checks:
            detail = f"{check.detail}; {check.declared}" if check.declared else check.detail
            checks.add_row(Text(check.id), Text(check.status.value, style=_CHECK_STYLE[check.status]),
                           Text(detail))
        console.print(checks)


def render_text(console: Console, results: list[HostResult]) -> None:
    """One host: its full tables. A fleet: a summary table, then details for hosts that are not clean."""
    if len(results) == 1:
        _host_detail(console, results[0])
        return
    summary = Table(title=f"relay probe of {len(results)} endpoints", pad_edge=False)
    for column in ("endpoint", "status", *[verdict.value for verdict in Verdict], "checks failed"):
        summary.add_column(column)
    for result in results:
        counts = result.counts()
        failed = sum(check.status not in (CheckStatus.OK, CheckStatus.DECLARED) for check in result.checks)
        summary.add_row(Text(str(result.endpoint)), Text(result.status.value, style=_STATUS_STYLE[result.status]),
                        *[str(counts[verdict.value]) for verdict in Verdict], str(failed))
    console.print(summary)
    for result in results:
        if result.status not in (HostStatus.CLOSED, HostStatus.OK):
            console.print()
            _host_detail(console, result)


def _testcase(suite: ET.Element, classname: str, name: str, seconds: float = 0.0) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:.3f}")


def _case_element(suite: ET.Element, classname: str, result: CaseResult) -> str | None:
    element = _testcase(suite, classname, f"{result.case.id}: {result.case.description}")
    message = _outcome(result) or result.verdict.value
    if result.verdict in (Verdict.RELAYED, Verdict.ACCEPTED, Verdict.DEFERRED):
        ET.SubElement(element, "failure", type=result.verdict.value, message=message)
        return "failures"
    if result.verdict is Verdict.ERROR:
        ET.SubElement(element, "error", type="error", message=message)
        return "errors"
    if result.verdict is Verdict.NOT_TESTED:
        ET.SubElement(element, "skipped", message=message)
        return "skipped"
    return None


def _suite(root: ET.Element, result: HostResult) -> None:
    target = str(result.endpoint)
    suite = ET.SubElement(root, "testsuite", name=target, time=f"{result.duration:.3f}")
    properties = ET.SubElement(suite, "properties")
    for name, value in (("status", result.status.value), ("proof", result.proof), ("address", result.address),
                        ("source_address", result.source_address), ("tls", result.tls)):
        ET.SubElement(properties, "property", name=name, value=value or "")
    tally = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if result.error:
        ET.SubElement(_testcase(suite, target, "session"), "error", type="error", message=result.error)
        tally["tests"] += 1
        tally["errors"] += 1
    if result.vantage_conflict:
        ET.SubElement(_testcase(suite, target, "vantage"), "failure", type="inconclusive",
                      message=" ".join(result.warnings))
        tally["tests"] += 1
        tally["failures"] += 1
    for case in result.cases:
        tally["tests"] += 1
        outcome = _case_element(suite, target, case)
        if outcome:
            tally[outcome] += 1
    for check in result.checks:
        tally["tests"] += 1
        element = _testcase(suite, target, f"check {check.id}: {check.description}")
        if check.status is CheckStatus.ERROR:
            ET.SubElement(element, "error", type="error", message=check.detail)
            tally["errors"] += 1
        elif check.status is CheckStatus.DECLARED:  # no failure, but visible: the reply and the coverage text
            ET.SubElement(element, "system-out").text = f"declared: {check.detail}; {check.declared}"
            element.set("declared", "true")
        elif check.status is not CheckStatus.OK:
            ET.SubElement(element, "failure", type=check.status.value, message=check.detail)
            tally["failures"] += 1
    for key, count in tally.items():
        suite.set(key, str(count))


def to_junit(results: list[HostResult]) -> bytes:
    """JUnit XML: one testsuite per endpoint, one testcase per case and per check."""
    root = ET.Element("testsuites", name="mtaharden probe")
    for result in results:
        _suite(root, result)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(suite.get(key, "0")) for suite in root)))
    ET.indent(root)
    buffer = io.BytesIO()
    ET.ElementTree(root).write(buffer, encoding="utf-8", xml_declaration=True)
    return buffer.getvalue()
