"""Deliver one message with the real procmail or Pigeonhole's sieve-test into a fresh Maildir, and say where it went.

procmail runs as the invoking user in mail-filter mode (``-m``: the given rcfile, no setuid, no /etc/procmailrc),
with DEFAULT the Maildir's INBOX. Dovecot refuses to deliver as root, so sieve-test runs as ``nobody`` when the
tests run as root, in a folder only that run uses; the config names the Maildir and nothing else.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NOBODY = 65534
TIMEOUT = 20


def need(*commands: str) -> None:
    """Skip outside CI when a tool is missing; in CI a missing tool is a failure (tests/packages/common.txt)."""
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide {', '.join(missing)} (tests/packages/common.txt)")
        pytest.skip(f"needs {', '.join(missing)}")


def delivered(maildir: Path) -> dict[str, list[bytes]]:
    """Each folder's messages: ``INBOX`` for the Maildir itself, the name without the dot for ``.Name/``."""
    found: dict[str, list[bytes]] = {}
    for new in sorted(maildir.glob("new")) + sorted(maildir.glob(".*/new")):
        folder = "INBOX" if new.parent == maildir else new.parent.name[1:]
        messages = [path.read_bytes() for path in sorted(new.iterdir()) if path.is_file()]
        if messages:
            found[folder] = messages
    return found


def procmail(rcfile: Path, message: bytes, home: Path) -> dict[str, list[bytes]]:
    """Deliver with ``rcfile`` (rendered for ``$HOME/Maildir``) as if ``home`` were the recipient's home."""
    maildir = home / "Maildir"
    maildir.mkdir(parents=True)
    argv = ["procmail", "-m", f"HOME={home}", f"DEFAULT={maildir}/", str(rcfile)]
    result = subprocess.run(argv, input=message,
                            capture_output=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return delivered(maildir)


@contextmanager
def sieve_home() -> Iterator[Path]:
    """A folder the sieve-test user owns (``nobody`` under root), removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="mtaharden-sieve-"))
    try:
        if os.geteuid() == 0:
            os.chown(home, NOBODY, NOBODY)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _as_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)


def _plugin(extensions: str) -> str:
    """The server's Sieve extensions as Pigeonhole's setting (``+editheader``: enabled beyond the defaults)."""
    return f"plugin {{\n  sieve_extensions = {extensions}\n}}\n" if extensions else ""


def sieve(home: Path, script: Path, message: bytes, name: str, extensions: str = "") -> dict[str, list[bytes]]:
    """Run ``script`` on ``message`` with ``sieve-test -e``: delivered into ``home/name`` (a Maildir)."""
    maildir = home / name
    config, mail = home / f"{name}.conf", home / f"{name}.eml"
    config.write_text(f"mail_location = maildir:{maildir}\n" + _plugin(extensions))
    mail.write_bytes(message)
    copy = home / f"{name}.sieve"
    copy.write_bytes(script.read_bytes())
    for path in (config, mail, copy):
        _own(path)
    argv = ["sieve-test", "-c", str(config), "-e", "-l", f"maildir:{maildir}"]
    result = subprocess.run(_as_user([*argv, str(copy), str(mail)]), capture_output=True, timeout=TIMEOUT,
                            check=False, env={"HOME": str(home), "PATH": os.environ["PATH"]})
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
    return delivered(maildir)


def sievec(home: Path, script: Path, extensions: str = "") -> subprocess.CompletedProcess[str]:
    """Compile ``script`` with sievec (root may compile: no mail is read), the check step's tool."""
    config = home / "sievec.conf"
    config.write_text(f"mail_location = maildir:{home}/Maildir\nfirst_valid_uid = 0\nfirst_valid_gid = 0\n"
                      f"mail_uid = {os.geteuid()}\nmail_gid = {os.getegid()}\n" + _plugin(extensions))
    return subprocess.run(["sievec", "-c", str(config), str(script), str(home / "out.svbin")], capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)
