"""How the rendered files become a running Postfix: build and check steps, the service, the host's preflight."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple

from ...policy import Policy
from ..base import Folder, Requirement, Service, Step, address_requirement, digest, tls_requirements
from ..kit import milters as milter_kit
from ..kit.milters import Milter
from . import sasl
from .main_cf import MainCf
from .master_cf import MasterRow
from .syntax import interface
from .tables import MAP_SUFFIXES, Table

DEBIAN_CONFIGURE = "/usr/lib/postfix/configure-instance.sh"
DEBIAN_CONFIG_DIR = "/etc/postfix"
RESTART_PARAMETERS = frozenset({"inet_interfaces", "inet_protocols"})
# postfix-files(5) as Debian installs it: queue_directory and data_directory (site parameters may not move them);
# `postfix start` creates the queue's sub-folders itself, but not these two.
FOLDERS = (Folder(sasl.DEBIAN_QUEUE, "root", 0o755, "queue_directory: the queue and the smtpd chroot", "root"),
           Folder("/var/lib/postfix", "postfix", 0o700, "data_directory: TLS session caches, the master lock",
                  "postfix"))


def steps(config_dir: str, tables: Iterable[Table], checks: tuple[Step, ...] = (),
          restarts: tuple[Step, ...] = ()) -> tuple[Step, ...]:
    """postmap for each indexed table, then Postfix's own checks and ``checks`` (silent, or the deploy fails),
    then reload."""
    return (
        *(Step(("postmap", "-c", config_dir, f"{t.kind}:{config_dir}/{t.name}"), f"index {t.name} for lookups",
               outputs=(f"{config_dir}/{t.name}.{MAP_SUFFIXES[t.kind]}",))
          for t in tables if t.needs_postmap),
        Step(("postconf", "-c", config_dir, "-n"), "parse main.cf: unused or repeated parameters warn", "check"),
        Step(("postconf", "-c", config_dir, "-M"), "parse master.cf", "check"),
        Step(("postfix", "-c", config_dir, "check"), "let Postfix verify files and permissions", "check"),
        *checks,
        *restarts,  # the milters Postfix calls, before it reloads
        Step(("postfix", "-c", config_dir, "reload"), "load the new configuration", "apply"),
    )


def service(config_dir: str, main_cf: MainCf, services: tuple[MasterRow, ...],
            milters: tuple[Milter, ...] = ()) -> Service:
    """postfix(1) runs, starts and stops it; postconf(5): a change of ``inet_interfaces`` or
    ``inet_protocols`` needs ``postfix stop`` and ``start``, a reload keeps the old listeners. master.cf
    is in the key too: a reload rereads it, but a restart is the conservative answer for changed services.
    The ``milters`` start before Postfix (which would defer mail without them) and stop after it."""
    values = {name: value for name, value in main_cf.values().items() if name in RESTART_PARAMETERS}
    postfix = ("postfix", "-c", config_dir)
    # Debian's init script and systemd unit prepare the default instance's smtpd chroot (resolv.conf, ...)
    # before a start; another config_dir is another instance, which that script does not prepare.
    prepare = (("sh", "-c", f"! [ -x {DEBIAN_CONFIGURE} ] || {DEBIAN_CONFIGURE} -"),)
    start = (*(m.start for m in milters), *(prepare if config_dir == DEBIAN_CONFIG_DIR else ()), (*postfix, "start"))
    return Service(running=(*postfix, "status"), start=start, stop=((*postfix, "stop"), *(m.stop for m in milters)),
                   restart_key=digest({"main.cf": values, "master.cf": [astuple(row) for row in services]}))


def preflight(policy: Policy) -> tuple[Requirement, ...]:
    """What main.cf relies on the host for. smtpd opens the TLS key as root before it drops privileges
    (TLS_README); SASL where a (chrooted) smtpd looks for it; the listen addresses on the host."""
    options = policy.targets.postfix
    needs = list(tls_requirements(policy.tls.cert, policy.tls.key, "root")) if policy.tls else []
    needs += sasl.requirements(policy)
    needs += milter_kit.requirements(policy)  # the DKIM keys
    interfaces = [] if policy.role == "null-client" else options.inet_interfaces
    needs += address_requirement([interface(i) for i in interfaces if i not in ("all", "loopback-only")])
    return tuple(needs)
