"""``mtaharden trace MESSAGE…``: the sending host of each message, what in its Received chain does not
add up, whom to tell, and (``--report``) a report to send them. Exit 0 traced, 2 bad input or usage."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import click

from .analyse import SCHEMA, add_contacts, analyse
from .boundary import Trust
from .contacts import mailbox
from .contacts.rdap import IANA_BOOTSTRAP
from .report.wording import LANGUAGES
from .source import InputError, Message, read_input, split_messages
from .text import summary

_HOSTNAME = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*",
                       re.I)


@click.command()
@click.argument("messages", nargs=-1, required=True, metavar="MESSAGE…")
@click.option("--policy", type=click.Path(dir_okay=False), help="policy whose hostname, domains and "
              "networks.trusted are your own hosts (the trust boundary)")
@click.option("--trust", "trusted", multiple=True, metavar="HOST|CIDR", help="one more host name or network of "
              "yours; repeatable")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--offline", is_flag=True, help="look nothing up; name only the RFC 2142 abuse@ role mailboxes")
@click.option("--rdap-bootstrap", default=IANA_BOOTSTRAP, show_default=True, metavar="URL",
              help="folder holding the RFC 9224 bootstrap files ipv4.json, ipv6.json, dns.json")
@click.option("--rdap", "rdap_server", metavar="URL", help="send every RDAP query to this server (no bootstrap)")
@click.option("--whois", "whois_server", metavar="HOST:PORT", help="whois server to ask first (default "
              "whois.iana.org:43, following its referral)")
@click.option("--nameserver", metavar="ADDR[:PORT]", help="DNS server for the abuse-contact TXT records "
              "(default: the system's resolver)")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=8.0, show_default=True,
              help="seconds for each lookup")
@click.option("--report", type=click.Choice(["arf", "complaint"]), help="also write a report per message")
@click.option("--lang", type=click.Choice(LANGUAGES), default="en", show_default=True, help="language of reports")
@click.option("--report-dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="folder the reports are written to (mode 0600: they hold the message)")
@click.option("--reporter", metavar="ADDR", help="your address, the reports' From: (default postmaster@ your "
              "host name)")
def trace(messages: tuple[str, ...], policy: str | None, trusted: tuple[str, ...], output: str, offline: bool,
          rdap_bootstrap: str, rdap_server: str | None, whois_server: str | None, nameserver: str | None,
          timeout: float, report: str | None, lang: str, report_dir: str, reporter: str | None) -> None:
    """Trace each MESSAGE (.eml, mbox or pasted header block; - for standard input) to its sending host."""
    from mtaharden.cli import fail

    from .contacts.lookup import Contacts, Sources  # dnspython loads only when a trace runs, not for --help

    trust = Trust()
    hostname = _policy_trust(policy, trust) if policy else None
    for item in trusted:
        _add_trust(trust, item)
    contacts = Contacts(Sources(offline, rdap_bootstrap, rdap_server, _endpoint(whois_server, "--whois", 43),
                      _endpoint(nameserver, "--nameserver", 53), timeout))
    reporting_host = hostname or socket.getfqdn()
    sender_address = _reporter(reporter, reporting_host) if report else ""
    loaded: list[Message] = []
    notes: list[str] = []
    for name in messages:
        try:
            found, cut = split_messages(name if name != "-" else "<stdin>", read_input(name))
        except InputError as exc:
            fail(str(exc))
        loaded.extend(found)
        notes.extend(cut)
    traces = []
    for message in loaded:
        result = analyse(message, trust)
        ip = result["sender"]["ip"] if result["sender"] else None
        add_contacts(result, *contacts.find(ip, result["domains"]))
        traces.append(result)
        if report:
            try:
                _write_report(report, lang, Path(report_dir), message, result, sender_address, reporting_host)
            except OSError as exc:
                fail(f"{report_dir}: cannot write the report there ({exc.strerror}) (fix: give --report-dir a "
                     "folder you can write to)")
    if output == "json":
        click.echo(json.dumps({"schema": SCHEMA, "offline": offline, "notes": notes, "messages": traces},
                              indent=2, ensure_ascii=False))
    else:
        click.echo(summary(traces, notes))


def _policy_trust(path: str, trust: Trust) -> str | None:
    from mtaharden.cli import load_or_fail

    loaded = load_or_fail(path)
    if loaded.hostname:
        trust.names.add(str(loaded.hostname).lower())
    for domain in [*loaded.domains.local, *loaded.domains.relay]:
        trust.domains.add(str(domain).lower().lstrip("."))
    trust.networks.extend(loaded.networks.trusted)
    trust.sources.append(f"policy {path}")
    return str(loaded.hostname) if loaded.hostname else None


def _add_trust(trust: Trust, item: str) -> None:
    try:
        trust.networks.append(ipaddress.ip_network(item, strict=False))
    except ValueError:
        if not _HOSTNAME.fullmatch(item.rstrip(".")):
            raise click.BadParameter(f"{item!r} is neither a network (CIDR or address) nor a host name "
                                     "(fix: write e.g. 192.0.2.0/24 or mx1.example.org)", param_hint="--trust"
                                     ) from None
        trust.names.add(item.rstrip(".").lower())
    trust.sources.append(f"--trust {item}")


def _endpoint(text: str | None, option: str, default_port: int) -> tuple[str, int] | None:
    """``HOST[:PORT]`` or ``[V6]:PORT`` as (host, port); a bad one is a usage error naming the option."""
    if text is None:
        return None
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?|([^:\s]+)(?::(\d{1,5}))?|([0-9a-fA-F:]+)", text)
    host = match and (match.group(1) or match.group(3) or match.group(5))
    port = int((match and (match.group(2) or match.group(4))) or default_port)
    if not host or not 0 < port < 65536 or not (_HOSTNAME.fullmatch(host) or _is_ip(host)):
        raise click.BadParameter(f"{text!r} is not HOST[:PORT] (fix: write e.g. 127.0.0.1:5353 or "
                                 "[2001:db8::1]:53)", param_hint=option)
    if option == "--nameserver" and not _is_ip(host):
        raise click.BadParameter(f"{text!r}: a name server is given by its address (fix: write e.g. 192.0.2.53)",
                                 param_hint=option)
    return host, port


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _reporter(reporter: str | None, host: str) -> str:
    address = mailbox(reporter if reporter is not None else f"postmaster@{host}")
    if address is None:
        raise click.BadParameter(f"{reporter or 'postmaster@' + host!r} is not a mail address (fix: give "
                                 "--reporter you@example.org)", param_hint="--reporter")
    return address


def _write_report(kind: str, language: str, folder: Path, message: Message, result: dict[str, Any],
                  reporter: str, reporting_host: str) -> None:
    from .report.arf import arf_report
    from .report.complaint import complaint

    recipients = list(dict.fromkeys(contact["address"] for contact in result["contacts"]))[:5]
    if kind == "arf":
        data = arf_report(result, message.raw, reporter, recipients, language, reporting_host)
    else:
        block = [(header.name, header.value) for header in message.headers]
        data = complaint(result, block, reporter, recipients, language, reporting_host)
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(message.where).name)[:80] or "message"
    target = folder / f"{stem}-{message.index}.{kind}.{language}.eml"
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(target, 0o600)
    result["reports"].append(str(target))
