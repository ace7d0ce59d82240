"""The qmail-smtpd service: daemontools run scripts (tcpserver → rblsmtpd → qmail-smtpd), how roles drive
the services, and the steps after install.

Every word of a run script is shell-safe when it is made (``shlex.quote`` or a fixed ``"$VARIABLE"``), so the
template only lays lines out.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ...policy import Policy, canonical
from ..base import Folder, PlannedFile, Service, Step
from ..kit.coverage import Recorder
from .capabilities import note
from .options import qmail_options

SUPERVISE_WAIT = 10  # seconds svc waits for supervise of a new service folder (svscan rescans every 5 s)
LISTEN_WAIT = 10  # seconds for tcpserver to be (re)started and listening (supervise pauses 1 s after each start)
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
# Shell functions for the steps that wait on tcpserver. pid SERVICE: supervise's child while it is up.
# listens PID PORT: that process holds the socket listening on PORT (its inode from /proc/net/tcp{,6}
# among the process's descriptors), so another listener (the old tcpserver, another MTA) does not count.
# serving SERVICE OLD PORT: wait, bounded, until a child other than OLD is up and listens on PORT.
SERVING_SHELL = " ".join((
    'pid() { s=$(svstat "$1") || return 1; case $s in *": up (pid "*) s=${s#*"(pid "}; echo "${s%%)*}";; esac; };',
    'listens() { hex=$(printf %04X "$2");',
    "for inode in $(awk -v p=\":$hex\" '$4 == \"0A\" && substr($2, length($2) - 4) == p {print $10}'"
    " /proc/net/tcp /proc/net/tcp6 2>/dev/null);",
    'do ls -l "/proc/$1/fd" 2>/dev/null | grep -qF "socket:[$inode]" && return 0; done; return 1; };',
    'serving() { i=0; until new=$(pid "$1") && [ -n "$new" ] && [ "$new" != "$2" ] && listens "$new" "$3";',
    f'do i=$((i + 1)); [ "$i" -le {LISTEN_WAIT * 10} ] ||',
    f'{{ echo "tcpserver of $1 is not listening on port $3 after {LISTEN_WAIT} s" >&2; exit 1; }};',
    "sleep 0.1; done; };",
))


@dataclass(frozen=True)
class RunScript:
    """A daemontools ``run`` script (run.j2): shell lines, then one ``exec`` of a chain of programs."""

    summary: str
    setup: tuple[str, ...]
    chain: tuple[tuple[str, ...], ...]


def smtpd_arguments(policy: Policy, rec: Recorder) -> tuple[str, ...]:
    """qmail-smtpd's arguments: the AUTH patch's host name and checkpassword program, when AUTH is on.

    Records auth (whether or not a service runs: the AUTH patch is a build choice of the host).
    """
    auth, options = policy.auth, qmail_options(policy)
    arguments: tuple[str, ...] = ()
    if not auth.enabled:
        note(rec, "auth", "patch-idle" if options.auth_patch else "off", patch=options.auth_patch)
    elif not options.auth_patch:
        note(rec, "auth", "no-patch")
    else:
        note(rec, "auth", "patch", patch=options.auth_patch, checkpassword=options.checkpassword,
             backend=auth.backend)
        if auth.require_tls:
            note(rec, "auth.require_tls", "clear")
        arguments = ('"$LOCAL"', shlex.quote(options.checkpassword), "/bin/true")
    if policy.offers_submission:
        note(rec, "auth.submission", "none")
    return arguments


def service_files(policy: Policy, rec: Recorder, rblsmtpd: bool, arguments: tuple[str, ...]) -> list[PlannedFile]:
    """log/run first: svscan decides only when it first sees a service folder whether it has a log, so
    installed in this order (folders made with their parents) the live service never starts unlogged."""
    return [
        PlannedFile("service/qmail-smtpd/log/run", "run.j2", _log_run_script(policy), mode=0o755),
        PlannedFile("service/qmail-smtpd/run", "run.j2", _smtpd_run_script(policy, rec, rblsmtpd, arguments),
                    mode=0o755),
    ]


def _smtpd_run_script(policy: Policy, rec: Recorder, rblsmtpd: bool, arguments: tuple[str, ...]) -> RunScript:
    """tcpserver (rules, concurrency, user) → one rblsmtpd per DNSBL → qmail-smtpd."""
    options, q = qmail_options(policy), shlex.quote
    setup = (
        "exec 2>&1",
        f"QMAIL={q(options.home)}",
        f'PATH="$QMAIL/bin:{SYSTEM_PATH}"',
        "export PATH",
        f"SMTPD_UID=$(id -u {q(options.smtpd_user)}) || exit 111",
        f"SMTPD_GID=$(id -g {q(options.smtpd_user)}) || exit 111",
        'LOCAL=$(head -n 1 "$QMAIL/control/me") || exit 111',
    )
    note(rec, "role", "inbound", listen=options.listen, port=options.smtp_port)
    note(rec, "smtp.max_connections_per_client", "global", concurrency=options.concurrency)
    chain: list[tuple[str, ...]] = [(
        "tcpserver", "-v", "-R", "-H", "-l", '"$LOCAL"', "-x", q(f"{options.tcp_rules_file}.cdb"),
        "-c", q(str(options.concurrency)), "-u", '"$SMTPD_UID"', "-g", '"$SMTPD_GID"',
        q(canonical.address(options.listen)), q(str(options.smtp_port)),
    )]
    for index, entry in enumerate(policy.dnsbl):
        reject = entry.action == "reject"
        note(rec, f"dnsbl[{index}]", "rblsmtpd", zone=entry.zone, code="553 (-b)" if reject else "451 (-B)",
             filters=", ".join(entry.filters))
        chain.append(("rblsmtpd", "-b" if reject else "-B", "-r", q(entry.zone)))
    if rblsmtpd and not policy.dnsbl:
        chain.append(("rblsmtpd",))
    chain.append(('"$QMAIL/bin/qmail-smtpd"', *arguments))
    summary = f"qmail-smtpd on {options.listen}:{options.smtp_port} behind tcpserver rules"
    return RunScript(summary + (" and rblsmtpd" if len(chain) > 2 else ""), setup, tuple(chain))


def _log_run_script(policy: Policy) -> RunScript:
    options, q = qmail_options(policy), shlex.quote
    return RunScript("qmail-smtpd's log, time-stamped by multilog", (f"PATH={q(SYSTEM_PATH)}", "export PATH"),
                     (("setuidgid", q(options.log_user), "multilog", "t", q(options.log_dir)),))


def service(policy: Policy) -> Service:
    """daemontools supervises qmail: svc -u/-d bring its services up and down; every apply is an
    ``svc -t`` restart already, so there is no separate restart key. Starting ends when tcpserver
    listens: svc only asks supervise, and a probe right after it would find the port closed."""
    options = qmail_options(policy)
    names = ("qmail-send", "qmail-smtpd") if policy.accepts_inbound else ("qmail-send",)
    dirs = tuple(f"{options.service_dir}/{name}" for name in names)
    quoted = " ".join(shlex.quote(d) for d in dirs)
    # svscan starts supervise for a new service folder within 5 s (it rescans /service that often), and
    # svc needs supervise; on a first deploy the qmail-smtpd folder has only just been installed.
    supervised = ("sh", "-c", f'for d do i=0; until svok "$d" 2>/dev/null; do i=$((i + 1)); '
                              f'[ "$i" -le {SUPERVISE_WAIT * 10} ] || {{ echo "supervise does not run for $d '
                              '(svscan must watch its folder)" >&2; exit 1; }; sleep 0.1; done; done',
                  "supervised", *dirs)
    listening = (("sh", "-c", SERVING_SHELL + ' serving "$1" "" "$2"', "serving", *_smtpd(policy)),
                 ) if policy.accepts_inbound else ()
    return Service(running=("sh", "-c", f"! svstat {quoted} | grep -qv ': up '"),
                   start=(supervised, ("svc", "-u", *dirs), *listening), stop=(("svc", "-d", *dirs),))


def _smtpd(policy: Policy) -> tuple[str, str]:
    """qmail-smtpd's service folder and port, as the serving steps take them."""
    options = qmail_options(policy)
    return f"{options.service_dir}/qmail-smtpd", str(options.smtp_port)


def folders(policy: Policy) -> tuple[Folder, ...]:
    """multilog's folder for qmail-smtpd: qmail's own install makes the queue, nothing makes this one."""
    options = qmail_options(policy)
    return (Folder(options.log_dir, options.log_user, 0o750, "multilog writes qmail-smtpd's log there"),
            ) if policy.accepts_inbound else ()


def steps(policy: Policy) -> tuple[Step, ...]:
    """What runs after install: compile tcp.smtp, check the scripts, index morercpthosts, restart."""
    options, q = qmail_options(policy), shlex.quote
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
        steps.append(Step(("sh", "-c", SERVING_SHELL + ' old=$(pid "$1"); svc -t "$1" || exit 1; '
                           '[ -z "$old" ] || serving "$1" "$old" "$2"', "restart", *_smtpd(policy)),
                          "restart tcpserver for a changed run script (control files and tcp.smtp.cdb are read "
                          "per connection), and wait until the new one listens: supervise acts on svc -t only "
                          "after its 1-s pause following a start, and until then the old tcpserver, with the old "
                          "rblsmtpd chain, answers", "apply"))
    return tuple(steps)
