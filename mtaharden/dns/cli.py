"""``mtaharden dns POLICY``: the DNS records the policy needs; ``--check`` compares them with DNS.

Exit 0: written, or (``--check``) DNS serves every record as it should; 1: a difference, or DNS could not
be asked (an unchecked record is never reported as fine); 2: bad input (nothing written).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..cli import EXIT_FINDINGS, EXIT_OK, fail, lists_root_option, load_or_fail, set_option
from .records import RecordError, RecordSet

JSON_SCHEMA = 1


def _record_set(policy_path: str, overrides: tuple[str, ...], lists_root: str | None) -> RecordSet:
    from .keys import dkim_records, tlsa_record
    from .records import policy_records

    policy = load_or_fail(policy_path, overrides, lists_root)
    try:
        wanted = policy_records(policy)
        tlsa = tlsa_record(policy)
        dkim, notes = dkim_records(policy)
    except RecordError as exc:
        fail(f"{policy_path}: {exc}")
    wanted.records += ([tlsa] if tlsa else []) + dkim
    wanted.notes += notes
    return wanted


@click.command("dns")
@click.argument("policy", type=click.Path(dir_okay=False))
@set_option
@lists_root_option
@click.option("--format", "output_format", type=click.Choice(["zone", "json"]), default="zone",
              show_default=True)
@click.option("--origin", metavar="ZONE", help="write names relative to ZONE ($ORIGIN); others stay absolute")
@click.option("--ttl", type=click.IntRange(60, 604800), default=3600, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="also write each MTA-STS policy file under DIR/<domain>/.well-known/")
@click.option("--check", "check", is_flag=True, help="compare with what --nameserver serves; exit 1 on a difference")
@click.option("--nameserver", metavar="ADDRESS[:PORT]",
              help="the server --check asks (default: the system resolver)")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=3.0, show_default=True,
              help="seconds per DNS query")
def dns(policy: str, overrides: tuple[str, ...], lists_root: str | None, output_format: str, origin: str | None,
        ttl: int, out_dir: str | None, check: bool, nameserver: str | None, timeout: float) -> None:
    """The DNS records POLICY needs (SPF, DMARC, MTA-STS, TLS-RPT, TLSA, DKIM), in zone-file syntax or JSON.

    Names are absolute unless --origin is given. Each record comes with the reason it is there, and
    notes say what DNS alone cannot do (serving the MTA-STS file, report authorisation).
    """
    from .zonefile import zone_text

    wanted = _record_set(policy, overrides, lists_root)
    zone = origin.rstrip(".").lower() if origin else None
    try:
        text = zone_text(wanted.records, ttl=ttl, origin=zone)
    except RecordError as exc:
        fail(f"{policy}: {exc}")
    if check:
        sys.exit(_check(wanted, nameserver, timeout, output_format))
    if out_dir is not None:
        for file in wanted.files:
            target = Path(out_dir) / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file.content, newline="")
    if output_format == "json":
        json.dump({"schema": JSON_SCHEMA, "ttl": ttl,
                   "records": [{"name": r.name, "type": r.type, "value": r.value, "why": r.why}
                               for r in wanted.records],
                   "files": [{"domain": f.domain, "path": f.path, "content": f.content} for f in wanted.files],
                   "notes": wanted.notes}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text + "".join(f"; note: {note}\n" for note in wanted.notes))
    sys.exit(EXIT_OK)


def _check(wanted: RecordSet, nameserver: str | None, timeout: float, output_format: str) -> int:
    from ..nameserver import NameserverError, parse_nameserver
    from .check import compare

    try:
        server = parse_nameserver(nameserver)
    except NameserverError as exc:
        fail(str(exc))
    differences = compare(wanted.records, server, timeout=timeout)
    if output_format == "json":
        json.dump({"schema": JSON_SCHEMA, "nameserver": str(server), "checked": len(wanted.records),
                   "differences": [{"name": d.name, "type": d.type, "kind": d.kind, "expected": d.expected,
                                    "served": list(d.served), "detail": d.detail} for d in differences]},
                  sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for d in differences:
            print(f"{d.kind.upper():9} {d.name} {d.type}: {d.detail}")
            if d.expected:
                print(f"          want:   {d.expected}")
            for value in d.served:
                print(f"          served: {value}")
        print(f"{len(wanted.records)} records checked against {server}: "
              + (f"{len(differences)} differences" if differences else "all served as they should be"))
    return EXIT_FINDINGS if differences else EXIT_OK
