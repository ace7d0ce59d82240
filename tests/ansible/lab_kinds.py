"""Stock lab hosts as Ansible manages them: the lab's kinds plus what every managed host has.

python3 (Ansible's modules need it) and iproute2 (priority important in Debian, so on every real host;
the role's preflight reads the host's addresses with ``ip -o addr``). Not registered with the lab:
the behaviour suite does not run these, only tests/ansible does. Names do not start with a lab kind's
name and a dash, because rebuilding that kind's root removes every ``<name>-*`` folder.
"""

from __future__ import annotations

from typing import ClassVar

from tests.lab.exim import EximKind
from tests.lab.kind import HostKind
from tests.lab.opensmtpd import OpensmtpdKind
from tests.lab.postfix import PostfixKind
from tests.lab.qmail import QmailKind
from tests.lab.sendmail import SendmailKind

MANAGED = ("python3", "iproute2")
# A host where Postfix is not installed yet. The lab has no network to a mirror, so the root keeps
# the packages apt would download (and apt's lists) aside; the test puts them where apt looks, and
# the role's own `package` task installs them as it would from a mirror (with their Recommends, as
# apt installs on a real host; mmdebstrap's build itself leaves them out).
OFFLINE_APT = "/var/lib/lab-apt"
# what each role installs by default (its *_packages), kept in a folder of its own: the two conflict
OFFLINE_DEBS = {"postfix": ("postfix", "postfix-pcre", "libsasl2-modules"),
                "sendmail": ("sendmail-bin", "sendmail-cf", "m4", "libsasl2-modules")}
BARE_PACKAGES = ("python3", "python3-apt", "iproute2", "sasl2-bin", "busybox-syslogd")
BARE_SETUP = (f"mkdir -p {OFFLINE_APT} && cp -a /var/lib/apt/lists {OFFLINE_APT}/lists", *(
    f"apt-get clean && apt-get install -y -q --download-only -o APT::Install-Recommends=true {' '.join(debs)}"
    f" && mkdir -p {OFFLINE_APT}/{target} && cp /var/cache/apt/archives/*.deb {OFFLINE_APT}/{target}/"
    for target, debs in OFFLINE_DEBS.items()), "apt-get clean")


class AnsiblePostfixKind(PostfixKind):
    """Debian's Postfix host, installed, never started."""

    name = "ansiblepostfix"
    packages: ClassVar[tuple[str, ...]] = (*PostfixKind.packages, *MANAGED)


class AnsibleSendmailKind(SendmailKind):
    """Debian's Sendmail host (the package starts nothing in a root without an init system)."""

    name = "ansiblesendmail"
    packages = (*SendmailKind.packages, *MANAGED)  # type: ignore[assignment]  # the base's tuple is typed by its length


class AnsibleQmailKind(QmailKind):
    """notqmail built from source under daemontools, as the lab's qmail host."""

    name = "ansibleqmail"
    packages = (*QmailKind.packages, *MANAGED)  # type: ignore[assignment]  # the base's tuple is typed by its length


class AnsibleEximKind(EximKind):
    """Debian's exim4-daemon-heavy host, installed, never started (no init system runs its postinst start)."""

    name = "ansibleexim"
    packages = (*EximKind.packages, *MANAGED)  # type: ignore[assignment]  # the base's tuple is typed by its length


class AnsibleOpensmtpdKind(OpensmtpdKind):
    """Debian's OpenSMTPD host, installed, never started."""

    name = "ansibleopensmtpd"
    packages = (*OpensmtpdKind.packages, *MANAGED)  # type: ignore[assignment]  # the base's tuple is typed by its length


class AnsibleBareKind(AnsiblePostfixKind):
    """A managed host with no MTA at all: the postfix role installs Postfix (from the kept packages)."""

    name = "ansiblebare"
    packages = BARE_PACKAGES
    setup: ClassVar[tuple[str, ...]] = BARE_SETUP  # type: ignore[assignment]  # PostfixKind's is typed by its length


class AnsibleBareSendmailKind(AnsibleSendmailKind):
    """The same bare host (one root), where the sendmail role installs Sendmail."""

    name = "ansiblebare"
    packages = BARE_PACKAGES  # type: ignore[assignment]  # the base's tuple is typed by its length
    setup = BARE_SETUP  # type: ignore[assignment]


BARE_KINDS: dict[str, HostKind] = {kind.target: kind for kind in (AnsibleBareKind(), AnsibleBareSendmailKind())}


ANSIBLE_KINDS: dict[str, HostKind] = {kind.target: kind for kind in
                                      (AnsiblePostfixKind(), AnsibleSendmailKind(), AnsibleQmailKind(),
                                       AnsibleEximKind(), AnsibleOpensmtpdKind())}
