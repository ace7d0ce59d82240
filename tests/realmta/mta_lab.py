"""Render one behaviour policy for any target that runs here and start that target's real daemon."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import need_real_mta, render_policy
from tests.realmta.harness import Postfix, Sendmail, free_port

RUNNING_TARGETS = ("postfix", "sendmail")
TRUSTED, UNTRUSTED, BLOCKED = "127.0.0.1", "127.0.0.2", "127.0.0.4"
LOCAL_RECIPIENT = "postmaster@example.test"


@dataclass(frozen=True)
class RunningMta:
    target: str
    address: str
    port: int
    policy_file: Path
    netns: str | None = None


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
            yield RunningMta(target, postfix.address, port, base / "r" / "policy.yml", netns)
        postfix.assert_log_clean()
    elif target == "sendmail":
        need_real_mta("m4", "unshare", str(Sendmail.binary))
        policy["targets"] = {"sendmail": Sendmail.options(base, port)}
        _, rendered = render_policy(policy, base / "r", target)
        sendmail = Sendmail.install(rendered, base, port, netns=netns)
        with sendmail.running():
            yield RunningMta(target, sendmail.address, port, base / "r" / "policy.yml", netns)
    else:
        raise ValueError(f"no real daemon for {target}")
