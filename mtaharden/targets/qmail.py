"""qmail: control files, tcp.smtp for tcpserver, and daemontools run scripts with rblsmtpd.

Relaying is granted only by RELAYCLIENT, which tcp.smtp sets for trusted networks (and the AUTH
patch after a login). control/rcpthosts is always written and never empty: without it qmail-smtpd
relays for everyone. Every control file mtaharden manages is written even when it has no entries,
so an entry removed from the policy leaves the server too (a stale morercpthosts.cdb or percenthack
would keep accepting or rewriting mail the policy no longer wants).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..policy import Policy, canonical
from ..policy.lists import first_covering
from ..policy.model import AddressFile, AddressRule, ClientFile, ClientRule
from .base import (
    Block,
    Coverage,
    Plan,
    PlannedFile,
    Service,
    Status,
    Step,
    Target,
    address_requirement,
    coverage_file,
    placed,
    register,
)
from .qmail_tcprules import IPv4Network, Outcome, Rule, compile_rules, tcprules_value

# qmail-smtpd(8): "put your 50 most commonly used domains into rcpthosts, and the rest into morercpthosts".
RCPTHOSTS_MAX = 50
AUTH_PATCH_MECHANISMS = "LOGIN, PLAIN and CRAM-MD5"
DEFER_TEXT = "Try again later"
SUPERVISE_WAIT = 10  # seconds svc waits for supervise of a new service folder (svscan rescans every 5 s)
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
HELP_LEAK = ("qmail-smtpd's answer is compiled in and names the software (notqmail: '214 notqmail home page: "
             "https://notqmail.org', qmail 1.03 and netqmail: '214 qmail home page: http://pobox.com/~djb/"
             "qmail.html'); no control file changes it")
# What stock qmail-smtpd + qmail-send do with relay-looking recipients from a client without RELAYCLIENT
# (measured on notqmail 1.09 built from source, tests/lab/test_qmail_stock.py).
ACCEPT_THEN_BOUNCE = (
    "from every other client nothing is sent on to a foreign domain, although qmail-smtpd answers 250 at RCPT "
    "to relay-looking recipients whose domain after the last @ is its own or missing (qmail-send adds "
    "control/me): the percent hack (user%foreign@local), bang paths (foreign!user@local, foreign!user), a "
    "quoted local part (\"user@foreign\"@local), user@foreign@local, and the same at [own IP] (qmail-smtpd "
    "reads its own address literal as control/localiphost); qmail-send takes the whole local part literally "
    "(percenthack is empty) and bounces it as an unknown user. RCPT-only relay tests (nmap's smtp-open-relay) "
    "count these 250s as relaying")
STAGES = ("clients", "helo", "senders", "recipients")


@dataclass(frozen=True)
class RunScript:
    """A daemontools ``run`` script: shell lines, then one ``exec`` of a chain of programs.

    Every word is already shell-safe (``shlex.quote`` or a fixed ``"$VARIABLE"``).
    """

    summary: str
    setup: tuple[str, ...]
    chain: tuple[tuple[str, ...], ...]


@register
class QmailTarget(Target):
    name = "qmail"
    description = "qmail 1.03 / netqmail (control files, tcp.smtp, run scripts for ucspi-tcp 0.88)"

    def plan(self, policy: Policy) -> Plan:
        files = [*_control_files(policy), *(_service_files(policy) if policy.accepts_inbound else ())]
        coverage = tuple(_coverage(policy))
        files.append(coverage_file(self.name, coverage))
        options = policy.targets.qmail

        def where(path: str) -> str:
            if path == "tcp.smtp":
                return options.tcp_rules_file
            if path.startswith("service/"):
                return f"{options.service_dir}/{path.removeprefix('service/')}"
            return f"{options.home}/{path}"

        listen = canonical.address(options.listen)
        preflight = address_requirement([listen] if policy.accepts_inbound and listen != "0.0.0.0" else [])
        return Plan(self.name, placed(files, where), _steps(policy), coverage, apply="restart",
                    service=_service(policy), preflight=preflight)

    def filters(self) -> Mapping[str, Callable[..., str]]:
        return {"control_line": control_line, "control_lines": control_lines, "tcprules_value": tcprules_value}


_UNSAFE_LINE = re.compile(r"[\x00-\x1f\x7f]|^[#\s]|\s$")
_UNSAFE_LINES = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]|^[#\s]|\s$", re.MULTILINE)


def control_line(value: object) -> str:
    """One line of a qmail control or script file: qmail skips a leading ``#`` and strips trailing blanks."""
    text = str(value)
    if _UNSAFE_LINE.search(text):
        raise ValueError(f"refusing to write a control character, a leading '#' or edge blanks into qmail: {text!r}")
    return text


def control_lines(items: Sequence[str]) -> str:
    """:func:`control_line` for a whole list at once (a list file's worth), one item per line."""
    text = "\n".join(items)
    if text.count("\n") != len(items) - 1 or _UNSAFE_LINES.search(text):
        bad = next(item for item in items if _UNSAFE_LINE.search(item))
        raise ValueError(f"refusing to write a control character, a leading '#' or edge blanks into qmail: {bad!r}")
    return text


# --- service files and steps -------------------------------------------------------------------


def _service_files(policy: Policy) -> list[PlannedFile]:
    rules, hosts = _client_rules(policy)
    # log/run first: svscan decides only when it first sees a service folder whether it has a log, so
    # installed in this order (folders made with their parents) the live service never starts unlogged.
    return [
        PlannedFile("tcp.smtp", "tcp.smtp.j2", {"rules": rules, "hosts": hosts}),
        PlannedFile("service/qmail-smtpd/log/run", "run.j2", {"script": _log_run_script(policy)}, mode=0o755),
        PlannedFile("service/qmail-smtpd/run", "run.j2", {"script": smtpd_run_script(policy)}, mode=0o755),
    ]


def _service(policy: Policy) -> Service:
    """daemontools supervises qmail: svc -u/-d bring its services up and down; every apply is an
    ``svc -t`` restart already, so there is no separate restart key."""
    options = policy.targets.qmail
    names = ("qmail-send", "qmail-smtpd") if policy.accepts_inbound else ("qmail-send",)
    dirs = tuple(f"{options.service_dir}/{name}" for name in names)
    quoted = " ".join(shlex.quote(d) for d in dirs)
    # svscan starts supervise for a new service folder within 5 s (it rescans /service that often), and
    # svc needs supervise; on a first deploy the qmail-smtpd folder has only just been installed.
    supervised = ("sh", "-c", f'for d do i=0; until svok "$d" 2>/dev/null; do i=$((i + 1)); '
                              f'[ "$i" -le {SUPERVISE_WAIT * 10} ] || {{ echo "supervise does not run for $d '
                              '(svscan must watch its folder)" >&2; exit 1; }; sleep 0.1; done; done',
                  "supervised", *dirs)
    return Service(running=("sh", "-c", f"! svstat {quoted} | grep -qv ': up '"),
                   start=(supervised, ("svc", "-u", *dirs)), stop=(("svc", "-d", *dirs),))


def _steps(policy: Policy) -> tuple[Step, ...]:
    options, q = policy.targets.qmail, shlex.quote
    rules, cdb = options.tcp_rules_file, f"{options.tcp_rules_file}.cdb"
    steps: list[Step] = []
    if policy.accepts_inbound:
        steps += [
            Step(("install", "-d", "-o", options.log_user, "-m", "0750", options.log_dir),
                 "multilog writes qmail-smtpd's log there as the log user", "apply"),
            Step(("sh", "-c", f"tcprules {q(cdb)} {q(rules + '.tmp')} < {q(rules)}"),
                 f"compile tcp.smtp into {cdb}; tcpserver reads it at every connection", outputs=(cdb,)),
            *(Step(("sh", "-n", f"{options.service_dir}/{script}"), f"the shell parses {script}", "check")
              for script in ("qmail-smtpd/run", "qmail-smtpd/log/run")),
        ]
    steps += [
        Step((f"{options.home}/bin/qmail-newmrh",),
             "index control/morercpthosts, even when empty, so no stale morercpthosts.cdb accepts old domains "
             "(an apply step: qmail-newmrh works on its compiled-in home, never on a staging copy)", "apply",
             outputs=(f"{options.home}/control/morercpthosts.cdb",)),
        Step(("svc", "-t", f"{options.service_dir}/qmail-send"),
             "restart qmail-send: it reads me and percenthack only at start (a HUP rereads just locals)", "apply"),
    ]
    if policy.accepts_inbound:
        steps.append(Step(("svc", "-t", f"{options.service_dir}/qmail-smtpd"),
                          "restart tcpserver for a changed run script; control files are read per connection",
                          "apply"))
    return tuple(steps)


# --- control files ----------------------------------------------------------------------------


def _control_files(policy: Policy) -> Iterable[PlannedFile]:
    options = policy.targets.qmail
    accepted = accepted_domains(policy)

    def listing(name: str, items: Sequence[str], note: str) -> PlannedFile:
        return PlannedFile(f"control/{name}", "list.j2", {"items": list(items), "note": note})

    def value(name: str, text: str) -> PlannedFile:
        # qmail reads these with control_readline: the first line is the value, so no comment header.
        return PlannedFile(f"control/{name}", "value.j2", {"value": text}, comment="none")

    if policy.hostname:
        yield value("me", policy.hostname)
    greeting = smtp_greeting(policy)
    if greeting is not None:
        yield value("smtpgreeting", greeting)
    yield value("databytes", str(policy.smtp.max_message_size))
    yield listing("rcpthosts", accepted[:RCPTHOSTS_MAX],
                  "domains qmail-smtpd accepts mail for; a missing rcpthosts would relay for everyone")
    yield listing("morercpthosts", accepted[RCPTHOSTS_MAX:],
                  "more accepted domains; qmail-newmrh compiles this file into morercpthosts.cdb")
    yield listing("locals", local_names(policy), "domains delivered on this host")
    yield listing("badmailfrom", _address_entries(policy.access.senders),
                  "envelope senders refused at every RCPT (553)")
    if options.badrcptto_patch:
        yield listing("badrcptto", _address_entries(policy.access.recipients),
                      "recipients refused at RCPT (553; the badrcptto patch)")
    yield listing("percenthack", [], "no domain gets user%host@domain rewriting: it would relay")


def accepted_domains(policy: Policy) -> list[str]:
    """rcpthosts + morercpthosts: the host name, local and relay domains; ``localhost`` if that is all empty."""
    names = [policy.hostname] if policy.hostname else []
    names += [*policy.domains.local, *policy.domains.relay]
    return list(dict.fromkeys(names)) or ["localhost"]


def local_names(policy: Policy) -> list[str]:
    """control/locals: exact names only (qmail-send has no wildcard there); none for a null client."""
    if policy.role == "null-client":
        return []
    names = [policy.hostname] if policy.hostname else []
    names += ["localhost", *(d for d in policy.domains.local if not d.startswith("."))]
    return list(dict.fromkeys(names))


def smtp_greeting(policy: Policy) -> str | None:
    """control/smtpgreeting, or None to keep qmail's default (control/me).

    qmail-smtpd appends " ESMTP" to the greeting itself, so a banner ending in it loses that word.
    Without a policy host name the banner cannot be filled in (control files expand nothing).
    """
    if policy.hostname is None:
        return None
    return policy.smtp.banner.removesuffix(" ESMTP").replace("{hostname}", policy.hostname)


def address_entry(match: str) -> str | None:
    """badmailfrom/badrcptto syntax, ``user@domain`` or ``@domain``; None for ``user@`` (no such form)."""
    if match.endswith("@"):
        return None
    return match if "@" in match else f"@{match}"


def _patterns(rule: AddressRule | AddressFile) -> Sequence[str]:
    """The address patterns of a rule: its match, or every entry of its list file."""
    return rule.file.entries if isinstance(rule, AddressFile) else (rule.match,)


def _address_entries(rules: Sequence[AddressRule | AddressFile]) -> list[str]:
    entries = (address_entry(match) for rule in rules if rule.action == "reject" for match in _patterns(rule))
    return list(dict.fromkeys(entry for entry in entries if entry is not None))


# --- tcp.smtp -----------------------------------------------------------------------------------


def uses_rblsmtpd(policy: Policy) -> bool:
    """rblsmtpd runs when a DNSBL is listed or a client rule answers with text (RBLSMTPD)."""
    return bool(policy.dnsbl) or any(
        _ipv4(rule) and (rule.action == "defer" or (rule.action == "reject" and rule.message))
        for rule in policy.access.clients
    )


def _ipv4(rule: ClientRule | ClientFile) -> list[IPv4Network]:
    """The IPv4 networks of a client rule (for a list file: its networks, not its single addresses)."""
    networks = rule.file.networks if isinstance(rule, ClientFile) else [rule.match]
    return [network for network in networks if isinstance(network, IPv4Network)]


def _client_rules(policy: Policy) -> tuple[list[Rule], list[tuple[str, Block]]]:
    """tcp.smtp: client rules (first match wins), then trusted networks, then everyone else.

    The order follows Postfix's smtpd_recipient_restrictions: a client rule beats a trusted
    network, and a trusted or permitted client skips the DNSBL (``RBLSMTPD=""``). A list file's
    single addresses are exact keys, the longest there are, written in bulk beside the rules.
    """
    rblsmtpd = uses_rblsmtpd(policy)
    skip_dnsbl: tuple[tuple[str, str], ...] = (("RBLSMTPD", ""),) if rblsmtpd else ()
    clients = [(i, r, n) for i, r in enumerate(policy.access.clients) for n in _ipv4(r)]
    trusted = [(i, n) for i, n in enumerate(policy.networks.trusted) if isinstance(n, IPv4Network)]
    hosts, exact = _file_hosts(policy, clients, trusted, skip_dnsbl)
    clients = sorted([*clients, *exact], key=lambda client: client[0])  # decide() walks them in policy order

    def decide(block: IPv4Network) -> tuple[Outcome, str]:
        relay = next((f"networks.trusted[{i}] {canonical.network(n)}" for i, n in trusted if block.subnet_of(n)), None)
        for index, rule, network in clients:
            if block.subnet_of(network):
                outcome = _client_outcome(rule, relay is not None, skip_dnsbl)
                return outcome, f"access.clients[{index}] {canonical.network(network)}: {rule.action}"
        if relay is not None:
            return Outcome("allow", (("RELAYCLIENT", ""), *skip_dnsbl)), f"{relay}: may relay"
        # Without a DNSBL, rblsmtpd (if it runs) must look nothing up: upstream 0.88 has a default list.
        if policy.dnsbl:
            return Outcome("allow"), "every other client, checked against the DNSBLs"
        return Outcome("allow", skip_dnsbl), "every other client"

    return compile_rules([n for _, _, n in clients] + [n for _, n in trusted], decide), hosts


Client = tuple[int, ClientRule | ClientFile, IPv4Network]


def _file_hosts(policy: Policy, clients: list[Client], trusted: list[tuple[int, IPv4Network]],
                skip_dnsbl: tuple[tuple[str, str], ...]) -> tuple[list[tuple[str, Block]], list[Client]]:
    """List files' IPv4 addresses: blocks of exact tcprules keys, grouped by outcome.

    An address inside an earlier rule's network gets that rule's outcome (first match wins); one that
    a network narrower than /24 would also give a key of its own goes to the compiled rules instead
    (as a /32), so no key is written twice.
    """
    narrow = [(n, True) for n in [*(n for _, _, n in clients), *(n for _, n in trusted)] if n.prefixlen > 24]
    blocks: list[tuple[str, Block]] = []
    exact: list[Client] = []
    for index, rule in enumerate(policy.access.clients):
        if not isinstance(rule, ClientFile) or not rule.file.ipv4_hosts:
            continue
        hosts = rule.file.ipv4_hosts
        clashing = first_covering(hosts, narrow)
        exact += [(index, rule, IPv4Network(host)) for host in clashing]
        earlier = [(n, (i, r)) for i, r, n in clients if i < index]
        shadowed = first_covering(hosts, earlier)
        permits = rule.action == "permit" or any(r.action == "permit" for _, r in shadowed.values())
        relayed = first_covering(hosts, [(n, True) for _, n in trusted]) if permits else {}
        special = clashing.keys() | shadowed.keys() | relayed.keys()  # usually empty: no per-address work
        groups = {(index, _client_outcome(rule, False, skip_dnsbl)):
                  [h for h in hosts if h not in special] if special else list(hosts)}
        for host in [h for h in hosts if h in special and h not in clashing] if special else ():
            first_index, first_rule = shadowed.get(host, (index, rule))
            groups.setdefault((first_index, _client_outcome(first_rule, host in relayed, skip_dnsbl)), []).append(host)
        for (first_index, outcome), keys in groups.items():
            if not keys:
                continue
            value = "".join([outcome.verb, *(f",{name}={tcprules_value(text)}" for name, text in outcome.env)])
            reason = f"access.clients[{first_index}]: {len(keys)} address(es) of {rule.file.name}: " \
                     f"{policy.access.clients[first_index].action}"
            blocks.append((reason, Block(keys, value, separator=":")))
    return blocks, exact


def _client_outcome(rule: ClientRule | ClientFile, trusted: bool, skip_dnsbl: tuple[tuple[str, str], ...]
                    ) -> Outcome:
    if rule.action == "reject":
        # rblsmtpd answers every RCPT with 553 and the text; without a text, drop the connection.
        return Outcome("allow", (("RBLSMTPD", f"-{rule.message}"),)) if rule.message else Outcome("deny")
    if rule.action == "defer":
        text = rule.message or DEFER_TEXT
        # A leading '-' would make rblsmtpd answer 553; a blank keeps it 451.
        return Outcome("allow", (("RBLSMTPD", f" {text}" if text.startswith("-") else text),))
    relay = (("RELAYCLIENT", ""),) if trusted else ()
    return Outcome("allow", (*relay, *skip_dnsbl))


# --- run scripts --------------------------------------------------------------------------------


def smtpd_run_script(policy: Policy) -> RunScript:
    """tcpserver (rules, concurrency, user) → one rblsmtpd per DNSBL → qmail-smtpd."""
    options, q = policy.targets.qmail, shlex.quote
    setup = (
        "exec 2>&1",
        f"QMAIL={q(options.home)}",
        f'PATH="$QMAIL/bin:{SYSTEM_PATH}"',
        "export PATH",
        f"SMTPD_UID=$(id -u {q(options.smtpd_user)}) || exit 111",
        f"SMTPD_GID=$(id -g {q(options.smtpd_user)}) || exit 111",
        'LOCAL=$(head -n 1 "$QMAIL/control/me") || exit 111',
    )
    chain: list[tuple[str, ...]] = [(
        "tcpserver", "-v", "-R", "-H", "-l", '"$LOCAL"', "-x", q(f"{options.tcp_rules_file}.cdb"),
        "-c", q(str(options.concurrency)), "-u", '"$SMTPD_UID"', "-g", '"$SMTPD_GID"',
        q(canonical.address(options.listen)), q(str(options.smtp_port)),
    )]
    chain += [("rblsmtpd", "-b" if entry.action == "reject" else "-B", "-r", q(entry.zone)) for entry in policy.dnsbl]
    if uses_rblsmtpd(policy) and not policy.dnsbl:
        chain.append(("rblsmtpd",))
    smtpd: tuple[str, ...] = ('"$QMAIL/bin/qmail-smtpd"',)
    if policy.auth.enabled and options.auth_patch:
        smtpd += ('"$LOCAL"', q(options.checkpassword), "/bin/true")
    chain.append(smtpd)
    summary = f"qmail-smtpd on {options.listen}:{options.smtp_port} behind tcpserver rules"
    return RunScript(summary + (" and rblsmtpd" if len(chain) > 2 else ""), setup, tuple(chain))


def _log_run_script(policy: Policy) -> RunScript:
    options, q = policy.targets.qmail, shlex.quote
    return RunScript("qmail-smtpd's log, time-stamped by multilog", (f"PATH={q(SYSTEM_PATH)}", "export PATH"),
                     (("setuidgid", q(options.log_user), "multilog", "t", q(options.log_dir)),))


# --- coverage -----------------------------------------------------------------------------------


def _coverage(policy: Policy) -> Iterable[Coverage]:
    yield from _identity_coverage(policy)
    yield from _relay_coverage(policy)
    yield from _access_coverage(policy)
    yield from _protocol_coverage(policy)


def _identity_coverage(policy: Policy) -> Iterable[Coverage]:
    options = policy.targets.qmail
    if policy.role == "null-client":
        yield Coverage("role", "approximated", "no qmail-smtpd service and an empty control/locals; point "
                       "control/smtproutes at a smarthost yourself (not rendered)")
    elif policy.accepts_inbound:
        yield Coverage("role", "enforced", f"qmail-smtpd under tcpserver on {options.listen}:{options.smtp_port}")
    else:
        yield Coverage("role", "unsupported", "no port-25 service for role submission, and mtaharden renders no "
                       "qmail submission service")
    if policy.hostname:
        yield Coverage("hostname", "enforced", "control/me")
    else:
        yield Coverage("hostname", "approximated", "control/me is left as installed; the name is missing from "
                       "locals and rcpthosts (qmail control files cannot refer to 'me')")
    yield _greeting_coverage(policy)
    # a row of its own, so that a probe excuses the HELP answer and nothing else (a software name in the
    # greeting, EHLO, errors or QUIT stays a finding)
    yield Coverage("smtp.banner[HELP]", "approximated", f"the greeting is set, but HELP is answered otherwise: "
                   f"{HELP_LEAK}")


def _greeting_coverage(policy: Policy) -> Coverage:
    """The greeting (banner, EHLO, errors and QUIT name no software in qmail-smtpd; HELP has its own row)."""
    banner = policy.smtp.banner
    if policy.hostname and banner.endswith(" ESMTP"):
        return Coverage("smtp.banner", "enforced", "control/smtpgreeting (qmail-smtpd appends ' ESMTP' itself); "
                        "for HELP see smtp.banner[HELP]")
    if policy.hostname:
        greeting = "control/smtpgreeting; qmail-smtpd appends ' ESMTP', so the greeting reads '<banner> ESMTP'"
    elif banner == "{hostname} ESMTP":
        greeting = "qmail's default greeting: control/me and ' ESMTP'"
    else:
        greeting = "qmail's default greeting (control/me ESMTP): the policy's text needs hostname to be filled in"
    return Coverage("smtp.banner", "approximated", f"{greeting}; for HELP see smtp.banner[HELP]")


def _relay_coverage(policy: Policy) -> Iterable[Coverage]:
    more = len(accepted_domains(policy)) > RCPTHOSTS_MAX
    where = "rcpthosts" + (f" (the first {RCPTHOSTS_MAX}) and morercpthosts" if more else "")
    yield Coverage("domains.local", "approximated", f"control/locals and {where}; percenthack is empty. "
                   "qmail-smtpd accepts every local part and qmail-send bounces unknown users after accepting "
                   "the mail; differs when the sender is forged: the bounce, with a copy of the message, goes to "
                   "the forged address (backscatter, also for the relay-looking forms it accepts), and its text "
                   "says it comes from 'the qmail-send program'")
    for index, domain in enumerate(policy.domains.local):
        if domain.startswith("."):
            yield Coverage(f"domains.local[{index}]", "unsupported", f"{domain} is in {where}, but control/locals "
                           "matches exact names only, so qmail-send would treat its subdomains as remote and bounce "
                           "the mail; list the subdomains or route them in control/virtualdomains")
    yield Coverage("domains.relay", "enforced", f"{where}; forwarded by MX or control/smtproutes (not rendered); "
                   "recipients are not verified")
    yield Coverage("networks.trusted", "enforced", "tcp.smtp: RELAYCLIENT=\"\" (and no DNSBL check) per network; "
                   + ACCEPT_THEN_BOUNCE)
    for index, network in enumerate(policy.networks.trusted):
        if network.version == 6:
            yield Coverage(f"networks.trusted[{index}]", "approximated", f"{canonical.network(network)} is not "
                           "written: ucspi-tcp 0.88 listens and matches on IPv4 only, so no IPv6 client reaches "
                           "qmail-smtpd")
    yield from _auth_coverage(policy)


def _auth_coverage(policy: Policy) -> Iterable[Coverage]:
    auth, options = policy.auth, policy.targets.qmail
    if not auth.enabled:
        if options.auth_patch:
            yield Coverage("auth", "approximated", f"qmail-smtpd runs without checkpassword arguments: the "
                           f"{options.auth_patch} patch still advertises AUTH, but every attempt fails")
        else:
            yield Coverage("auth", "enforced", "no SMTP AUTH (stock qmail-smtpd has none)")
    elif not options.auth_patch:
        yield Coverage("auth", "unsupported", "stock qmail-smtpd has no SMTP AUTH; build it with the "
                       "qmail-smtpd-auth patch and set targets.qmail.auth_patch")
    else:
        yield Coverage("auth", "approximated", f"{options.auth_patch} with {options.checkpassword} (instead of "
                       f"{auth.backend}); the patch offers {AUTH_PATCH_MECHANISMS} whatever auth.mechanisms says")
        if auth.require_tls:
            yield Coverage("auth.require_tls", "unsupported", "qmail-smtpd-auth offers AUTH without STARTTLS, and "
                           "mtaharden renders no TLS patch setup: passwords would cross the network in clear")
    if policy.offers_submission:
        yield Coverage("auth.submission", "unsupported", "no qmail submission service is rendered (587 needs a "
                       "second tcpserver with the AUTH patch, 465 needs sslserver or a TLS patch)")


def _access_coverage(policy: Policy) -> Iterable[Coverage]:
    access = policy.access
    dnsbl = bool(policy.dnsbl)
    if not policy.accepts_inbound:
        for element in ("dnsbl", "access"):
            if getattr(policy, element) and (element == "dnsbl" or any(getattr(access, s) for s in STAGES)):
                yield Coverage(element, "enforced", f"role {policy.role}: no qmail-smtpd service, so no client "
                               "reaches these rules")
        return
    for index, entry in enumerate(policy.dnsbl):
        code = "553 (-b)" if entry.action == "reject" else "451 (-B)"
        yield Coverage(f"dnsbl[{index}]", "approximated", f"rblsmtpd -r {entry.zone}, {code} at RCPT: any TXT "
                       f"record lists a client, so the return-code filter(s) {', '.join(entry.filters)} are not "
                       "applied (an error answer with a TXT record, e.g. from a public resolver, blocks everyone) "
                       "and the reply text is the zone's TXT record, not the policy's message")
    if access.clients:
        yield Coverage("access.clients", "enforced", "tcp.smtp, longest-prefix rules equal to first match wins: "
                       "reject drops the connection (deny) or, with a message, answers every RCPT with 553 "
                       "(RBLSMTPD=\"-text\"); defer answers 451 (RBLSMTPD=\"text\"); permit skips the DNSBL")
    for index, rule in enumerate(access.clients):
        ipv6 = [n for n in rule.file.networks if n.version == 6] if isinstance(rule, ClientFile) else (
            [rule.match] if rule.match.version == 6 else [])
        if ipv6:
            what = f"{rule.match} is" if isinstance(rule, ClientRule) else \
                f"{len(ipv6)} IPv6 entries of {rule.file.name} are"
            yield Coverage(f"access.clients[{index}]", "approximated", f"{what} not written: ucspi-tcp 0.88 "
                           "accepts IPv4 clients only")
        elif rule.action == "defer":
            yield Coverage(f"access.clients[{index}]", "approximated", "rblsmtpd answers 451 to every RCPT, relay "
                           "attempts too (it runs before qmail-smtpd's rcpthosts check), where the contract refuses a "
                           "relay attempt with 5xx first")
        elif rule.action == "reject" and not rule.message:
            yield Coverage(f"access.clients[{index}]", "approximated", "without a message a reject drops the "
                           "connection (tcpserver deny) before any reply: the client sees no 5xx and retries later; "
                           "give the rule a message to have every RCPT answered 553")
        elif rule.action == "permit" and _address_entries(access.senders):
            yield Coverage(f"access.clients[{index}]", "approximated", "a permitted client still meets "
                           "control/badmailfrom, which qmail-smtpd applies to every client")
    if access.helo:
        yield Coverage("access.helo", "unsupported", "stock qmail-smtpd ignores the HELO/EHLO name")
    bmf = "control/badmailfrom"
    yield from _address_coverage("access.senders", access.senders, bmf,
                                 ["the DNSBL (rblsmtpd answers before MAIL)"] if dnsbl else [])
    brt = "control/badrcptto" if policy.targets.qmail.badrcptto_patch else None
    unskippable = ["the DNSBL (rblsmtpd answers every RCPT)"] if dnsbl else []
    if _address_entries(access.senders):
        unskippable.append(bmf)
    yield from _address_coverage("access.recipients", access.recipients, brt, unskippable)


def _parts(pattern: str) -> tuple[str | None, str | None]:
    """Local part and domain of a pattern (``user@domain``, ``@domain``/``domain``, ``user@``); None: any."""
    local, at, domain = pattern.partition("@")
    return (local or None, domain or None) if at else (None, local)


def _overlaps(first: Sequence[str], second: Sequence[str]) -> bool:
    """Whether some address matches a pattern of each list (set lookups: two list files cost little)."""
    small, large = sorted((first, second), key=len)
    parts = [_parts(pattern) for pattern in small]
    any_local = {domain for local, domain in parts if local is None}  # @domain: any local part there
    any_domain = {local for local, domain in parts if domain is None}  # user@: that user anywhere
    both = {(local, domain) for local, domain in parts if local and domain}
    for local, domain in map(_parts, large):
        if local and domain and (domain in any_local or local in any_domain or (local, domain) in both):
            return True
        if local is None and (domain in any_local or any_domain or domain in {d for _, d in both}):
            return True
        if domain is None and (local in any_domain or any_local or local in {lp for lp, _ in both}):
            return True
    return False


def _label(rule: AddressRule | AddressFile) -> str:
    return rule.match if isinstance(rule, AddressRule) else f"the list file {rule.file.name}"


def _address_coverage(stage: str, rules: Sequence[AddressRule | AddressFile], file: str | None,
                      unskippable: list[str]) -> Iterable[Coverage]:
    """Per rule: what badmailfrom/badrcptto (reject only, no exceptions) makes of first-match-wins."""
    for index, rule in enumerate(rules):
        element = f"{stage}[{index}]"
        patterns = _patterns(rule)
        earlier = [(j, r) for j, r in enumerate(rules[:index])
                   if r.action != "reject" and _overlaps(_patterns(r), patterns)]
        later = [f"{file} entry {r.match}" if isinstance(r, AddressRule) else f"{file} entries of {r.file.name}"
                 for r in rules[index + 1:] if r.action == "reject" and file
                 and _overlaps([p for p in _patterns(r) if address_entry(p)], patterns)]
        rejects = rule.action == "reject"
        formless = [pattern for pattern in patterns if address_entry(pattern) is None] if rejects else []
        status: Status
        if file is None and rule.action != "permit":
            status, detail = "unsupported", "stock qmail-smtpd has no recipient rules (the badrcptto patch adds " \
                                            "control/badrcptto; set targets.qmail.badrcptto_patch)"
        elif rule.action == "defer":
            status, detail = "unsupported", f"{file} refuses permanently; qmail-smtpd has no temporary rule"
        elif len(formless) == len(patterns):
            status, detail = "unsupported", f"{file} has no form for {_label(rule)} (a local part in any domain)"
        elif formless:
            status, detail = "approximated", f"{file}: {_address_written(rule)}, except {len(formless)} of the " \
                                             "form user@ (a local part in any domain), which it has no form for"
        elif rule.action == "reject" and earlier:
            shadows = ", ".join(f"{_label(r)} ({r.action}, rule {j})" for j, r in earlier)
            status, detail = "approximated", f"{file}: {_address_written(rule)}; also refuses {shadows}, " \
                                             f"which come first ({file} has no exceptions)"
        elif rule.action == "reject":
            status, detail = "enforced", f"{file}: {_address_written(rule)} (553 at RCPT)"
        elif unskippable or later:
            status, detail = "approximated", "qmail-smtpd cannot exempt it from " + ", ".join([*unskippable, *later])
        else:
            status, detail = "enforced", "nothing in qmail-smtpd would refuse it later"
        yield Coverage(element, status, detail)


def _address_written(rule: AddressRule | AddressFile) -> str:
    if isinstance(rule, AddressRule):
        return str(address_entry(rule.match))
    return f"the {len(rule.file)} entries of {rule.file.name}"


def _protocol_coverage(policy: Policy) -> Iterable[Coverage]:
    smtp = policy.smtp
    for index, check in enumerate(policy.header_checks):
        yield Coverage(f"header_checks[{index}]", "unsupported", f"{check.header}: qmail-smtpd has no header "
                       "filter; it needs a qmail-queue wrapper (QMAILQUEUE patch with qmail-qfilter or simscan), "
                       "not rendered")
    if smtp.disable_vrfy:
        yield Coverage("smtp.disable_vrfy", "enforced", "qmail-smtpd answers every VRFY with 252 and verifies nothing")
    else:
        yield Coverage("smtp.disable_vrfy", "approximated", "qmail-smtpd cannot verify addresses (VRFY always 252)")
    yield Coverage("smtp.disable_expn", "enforced" if smtp.disable_expn else "approximated",
                   "qmail-smtpd has no EXPN (502 unimplemented)")
    if smtp.require_helo:
        yield Coverage("smtp.require_helo", "unsupported", "stock qmail-smtpd accepts MAIL without HELO/EHLO and "
                       "checks no HELO name")
    else:
        yield Coverage("smtp.require_helo", "enforced", "HELO/EHLO is optional, as in stock qmail-smtpd")
    if smtp.strict_envelopes:
        yield Coverage("smtp.strict_envelopes", "unsupported", "qmail-smtpd's addrparse accepts addresses without "
                       "<>, strips source routes and quotes, and checks only the domain after the last @")
    else:
        yield Coverage("smtp.strict_envelopes", "enforced", "lenient envelope syntax, as in stock qmail-smtpd")
    yield Coverage("smtp.max_message_size", "enforced", "control/databytes (552 after DATA; counted after CRLF "
                   "becomes LF)")
    yield Coverage("smtp.max_recipients", "unsupported", "stock qmail-smtpd has no recipient limit (a patch adds "
                   "one; not rendered)")
    if policy.accepts_inbound:
        yield Coverage("smtp.max_connections_per_client", "approximated", f"tcpserver -c "
                       f"{policy.targets.qmail.concurrency} limits all sessions together (targets.qmail.concurrency),"
                       " not per client: one client may take every slot")
    else:
        yield Coverage("smtp.max_connections_per_client", "enforced", f"role {policy.role}: no qmail-smtpd service")
    if policy.tls:
        yield Coverage("tls", "unsupported", "stock qmail-smtpd has no STARTTLS; a TLS patch (e.g. netqmail's by "
                       "Frederik Vermeulen, control/servercert.pem) is needed and not rendered")
    else:
        yield Coverage("tls", "enforced", "no TLS (stock qmail-smtpd has none)")
