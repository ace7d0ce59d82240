"""``mtaharden blocklist``: look our addresses up in DNSBLs (registered lazily in mtaharden/cli.py)."""

from __future__ import annotations

import sys

import click

from ..cli import err_console, fail, lists_root_option, load_or_fail, set_option
from . import catalogue
from .errors import EXIT_INTERRUPTED, EXIT_UNCHECKED, BadInput, CouldNotCheck
from .reverse import DEFAULT_MAX


@click.command("blocklist")
@click.argument("targets", nargs=-1, metavar="ADDRESS|CIDR...")
@click.option("--policy", "policy_file", metavar="POLICY", type=click.Path(dir_okay=False),
              help="check the host's own addresses (its listen addresses, else its host name's A/AAAA) and the "
                   "policy's dnsbl zones too")
@click.option("--zone", "zones", multiple=True, metavar="ZONE[=CODE,...]",
              help="another zone, with the return-code filters that mean listed (default 127.0.0.[2..255]); "
                   "repeatable")
@click.option("--catalogue/--no-catalogue", "use_catalogue", default=True, show_default=True,
              help="check the shipped catalogue's zones (--no-catalogue: only --zone and the policy's zones)")
@click.option("--only", multiple=True, metavar="ZONE", help="check only these catalogue zones; repeatable")
@click.option("--skip", multiple=True, metavar="ZONE", help="leave out these catalogue zones; repeatable")
@click.option("--nameserver", metavar="ADDR[:PORT]", help="the resolver to ask (default: the system resolver)")
@click.option("--concurrency", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="queries in flight at most")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=3.0, show_default=True,
              help="seconds per query")
@click.option("--max", "limit", type=click.IntRange(1, 2**24), default=DEFAULT_MAX, show_default=True,
              help="most addresses to check (networks are expanded)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@set_option
@lists_root_option
def blocklist(targets: tuple[str, ...], policy_file: str | None, zones: tuple[str, ...], use_catalogue: bool,
              only: tuple[str, ...], skip: tuple[str, ...], nameserver: str | None, concurrency: int, timeout: float,
              limit: int, fmt: str, overrides: tuple[str, ...], lists_root: str | None) -> None:
    """Look each ADDRESS (or every address of a CIDR network) up in the catalogue's DNSBLs.

    Exit 1 when an address is listed, 3 when some lookup failed and none is listed, 0 when clean, 2 on bad
    input. Answers outside the zone's listing codes (127.255.255.x, 127.0.0.1, non-127 answers) are errors,
    never listings."""
    from ..nameserver import NameserverError, parse_nameserver
    from .reverse import expand

    try:
        try:
            server = parse_nameserver(nameserver)
        except NameserverError as exc:
            fail(str(exc))
        chosen = catalogue.select(catalogue.catalogue(), only, skip) if use_catalogue else []
        added = [catalogue.zone_option(text) for text in zones]
        arguments, sources, policy_zones = list(targets), [], []
        if targets:
            sources.append(f"addresses from the command line: {', '.join(targets)}")
        if policy_file is not None:
            from .own import policy_targets

            found = policy_targets(load_or_fail(policy_file, overrides, lists_root), server, timeout)
            arguments += found.addresses
            sources += found.sources
            policy_zones = found.zones
        if not arguments:
            raise BadInput("blocklist", "no address to check", "give ADDRESS or CIDR arguments, or --policy POLICY")
        addresses = expand(arguments, limit)
        checked = catalogue.merge(chosen, policy_zones, added)
        if not checked:
            raise BadInput("blocklist", "no zone to check", "give --zone ZONE, or leave out --no-catalogue")
    except BadInput as exc:
        fail(str(exc))
    except CouldNotCheck as exc:
        err_console().print(f"{exc} (fix: check --nameserver, or give the addresses as arguments)", markup=False)
        sys.exit(EXIT_UNCHECKED)
    from .check import check, resolver_notes
    from .report import Run, as_json, as_text

    described, notes = resolver_notes(server)
    try:
        verdicts = check(addresses, checked, server, concurrency, timeout)
    except KeyboardInterrupt:  # not click's Abort: its exit 1 would read as "listed"
        err_console().print("interrupted: nothing checked is reported", markup=False)
        sys.exit(EXIT_INTERRUPTED)
    run = Run([str(a) for a in addresses], sources, checked, described, verdicts, notes)
    click.echo(as_json(run) if fmt == "json" else as_text(run), nl=fmt == "json")
    sys.exit(run.exit_code)
