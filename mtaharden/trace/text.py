"""The terminal summary of traces: the sending host first, then the chain, the flags and the contacts."""

from __future__ import annotations

from typing import Any


def summary(traces: list[dict[str, Any]], notes: list[str]) -> str:
    lines: list[str] = [f"note: {note}" for note in notes]
    for trace in traces:
        lines.extend(_one(trace))
    return "\n".join(lines)


def _one(trace: dict[str, Any]) -> list[str]:
    where = trace["source"]
    lines = [f"{where['file']}:{where['line']}: message {where['message']}",
             f"  Subject: {trace['subject'] or '(none)'}"
             + (f"   [{', '.join(trace['subject_charsets'])}]" if trace["subject_charsets"] else ""),
             f"  From:    {trace['from'] or '(none)'}"]
    sender = trace["sender"]
    if sender is None:
        lines.append("  Sending host: not found")
    else:
        lines.append(f"  Sending host: {sender['ip'] or '(address not recorded)'}  HELO {sender['helo'] or '-'}  "
                     f"rDNS {sender['rdns'] or '-'}  (hop {sender['hop']})")
    boundary = trace["boundary"]
    lines.append(f"  Boundary: {', '.join(boundary['from']) if boundary['known'] else 'none known'}; "
                 f"{boundary['trusted_hops']} of {len(trace['hops'])} hops trusted")
    for note in trace["notes"]:
        lines.append(f"  note: {note}")
    lines.append("  Hops (newest first):")
    for hop in trace["hops"]:
        mark = "trusted" if hop["trusted"] else "unverified"
        origin = hop["from"]
        sent_by = " ".join(part for part in (origin["helo"], f"({origin['rdns']})" if origin["rdns"] else None,
                                             f"[{origin['ip']}]" if origin["ip"] else None) if part) or "-"
        delay = "" if hop["delay_seconds"] is None else f"  {int(hop['delay_seconds']):+d}s"
        if not hop["parsed"]:
            lines.append(f"   {hop['hop']:>2}. line {hop['line']}: unreadable: {hop['raw'][:100]}")
            continue
        if sent_by == "-" and not hop["by"]:
            sent_by = f"({'; '.join(hop['remarks']) or 'no hosts named'})"
        lines.append(f"   {hop['hop']:>2}. {mark:<10} {sent_by} -> {hop['by'] or '-'}"
                     f"{' with ' + hop['with'] if hop['with'] else ''}  {hop['time'] or 'no time'}{delay}")
    if trace["flags"]:
        lines.append("  Flags:")
        lines.extend(f"   - hop {flag['hop']}: {flag['kind']}: {flag['message']}" for flag in trace["flags"])
    for entry in trace["authentication_results"]:
        results = ", ".join(f"{method}={result}" for method, result in entry["results"].items())
        lines.append(f"  Authentication-Results: {results or entry['raw'][:120]}")
    lines.append("  Whom to tell:" if trace["contacts"] else "  Whom to tell: nobody found")
    lines.extend(f"   - {contact['address']}  for {contact['about']}  ({contact['source']})"
                 for contact in trace["contacts"])
    if trace["lookup_failures"]:
        lines.append("  Lookups that failed:")
        lines.extend(f"   - {failure['about']}: {failure['source']}: {failure['reason']}"
                     for failure in trace["lookup_failures"])
    lines.extend(f"  Report written: {path}" for path in trace["reports"])
    return lines
