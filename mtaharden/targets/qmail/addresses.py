"""control/badmailfrom and control/badrcptto: the envelope rules, and what reject-only lists make of them.

Both files only refuse (553 at RCPT), know no exceptions and no temporary answer, and have the forms
``user@domain`` and ``@domain`` only; so first match wins holds for a rule only when no earlier permit shares
an address with it and nothing refuses later what it permits.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...policy import Policy
from ...policy.model import AddressFile, AddressRule
from ..base import PlannedFile
from ..kit.address_parts import overlaps
from ..kit.coverage import Recorder
from .capabilities import note
from .control import listing
from .options import qmail_options

Rules = Sequence[AddressRule | AddressFile]
BADMAILFROM = "control/badmailfrom"
BADRCPTTO = "control/badrcptto"


def address_entry(match: str) -> str | None:
    """badmailfrom/badrcptto syntax, ``user@domain`` or ``@domain``; None for ``user@`` (no such form)."""
    if match.endswith("@"):
        return None
    return match if "@" in match else f"@{match}"


def _patterns(rule: AddressRule | AddressFile) -> Sequence[str]:
    """The address patterns of a rule: its match, or every entry of its list file."""
    return rule.file.entries if isinstance(rule, AddressFile) else (rule.match,)


def sender_file(refused: Sequence[str]) -> PlannedFile:
    return listing("badmailfrom", refused, "envelope senders refused at every RCPT (553)")


def recipient_file(refused: Sequence[str]) -> PlannedFile:
    return listing("badrcptto", refused, "recipients refused at RCPT (553; the badrcptto patch)")


def _label(rule: AddressRule | AddressFile) -> str:
    return rule.match if isinstance(rule, AddressRule) else f"the list file {rule.file.name}"


def _written(rule: AddressRule | AddressFile) -> str:
    if isinstance(rule, AddressRule):
        return str(address_entry(rule.match))
    return f"the {len(rule.file)} entries of {rule.file.name}"


def lower_rules(rules: Rules, file: str | None, unskippable: Sequence[str], rec: Recorder | None,
                stage: str) -> list[str]:
    """The lines of ``file`` (every reject rule's patterns that have a form, each once, in policy order) and,
    with a recorder, per rule of ``stage`` what the file (None: not written) makes of first match wins.

    ``unskippable``: what refuses a permitted address anyway (the DNSBL, badmailfrom for recipients).
    ``rec`` None: no qmail-smtpd runs, so no rule meets a client (the caller records that once).
    """
    forms = [[entry for entry in map(address_entry, _patterns(rule)) if entry is not None]
             if rule.action == "reject" else [] for rule in rules]
    if rec is not None:
        for index in range(len(rules)):
            _record(rec, f"{stage}[{index}]", rules, index, forms, file, unskippable)
    return list(dict.fromkeys(entry for written in forms for entry in written))


def _record(rec: Recorder, element: str, rules: Rules, index: int, forms: Sequence[Sequence[str]],
            file: str | None, unskippable: Sequence[str]) -> None:
    rule, patterns = rules[index], _patterns(rules[index])
    formless = len(patterns) - len(forms[index]) if rule.action == "reject" else 0
    if file is None and rule.action != "permit":
        note(rec, element, "no-file")
    elif rule.action == "defer":
        note(rec, element, "defer", file=file)
    elif formless and formless == len(patterns):
        note(rec, element, "formless", file=file, label=_label(rule))
    elif formless:
        note(rec, element, "partly-formless", file=file, written=_written(rule), count=formless)
    elif rule.action == "reject":
        earlier = [(j, r) for j, r in enumerate(rules[:index])
                   if r.action != "reject" and overlaps(_patterns(r), patterns)]
        if earlier:
            shadows = ", ".join(f"{_label(r)} ({r.action}, rule {j})" for j, r in earlier)
            note(rec, element, "shadows", file=file, written=_written(rule), shadows=shadows)
        else:
            note(rec, element, "reject", file=file, written=_written(rule))
    else:
        later = [f"{file} entry {r.match}" if isinstance(r, AddressRule) else f"{file} entries of {r.file.name}"
                 for r, written in zip(rules[index + 1:], forms[index + 1:], strict=True)
                 if r.action == "reject" and file and overlaps(written, patterns)]
        if unskippable or later:
            note(rec, element, "unexempt", refusers=", ".join([*unskippable, *later]))
        else:
            note(rec, element, "exempt")


def lower_envelope(policy: Policy, rec: Recorder) -> tuple[list[str], list[PlannedFile]]:
    """badmailfrom (always written) and badrcptto (with its patch): badmailfrom's lines, and the files.

    Coverage only when qmail-smtpd runs (a role without it records "no client reaches these rules").
    """
    access, dnsbl, serving = policy.access, bool(policy.dnsbl), rec if policy.accepts_inbound else None
    refused_senders = lower_rules(access.senders, BADMAILFROM,
                                  ["the DNSBL (rblsmtpd answers before MAIL)"] if dnsbl else [], serving,
                                  "access.senders")
    files = [sender_file(refused_senders)]
    unskippable = ["the DNSBL (rblsmtpd answers every RCPT)"] if dnsbl else []
    if refused_senders:
        unskippable.append(BADMAILFROM)
    patched = qmail_options(policy).badrcptto_patch
    refused = lower_rules(access.recipients, BADRCPTTO if patched else None, unskippable, serving,
                          "access.recipients")
    if patched:
        files.append(recipient_file(refused))
    return refused_senders, files
