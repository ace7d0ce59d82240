"""OpenDKIM and OpenDMARC, the milters Postfix and Sendmail share for DKIM and DMARC (issue 26).

Both daemons are Debian's packages; their files are planned in the MTA's config folder (``opendkim/``,
``opendmarc/``), where the roles stage and swap every planned file, and the plan starts each daemon on its
own file (``-x``/``-c``) with a PID file of its own, so Debian's instance on ``/etc/opendkim.conf`` (if
enabled) is neither read nor disturbed. They listen on loopback TCP ports rather than Debian's default UNIX
sockets, because a chrooted Postfix smtpd cannot reach ``/run/opendkim``.

Keys never enter the output: the KeyTable names the key's path, and a check step proves the key is
owner-only (readable by no one but the ``opendkim`` user, or its group) before the live files are swapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...policy import Policy, canonical
from ..base import Block, PlannedFile, Requirement, Step

OPENDKIM_PORT, OPENDMARC_PORT = 8891, 8893  # the ports Debian's README.Debian and most guides use
PACKAGES = ("opendkim", "opendmarc")
STOP_SECONDS = 10
# OpenDKIM is built with libunbound, which recurses from the root on its own unless told where to ask: at each
# start the host's resolvers (/etc/resolv.conf, as Postfix, policyd-spf and OpenDMARC use) become its forwarders.
RESOLVERS = "/run/opendkim/resolvers.conf"
FORWARDERS = (f"ns=$(sed -n 's/^[[:space:]]*nameserver[[:space:]]\\{{1,\\}}\\([0-9A-Fa-f.:]\\{{1,\\}}\\).*/\\1/p' "
              f"/etc/resolv.conf 2>/dev/null); {{ [ -z \"$ns\" ] || {{ printf 'forward-zone:\\n  name: \".\"\\n'; "
              f"for a in $ns; do printf '  forward-addr: %s\\n' \"$a\"; done; }}; }} > {RESOLVERS} && ")
SIGNER = "opendkim"  # the user Debian's opendkim runs as (UserID): the only reader of the keys
LOOPBACK = ("127.0.0.1", "::1")

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
    """One milter daemon: its files, how the MTA reaches it, and how it is checked, started and stopped."""

    name: str  # the Debian package, the program and its user
    port: int
    conf: str  # its configuration file on the host
    files: tuple[PlannedFile, ...]
    check: tuple[Step, ...]
    prepare: str = ""  # shell run before the daemon starts, after its run folder exists

    @property
    def pid_file(self) -> str:
        return f"/run/{self.name}/mtaharden.pid"

    @property
    def start(self) -> tuple[str, ...]:
        """Its run folder (``/run`` is empty after a boot), then the daemon, which forks, writes its PidFile and
        drops to its UserID (both in its file)."""
        flag = "-x" if self.name == "opendkim" else "-c"
        return ("sh", "-c", f'install -d -o {self.name} -g {self.name} -m 0755 /run/{self.name} && '
                f'{self.prepare}exec {self.name} {flag} "$1"', self.name, self.conf)

    @property
    def stop(self) -> tuple[str, ...]:
        """TERM the one in the PID file and wait (bounded) until it is gone, so a start can bind the port."""
        return ("sh", "-c", f'[ -s "$1" ] || exit 0; pid=$(cat "$1"); kill "$pid" 2>/dev/null || exit 0; '
                f'i=0; while kill -0 "$pid" 2>/dev/null; do i=$((i+1)); [ $i -le {STOP_SECONDS * 10} ] || '
                f'{{ echo "error: {self.name} did not stop"; exit 1; }}; sleep 0.1; done', self.name, self.pid_file)

    @property
    def restart(self) -> tuple[Step, ...]:
        why = f"{self.name} reads its configuration only at start"
        return Step(self.stop, why, "apply"), Step(self.start, why, "apply")


def _settings(path: str, lines: list[tuple[str, str]], comments: list[str]) -> PlannedFile:
    """A ``Name<TAB>value`` file (both daemons' configuration syntax, and their tables')."""
    return PlannedFile(path, "table.j2", {"lines": tuple(lines), "comments": tuple(comments), "blocks": ()})


def _host_list(path: str, policy: Policy) -> PlannedFile:
    """Loopback and the trusted networks, one per line: the clients whose mail is the site's own."""
    hosts = list(dict.fromkeys([*LOOPBACK, *(canonical.network(n) for n in policy.networks.trusted)]))
    return PlannedFile(path, "table.j2", {"lines": (), "comments": (), "blocks": (Block(hosts, separator=""),)})


def signs(policy: Policy) -> bool:
    return bool(policy.dkim_signing)


def opendkim(policy: Policy, config_dir: str) -> Milter | None:
    """OpenDKIM in mode ``s`` (signing), ``v`` (verifying) or both; None when the policy wants neither."""
    verify = policy.sender_auth.dkim.enabled
    if not (verify or signs(policy)):
        return None
    folder = f"{config_dir}/opendkim"
    mode = ("s" if signs(policy) else "") + ("v" if verify else "")
    lines: list[tuple[str, str]] = [
        ("Syslog", "yes"), ("SyslogSuccess", "yes"), ("UserID", SIGNER), ("UMask", "007"),
        ("PidFile", "/run/opendkim/mtaharden.pid"), ("Socket", f"inet:{OPENDKIM_PORT}@127.0.0.1"),
        ("Mode", mode), ("Canonicalization", "relaxed/simple"), ("OversignHeaders", "From"),
        ("On-BadSignature", "accept"), ("On-NoSignature", "accept"), ("ResolverConfiguration", RESOLVERS),
        ("InternalHosts", f"{folder}/TrustedHosts"), ("ExternalIgnoreList", f"{folder}/TrustedHosts"),
    ]
    comments = [""] * len(lines)
    comments[6] = "s: sign mail of the trusted and authenticated clients; v: verify everyone else's"
    comments[9] = "a bad signature alone never refuses mail (RFC 6376 6.3): it is recorded in Authentication-Results"
    if policy.hostname:
        lines.append(("AuthservID", policy.hostname))
        comments.append("")
    files = [_host_list("opendkim/TrustedHosts", policy)]
    check: list[Step] = []
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
    conf = f"{folder}/opendkim.conf"
    files.insert(0, _settings("opendkim/opendkim.conf", lines, comments))
    check.insert(0, Step(("opendkim", "-n", "-x", conf), "let OpenDKIM parse its configuration", "check"))
    return Milter("opendkim", OPENDKIM_PORT, conf, tuple(files), tuple(check), FORWARDERS)


def opendmarc(policy: Policy, config_dir: str) -> Milter | None:
    """OpenDMARC judging the From: domain from OpenDKIM's Authentication-Results and the SPF result."""
    dmarc = policy.sender_auth.dmarc
    if not dmarc.enabled:
        return None
    folder = f"{config_dir}/opendmarc"
    authserv = policy.hostname or "HOSTNAME"
    lines = [
        ("Syslog", "true"), ("UserID", "opendmarc"), ("UMask", "0002"), ("PidFile", "/run/opendmarc/mtaharden.pid"),
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
    conf = f"{folder}/opendmarc.conf"
    files = (_settings("opendmarc/opendmarc.conf", lines, comments), _host_list("opendmarc/ignore.hosts", policy))
    return Milter("opendmarc", OPENDMARC_PORT, conf, files,
                  (Step(("opendmarc", "-n", "-c", conf), "let OpenDMARC parse its configuration", "check"),))


def milters(policy: Policy, config_dir: str) -> tuple[Milter, ...]:
    """The milters the policy needs, in the order the MTA calls them: OpenDMARC reads OpenDKIM's result."""
    return tuple(m for m in (opendkim(policy, config_dir), opendmarc(policy, config_dir)) if m is not None)


def signing_keys(policy: Policy) -> tuple[str, ...]:
    """The private keys' paths, each once."""
    return tuple(dict.fromkeys(key.key for key in policy.dkim_signing))


def requirements(policy: Policy, signer: str = SIGNER) -> tuple[Requirement, ...]:
    """Each DKIM key exists and the signer reads it (its mode is the check step's)."""
    keys = signing_keys(policy)
    return (Requirement("readable", (signer, *keys), f"{signer} reads the DKIM private keys"),) if keys else ()
