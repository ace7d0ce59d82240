"""``mtaharden dns``: its zone text loads in nsd, and --check against nsd sees every difference."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import dns.zone
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtaharden.cli import main
from tests.conftest import need_real_mta
from tests.dns.nsd_server import check_zone, full_zone, nsd

ZONE = "example.edu.cn"


def _keys(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ("mx.key", "mx.pem", "dkim.key", "ed.key")}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", paths["mx.key"],
                    "-out", paths["mx.pem"], "-subj", "/CN=mx1.example.edu.cn", "-days", "30"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "genrsa", "-out", paths["dkim.key"], "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", paths["ed.key"]], check=True,
                   capture_output=True)
    for key in ("mx.key", "dkim.key", "ed.key"):
        paths[key].chmod(0o600)
    return paths


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _keys(tmp_path_factory.mktemp("keys"))


def _policy(keys: dict[str, Path], **published: Any) -> dict[str, Any]:
    return {
        "version": 1, "hostname": "mx1.example.edu.cn", "role": "mx",
        "domains": {"local": [ZONE, "mail.example.edu.cn"]},
        "tls": {"cert": str(keys["mx.pem"]), "key": str(keys["mx.key"])},
        "dkim_signing": [
            {"domain": ZONE, "selector": "s2026", "key": str(keys["dkim.key"])},
            {"domain": ZONE, "selector": "ed2026", "key": str(keys["ed.key"]), "algorithm": "ed25519-sha256"},
        ],
        "published": {
            "spf": {"networks": ["202.112.57.0/24", "2001:da8::25/128"]},
            "dmarc": {"policy": "quarantine", "rua": ["dmarc@example.edu.cn"]},
            "mta_sts": {"mode": "testing"},
            "tls_rpt": {"rua": ["tlsrpt@example.edu.cn"]},
            **published,
        },
    }


def _run(tmp_path: Path, policy: dict[str, Any], *args: str) -> Result:
    path = tmp_path / "policy.yml"
    path.write_text(json.dumps(policy))
    return CliRunner().invoke(main, ["dns", str(path), *args])


def _records(result: Result) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for record in json.loads(result.output)["records"]:
        out.setdefault((record["name"], record["type"]), []).append(record["value"])
    return out


def test_the_zone_text_loads_in_nsd_and_holds_each_record_the_policy_needs(tmp_path: Path,
                                                                           keys: dict[str, Path]) -> None:
    need_real_mta("nsd", "nsd-checkzone")
    result = _run(tmp_path, _policy(keys), "--origin", ZONE)
    assert result.exit_code == 0, result.output
    zone_file = tmp_path / "z.zone"
    zone_file.write_text(full_zone(ZONE, "".join(line + "\n" for line in result.output.splitlines()
                                                  if not line.startswith("$ORIGIN"))))
    checked = check_zone(ZONE, zone_file)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    names = {str(name) for name in dns.zone.from_text(zone_file.read_text(), origin=ZONE).nodes}
    assert {"@", "_dmarc", "_mta-sts", "_smtp._tls", "_25._tcp.mx1", "s2026._domainkey", "ed2026._domainkey",
            "mail", "_dmarc.mail"} <= names


def test_tlsa_and_dkim_values_agree_with_openssl(tmp_path: Path, keys: dict[str, Path]) -> None:
    result = _run(tmp_path, _policy(keys), "--format", "json")
    records = _records(result)
    pubkey = subprocess.run(["openssl", "x509", "-in", keys["mx.pem"], "-pubkey", "-noout"], check=True,
                            capture_output=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pubkey, check=True,
                          capture_output=True).stdout
    assert records[("_25._tcp.mx1.example.edu.cn", "TLSA")] == [f"3 1 1 {hashlib.sha256(spki).hexdigest()}"]
    rsa_der = subprocess.run(["openssl", "pkey", "-in", keys["dkim.key"], "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
    assert records[("s2026._domainkey.example.edu.cn", "TXT")] == [
        f"v=DKIM1; k=rsa; p={base64.b64encode(rsa_der).decode()}"]
    ed_der = subprocess.run(["openssl", "pkey", "-in", keys["ed.key"], "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    assert records[("ed2026._domainkey.example.edu.cn", "TXT")] == [
        f"v=DKIM1; k=ed25519; p={base64.b64encode(ed_der[-32:]).decode()}"]
    assert "PRIVATE" not in result.output


def _served(tmp_path: Path, keys: dict[str, Path], edit: str = "") -> str:
    """The policy's own zone text, edited by ``edit`` (a sed-like 'old=>new' or '+line'), as a full zone."""
    good = _run(tmp_path, _policy(keys), "--origin", ZONE).output
    lines = [line for line in good.splitlines() if not line.startswith(("$ORIGIN", ";"))]
    if edit.startswith("+"):
        lines.append(edit[1:])
    elif edit:
        old, new = edit.split("=>")
        assert any(old in line for line in lines), old
        lines = [line.replace(old, new) for line in lines if new != "DELETE" or old not in line]
    return full_zone(ZONE, "\n".join(lines) + "\n")


CHANGES = [
    ("", []),
    ("~all=>-all", [("different", "example.edu.cn", "TXT"), ("different", "mail.example.edu.cn", "TXT")]),
    ("p=quarantine=>DELETE", [("missing", "_dmarc.example.edu.cn", "TXT"),
                              ("missing", "_dmarc.mail.example.edu.cn", "TXT")]),
    ('+@ 3600 IN TXT "v=spf1 -all"', [("extra", "example.edu.cn", "TXT")]),
    ('+@ 3600 IN TXT "google-site-verification=abc"', []),  # not ours: other TXT at the apex are left alone
    ("TLSA\t3 1 1 =>TLSA\t3 0 1 ", [("missing", "_25._tcp.mx1.example.edu.cn", "TLSA"),
                          ("extra", "_25._tcp.mx1.example.edu.cn", "TLSA")]),
    ("v=DMARC1; p=quarantine; rua=mailto:dmarc@example.edu.cn=>v=DMARC1;  rua=mailto:dmarc@example.edu.cn; "
     "p=quarantine", []),  # tag order and spacing are no difference to a receiver
]


@pytest.mark.parametrize(("edit", "expected"), CHANGES, ids=[edit or "as-rendered" for edit, _ in CHANGES])
def test_check_mode_sees_every_difference_from_what_nsd_serves(
        tmp_path: Path, keys: dict[str, Path], edit: str, expected: list[tuple[str, str, str]]) -> None:
    need_real_mta("nsd")
    text = _served(tmp_path, keys, edit)
    with nsd(tmp_path / "nsd", {ZONE: text}) as port:
        result = _run(tmp_path, _policy(keys), "--check", "--nameserver", f"127.0.0.1:{port}", "--format", "json")
    report = json.loads(result.output)
    seen = sorted((d["kind"], d["name"], d["type"]) for d in report["differences"])
    assert seen == sorted(expected), report
    assert result.exit_code == (1 if expected else 0)
    assert report["schema"] == 1 and report["checked"] == 11


def test_a_server_that_does_not_answer_leaves_records_unchecked_never_fine(tmp_path: Path,
                                                                           keys: dict[str, Path]) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never read: queries time out
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        result = _run(tmp_path, _policy(keys, mta_sts=None, tls_rpt=None), "--check", "--nameserver",
                      f"127.0.0.1:{port}", "--timeout", "0.2")
    assert result.exit_code == 1
    assert "UNCHECKED" in result.output and "all served" not in result.output


def test_mta_sts_file_is_written_and_its_id_follows_its_content(tmp_path: Path, keys: dict[str, Path]) -> None:
    first = _records(_run(tmp_path, _policy(keys), "--format", "json", "--out", str(tmp_path / "site")))
    served = (tmp_path / "site" / ZONE / ".well-known" / "mta-sts.txt").read_bytes()
    assert served == b"version: STSv1\r\nmode: testing\r\nmx: mx1.example.edu.cn\r\nmax_age: 604800\r\n"
    again = _records(_run(tmp_path, _policy(keys), "--format", "json"))
    enforced = _records(_run(tmp_path, _policy(keys, mta_sts={"mode": "enforce"}), "--format", "json"))
    key = ("_mta-sts.example.edu.cn", "TXT")
    assert first[key] == again[key] != enforced[key]


@pytest.mark.parametrize(("change", "message"), [
    ({"spf": {"hosts": [f"h{i}.example.edu.cn" for i in range(11)]}}, "more than 10"),
    ({"dmarc": {"rua": ["mailto:a@b.org\nx IN TXT evil"]}}, "published.dmarc.rua.0"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, keys: dict[str, Path], change: dict[str, Any],
                                              message: str) -> None:
    result = _run(tmp_path, _policy(keys, **change), "--out", str(tmp_path / "site"))
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "site").exists()


def test_an_unreadable_key_is_named_never_shown(tmp_path: Path, keys: dict[str, Path]) -> None:
    policy = _policy(keys)
    policy["dkim_signing"][0]["key"] = str(tmp_path / "absent.key")
    result = _run(tmp_path, policy)
    assert result.exit_code == 2
    assert "absent.key" in result.output and "absent.key.pub" in result.output


_LOCAL = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(local=_LOCAL, selector=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1,
                                      max_size=10))
def test_no_published_value_adds_a_record(tmp_path: Path, keys: dict[str, Path], local: str, selector: str) -> None:
    policy = _policy(keys, dmarc={"rua": [f"{local}@example.edu.cn"]})
    policy["dkim_signing"][0]["selector"] = selector
    result = _run(tmp_path, policy, "--origin", ZONE)
    if result.exit_code == 2:
        return
    assert result.exit_code == 0, result.output
    zone = dns.zone.from_text(full_zone(ZONE, "\n".join(
        line for line in result.output.splitlines() if not line.startswith("$ORIGIN")) + "\n"), origin=ZONE)
    rdatasets = sum(len(node.rdatasets) for node in zone.nodes.values())
    assert rdatasets == 3 + 11  # SOA, NS, ns A; then the policy's 11 name/type sets
