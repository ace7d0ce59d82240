"""The one policy every stock host runs in the behaviour suite, and how it is deployed there.

Why one policy: the suite claims the same policy means the same thing on every target, so every kind
gets exactly this file (plus only the ``targets.<target>`` knobs its kind declares, empty by default).
It is rendered with the real CLI (``mtaharden render``), as a user renders it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mtaharden.policy import load_policy
from mtaharden.targets.base import Plan, registered
from tests.lab.host import LabHost
from tests.lab.kind import HostKind
from tests.lab.network import DNSBL_ZONE, EXEMPT, REJECTED, REPO, TRUSTED

HOSTNAME = "mx.example.test"
LOCAL_RECIPIENT = "postmaster@example.test"
USER, PASSWORD, REALM = "alice", "s3cret-pass", HOSTNAME
SASLDB = "/etc/sasldb2"
CERT, KEY = "/etc/ssl/lab/cert.pem", "/etc/ssl/lab/key.pem"
MAX_MESSAGE_SIZE, MAX_RECIPIENTS = 200_000, 5
MESSAGES = {"client": "Go away, client", "helo": "Bad HELO", "sender": "Sender domain refused",
            "recipient": "Mailbox closed", "header": "No spam here", "dnsbl": "Blocked: {client} listed at {zone}"}


def behaviour_policy() -> dict[str, Any]:
    """The policy of the behaviour suite: every rule kind once, first-match pairs (EXEMPT is inside REJECTED's
    /31 and permitted first; friend@spam.example before @spam.example), small limits, AUTH."""
    return {
        "version": 1,
        "hostname": HOSTNAME,
        "domains": {"local": ["example.test"], "relay": ["relay.example.test"]},
        "networks": {"trusted": [f"{TRUSTED}/32"]},
        "access": {
            "clients": [{"match": f"{EXEMPT}/32", "action": "permit"},
                        {"match": f"{REJECTED}/31", "action": "reject", "message": MESSAGES["client"]}],
            "helo": [{"match": "bad.helo.test", "action": "reject", "message": MESSAGES["helo"]}],
            "senders": [{"match": "friend@spam.example", "action": "permit"},
                        {"match": "@spam.example", "action": "reject", "message": MESSAGES["sender"]}],
            "recipients": [{"match": "closed@example.test", "action": "reject", "message": MESSAGES["recipient"]},
                           {"match": "postmaster@", "action": "permit"}],
        },
        "header_checks": [
            {"header": "Subject", "pattern": "(?i)make money fast", "action": "reject", "message": MESSAGES["header"]},
        ],
        "dnsbl": [{"zone": DNSBL_ZONE, "match": ["127.0.0.2"], "message": MESSAGES["dnsbl"]}],
        "smtp": {"max_message_size": MAX_MESSAGE_SIZE, "max_recipients": MAX_RECIPIENTS},
        "auth": {"enabled": True, "backend": "cyrus", "mechanisms": ["PLAIN", "LOGIN"], "require_tls": True,
                 "cyrus": {"pwcheck_method": "auxprop", "sasldb_path": SASLDB}},
        "tls": {"cert": CERT, "key": KEY},
    }


def render(kind: HostKind, work: Path, policy: dict[str, Any] | None = None) -> tuple[Path, Plan, Path]:
    """Write the policy (default: the behaviour policy) for ``kind`` and render it with the CLI;
    (policy file, plan, rendered folder)."""
    policy = behaviour_policy() if policy is None else policy
    policy["targets"] = {kind.target: policy.get("targets", {}).get(kind.target, dict(kind.policy_targets))}
    work.mkdir(parents=True, exist_ok=True)
    policy_file = work / "policy.yml"
    policy_file.write_text(json.dumps(policy, indent=1))
    subprocess.run([sys.executable, "-m", "mtaharden", "render", str(policy_file), "--target", kind.target,
                    "--out", str(work / "out")], check=True, capture_output=True, text=True, timeout=120, cwd=REPO)
    plan = registered()[kind.target].plan(load_policy(policy_file))
    return policy_file, plan, work / "out" / kind.target


def prepare_auth(host: LabHost, kind: HostKind) -> None:
    """What an admin does before enabling AUTH: a certificate and key, and the SASL user in sasldb."""
    with tempfile.TemporaryDirectory() as scratch:
        cert, key = Path(scratch) / "cert.pem", Path(scratch) / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        f"/CN={HOSTNAME}", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
        host.put(CERT, cert.read_bytes())
        host.put(KEY, key.read_bytes(), mode=0o600)
    host.run(["saslpasswd2", "-p", "-f", SASLDB, "-c", "-u", REALM, USER], input_text=PASSWORD)
    for place in (SASLDB, *kind.sasldb_copies(SASLDB)):
        if place != SASLDB:
            host.run(["mkdir", "-p", str(Path(place).parent)])
            host.run(["cp", SASLDB, place])
        host.run(["chown", kind.sasl_owner, place])
        host.run(["chmod", "0640", place])
