"""Render one behaviour policy for any target that runs here and start that target's real daemon."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import REPO, need_real_mta, render_policy
from tests.realmta.harness import SANDBOX_PARENT, Postfix, Sendmail, free_port, run
from tests.realmta.smtp_client import converse

RUNNING_TARGETS = ("postfix", "sendmail")
TRUSTED, UNTRUSTED, BLOCKED = "127.0.0.1", "127.0.0.2", "127.0.0.4"
LOCAL_RECIPIENT = "postmaster@example.test"
USER, PASSWORD, REALM = "alice", "s3cret-pass", "mx.example.test"
SASL_CONF_DIR = Path("/etc/sasl2")  # Cyrus SASL finds Sendmail.conf only in fixed places


@dataclass(frozen=True)
class RunningMta:
    target: str
    address: str
    port: int
    policy_file: Path
    netns: str | None = None
    server: Postfix | Sendmail | None = None


def with_auth(policy: dict[str, Any], base: Path) -> dict[str, Any]:
    """The policy plus SMTP AUTH (Cyrus sasldb, only after STARTTLS) with a certificate and user under base."""
    make_certificate(base / "tls")
    sasldb = base / "sasldb2"
    run(["saslpasswd2", "-p", "-f", str(sasldb), "-c", "-u", REALM, USER], input_text=PASSWORD)
    shutil.chown(sasldb, "postfix")
    return {**policy,
            "auth": {"enabled": True, "backend": "cyrus", "mechanisms": ["PLAIN", "LOGIN"], "require_tls": True,
                     "cyrus": {"pwcheck_method": "auxprop", "sasldb_path": str(sasldb)}},
            "tls": {"cert": str(base / "tls/cert.pem"), "key": str(base / "tls/key.pem")}}


def make_certificate(directory: Path) -> None:
    """A self-signed certificate and key for mx.example.test (the key readable by root only)."""
    directory.mkdir(parents=True, exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mx.example.test",
         "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem")])
    os.chmod(directory / "key.pem", 0o600)


@contextlib.contextmanager
def sasl_config(rendered: Path) -> Iterator[None]:
    """Put the rendered Sendmail.conf where Cyrus SASL looks, and restore what was there afterwards.

    The file is one per machine, so a lock holds it for the whole run of the daemon: another test process
    (an xdist worker) waits instead of swapping its own file under this Sendmail."""
    source = rendered / "Sendmail.conf"
    if not source.exists():
        yield
        return
    target = SASL_CONF_DIR / "Sendmail.conf"
    SASL_CONF_DIR.mkdir(exist_ok=True)
    SANDBOX_PARENT.mkdir(mode=0o755, parents=True, exist_ok=True)
    with (SANDBOX_PARENT / "sasl2-sendmail.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = target.read_bytes() if target.exists() else None
        shutil.copyfile(source, target)
        try:
            yield
        finally:
            if saved is None:
                target.unlink()
            else:
                target.write_bytes(saved)


def behaviour_policy(**overrides: Any) -> dict[str, Any]:
    """The policy every target's behaviour suite runs against (targets.* added by :func:`running_mta`)."""
    policy: dict[str, Any] = {
        "version": 1,
        "hostname": "mx.example.test",
        "domains": {"local": ["example.test"], "relay": ["relay.example.test"]},
        "networks": {"trusted": [f"{TRUSTED}/32"]},
        "access": {
            "clients": [{"match": f"{BLOCKED}/32", "action": "reject", "message": "Go away, client"}],
            "helo": [{"match": "bad.helo.test", "action": "reject", "message": "Bad HELO"}],
            "senders": [{"match": "@spam.example", "action": "reject", "message": "Sender domain refused"}],
            "recipients": [{"match": "closed@example.test", "action": "reject", "message": "Mailbox closed"}],
        },
        "header_checks": [
            {"header": "Subject", "pattern": "(?i)make money fast", "action": "reject", "message": "No spam here"},
        ],
    }
    policy.update(overrides)
    return policy


@contextlib.contextmanager
def running_mta(target: str, base: Path, policy: dict[str, Any], *, netns: str | None = None,
                port: int | None = None) -> Iterator[RunningMta]:
    """Render ``policy`` for ``target`` under ``base``, install it in a sandbox and run the daemon."""
    port = port or free_port()
    policy = dict(policy)
    if target == "postfix":
        need_real_mta("postfix", "postconf", "script")
        policy["targets"] = {"postfix": {"config_dir": str(base / "etc"), "smtp_port": port, "chroot": False,
                                         "inet_interfaces": ["127.0.0.1"], "inet_protocols": "ipv4"}}
        plan, rendered = render_policy(policy, base / "r", target)
        postfix = Postfix.install(rendered, base / "etc", port, [s.argv for s in plan.steps], netns=netns)
        with postfix.running():
            yield RunningMta(target, postfix.address, port, base / "r" / "policy.yml", netns, postfix)
        postfix.assert_log_clean()
    elif target == "sendmail":
        need_real_mta("m4", "unshare", str(Sendmail.binary))
        policy["targets"] = {"sendmail": Sendmail.options(base, port)}
        _, rendered = render_policy(policy, base / "r", target)
        sendmail = Sendmail.install(rendered, base, port, netns=netns)
        with sasl_config(rendered), sendmail.running():
            yield RunningMta(target, sendmail.address, port, base / "r" / "policy.yml", netns, sendmail)
    else:
        raise ValueError(f"no real daemon for {target}")


def rcpt_in_netns(mta: RunningMta, source: str, recipient: str = LOCAL_RECIPIENT) -> tuple[int, str]:
    """The RCPT reply for ``recipient`` from ``source``, spoken from inside the MTA's network namespace."""
    request = {"host": mta.address, "port": mta.port, "source": source,
               "commands": ["EHLO client.test", "MAIL FROM:<a@client.test>", f"RCPT TO:<{recipient}>"]}
    result = run([sys.executable, "-m", "tests.realmta.smtp_client", json.dumps(request)], netns=mta.netns, cwd=REPO)
    code, text = json.loads(result.stdout)["replies"][-1]
    return int(code), str(text)


def rcpt(mta: RunningMta, source: str, recipient: str, sender: str = "probe@client.test",
         helo: str = "client.test") -> tuple[int, str]:
    """The RCPT reply for ``recipient`` from ``source`` after EHLO and MAIL."""
    talk = converse(mta.address, mta.port, source, [f"EHLO {helo}", f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>"])
    return talk.replies[-1]


def auth_plain(password: str = PASSWORD) -> str:
    """The AUTH PLAIN command for the behaviour policy's user."""
    return "AUTH PLAIN " + base64.b64encode(f"\0{USER}@{REALM}\0{password}".encode()).decode()
