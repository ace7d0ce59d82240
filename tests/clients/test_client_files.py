"""Client settings files read back as their clients read them (xml.etree, plistlib, dnspython), checked
against each format's documented elements; no combination of policy settings yields a password without TLS,
and a policy whose server would take one is refused, located, with nothing written."""

from __future__ import annotations

import copy
import itertools
import json
import plistlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dns.rdatatype
import dns.zone
import pytest
import yaml
from click.testing import CliRunner

from mtaharden.cli import main
from tests.conftest import EXAMPLE_POLICY
from tests.robustness.hostile import HOSTILE

# Mozilla clientConfig 1.1 (Thunderbird autoconfig): the elements and values a server entry may hold.
MOZILLA_SERVER = {"hostname", "port", "socketType", "username", "authentication"}
MOZILLA_SOCKETS = {"SSL", "STARTTLS"}  # "plain" is the third value: never written
MOZILLA_AUTH = {"password-cleartext", "password-encrypted"}
MS = {"a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
      "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
MS_PROTOCOL = {"Type", "Server", "Port", "DomainRequired", "SPA", "SSL", "Encryption", "AuthRequired", "UsePOPAuth"}
APPLE_MAIL = {"PayloadType", "PayloadVersion", "PayloadIdentifier", "PayloadUUID", "PayloadDisplayName",
              "EmailAccountDescription", "EmailAccountType", "IncomingMailServerHostName",
              "IncomingMailServerPortNumber", "IncomingMailServerUseSSL", "IncomingMailServerAuthentication",
              "OutgoingMailServerHostName", "OutgoingMailServerPortNumber", "OutgoingMailServerUseSSL",
              "OutgoingMailServerAuthentication", "OutgoingPasswordSameAsIncomingPassword"}


def example() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(EXAMPLE_POLICY.read_text()))


def write(tmp_path: Path, data: dict[str, Any], name: str = "policy.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def clients(policy: Path, out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["clients", str(policy), "--out", str(out)])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("clients")
    code, output = clients(EXAMPLE_POLICY, work / "out")
    assert code == 0, output
    return work / "out" / "clients"


def test_mozilla_autoconfig_holds_only_documented_elements_over_tls(written: Path) -> None:
    root = ET.parse(written / "autoconfig" / "mail" / "config-v1.1.xml").getroot()
    assert (root.tag, root.get("version")) == ("clientConfig", "1.1")
    (provider,) = root.findall("emailProvider")
    assert provider.get("id") == provider.findtext("domain") == "example.edu.cn"
    servers = provider.findall("incomingServer") + provider.findall("outgoingServer")
    assert [(s.get("type"), s.findtext("port"), s.findtext("socketType")) for s in servers] == [
        ("imap", "993", "SSL"), ("smtp", "465", "SSL"), ("smtp", "587", "STARTTLS")]
    for server in servers:
        assert {child.tag for child in server} <= MOZILLA_SERVER
        assert server.findtext("hostname") == "mx1.example.edu.cn"
        assert server.findtext("socketType") in MOZILLA_SOCKETS
        assert {a.text for a in server.findall("authentication")} <= MOZILLA_AUTH
        assert server.findtext("username") == "%EMAILADDRESS%"


def test_autodiscover_answer_is_pox_with_tls_on_every_protocol(written: Path) -> None:
    root = ET.parse(written / "autodiscover" / "autodiscover.xml").getroot()
    assert root.tag == f"{{{MS['a']}}}Autodiscover"
    account = root.find("o:Response/o:Account", MS)
    assert account is not None
    assert (account.findtext("o:AccountType", namespaces=MS), account.findtext("o:Action", namespaces=MS)) == (
        "email", "settings")
    protocols = account.findall("o:Protocol", MS)
    assert [(p.findtext("o:Type", namespaces=MS), p.findtext("o:Port", namespaces=MS),
             p.findtext("o:Encryption", namespaces=MS)) for p in protocols] == [
        ("IMAP", "993", "SSL"), ("SMTP", "465", "SSL"), ("SMTP", "587", "TLS")]
    for protocol in protocols:
        assert {child.tag.split("}")[1] for child in protocol} <= MS_PROTOCOL
        assert protocol.findtext("o:SSL", namespaces=MS) == "on"
        assert protocol.findtext("o:SPA", namespaces=MS) == "off"


def test_apple_profile_reads_back_with_plistlib_and_holds_no_secret(written: Path) -> None:
    data = plistlib.loads((written / "example.edu.cn.mobileconfig").read_bytes())
    assert (data["PayloadType"], data["PayloadVersion"]) == ("Configuration", 1)
    (mail,) = data["PayloadContent"]
    assert set(mail) <= APPLE_MAIL
    assert mail["PayloadType"] == "com.apple.mail.managed"
    assert (mail["EmailAccountType"], mail["IncomingMailServerPortNumber"], mail["OutgoingMailServerPortNumber"]) == (
        "EmailTypeIMAP", 993, 465)
    assert mail["IncomingMailServerUseSSL"] is mail["OutgoingMailServerUseSSL"] is True
    assert mail["OutgoingMailServerAuthentication"] == "EmailAuthPassword"
    assert not [key for key in mail if "Password" in key and key != "OutgoingPasswordSameAsIncomingPassword"]


def test_srv_records_parse_as_a_zone_with_implicit_tls_preferred(written: Path) -> None:
    zone = dns.zone.from_text((written / "srv-records.zone").read_text(), origin="example.edu.cn.",
                              relativize=False, check_origin=False)
    found = {str(name): [(r.priority, r.weight, r.port, str(r.target)) for r in rdataset]
             for name, rdataset in zone.iterate_rdatasets(dns.rdatatype.SRV)}
    assert found == {
        "_submissions._tcp.example.edu.cn.": [(0, 1, 465, "mx1.example.edu.cn.")],
        "_submission._tcp.example.edu.cn.": [(10, 1, 587, "mx1.example.edu.cn.")],
        "_imaps._tcp.example.edu.cn.": [(0, 1, 993, "mx1.example.edu.cn.")],
        **{f"_{label}._tcp.example.edu.cn.": [(0, 0, 0, ".")] for label in ("imap", "pop3s", "pop3")}}


def test_each_client_has_a_guide_naming_the_servers(written: Path) -> None:
    for name in ("thunderbird", "outlook", "apple-mail", "foxmail"):
        text = (written / "guides" / f"{name}.md").read_text()
        assert "`mx1.example.edu.cn` | 465 |" in text and "| 993 |" in text, name
    assert "接收服务器类型" in (written / "guides" / "foxmail.md").read_text()


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is None and last == "tls":
            node.pop(last)
        else:
            node[last] = value
    return change


# each: how the example changes, and the policy values the refusal names (by the clients command or the loader)
REFUSED: dict[str, tuple[list[Callable[[dict[str, Any]], None]], list[str]]] = {
    "auth-without-tls": ([_set("auth.require_tls", False)], ["auth.require_tls"]),
    "no-auth": ([_set("role", "mx"), _set("auth.enabled", False)], ["role", "auth.enabled"]),
    "no-port": ([_set("auth.submission.port", None), _set("auth.submission.smtps_port", None)], ["auth.submission"]),
    "no-submission": ([_set("role", "mx")], ["role"]),
    "no-certificate": ([_set("tls", None)], ["auth.require_tls"]),  # the loader's own refusal
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_server_that_would_take_a_password_without_tls_is_refused_located(tmp_path: Path, case: str) -> None:
    changes, named = REFUSED[case]
    data = example()
    for change in changes:
        change(data)
    policy = write(tmp_path, data)
    code, output = clients(policy, tmp_path / "out")
    assert code == 2, output
    for where in named:
        assert re.search(rf"^{re.escape(str(policy))}:\d+:\d+: {re.escape(where)}[:.]", output, re.M), output
    assert "(fix: " in output
    assert not (tmp_path / "out").exists()


def test_no_policy_setting_yields_a_password_without_tls(tmp_path: Path) -> None:
    """Every combination of mechanisms, ports and incoming servers: TLS sockets only, cleartext only on them."""
    mechanisms: tuple[list[str], ...] = (["PLAIN"], ["CRAM-MD5"], ["PLAIN", "LOGIN", "SCRAM-SHA-256"])
    ports: tuple[dict[str, int | None], ...] = (
        {"port": 587, "smtps_port": None}, {"port": None, "smtps_port": 465}, {"port": 587, "smtps_port": 465})
    incoming: tuple[list[dict[str, str]], ...] = ([{"protocol": "imap", "security": "starttls"}],
                                                  [{"protocol": "pop3"}, {"protocol": "imap"}])
    for index, (mech, port, inbox) in enumerate(itertools.product(mechanisms, ports, incoming)):
        data = example()
        data["auth"].update(mechanisms=mech, submission=port)
        data["clients"] = {"incoming": inbox, "username": "local-part"}
        code, output = clients(write(tmp_path, data, f"p{index}.yml"), tmp_path / f"o{index}")
        assert code == 0, output
        root = ET.parse(tmp_path / f"o{index}" / "clients" / "autoconfig" / "mail" / "config-v1.1.xml").getroot()
        for server in root.iter():
            if server.tag in ("incomingServer", "outgoingServer"):
                assert server.findtext("socketType") in MOZILLA_SOCKETS, json.dumps([mech, port, inbox])
                assert server.findtext("username") == "%EMAILLOCALPART%"
        outgoing = [s for s in root.iter("outgoingServer")]
        assert [s.findtext("port") for s in outgoing] == [str(p) for p in (port["smtps_port"], port["port"]) if p]
        auths = {a.text for s in outgoing for a in s.findall("authentication")}
        assert ("password-encrypted" in auths) == bool({"CRAM-MD5", "SCRAM-SHA-256"} & set(mech))


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_display_name_reads_back_as_itself_and_adds_nothing(tmp_path: Path, hostile: str) -> None:
    """The one free text of client settings: XML and plist escape it, so each reader gets exactly it back."""
    data = example()
    data["clients"] = {"display_name": hostile}
    code, output = clients(write(tmp_path, data), tmp_path / "out")
    if code == 2:
        return  # refused where it stands (the policy's message text allow-list)
    assert code == 0, output
    out = tmp_path / "out" / "clients"
    config = ET.parse(out / "autoconfig" / "mail" / "config-v1.1.xml").getroot()
    assert [e.text for e in config.iter("displayName")] == [hostile]
    (profile_file,) = out.glob("*.mobileconfig")
    profile = plistlib.loads(profile_file.read_bytes())
    (mail,) = profile["PayloadContent"]
    assert mail["EmailAccountDescription"] == hostile and set(mail) <= APPLE_MAIL
    for guide in (out / "guides").iterdir():
        headings = [line for line in guide.read_text().splitlines() if line.startswith("# ")]
        assert len(headings) == 1 and headings[0].endswith(f": {hostile}")
