"""OpenDKIM and OpenDMARC, the milters Postfix and Sendmail share for DKIM and DMARC (issue 26).

Both daemons are Debian's packages, run as Debian runs them: their files are where the packages read them
(``<etc>/opendkim.conf`` and ``<etc>/opendmarc.conf``, ``etc`` being ``/etc`` live and the staging folder
while a role validates; their tables in ``opendkim/`` and ``opendmarc/`` below it), and Debian's init scripts
(which systemd's units stand in for) restart them, so the services the packages enabled at install start
them at boot, before the MTA that defers mail without them. They listen on loopback TCP ports rather than
Debian's default UNIX sockets, because a chrooted Postfix smtpd cannot reach ``/run/opendkim``.

Keys never enter the output: the KeyTable names the key's path, and a check step proves the key is
owner-only (readable by no one but the ``opendkim`` user, or its group) before the live files are swapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy, canonical
from ..base import Block, PlannedFile, Requirement, Step
from .coverage import Recorder
from .sender_auth import OFF

OPENDKIM_PORT, OPENDMARC_PORT = 8891, 8893  # the ports Debian's README.Debian and most guides use
PACKAGES = ("opendkim", "opendmarc")
# OpenDKIM is built with libunbound, which recurses from the root on its own unless told where to ask: a build
# step makes the host's resolvers (/etc/resolv.conf, as Postfix, policyd-spf and OpenDMARC use) its forwarders.
RESOLVERS = "opendkim/resolvers.conf"
FORWARDERS = (r"ns=$(sed -n 's/^[[:space:]]*nameserver[[:space:]]\{1,\}\([0-9A-Fa-f.:]\{1,\}\).*/\1/p' "
              r"""/etc/resolv.conf 2>/dev/null); { [ -z "$ns" ] || { printf 'forward-zone:\n  name: "."\n'; """
              r"""for a in $ns; do printf '  forward-addr: %s\n' "$a"; done; }; } > "$1" """)
SIGNER = "opendkim"  # the user Debian's opendkim runs as (UserID): the only reader of the keys
LOOPBACK = ("127.0.0.1", "::1")
LISTEN_SECONDS = 60  # as long as a role waits for a started MTA (mtaharden_start_wait_seconds' default)
# $0 is a milter's name, $1 its port: run the command after them, then wait until a socket listens on that TCP
# port (state 0A in /proc/net/tcp or tcp6, the port in hex): read from the kernel, so nothing connects to the
# milter and nothing beyond a stock shell is needed.
LISTEN_WAIT = (r"""port=$1; shift; "$@" || exit; hex=$(printf '%04X' "$port"); i=0; """
               r"""until grep -qs ":$hex [0-9A-F]*:0000 0A " /proc/net/tcp /proc/net/tcp6; do """
               rf"""[ $i -lt {LISTEN_SECONDS * 10} ] || {{ echo "error: $0 started but does not listen """
               rf"""on port $port after {LISTEN_SECONDS} s"; exit 1; }}; """
               r"""sleep 0.1; i=$((i+1)); done""")

# A key is refused unless its owner is the signer (then no group or other bits) or its group is the
# signer's (then no other bits): the signer opens it as that user, nobody else may read it. $0 is the signer.
KEY_CHECK = r"""for key do
  set -- $(stat -L -c '%U %G %a' -- "$key") || { echo "error: DKIM key $key is missing"; exit 1; }
  if { [ "$1" = "$0" ] && case $3 in [4-7]00) true;; *) false;; esac; } ||
     { [ "$2" = "$0" ] && case $3 in [4-7][04]0) true;; *) false;; esac; }; then continue; fi
  echo "error: DKIM key $key is $1:$2 mode $3: make it owner-only (chown $0 and chmod 600, or chgrp $0 and chmod 640)"
  exit 1
done"""


def key_check(keys: tuple[str, ...], signer: str) -> Step:
    """The check step that refuses a DKIM key anyone but ``signer`` (its user or group) may read."""
    return Step(("sh", "-c", KEY_CHECK, signer, *keys),
                f"every DKIM private key is owner-only ({signer}'s), never group- or world-readable", "check")


@dataclass(frozen=True)
class Milter:
    """One milter daemon: its files, how the MTA reaches it, and how it is built, checked and restarted.

    Its run folder and PID file are Debian's (``/run/<name>/<name>.pid``, as its init script and unit say)."""

    name: str  # the Debian package, the program, its user and its init script
    port: int
    conf: str  # its configuration file on the host (where Debian's package reads it)
    files: tuple[PlannedFile, ...]  # paths relative to the milter folder (``etc``)
    check: tuple[Step, ...]  # build steps first (in plan order), then the checks

    @property
    def init(self) -> str:
        """Debian's init script; on a systemd host it hands the call to ``systemctl`` (lsb init-functions)."""
        return f"/etc/init.d/{self.name}"

    @property
    def launch(self) -> tuple[str, ...]:
        """A restart: the package started its default instance at install, and ``start`` refuses a running one."""
        return (self.init, "restart")

    @property
    def start(self) -> tuple[str, ...]:
        """The launch, then a wait until the milter listens on its port: an init script returns once the daemon
        has forked, before it binds, and the MTA defers every message (Sendmail's F=T, Postfix's tempfail)
        while its milter does not answer."""
        return ("sh", "-c", LISTEN_WAIT, self.name, str(self.port), *self.launch)

    @property
    def stop(self) -> tuple[str, ...]:
        return (self.init, "stop")

    @property
    def restart(self) -> tuple[Step, ...]:
        return (Step(self.start, f"{self.name} reads its configuration only at start", "apply"),)


def _settings(path: str, lines: list[tuple[str, str]], comments: list[str]) -> PlannedFile:
    """A ``Name<TAB>value`` file (both daemons' configuration syntax, and their tables')."""
    return PlannedFile(path, "table.j2", {"lines": tuple(lines), "comments": tuple(comments), "blocks": ()})


def _host_list(path: str, policy: Policy) -> PlannedFile:
    """Loopback and the trusted networks, one per line: the clients whose mail is the site's own."""
    hosts = list(dict.fromkeys([*LOOPBACK, *(canonical.network(n) for n in policy.networks.trusted)]))
    return PlannedFile(path, "table.j2", {"lines": (), "comments": (), "blocks": (Block(hosts, separator=""),)})


def signs(policy: Policy) -> bool:
    return bool(policy.dkim_signing)


def opendkim(policy: Policy, etc: str) -> Milter | None:
    """OpenDKIM in mode ``s`` (signing), ``v`` (verifying) or both; None when the policy wants neither."""
    verify = policy.sender_auth.dkim.enabled
    if not (verify or signs(policy)):
        return None
    folder = f"{etc}/opendkim"
    mode = ("s" if signs(policy) else "") + ("v" if verify else "")
    lines: list[tuple[str, str]] = [
        ("Syslog", "yes"), ("SyslogSuccess", "yes"), ("UserID", SIGNER), ("UMask", "007"),
        ("PidFile", "/run/opendkim/opendkim.pid"), ("Socket", f"inet:{OPENDKIM_PORT}@127.0.0.1"),
        ("Mode", mode), ("Canonicalization", "relaxed/simple"), ("OversignHeaders", "From"),
        ("On-BadSignature", "accept"), ("On-NoSignature", "accept"), ("ResolverConfiguration", f"{etc}/{RESOLVERS}"),
        ("InternalHosts", f"{folder}/TrustedHosts"), ("ExternalIgnoreList", f"{folder}/TrustedHosts"),
    ]
    comments = [""] * len(lines)
    comments[6] = "s: sign mail of the trusted and authenticated clients; v: verify everyone else's"
    comments[9] = "a bad signature alone never refuses mail (RFC 6376 6.3): it is recorded in Authentication-Results"
    if policy.hostname:
        lines.append(("AuthservID", policy.hostname))
        comments.append("")
    files = [_host_list("opendkim/TrustedHosts", policy)]
    check = [Step(("sh", "-c", FORWARDERS, "sh", f"{etc}/{RESOLVERS}"),
                  "OpenDKIM's resolver asks the host's resolvers (/etc/resolv.conf) as the MTA does",
                  outputs=(f"{etc}/{RESOLVERS}",))]
    if signs(policy):
        lines += [("KeyTable", f"file:{folder}/KeyTable"), ("SigningTable", f"refile:{folder}/SigningTable"),
                  ("RequireSafeKeys", "yes")]
        comments += ["", "", "OpenDKIM itself refuses a key others may read"]
        named = [(f"{key.selector}._domainkey.{key.domain}", key) for key in policy.dkim_signing]
        files += [
            _settings("opendkim/KeyTable", [(name, f"{key.domain}:{key.selector}:{key.key}") for name, key in named],
                      [f"{key.algorithm}: the key's type decides it" for key in policy.dkim_signing]),
            _settings("opendkim/SigningTable", [(f"*@{key.domain}", name) for name, key in named], []),
        ]
        check.append(key_check(signing_keys(policy), SIGNER))
    conf = f"{etc}/opendkim.conf"
    files.insert(0, _settings("opendkim.conf", lines, comments))
    check.insert(1, Step(("opendkim", "-n", "-x", conf), "let OpenDKIM parse its configuration", "check"))
    return Milter("opendkim", OPENDKIM_PORT, conf, tuple(files), tuple(check))


def opendmarc(policy: Policy, etc: str) -> Milter | None:
    """OpenDMARC judging the From: domain from OpenDKIM's Authentication-Results and the SPF result."""
    dmarc = policy.sender_auth.dmarc
    if not dmarc.enabled:
        return None
    folder = f"{etc}/opendmarc"
    authserv = policy.hostname or "HOSTNAME"
    lines = [
        ("Syslog", "true"), ("UserID", "opendmarc"), ("UMask", "0002"), ("PidFile", "/run/opendmarc/opendmarc.pid"),
        ("Socket", f"inet:{OPENDMARC_PORT}@127.0.0.1"),
        ("PublicSuffixList", "/usr/share/publicsuffix/public_suffix_list.dat"),
        ("AuthservID", authserv), ("TrustedAuthservIDs", authserv),
        ("IgnoreAuthenticatedClients", "true"), ("IgnoreHosts", f"{folder}/ignore.hosts"),
        ("SPFSelfValidate", "true"),
        ("RejectFailures", "true" if dmarc.honour_reject else "false"),
        ("HoldQuarantinedMessages", "true" if dmarc.on_quarantine == "hold" else "false"),
        ("FailureReports", "false"),
    ]
    comments = [""] * len(lines)
    comments[10] = "no SPF result in the header (the trusted ones are skipped): check SPF itself"
    comments[11] = "p=reject and failing: refused (550) only when sender_auth.dmarc.honour_reject"
    comments[12] = "p=quarantine and failing: hold (the MTA's hold queue) or only the Authentication-Results tag"
    conf = f"{etc}/opendmarc.conf"
    files = (_settings("opendmarc.conf", lines, comments), _host_list("opendmarc/ignore.hosts", policy))
    return Milter("opendmarc", OPENDMARC_PORT, conf, files,
                  (Step(("opendmarc", "-n", "-c", conf), "let OpenDMARC parse its configuration", "check"),))


def milters(policy: Policy, etc: str) -> tuple[Milter, ...]:
    """The milters the policy needs, in the order the MTA calls them: OpenDMARC reads OpenDKIM's result.
    ``etc``: the folder Debian's packages read their files in (``/etc``; the staging folder while staged)."""
    return tuple(m for m in (opendkim(policy, etc), opendmarc(policy, etc)) if m is not None)


def signing_keys(policy: Policy) -> tuple[str, ...]:
    """The private keys' paths, each once."""
    return tuple(dict.fromkeys(key.key for key in policy.dkim_signing))


def requirements(policy: Policy, signer: str = SIGNER) -> tuple[Requirement, ...]:
    """Each DKIM key exists and the signer reads it (its mode is the check step's)."""
    keys = signing_keys(policy)
    return (Requirement("readable", (signer, *keys), f"{signer} reads the DKIM private keys"),) if keys else ()


@dataclass(frozen=True)
class Wording:
    """What the coverage rows say of one MTA's use of the milters: how it calls them and what it does with
    their verdicts (``signed`` takes ``{keys}``)."""

    call: str  # how the MTA reaches a milter, e.g. "smtpd_milters" or "INPUT_MAIL_FILTER, F=T"
    verified: str  # whose signatures are verified
    spf: str  # where OpenDMARC takes the SPF result from
    held: str  # where a held p=quarantine message goes
    signed: str  # whose mail is signed, with {keys}


def record(policy: Policy, rec: Recorder, wording: Wording) -> None:
    """The rows of ``sender_auth.dkim``, ``sender_auth.dmarc`` and ``dkim_signing`` for an MTA calling these
    milters (``sender_auth.spf`` is each MTA's own)."""
    auth = policy.sender_auth
    if auth.dkim.enabled:
        rec.enforced("sender_auth.dkim", f"OpenDKIM milter (package opendkim; {wording.call}, inet:127.0.0.1:"
                     f"{OPENDKIM_PORT}, mode v): every signature of mail from {wording.verified} verified, the result "
                     "in an Authentication-Results header; a bad signature alone refuses nothing")
    else:
        rec.enforced("sender_auth.dkim", OFF["sender_auth.dkim"])
    dmarc = auth.dmarc
    if dmarc.enabled:
        quarantine = (f"held in {wording.held}" if dmarc.on_quarantine == "hold"
                      else "tagged only (HoldQuarantinedMessages false)")
        reject = ("refused with 550 at end of DATA (RejectFailures)" if dmarc.honour_reject
                  else "tagged only (RejectFailures false)")
        rec.enforced("sender_auth.dmarc", f"OpenDMARC milter (package opendmarc; {wording.call}, inet:127.0.0.1:"
                     f"{OPENDMARC_PORT}) after OpenDKIM, SPF from {wording.spf}; p=reject failing: {reject}; "
                     f"p=quarantine failing: {quarantine}")
    else:
        rec.enforced("sender_auth.dmarc", OFF["sender_auth.dmarc"])
    if policy.dkim_signing:
        keys = ", ".join(f"{key.selector}._domainkey.{key.domain}" for key in policy.dkim_signing)
        rec.enforced("dkim_signing", f"OpenDKIM milter (package opendkim; mode s; {wording.call}) signs "
                     f"{wording.signed.format(keys=keys)} (relaxed/simple, From oversigned); a check step refuses a "
                     "key file anyone but opendkim may read; the key never enters the output")
    else:
        rec.enforced("dkim_signing", OFF["dkim_signing"])
