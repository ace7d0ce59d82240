"""Inbound SPF/DKIM/DMARC and outbound DKIM signing on a stock Postfix host (issue 26), proven at the sink.

The lab DNS publishes the records (``LabNet(txt=...)``): an SPF ``-all`` and a ``~all`` domain that permit
only PERMITTED, DMARC ``p=reject`` and ``p=quarantine`` domains, the host's own DKIM key and an outside signer's
key. One host, two deploys (the strict policy, then the lenient one); every case is one SMTP session from
the client namespace. What the host signs is verified by dkimpy (not OpenDKIM) against the key the lab DNS
serves, and a tampered copy must fail there.
"""

from __future__ import annotations

import base64
import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mtaharden.targets.base import Plan
from mtaharden.targets.kit import milters as kit_milters
from mtaharden.targets.sendmail.sender_auth import SPF_PORT
from tests.lab.contract import agrees, verdict
from tests.lab.exim import EximKind
from tests.lab.host import LabHost
from tests.lab.kind import DeployError, HostKind, install_plan, run_steps
from tests.lab.network import DNSBL_LISTINGS, DNSBL_ZONE, LISTED_OUTSIDE, SINK, TRUSTED, UNTRUSTED, LabNet
from tests.lab.opensmtpd import OpensmtpdKind
from tests.lab.policy import HOSTNAME, PASSWORD, REALM, USER, behaviour_policy, prepare_auth, render
from tests.lab.postfix import PostfixKind
from tests.lab.roots import need_lab
from tests.lab.sendmail import SendmailKind
from tests.lab.smtp import Conversation, Session, body, talk

dkim = pytest.importorskip("dkim")

KEY_PATH = "/etc/dkimkeys/lab.private"  # Debian's opendkim package makes /etc/dkimkeys for keys
EXIM_KEY = "/etc/exim4/dkim/lab.private"
OPENSMTPD_KEY = "/etc/mail/dkim/lab.key"  # opensmtpd-filter-dkimsign's README.Debian folder
SELECTOR, OUTSIDE_SELECTOR = "lab", "ext"
# Outside domains under .example: OpenDKIM's libunbound answers every .test name NXDOMAIN itself (RFC 6761's
# special-use names are its default local zones), so the keys it must find live under a TLD it asks about.
STRICT, SOFT = "spf-strict.example", "spf-soft.example"
DMARC_REJECT, DMARC_QUARANTINE, SIGNED = "dmarc-reject.example", "dmarc-quarantine.example", "signed.example"
RELAY_TO = "x@relay.example.test"  # relayed to the sink: what the host adds is read there
QUEUE_SECONDS = 30.0
# The client the SPF records permit: a stranger no access rule permits first (the behaviour policy's EXEMPT is
# permitted by access.clients, which ends the RCPT checks before SPF), listed outside the DNSBL's filter.
PERMITTED = LISTED_OUTSIDE
FAILS_REJECT = {"dmarc": "fail", "dmarc_policy": "reject"}
FAILS_QUARANTINE = {"dmarc": "fail", "dmarc_policy": "quarantine"}


def _key_pair(folder: Path, name: str) -> tuple[bytes, str]:
    """An RSA key (PEM) and its DKIM TXT record (the DER public key, base64)."""
    private = folder / f"{name}.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(private), "2048"], check=True, capture_output=True, timeout=60)
    der = subprocess.run(["openssl", "rsa", "-in", str(private), "-pubout", "-outform", "DER"], check=True,
                         capture_output=True, timeout=60).stdout
    return private.read_bytes(), f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def _policy(*, strict: bool, dmarc: bool = True, key: str = KEY_PATH) -> dict[str, Any]:
    policy = behaviour_policy()
    policy["sender_auth"] = {
        "spf": {"enabled": True, "on_fail": "reject" if strict else "defer",
                "on_softfail": "tag" if strict else "defer"},
        "dkim": {"enabled": True},
        "dmarc": {"enabled": dmarc, "honour_reject": strict, "on_quarantine": "hold" if strict else "tag"},
    }
    policy["dkim_signing"] = [{"domain": "example.test", "selector": SELECTOR, "key": key}]
    return policy


@dataclass
class Lab:
    net: LabNet
    host: LabHost
    kind: HostKind
    work: Path
    outside_key: bytes

    policy_file: Path | None = None
    sessions: list[dict[str, Any]] = field(default_factory=list)  # since the deploy, as mtaharden test cases

    def deploy(self, policy: dict[str, Any], name: str) -> Plan:
        self.policy_file, plan, rendered = render(self.kind, self.work / name, policy)
        self.kind.deploy(self.host, rendered, plan)
        self.sessions = []
        return plan

    def send(self, source: str, sender: str, message: str | None = None, recipient: str = RELAY_TO,
             **facts: str) -> Conversation:
        """One session; ``facts`` are what the lab's DNS makes true of it for the contract (``spf``, ``dmarc``,
        ``dmarc_policy``: see :meth:`agrees_with_the_contract`)."""
        commands: list[str | dict[str, str]] = ["EHLO client.test", f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>"]
        if message is not None:
            commands += ["DATA", body(message)]
        talked = talk(self.net, [Session(self.host.address, source, commands)])[0]
        listed = [f"{DNSBL_ZONE}={DNSBL_LISTINGS[source]}"] if source in DNSBL_LISTINGS else []
        subject = re.search(r"^Subject: (.*)$", message or "", re.MULTILINE)  # a signed message starts otherwise
        self.sessions.append({"name": f"{sender} from {source}" + (f" ({subject[1]})" if subject else ""),
                              "client": source, "helo": "client.test", "from": sender, "to": [recipient],
                              "listed": listed, **facts, "expect": _observed(talked, message is not None)})
        return talked

    def agrees_with_the_contract(self) -> None:
        """``mtaharden test --cases``, given each session since the deploy with the SPF and DMARC results the
        lab's records give it, answers every stage with the class the MTA answered: the contract and the
        daemon mean the same."""
        assert self.policy_file is not None
        agrees(self.policy_file, self.sessions)

    def settled(self) -> list[str]:
        """Wait (bounded) until nothing but held mail is queued; Postfix's postqueue -j lines left (held)."""
        deadline = time.monotonic() + QUEUE_SECONDS
        while True:
            if not isinstance(self.kind, PostfixKind):
                if self.kind.queue_empty(self.host):
                    return []
                queued = ["(queued)"]
            else:
                queued = [line for line in self.host.run(["postqueue", "-j"]).stdout.splitlines() if line.strip()]
                if all('"queue_name": "hold"' in line for line in queued):
                    return queued
            if time.monotonic() > deadline:
                raise AssertionError(f"the queue did not settle: {queued}\n{self.kind.log_text(self.host)}")
            time.sleep(0.3)

    def arrived(self, token: str, *, unfolded: bool = True) -> str:
        """The one message with ``token`` at the sink (its header lines unfolded, LF line ends, unless not)."""
        self.settled()
        found = [m["data"] for m in self.net.sink_messages() if token in m["data"]]
        assert len(found) == 1, f"{token}: {len(found)} at the sink\n{self.kind.log_text(self.host)}"
        text: str = found[0]
        return re.sub(r"\r?\n[ \t]+", " ", text).replace("\r\n", "\n") if unfolded else text

    def sign(self, message: str, domain: str) -> str:
        signature: bytes = dkim.sign(message.replace("\n", "\r\n").encode(), OUTSIDE_SELECTOR.encode(), domain.encode(),
                              self.outside_key, include_headers=[b"from", b"to", b"subject"])
        return signature.decode().replace("\r\n", "\n") + message


def _observed(talked: Conversation, data: bool) -> dict[str, Any]:
    """What the MTA answered, as a case's ``expect``: a MAIL or RCPT refusal is the recipient's class (the
    contract allows refusing earlier what it refuses for every recipient); else the end of DATA's."""
    replies = [code for code, _ in talked.replies]  # EHLO, MAIL, RCPT[, DATA, the message]
    refused = next((code for code in replies[1:3] if code // 100 != 2), None)
    if refused is not None:
        return {"rcpt": [verdict(refused)]}
    return {"rcpt": ["accept"], "data": verdict(replies[-1])} if data else {"rcpt": ["accept"]}


def _dmarc_failures_only_tagged(lab: Lab) -> None:
    """The lenient policy: p=reject (no honour_reject) and p=quarantine (tag) failing are delivered, with
    dmarc=fail in Authentication-Results."""
    rejected = lab.send(UNTRUSTED, "d@other.example", _message(f"d@{DMARC_REJECT}", "lenient-reject"),
                        **FAILS_REJECT)
    quarantined = lab.send(UNTRUSTED, "h@other.example", _message(f"h@{DMARC_QUARANTINE}", "lenient-quarantine"),
                           **FAILS_QUARANTINE)
    assert rejected.last[0] == 250 and quarantined.last[0] == 250, (rejected, quarantined)
    assert _result(lab.arrived("lenient-reject"), "dmarc=fail", "header.from", DMARC_REJECT)
    assert _result(lab.arrived("lenient-quarantine"), "dmarc=fail", "header.from", DMARC_QUARANTINE)


def _message(sender: str, token: str, text: str = "hello") -> str:
    return f"From: <{sender}>\nTo: <{RELAY_TO}>\nSubject: {token}\nMessage-ID: <{token}@client.test>\n\n{text}\n"


@contextlib.contextmanager
def _lab(kind: HostKind, work: Path, key: str, owner: str) -> Iterator[Lab]:
    """One host of ``kind`` with its DKIM key at ``key`` (owner-only), on a lab net publishing the records."""
    need_lab("dnsmasq", "rbldnsd", "dig", "openssl")
    host_key, host_record = _key_pair(work, "host")
    outside_key, outside_record = _key_pair(work, "outside")
    txt = {STRICT: f"v=spf1 ip4:{PERMITTED} -all", SOFT: f"v=spf1 ip4:{PERMITTED} ~all",
           f"_dmarc.{DMARC_REJECT}": "v=DMARC1; p=reject", f"_dmarc.{DMARC_QUARANTINE}": "v=DMARC1; p=quarantine",
           f"{SELECTOR}._domainkey.example.test": host_record,
           f"{OUTSIDE_SELECTOR}._domainkey.{DMARC_REJECT}": outside_record,
           f"{OUTSIDE_SELECTOR}._domainkey.{SIGNED}": outside_record}
    with LabNet(txt=txt) as net, net.host(kind) as host:
        host.put(key, host_key, mode=0o600, owner=owner)
        prepare_auth(host, kind)  # the behaviour policy's TLS certificate and SASL user
        try:
            yield Lab(net, host, kind, work, outside_key)
        finally:
            kind.stop(host)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with _lab(PostfixKind(), tmp_path_factory.mktemp("sender-auth"), KEY_PATH, "opendkim:opendkim") as running:
        yield running


@pytest.fixture(scope="module")
def exim_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with _lab(EximKind(), tmp_path_factory.mktemp("sender-auth-exim"), EXIM_KEY, "Debian-exim:Debian-exim") as running:
        yield running


@pytest.fixture(scope="module")
def opensmtpd_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    work = tmp_path_factory.mktemp("sender-auth-opensmtpd")
    with _lab(OpensmtpdKind(), work, OPENSMTPD_KEY, "_dkimsign:_dkimsign") as running:
        yield running


@pytest.fixture(scope="module")
def sendmail_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    work = tmp_path_factory.mktemp("sender-auth-sendmail")
    with _lab(SendmailKind(), work, KEY_PATH, "opendkim:opendkim") as running:
        yield running


def test_a_dkim_key_others_may_read_is_refused_before_anything_is_live(lab: Lab) -> None:
    _, plan, rendered = render(lab.kind, lab.work / "unsafe", _policy(strict=True))
    lab.host.run(["chmod", "0644", KEY_PATH])
    try:
        install_plan(lab.host, rendered, plan)
        with pytest.raises(DeployError, match="make it owner-only"):
            run_steps(lab.host, plan)
        lab.host.run(["chown", "root:opendkim", KEY_PATH])
        lab.host.run(["chmod", "0640", KEY_PATH])
        run_steps(lab.host, plan)  # the signer's group may read it
    finally:
        lab.host.run(["chown", "opendkim:opendkim", KEY_PATH])
        lab.host.run(["chmod", "0600", KEY_PATH])
    assert "PRIVATE KEY" not in "".join(p.read_text() for p in rendered.rglob("*") if p.is_file())


def test_strict_policy(lab: Lab) -> None:
    """SPF -all from an unlisted client: 550 at RCPT; listed: passes with Received-SPF; softfail: tagged;
    trusted clients are not checked; DMARC p=reject failing: 550; aligned DKIM passes it; p=quarantine:
    held; a bad signature alone refuses nothing; what the host signs verifies apart from OpenDKIM."""
    lab.deploy(_policy(strict=True), "strict")
    assert lab.send(UNTRUSTED, f"a@{STRICT}", spf="fail").last[0] == 550
    passed = lab.send(PERMITTED, f"b@{STRICT}", _message(f"b@{STRICT}", "spf-pass"), spf="pass")
    soft = lab.send(UNTRUSTED, f"c@{SOFT}", _message(f"c@{SOFT}", "spf-soft"), spf="softfail")
    trusted = lab.send(TRUSTED, f"t@{STRICT}", _message(f"t@{STRICT}", "spf-trusted"), spf="fail")
    dmarc_fail = lab.send(UNTRUSTED, "d@other.example", _message(f"d@{DMARC_REJECT}", "dmarc-reject"),
                          **FAILS_REJECT)
    aligned = lab.send(UNTRUSTED, "e@other.example", lab.sign(_message(f"e@{DMARC_REJECT}", "dmarc-aligned"),
                                                           DMARC_REJECT), dmarc="pass", dmarc_policy="reject")
    tampered_dmarc = lab.send(UNTRUSTED, "f@other.example", lab.sign(
        _message(f"f@{DMARC_REJECT}", "dmarc-tampered"), DMARC_REJECT).replace("hello", "HELLO"), **FAILS_REJECT)
    tampered = lab.send(UNTRUSTED, "g@other.example", lab.sign(
        _message(f"g@{SIGNED}", "dkim-tampered"), SIGNED).replace("hello", "HELLO"))
    quarantined = lab.send(UNTRUSTED, "h@other.example", _message(f"h@{DMARC_QUARANTINE}", "dmarc-quarantine"),
                           **FAILS_QUARANTINE)
    own = lab.send(TRUSTED, "alice@example.test", _message("alice@example.test", "signed-here"),
                   recipient="bob@foreign.test")
    log = _milter_log(lab)
    for name, talked in (("passed", passed), ("soft", soft), ("trusted", trusted), ("aligned", aligned),
                         ("tampered", tampered), ("quarantined", quarantined), ("own", own)):
        assert talked.last[0] == 250, f"{name}: {talked.last}\n{log}"
    assert dmarc_fail.last[0] == 550 and "DMARC" in dmarc_fail.last[1], (dmarc_fail, log)
    assert tampered_dmarc.last[0] == 550, (tampered_dmarc, log)

    spf_pass = lab.arrived("spf-pass")
    assert re.search(r"^Received-SPF: Pass", spf_pass, re.MULTILINE | re.IGNORECASE), spf_pass
    assert re.search(r"^Received-SPF: Softfail", lab.arrived("spf-soft"), re.MULTILINE | re.IGNORECASE)
    assert "Received-SPF" not in lab.arrived("spf-trusted")
    aligned_results = lab.arrived("dmarc-aligned")
    assert _result(aligned_results, "dkim=pass", "header.d", DMARC_REJECT), aligned_results
    assert _result(aligned_results, "dmarc=pass", "header.from", DMARC_REJECT), aligned_results
    assert _result(lab.arrived("dkim-tampered"), "dkim=fail", "header.d", SIGNED)
    held = lab.settled()
    assert len(held) == 1 and "dmarc-quarantine" not in str(lab.net.sink_messages()), held
    lab.host.run(["postsuper", "-d", "ALL", "hold"])
    lab.agrees_with_the_contract()
    _verifies_apart(lab, "signed-here")


def test_lenient_policy(lab: Lab) -> None:
    """on_fail/on_softfail defer: 450 for both; DMARC p=reject without honour_reject and p=quarantine with
    tag: delivered, with dmarc=fail in Authentication-Results."""
    lab.deploy(_policy(strict=False), "lenient")
    assert lab.send(UNTRUSTED, f"a@{STRICT}", spf="fail").last[0] == 450
    assert lab.send(UNTRUSTED, f"c@{SOFT}", spf="softfail").last[0] == 450
    assert lab.send(PERMITTED, f"b@{STRICT}", spf="pass").last[0] == 250
    _dmarc_failures_only_tagged(lab)
    assert lab.settled() == []
    lab.agrees_with_the_contract()


def test_a_reboot_starts_the_milters_as_debian_services(lab: Lab) -> None:
    """Everything stopped and /run emptied, as after a reboot; then only what the boot runs (the packages'
    enabled services: sysv-rc's S links, which systemd's units stand in for) and no deploy: mail is signed
    and verified again, not deferred by milter_default_action = tempfail."""
    lab.deploy(_policy(strict=False), "boot")
    lab.kind.stop(lab.host)
    for name in ("opendmarc", "opendkim"):
        lab.host.run([f"/etc/init.d/{name}", "stop"])
        assert lab.host.path(f"/etc/systemd/system/multi-user.target.wants/{name}.service").is_symlink(), name
    lab.host.run(["rm", "-rf", "/run/opendkim", "/run/opendmarc"])
    for name in ("opendmarc", "opendkim"):  # 3: not running
        status = lab.host.run(["start-stop-daemon", "--status", "--exec", f"/usr/sbin/{name}"], check=False)
        assert status.returncode == 3, name
    for name in ("opendkim", "opendmarc", "postfix"):  # sysv-rc's order at boot (S01 links, then by name)
        links = sorted(lab.host.path("/etc/rc2.d").glob(f"S*{name}"))
        assert len(links) == 1, (name, links)
        lab.host.run([f"/etc/rc2.d/{links[0].name}", "start"])
    lab.host.wait_for_port(25)
    own = lab.send(TRUSTED, "alice@example.test", _message("alice@example.test", "signed-after-boot"),
                   recipient="bob@foreign.test")
    rejected = lab.send(UNTRUSTED, "d@other.example", _message(f"d@{DMARC_REJECT}", "judged-after-boot"))
    assert own.last[0] == 250 and rejected.last[0] == 250, (own, rejected, _milter_log(lab))
    assert _result(lab.arrived("judged-after-boot"), "dmarc=fail", "header.from", DMARC_REJECT)
    _verifies_apart(lab, "signed-after-boot")


def test_exim_with_its_own_conditions(exim_lab: Lab) -> None:
    """Exim 4.96 (no DMARC built in): SPF -all unlisted 550, listed passes, softfail tagged; DKIM verified
    (a tampered signature is recorded, not refused); what the transport signs verifies apart from Exim."""
    lab = exim_lab
    lab.deploy(_policy(strict=True, dmarc=False, key=EXIM_KEY), "exim")
    assert lab.send(UNTRUSTED, f"a@{STRICT}", spf="fail").last[0] == 550
    talks = {"spf-pass": lab.send(PERMITTED, f"b@{STRICT}", _message(f"b@{STRICT}", "spf-pass"), spf="pass"),
             "spf-soft": lab.send(UNTRUSTED, f"c@{SOFT}", _message(f"c@{SOFT}", "spf-soft"), spf="softfail"),
             "dkim-good": lab.send(UNTRUSTED, "g@other.example",
                                   lab.sign(_message(f"g@{SIGNED}", "dkim-good"), SIGNED)),
             "dkim-tampered": lab.send(UNTRUSTED, "g@other.example", lab.sign(
                 _message(f"g@{SIGNED}", "dkim-tampered"), SIGNED).replace("hello", "HELLO")),
             "signed-here": lab.send(TRUSTED, "alice@example.test", _message("alice@example.test", "signed-here"),
                                     recipient="bob@foreign.test")}
    for name, talked in talks.items():
        assert talked.last[0] == 250, f"{name}: {talked.last}\n{lab.kind.log_text(lab.host)[-3000:]}"
    assert _result(lab.arrived("spf-pass"), "spf=pass", "smtp.mailfrom", STRICT), lab.arrived("spf-pass")
    assert _result(lab.arrived("spf-soft"), "spf=softfail", "smtp.mailfrom", SOFT), lab.arrived("spf-soft")
    assert _result(lab.arrived("dkim-good"), "dkim=pass", "header.d", SIGNED), lab.arrived("dkim-good")
    assert _result(lab.arrived("dkim-tampered"), "dkim=fail", "header.d", SIGNED), lab.arrived("dkim-tampered")
    assert "Authentication-Results" not in lab.arrived("signed-here")  # a trusted client's mail is not judged
    lab.agrees_with_the_contract()
    _verifies_apart(lab, "signed-here")


def test_sendmail_strict_policy(sendmail_lab: Lab) -> None:
    """Sendmail's milters. pyspf-milter: SPF -all from an unlisted client 550 at MAIL FROM, listed spf=pass,
    softfail tagged; a trusted client is not checked, a client that authenticates on port 25 is (as the row says).
    OpenDMARC: p=reject failing 550, an aligned DKIM signature passes it, p=quarantine held in Sendmail's
    quarantine (mailq -qQ); a bad signature alone refuses nothing. OpenDKIM signs what a trusted client, an
    authenticated one and a local ``sendmail -t`` send, and dkimpy verifies it apart."""
    lab = sendmail_lab
    lab.host.run(["/etc/init.d/pyspf-milter", "start"])  # as apt leaves it: the package's config, on 8893
    lab.host.wait_for_port(kit_milters.OPENDMARC_PORT)  # OpenDMARC's port: the deploy must move it first
    plan = lab.deploy(_policy(strict=True), "sendmail-strict")
    assert _status(plan, "sender_auth.spf") == "approximated"  # port-25 AUTH and access permits: see the row
    assert all(_status(plan, e) == "enforced" for e in ("sender_auth.dkim", "sender_auth.dmarc", "dkim_signing"))
    refused = lab.send(UNTRUSTED, f"a@{STRICT}", spf="fail")
    assert refused.replies[1][0] == 550 and "SPF" in refused.replies[1][1], refused
    passed = lab.send(PERMITTED, f"b@{STRICT}", _message(f"b@{STRICT}", "spf-pass"), spf="pass")
    soft = lab.send(UNTRUSTED, f"c@{SOFT}", _message(f"c@{SOFT}", "spf-soft"), spf="softfail")
    trusted = lab.send(TRUSTED, f"t@{STRICT}", _message(f"t@{STRICT}", "spf-trusted"), spf="fail")
    submitted = _submit(lab, "alice@example.test", _message("alice@example.test", "signed-submitted"))
    assert _submit(lab, f"s@{STRICT}").replies[-1][0] == 550  # pyspf-milter decided at connect, before AUTH
    dmarc_fail = lab.send(UNTRUSTED, "d@other.example", _message(f"d@{DMARC_REJECT}", "dmarc-reject"),
                          **FAILS_REJECT)
    aligned = lab.send(UNTRUSTED, "e@other.example", lab.sign(_message(f"e@{DMARC_REJECT}", "dmarc-aligned"),
                                                           DMARC_REJECT), dmarc="pass", dmarc_policy="reject")
    tampered = lab.send(UNTRUSTED, "g@other.example", lab.sign(
        _message(f"g@{SIGNED}", "dkim-tampered"), SIGNED).replace("hello", "HELLO"))
    quarantined = lab.send(UNTRUSTED, "h@other.example", _message(f"h@{DMARC_QUARANTINE}", "dmarc-quarantine"),
                           **FAILS_QUARANTINE)
    own = lab.send(TRUSTED, "alice@example.test", _message("alice@example.test", "signed-here"),
                   recipient="bob@foreign.test")
    local_message = _message("alice@example.test", "signed-locally").replace(RELAY_TO, "bob@foreign.test")
    local = lab.host.run(["sendmail", "-t", "-f", "alice@example.test"], input_text=local_message)
    log = _milter_log(lab)
    for name, talked in (("passed", passed), ("soft", soft), ("trusted", trusted), ("submitted", submitted),
                         ("aligned", aligned), ("tampered", tampered), ("quarantined", quarantined), ("own", own)):
        assert talked.last[0] == 250, f"{name}: {talked.last}\n{log}"
    assert local.returncode == 0, local
    assert dmarc_fail.last[0] == 550 and "DMARC" in dmarc_fail.last[1], (dmarc_fail, log)

    assert _result(lab.arrived("spf-pass"), "spf=pass", "smtp.mailfrom", STRICT), lab.arrived("spf-pass")
    assert _result(lab.arrived("spf-soft"), "spf=softfail", "smtp.mailfrom", SOFT), lab.arrived("spf-soft")
    assert "spf=" not in lab.arrived("spf-trusted"), lab.arrived("spf-trusted")
    aligned_results = lab.arrived("dmarc-aligned")
    assert _result(aligned_results, "dkim=pass", "header.d", DMARC_REJECT), aligned_results
    assert _result(aligned_results, "dmarc=pass", "header.from", DMARC_REJECT), aligned_results
    assert _result(lab.arrived("dkim-tampered"), "dkim=fail", "header.d", SIGNED)
    held = lab.host.run(["mailq", "-qQ"]).stdout  # the quarantined jobs only; plain mailq lists none of them
    assert re.search(r"<h@other\.example>\n\s*QUARANTINE: .*DMARC", held), held
    assert "h@other.example" not in lab.host.run(["mailq"]).stdout
    assert "dmarc-quarantine" not in str(lab.net.sink_messages())
    lab.host.run(["sh", "-c", "rm -f /var/spool/mqueue/hf* /var/spool/mqueue/df*"])  # drop the held job
    lab.agrees_with_the_contract()  # port-25 AUTH, where pyspf-milter differs (the row says so), is not a send
    for token in ("signed-here", "signed-submitted", "signed-locally"):
        _verifies_apart(lab, token)


def test_sendmail_lenient_policy(sendmail_lab: Lab) -> None:
    """on_fail/on_softfail defer: pyspf-milter answers 550 to a fail and tags a softfail (approximated, the row
    says so); DMARC
    p=reject without honour_reject and p=quarantine with tag: delivered with dmarc=fail. With the submission
    port: a client authenticated there is not SPF-checked (MacroList), and its mail is signed."""
    lab = sendmail_lab
    policy = _policy(strict=False)
    policy["role"] = "mx+submission"
    plan = lab.deploy(policy, "sendmail-lenient")
    submitted = _submit(lab, f"s@{STRICT}", _message("alice@example.test", "signed-on-587"), port=587)
    assert submitted.last[0] == 250, submitted
    assert "spf=" not in lab.arrived("signed-on-587")
    _verifies_apart(lab, "signed-on-587")
    assert "a fail is refused 550, not deferred 450" in _detail(plan, "sender_auth.spf")
    assert "a softfail is only tagged" in _detail(plan, "sender_auth.spf")
    refused = lab.send(UNTRUSTED, f"a@{STRICT}", spf="fail")
    assert refused.replies[1][0] == 550, refused
    tagged = lab.send(UNTRUSTED, f"c@{SOFT}", _message(f"c@{SOFT}", "lenient-softfail"), spf="softfail")
    assert tagged.last[0] == 250, tagged
    softfailed = lab.arrived("lenient-softfail")
    assert _result(softfailed, "spf=softfail", "smtp.mailfrom", SOFT), softfailed
    assert lab.send(PERMITTED, f"b@{STRICT}", spf="pass").last[0] == 250
    _dmarc_failures_only_tagged(lab)
    assert "lenient-quarantine" not in lab.host.run(["mailq", "-qQ"]).stdout


def test_sendmail_a_reboot_starts_the_milters_as_debian_services(sendmail_lab: Lab) -> None:
    """As for Postfix: everything stopped and /run emptied, then only the boot's S01 scripts (the packages'
    enabled services) and no deploy: pyspf-milter reads the deployed file on 8894, mail is judged and signed."""
    lab = sendmail_lab
    lab.deploy(_policy(strict=True), "sendmail-boot")
    lab.kind.stop(lab.host)
    milters = ("opendmarc", "opendkim", "pyspf-milter")
    for name in milters:
        lab.host.run([f"/etc/init.d/{name}", "stop"])
        assert lab.host.path(f"/etc/systemd/system/multi-user.target.wants/{name}.service").is_symlink(), name
    lab.host.run(["rm", "-rf", *(f"/run/{name}" for name in milters)])
    deadline = time.monotonic() + QUEUE_SECONDS
    while {kit_milters.OPENDKIM_PORT, kit_milters.OPENDMARC_PORT, SPF_PORT} & lab.host.listening():
        assert time.monotonic() < deadline, lab.host.listening()  # pyspf-milter takes a while to exit
        time.sleep(0.2)
    for name in ("opendkim", "opendmarc", "pyspf-milter", "sendmail"):  # sysv-rc's order (S01 links, by name)
        links = sorted(lab.host.path("/etc/rc2.d").glob(f"S*{name}"))
        assert len(links) == 1, (name, links)
        lab.host.run([f"/etc/rc2.d/{links[0].name}", "start"])
    for port in (25, kit_milters.OPENDKIM_PORT, kit_milters.OPENDMARC_PORT, SPF_PORT):
        lab.host.wait_for_port(port)  # pyspf-milter starts in the background: F=T defers mail until it listens
    assert lab.send(UNTRUSTED, f"a@{STRICT}", spf="fail").replies[1][0] == 550
    own = lab.send(TRUSTED, "alice@example.test", _message("alice@example.test", "sendmail-signed-after-boot"),
                   recipient="bob@foreign.test")
    assert own.last[0] == 250, (own, _milter_log(lab))
    _verifies_apart(lab, "sendmail-signed-after-boot")


def test_opensmtpd_signs_the_hosts_and_the_trusted_networks_mail(opensmtpd_lab: Lab) -> None:
    """filter-dkimsign on the signing listener: what a trusted client sends to another domain and what the host
    sends itself (sendmail -t) leaves signed, and dkimpy verifies it apart; a stranger's mail to a relay domain,
    and a trusted client's (its rule comes first, as the row says), leave unsigned."""
    lab = opensmtpd_lab
    policy = behaviour_policy()
    policy["dkim_signing"] = [{"domain": "example.test", "selector": SELECTOR, "key": OPENSMTPD_KEY}]
    plan = lab.deploy(policy, "opensmtpd-signing")
    assert _status(plan, "dkim_signing") == "approximated" and "relayed unsigned" in _detail(plan, "dkim_signing")
    own = lab.send(TRUSTED, "alice@example.test", _message("alice@example.test", "signed-by-filter"),
                   recipient="bob@foreign.test")
    local_message = _message("alice@example.test", "signed-locally").replace(RELAY_TO, "bob@foreign.test")
    local = lab.host.run(["sendmail", "-t", "-f", "alice@example.test"], input_text=local_message)
    inbound = lab.send(UNTRUSTED, "s@stranger.example", _message("s@stranger.example", "inbound-unsigned"))
    relayed = lab.send(TRUSTED, "alice@example.test", _message("alice@example.test", "relay-domain-unsigned"))
    for name, talked in (("own", own), ("inbound", inbound), ("relayed", relayed)):
        assert talked.last[0] == 250, f"{name}: {talked.last}\n{lab.kind.log_text(lab.host)[-3000:]}"
    assert local.returncode == 0, local
    for token in ("signed-by-filter", "signed-locally"):
        _verifies_apart(lab, token)
    for token in ("inbound-unsigned", "relay-domain-unsigned"):
        assert "DKIM-Signature" not in lab.arrived(token), lab.arrived(token)
    lab.agrees_with_the_contract()


def _submit(lab: Lab, sender: str, message: str | None = None, port: int = 25) -> Conversation:
    """From UNTRUSTED, authenticated after STARTTLS on ``port`` (the lab policy's role offers no submission
    port): MAIL FROM ``sender``, then ``message`` to a foreign domain (none: the session ends at MAIL)."""
    login = "AUTH PLAIN " + base64.b64encode(f"\0{USER}@{REALM}\0{PASSWORD}".encode()).decode()
    commands: list[str | dict[str, str]] = ["EHLO client.test", login, f"MAIL FROM:<{sender}>"]
    if message is not None:
        commands += ["RCPT TO:<bob@foreign.test>", "DATA", body(message)]
    return talk(lab.net, [Session(lab.host.address, UNTRUSTED, commands, starttls=True, port=port)])[0]


def _status(plan: Plan, element: str) -> str:
    return next(item.status for item in plan.coverage if item.element == element)


def _detail(plan: Plan, element: str) -> str:
    return next(item.detail for item in plan.coverage if item.element == element)


def _verifies_apart(lab: Lab, token: str) -> None:
    """The host's signature on ``token``'s message verifies with dkimpy and the key the lab DNS serves; a
    tampered copy does not."""
    header = re.search(r"^DKIM-Signature: (.*)$", lab.arrived(token), re.MULTILINE)
    assert header, lab.arrived(token)
    tags = dict(tag.strip().split("=", 1) for tag in header[1].split(";") if "=" in tag)  # in any order
    assert (tags.get("d"), tags.get("s")) == ("example.test", SELECTOR), header[0]
    record = _served(lab.net, f"{SELECTOR}._domainkey.example.test")
    raw = lab.arrived(token, unfolded=False).encode()
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)
    assert not dkim.verify(raw.replace(b"hello", b"HELLO"), dnsfunc=lambda name, timeout=5: record)


def _result(message: str, result: str, field: str, domain: str) -> bool:
    """An Authentication-Results header of this host (RFC 8601) holds ``result`` for ``field=domain``."""
    shown = re.escape(f"{field}={domain}")
    pattern = rf"^Authentication-Results: {re.escape(HOSTNAME)};.* {re.escape(result)} .*{shown}\b"
    return re.search(pattern, message, re.MULTILINE) is not None


def _milter_log(lab: Lab) -> str:
    """The log lines of the sender checks (the whole log would hide them in a failure message)."""
    lines = lab.kind.log_text(lab.host).splitlines()
    return "\n".join(line for line in lines if re.search(r"opendkim|opendmarc|policyd|reject|milter", line))


def _served(net: LabNet, name: str) -> bytes:
    """The TXT record as the lab DNS serves it (its strings joined), for dkimpy's lookup."""
    answer = net.client(["dig", "+short", f"@{SINK}", name, "TXT"]).stdout
    return "".join(re.findall(r'"([^"]*)"', answer)).encode()

