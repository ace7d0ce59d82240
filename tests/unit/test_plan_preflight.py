"""The Plan's preflight (issue 16): what a config needs of the host, and the roles' helper that checks it there.

The helper runs for real here (openssl, runuser, ip), on files this test makes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_POLICY, REPO

HELPER = REPO / "ansible_collections/mtaharden/mail/roles/mtaharden/files/preflight"


def preflight(target: str, *sets: str) -> list[dict[str, Any]]:
    argv = [sys.executable, "-m", "mtaharden", "plan", str(EXAMPLE_POLICY), "--target", target,
            *(arg for value in sets for arg in ("--set", value))]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True, cwd=REPO)
    return json.loads(done.stdout)["preflight"]  # type: ignore[no-any-return]


def needs(items: list[dict[str, Any]]) -> dict[str, list[list[str]]]:
    found: dict[str, list[list[str]]] = {}
    for item in items:
        found.setdefault(item["need"], []).append(item["args"])
    return found


def test_postfix_needs_its_tls_pair_the_sasl_backend_and_its_listen_addresses() -> None:
    plain = needs(preflight("postfix"))
    cert, key = plain["tls-pair"][0]
    assert ["root", cert, key] in plain["readable"]
    assert plain["any-of"] == [["/var/spool/postfix/run/saslauthd/mux", "/var/spool/postfix/var/run/saslauthd/mux"]]
    assert "address" not in plain, "inet_interfaces all names no address"
    moved = needs(preflight("postfix", "targets.postfix.inet_interfaces=[192.0.2.25, '2001:DB8::25']",
                            "auth.cyrus.pwcheck_method=auxprop", "auth.cyrus.sasldb_path=/etc/sasldb2"))
    assert moved["address"] == [["192.0.2.25", "2001:db8::25"]]
    assert ["postfix", "/var/spool/postfix/etc/sasldb2"] in moved["readable"], "a chrooted smtpd opens the copy"
    unchrooted = needs(preflight("postfix", "targets.postfix.chroot=false", "auth.backend=dovecot"))
    assert unchrooted["any-of"] == [["/var/spool/postfix/private/auth"]]


def test_auth_off_and_no_tls_need_nothing() -> None:
    assert preflight("postfix", "role=mx", "auth.enabled=false", "tls=null") == []


def test_sendmail_needs_the_cyrus_library_and_qmail_only_its_listen_address() -> None:
    sendmail = needs(preflight("sendmail", "targets.sendmail.listen_address=192.0.2.25"))
    assert ["/usr/lib/*/libsasl2.so.2", "/usr/lib64/libsasl2.so.2", "/usr/lib/libsasl2.so.2"] in sendmail["any-of"]
    assert sendmail["address"] == [["192.0.2.25"]] and sendmail["tls-pair"]
    assert sendmail["alias"] == [["/etc/aliases", "postmaster"]], "Debian's package leaves postmaster unaliased"
    assert "alias" not in needs(preflight("sendmail", "targets.sendmail.alias_file=/etc/mail/aliases",
                                          "role=null-client", "domains.local=[]"))
    assert preflight("qmail") == [], "stock qmail has no TLS or AUTH to need anything for"
    assert needs(preflight("qmail", "targets.qmail.listen=192.0.2.25"))["address"] == [["192.0.2.25"]]


def helper(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HELPER), *args], capture_output=True, text=True, timeout=60, check=False)


def helper_alone(*args: str) -> subprocess.CompletedProcess[str]:
    """The helper in a network namespace of its own, with only loopback up (127.0.0.1 and ::1): what it
    reads of the addresses is the test's, never the machine's (whose interfaces other tests may be changing)."""
    script = 'ip link set lo up && exec "$0" "$@"'
    return subprocess.run(["unshare", "--net", "sh", "-c", script, str(HELPER), *args], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Path, Path, Path]]:
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("openssl", "runuser", "ip")):
        pytest.skip("the helper's checks need root, openssl, runuser and ip")
    with tempfile.TemporaryDirectory() as scratch:  # in /tmp: nobody may enter it (pytest's tmp_path is 0700)
        folder = Path(scratch)
        folder.chmod(0o755)
        yield _pair(folder)


def _pair(folder: Path) -> tuple[Path, Path, Path]:
    for name in ("a", "b"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=x",
                        "-keyout", str(folder / f"{name}.key"), "-out", str(folder / f"{name}.pem")],
                       check=True, capture_output=True, timeout=60)
        (folder / f"{name}.key").chmod(0o600)
        (folder / f"{name}.pem").chmod(0o644)
    return folder / "a.pem", folder / "a.key", folder / "b.key"


def test_helper_tls_pair_matches_and_mismatches(pair: tuple[Path, Path, Path]) -> None:
    cert, key, other = pair
    assert helper("tls-pair", str(cert), str(key)).returncode == 0
    wrong = helper("tls-pair", str(cert), str(other))
    assert wrong.returncode == 1 and "do not belong together" in wrong.stderr
    garbage = helper("tls-pair", str(key), str(key))
    assert garbage.returncode == 1 and "is not a PEM certificate" in garbage.stderr


def test_helper_readable_names_the_missing_and_the_unreadable(pair: tuple[Path, Path, Path]) -> None:
    cert, key, _ = pair
    assert helper("readable", "root", str(cert), str(key)).returncode == 0
    assert helper("readable", "nobody", str(cert)).returncode == 0
    denied = helper("readable", "nobody", str(key), str(cert.with_name("gone.pem")))
    assert denied.returncode == 1
    assert f"{key} is not readable by nobody" in denied.stderr and "gone.pem does not exist" in denied.stderr


def test_helper_any_of_and_address(pair: tuple[Path, Path, Path]) -> None:
    cert, _, _ = pair
    assert helper("any-of", "/nonexistent", str(cert.parent / "*.pem")).returncode == 0
    missing = helper("any-of", "/nonexistent/mux", "/also/*/missing")
    assert missing.returncode == 1 and "none of /nonexistent/mux /also/*/missing exists" in missing.stderr
    alone = helper_alone("address", "127.0.0.1", "::1")
    assert alone.returncode == 0, alone.stderr
    absent = helper_alone("address", "127.0.0.1", "192.0.2.199")
    assert absent.returncode == 1 and "192.0.2.199 is not an address of this host" in absent.stderr
    assert helper("no-such-need").returncode == 2


def test_differs_names_the_files_the_swap_must_write(tmp_path: Path) -> None:
    """The swap's helper: only missing files, other bytes or another mode need a copy."""
    same, other_bytes, other_mode = (tmp_path / n for n in ("same", "bytes", "mode"))
    for path in (same, other_bytes, other_mode):
        path.write_text("main.cf\n")
        path.chmod(0o644)
    other_mode.chmod(0o600)
    digest = hashlib.sha256(b"main.cf\n").hexdigest()
    manifest = "".join(f"0644 {sha} {path}\n" for sha, path in (
        (digest, same), ("0" * 64, other_bytes), (digest, other_mode), (digest, tmp_path / "gone")))
    done = subprocess.run([str(HELPER.with_name("differs"))], input=manifest, capture_output=True, text=True,
                          timeout=30, check=True)
    assert done.stdout.split() == [str(other_bytes), str(other_mode), str(tmp_path / "gone")]


def test_helper_alias_wants_an_entry_or_a_mailbox_of_that_name(tmp_path: Path) -> None:
    aliases = tmp_path / "aliases"
    aliases.write_text("# Debian's sendmail leaves this\nroot: admin\n")
    missing = helper("alias", str(aliases), "postmaster")
    assert missing.returncode == 1 and "no alias for postmaster" in missing.stderr
    assert f"add 'postmaster: root' (or a real mailbox) to {aliases} and run newaliases" in missing.stderr
    aliases.write_text("root: admin\n  Postmaster :\troot\n")
    assert helper("alias", str(aliases), "postmaster").returncode == 0
    assert helper("alias", str(tmp_path / "none"), "root").returncode == 0, "root is a mailbox of its own"
