"""Postfix as Debian runs it: the facts the behaviour suite relies on without naming them.

Debian's smtpd and smtp run chrooted in /var/spool/postfix (the render's default ``chroot: true``), so
their DNS comes from the copy of resolv.conf that Debian's init script makes at every start.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.conftest import Stock, deployed
from tests.lab.postfix import CHROOT, PostfixKind


@pytest.fixture(scope="module")
def postfix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    with deployed(PostfixKind(), tmp_path_factory.mktemp("postfix-stock")) as running:
        yield running


def test_smtpd_runs_chrooted_from_debians_paths(postfix: Stock) -> None:
    services = postfix.host.run(["postconf", "-M"]).stdout.splitlines()
    smtpd = [line.split() for line in services if line.split()[:2] == ["smtp", "inet"]]
    assert smtpd and smtpd[0][4] == "y", services
    assert postfix.host.run(["postconf", "-h", "config_directory", "queue_directory"]).stdout.split() == [
        "/etc/postfix", CHROOT]
    assert postfix.host.path(f"{CHROOT}/pid/master.pid").exists()


def test_the_init_script_copied_the_lab_resolver_into_the_chroot(postfix: Stock) -> None:
    inside, chrooted = (postfix.host.path(p).read_text() for p in ("/etc/resolv.conf", f"{CHROOT}/etc/resolv.conf"))
    assert chrooted == inside and "nameserver 192.0.2.53" in chrooted


def test_the_installed_files_are_the_rendered_files_with_the_plans_modes(postfix: Stock) -> None:
    for planned in postfix.plan.files:
        if planned.dest is None:
            continue
        installed = postfix.host.path(planned.dest)
        assert installed.read_bytes() == (postfix.rendered / planned.path).read_bytes(), planned.dest
        assert installed.stat().st_mode & 0o7777 == planned.mode, planned.dest


def test_a_stock_start_logs_no_warning(postfix: Stock) -> None:
    """Debian's main.cf names hash:/etc/aliases; the render does too, or every smtpd warns about NIS."""
    postfix.host.run(["postfix", "reload"])
    talked = postfix.host.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/25; head -1 <&3; echo QUIT >&3"], timeout=20)
    assert talked.stdout.startswith("220 "), talked.stdout
    warnings = [line for line in postfix.kind.log_text(postfix.host).splitlines() if "warning:" in line]
    assert warnings == [], warnings
