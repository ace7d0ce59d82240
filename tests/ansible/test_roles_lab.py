"""The MTA roles, run by the real ansible-playbook against stock lab hosts: Postfix, Sendmail, qmail, Exim
and OpenSMTPD (the last two run the essential scenarios only: refusal, first run, rerun, open relay, the
verify role's queue proof; the CI budget).

One host per target (the tests run in file order on it, grouped by target): another MTA's role (or
the qmail role where no qmail is built) is refused before anything changes; the MTA is installed and
stopped with the package's own config (Postfix: no main.cf, as Debian's "No configuration" leaves it)
→ the first run deploys and starts it (qmail is verified from the host with the queue proof);
a second run changes nothing; ``--check --diff`` shows a change and makes none; (Postfix: an
``inet_interfaces`` change really moves the listener); an open-relay policy, a config the MTA's own
tools reject, a failure injected into the apply step and a host that lacks what the config needs (a
TLS certificate, a listen address) are all refused or rolled back byte for byte with the previous MTA
still answering; the verify role alone probes from the host itself with the queue proof and takes the
shared endpoints. A last host has no MTA at all: the postfix role installs it.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mtaharden.policy.options.opensmtpd import OpensmtpdOptions
from tests.ansible.lab_kinds import ANSIBLE_KINDS, BARE_KINDS, OFFLINE_APT
from tests.ansible.lab_play import Lab, recap, task_section
from tests.ansible.playbook import PlayResult
from tests.lab.conftest import LAB_TOOLS
from tests.lab.kind import wait_until
from tests.lab.network import UNTRUSTED, LabNet
from tests.lab.policy import CERT, KEY, prepare_auth, render
from tests.lab.postfix import start_syslog
from tests.lab.qmail import SERVICE, SOURCE
from tests.lab.roots import need_lab

pytestmark = pytest.mark.lab
FAIL_APPLY = "/usr/local/sbin/fail-apply"
BACKUPS = "/var/lib/mtaharden/backups"
MISSING_ADDRESS = "192.0.2.99"
WAIT_RUNS = "Wait until the MTA runs (its own test; a start returns before the daemon is up)"
WAIT_RUNS_AGAIN = "Wait until the restored MTA runs again"


@dataclass(frozen=True)
class Scenario:
    """What one target's runs change, and how its apply step is recognised (to fail it on purpose)."""

    change: str  # a harmless override that changes the live files
    apply_pattern: str  # a shell case pattern matching the plan's apply commands only
    rejected: dict[str, str]  # role variables whose config the MTA's own staging tools refuse; {}: none
    unmet: tuple[str, ...]  # overrides whose host requirement (preflight) is not met
    unmet_message: str
    strangers: tuple[tuple[str, str, dict[str, str]], ...]  # (a role that must refuse, what it names, its vars)
    open_relay: str = f"networks.trusted=[{UNTRUSTED}/32]"  # trusts the probe's vantage
    on_host: bool = False  # verify from the host itself with the queue proof (else from the controller)
    essential_only: bool = False  # the CI budget: only refusal, first run, rerun, open relay and the verify role


SCENARIOS = {
    "postfix": Scenario("smtp.max_recipients=42", "*reload*", {},
                        ("tls.cert=/etc/ssl/lab/missing.pem",), "/etc/ssl/lab/missing.pem does not exist",
                        (("sendmail", "postfix installed", {}), ("qmail", "qmail is not installed", {}))),
    "sendmail": Scenario("smtp.max_recipients=42", "*kill\\ -HUP*", {"sendmail_cf_dir": "/usr/share/no-such-cf"},
                         ("tls.cert=/etc/ssl/lab/missing.pem",), "/etc/ssl/lab/missing.pem does not exist",
                         (("postfix", "sendmail-bin installed", {}),)),
    # stock qmail has no TLS (the lab allows it unsupported): its preflight is the listen address. It
    # accepts every RCPT and bounces later, so only its queue proves anything: verified on the host.
    "qmail": Scenario("smtp.max_message_size=123456", "*svc\\ -t*", {},
                      (f"targets.qmail.listen={MISSING_ADDRESS}",), f"{MISSING_ADDRESS} is not an address of this host",
                      (("qmail", "qmail is not installed", {"qmail_home": "/opt/no-qmail"}),),
                      open_relay="networks.trusted=[192.0.2.25/32]", on_host=True),
    # The two newest roles run the essential scenarios only (the Ansible lab suite's time budget; the shared
    # flow's other paths are the same tasks, proven on the three above).
    "exim": Scenario("smtp.max_recipients=42", "*exim4\\ reload*", {"exim_binary": "/usr/sbin/no-such-exim"},
                     ("tls.cert=/etc/ssl/lab/missing.pem",), "/etc/ssl/lab/missing.pem does not exist",
                     (("postfix", "exim4-daemon-heavy installed", {}),
                      ("opensmtpd", "exim4-daemon-heavy installed", {})),
                     essential_only=True),
    "opensmtpd": Scenario("smtp.max_message_size=123456", "*opensmtpd\\ restart*", {}, (), "",
                          (("exim", "opensmtpd installed", {}), ("sendmail", "opensmtpd installed", {})),
                          essential_only=True),
}


def _essential(lab: Lab) -> None:
    if SCENARIOS[lab.target].essential_only:
        pytest.skip(f"{lab.target}: essential scenarios only (the Ansible lab suite's time budget)")


def _prepare(lab: Lab) -> None:
    """The host as an admin finds it: MTA installed and stopped, certificate and sasldb in place."""
    kind = ANSIBLE_KINDS[lab.target]
    if "busybox-syslogd" in kind.packages:  # qmail logs through multilog, Exim to its own files, the others to syslog
        start_syslog(lab.host)
    prepare_auth(lab.host, kind)
    if lab.target == "exim":  # Debian's README.Debian: Exim reads the TLS key as Debian-exim, by its group
        lab.host.run(["chgrp", "Debian-exim", CERT, KEY])
        lab.host.run(["chmod", "g+r", CERT, KEY])
    if lab.target == "postfix":
        lab.host.run(["rm", "-f", "/etc/postfix/main.cf"])  # Debian's "No configuration": installed, no main.cf
    if lab.target == "qmail":  # built and configured (INSTALL's config-fast), svscan up, qmail-send down
        lab.host.run(["sh", "-c", f"cd {SOURCE} && ./config-fast {lab.host.fqdn}"])
        lab.host.run(["sh", "-c", f"setsid svscan {SERVICE} </dev/null >/dev/null 2>&1 &"])
        lab.host.run(["sh", "-c", f"for i in $(seq 50); do svok {SERVICE}/qmail-send && exit 0; sleep 0.2; done; "
                                  "exit 1"])
        lab.host.run(["svc", "-d", f"{SERVICE}/qmail-send"])
    if SCENARIOS[lab.target].on_host:
        lab.share_mtaharden()
        lab.defaults.update(mtaharden_probe_from="mx", mtaharden_probe_args=["--timeout", "10"])
    pattern = SCENARIOS[lab.target].apply_pattern
    lab.host.put(FAIL_APPLY, f'#!/bin/sh\ncase "$*" in {pattern}) echo "injected: apply refused" >&2; exit 1;; '
                             f'esac\nexec "$@"\n'.encode(), mode=0o755)


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    need_lab(*LAB_TOOLS, "nsenter")
    kind = ANSIBLE_KINDS[request.param]
    base = tmp_path_factory.mktemp(f"{kind.name}-ansible")
    policy, _, _ = render(kind, base / "policy")
    with LabNet() as net, net.host(kind) as host:
        lab = Lab(net, host, base, policy, kind.target)
        _prepare(lab)
        yield lab


def why(lab: Lab, result: PlayResult) -> str:
    """A play's output and the MTA's log after it (without Ansible's own syslog lines): what a failed
    assertion shows."""
    log = "".join(line for line in ANSIBLE_KINDS[lab.target].log_text(lab.host).splitlines(keepends=True)
                  if " ansible-" not in line)
    return f"{result.output[-6000:]}\n--- the MTA's log:\n{log[-8000:]}"


def _unchanged_and_answering(lab: Lab, before: dict[str, str]) -> None:
    assert lab.files() == before
    log = ANSIBLE_KINDS[lab.target].log_text(lab.host)[-4000:]
    assert lab.running(), f"the MTA does not run; its log:\n{log}"
    greeting = lab.greeting()
    assert greeting.startswith("220 "), f"{greeting!r}; the MTA's log:\n{log}"


def test_another_mta_or_a_missing_one_is_refused_before_anything_changes(lab: Lab) -> None:
    before = lab.files()
    for role, names, variables in SCENARIOS[lab.target].strangers:
        result = lab.play(role=role, extra=variables)
        assert result.returncode != 0
        assert names in result.output, result.output[-4000:]
        assert "Nothing was changed" in result.output
        if "installed" in names and "not installed" not in names:
            assert "mtaharden_replace_mta: true" in result.output
        assert "Swap the new files in" not in result.output
    assert lab.files() == before and not lab.running()


def test_first_run_on_an_installed_stopped_host_deploys_and_starts(lab: Lab) -> None:
    assert not lab.running()
    result = lab.play()
    assert result.returncode == 0, why(lab, result)
    assert recap(result)["changed"] > 0
    assert "changed:" in task_section(result, "Start the MTA"), why(lab, result)
    assert "ok:" in task_section(result, WAIT_RUNS), why(lab, result)
    assert lab.running() and lab.greeting().startswith("220 "), lab.greeting()
    probe = "Probe with the queue proof" if SCENARIOS[lab.target].on_host else \
        "Probe from outside the trusted networks (the canary proves relaying when configured)"
    assert "ok:" in task_section(result, probe)


def test_second_run_changes_nothing_and_keeps_one_snapshot(lab: Lab) -> None:
    before = lab.files()
    result = lab.play()
    assert result.returncode == 0, why(lab, result)
    assert recap(result)["changed"] == 0, why(lab, result)
    assert lab.files() == before
    assert len(lab.host.run(["ls", f"{BACKUPS}/{lab.target}"]).stdout.split()) == 1, \
        "a run that changed nothing keeps no snapshot"


def test_check_mode_shows_the_change_and_makes_none(lab: Lab) -> None:
    _essential(lab)
    before = lab.files()
    result = lab.play(SCENARIOS[lab.target].change, check=True)
    assert result.returncode == 0, why(lab, result)
    assert recap(result)["changed"] > 0
    assert "\n+++ after" in result.output and "\n--- before" in result.output
    _unchanged_and_answering(lab, before)


def test_an_inet_interfaces_change_stops_and_starts_and_moves_the_listener(lab: Lab) -> None:
    if lab.target != "postfix":
        pytest.skip("inet_interfaces is Postfix's (Sendmail and qmail restart on every apply)")
    assert "00000000" in lab.listeners()
    result = lab.play(f"targets.postfix.inet_interfaces=[{lab.host.address}]")
    assert result.returncode == 0, why(lab, result)
    assert "changed:" in task_section(result, "Stop the MTA (a setting changed that only a stop and start applies)")
    assert lab.listeners() == {"190200C0"}, lab.listeners()  # 192.0.2.25 only, no more 0.0.0.0
    assert lab.greeting().startswith("220 ")
    assert lab.host.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/25"], check=False).returncode != 0, \
        "loopback still answers: the old wildcard listener survived"
    lab.keep.append(f"targets.postfix.inet_interfaces=[{lab.host.address}]")


STAGED_CHECKS = "Build and check the staged configuration with the MTA's own tools"
SIGNING_PORT = OpensmtpdOptions.model_fields["signing_port"].default
DKIMSIGN_KEY = "/etc/mail/dkim/lab.key"  # opensmtpd-filter-dkimsign's README.Debian folder
MILTER_KEY = "/etc/dkimkeys/lab.private"  # Debian's opendkim package makes /etc/dkimkeys for keys
MILTERS = ("sender_auth.spf.enabled=true", "sender_auth.dkim.enabled=true", "sender_auth.dmarc.enabled=true",
           f"dkim_signing=[{{domain: example.test, selector: lab, key: {MILTER_KEY}}}]")


def test_sender_auth_deploys_the_milters_as_debian_services(lab: Lab) -> None:
    """Their files go outside the config folder (/etc/opendkim.conf, ...): staged and checked in the staging
    folder like the rest (the role asserts every staged file lies there), the signing key checked owner-only,
    then Debian's services restarted, listening where the MTA calls them (Sendmail also pyspf-milter, on 8894)."""
    ports = {"postfix": {"opendkim": 8891, "opendmarc": 8893},
             "sendmail": {"opendkim": 8891, "opendmarc": 8893, "pyspf-milter": 8894}}.get(lab.target)
    if ports is None:
        pytest.skip("the milters as Debian services: Postfix's and Sendmail's")
    lab.host.put(MILTER_KEY, _rsa_key(), mode=0o600, owner="opendkim:opendkim")  # signing too: its key check
    result = lab.play(*MILTERS)
    assert result.returncode == 0, why(lab, result)
    assert "every DKIM private key is owner-only" in task_section(result, STAGED_CHECKS), why(lab, result)
    assert "inet:8891@127.0.0.1" in lab.host.path("/etc/opendkim.conf").read_text()
    assert "inet:8893@127.0.0.1" in lab.host.path("/etc/opendmarc.conf").read_text()
    for name, port in ports.items():  # running under Debian's PID file (written once it is up), on its port
        running = ["sh", "-c", f'kill -0 "$(cat /run/{name}/{name}.pid)"']
        wait_until(ANSIBLE_KINDS[lab.target], lab.host,
                   lambda argv=running, port=port: (lab.host.run(argv, check=False).returncode == 0  # type: ignore[misc]
                                                    and port in lab.host.listening()),
                   f"{name} runs under no PID file of Debian's or does not listen on {port}", 30)
    assert lab.greeting().startswith("220 ")
    restored = lab.play()  # the milters off again: what the later scenarios start from
    assert restored.returncode == 0, why(lab, restored)


def _rsa_key() -> bytes:
    return subprocess.run(["openssl", "genrsa", "2048"], capture_output=True, check=True, timeout=60).stdout


def test_opensmtpd_signing_is_refused_for_a_readable_key_then_deploys_the_filter(lab: Lab) -> None:
    """dkim_signing through the opensmtpd role: a key others may read stops it at the check step, nothing
    changed; owner-only, it deploys filter-dkimsign on the loopback signing listener. (The milters' test
    covers Postfix and Sendmail.)"""
    if lab.target != "opensmtpd":
        pytest.skip("OpenSMTPD's filter-dkimsign; the milters' test covers Postfix and Sendmail")
    lab.host.put(DKIMSIGN_KEY, _rsa_key(), mode=0o644, owner="_dkimsign:_dkimsign")
    signing = f"dkim_signing=[{{domain: example.test, selector: lab, key: {DKIMSIGN_KEY}}}]"
    before = lab.files()
    refused = lab.play(signing)
    assert refused.returncode != 0 and "make it owner-only" in refused.output, why(lab, refused)
    assert "Nothing on the host was changed" in refused.output and lab.files() == before
    lab.host.run(["chmod", "600", DKIMSIGN_KEY])
    result = lab.play(signing)
    assert result.returncode == 0, why(lab, result)
    assert "filter-dkimsign" in lab.host.path("/etc/smtpd.conf").read_text()
    wait_until(ANSIBLE_KINDS[lab.target], lab.host, lambda: SIGNING_PORT in lab.host.listening(),
               f"nothing listens on the signing port {SIGNING_PORT}", 30)
    restored = lab.play()  # signing off again: what the later scenarios start from
    assert restored.returncode == 0, why(lab, restored)


def test_open_relay_policy_is_rolled_back_byte_for_byte_and_says_why(lab: Lab) -> None:
    before = lab.files()
    result = lab.play(SCENARIOS[lab.target].open_relay)
    assert result.returncode != 0
    assert re.search(r"mtaharden probe exit [13] ", result.output), why(lab, result)
    assert "  case " in result.output  # the probe's failing cases, one line each
    assert "changed:" in task_section(result, "Put the snapshot back byte for byte (compiled files included)")
    assert "ok:" in task_section(result, WAIT_RUNS_AGAIN), why(lab, result)
    _unchanged_and_answering(lab, before)


def test_a_config_the_mta_rejects_is_never_swapped_in(lab: Lab) -> None:
    _essential(lab)
    rejected = SCENARIOS[lab.target].rejected
    if not rejected:
        pytest.skip(f"{lab.target}'s staging tools accept every policy mtaharden validates")
    before = lab.files()
    result = lab.play(extra=rejected)
    assert result.returncode != 0
    assert 'at the step "Build and check the staged configuration' in result.output, why(lab, result)
    assert "Nothing on the host was changed" in result.output
    assert "Swap the new files in" not in result.output
    _unchanged_and_answering(lab, before)


def test_a_failing_apply_is_rolled_back_and_says_why(lab: Lab) -> None:
    _essential(lab)
    before = lab.files()
    result = lab.play(SCENARIOS[lab.target].change, prefix=(FAIL_APPLY,))
    assert result.returncode != 0
    assert 'at the step "Apply the live configuration"' in result.output, why(lab, result)
    assert "injected: apply refused" in result.output
    _unchanged_and_answering(lab, before)
    assert len(lab.host.run(["ls", f"{BACKUPS}/{lab.target}"]).stdout.split()) <= 3


def test_what_the_host_lacks_is_refused_before_the_swap(lab: Lab) -> None:
    _essential(lab)
    scenario = SCENARIOS[lab.target]
    before = lab.files()
    result = lab.play(*scenario.unmet)
    assert result.returncode != 0
    assert 'at the step "Check what the configuration needs of the host, before the swap"' in result.output, \
        why(lab, result)
    assert scenario.unmet_message in result.output
    assert "Nothing on the host was changed" in result.output
    _unchanged_and_answering(lab, before)


def test_the_verify_role_alone_proves_from_the_host_with_the_queue_proof(lab: Lab) -> None:
    lab.share_mtaharden()
    result = lab.play(role="verify", verify_probe_from="mx", verify_target=lab.target,
                      mtaharden_probe_args=["--timeout", "10"])
    if lab.target == "sendmail":
        # Sendmail relays for its own addresses and names (class w) whatever the policy trusts; its coverage
        # says so (networks.trusted[host]) and the probe calls that vantage inconclusive, never closed or open
        assert result.returncode != 0, why(lab, result)
        assert ": inconclusive" in result.output and "the probe stands on the host itself" in result.output, \
            why(lab, result)
        return
    assert result.returncode == 0, why(lab, result)
    assert "ok:" in task_section(result, "Probe with the queue proof")
    assert "skipping:" in task_section(result, "Probe from outside the trusted networks (the canary proves "
                                               "relaying when configured)")


def test_the_verify_role_alone_takes_the_shared_endpoints(lab: Lab) -> None:
    _essential(lab)
    # the role alone takes its endpoints from mtaharden_probe_endpoints: nothing listens on this one
    result = lab.play(role="verify", mtaharden_probe_endpoints=[f"{lab.host.address}:2525"], verify_wait_seconds=2,
                      verify_target=lab.target)
    assert result.returncode != 0 and f"{lab.host.address}:2525" in result.output, result.output[-4000:]


@contextlib.contextmanager
def bare_host(target: str, work: Path, *offline: str) -> Iterator[Lab]:
    """A host without any MTA for ``target``'s role, with what a mirror would serve (the lab has none):
    apt's lists and the role's packages (and ``offline`` other roles'), kept in the root."""
    need_lab(*LAB_TOOLS, "nsenter")
    kind = BARE_KINDS[target]
    policy, _, _ = render(kind, work / "policy")
    with LabNet() as net, net.host(kind) as host:
        start_syslog(host)
        prepare_auth(host, kind)
        folders = " ".join(f"{OFFLINE_APT}/{name}" for name in (target, *offline))  # one cp each: they share debs
        host.run(["sh", "-c", f"cp -a {OFFLINE_APT}/lists/. /var/lib/apt/lists/ && "
                              f"for d in {folders}; do cp \"$d\"/*.deb /var/cache/apt/archives/ || exit 1; done"])
        yield Lab(net, host, work, policy, target)


@pytest.fixture(params=sorted(BARE_KINDS))
def bare(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with bare_host(request.param, tmp_path_factory.mktemp(f"bare-{request.param}")) as lab:
        yield lab


def test_the_role_installs_its_mta_on_a_host_without_one(bare: Lab) -> None:
    program, install = {"postfix": ("/usr/sbin/postfix", "Install the packages"),
                        "sendmail": ("/usr/sbin/sendmail-mta", "Install Sendmail")}[bare.target]
    assert not bare.host.path(program).exists()
    # AUTH off: a sasldb the freshly installed MTA user may not read is the preflight's to refuse
    result = bare.play("auth.enabled=false", extra={f"{bare.target}_install_packages": True})
    assert "changed:" in task_section(result, install), why(bare, result)
    if bare.target == "sendmail":
        # Debian's sendmail leaves postmaster without an alias ("User unknown" at RCPT): the preflight
        # refuses before the swap, naming the admin's fix; after it the same play deploys
        assert result.returncode != 0 and "no alias for postmaster" in result.output, why(bare, result)
        assert "add 'postmaster: root'" in result.output and not bare.running()
        bare.host.run(["sh", "-c", "echo 'postmaster: root' >> /etc/aliases"])
        result = bare.play("auth.enabled=false", sendmail_install_packages=True)
    assert result.returncode == 0, why(bare, result)
    assert bare.running() and bare.greeting().startswith("220 "), bare.greeting()



def test_sendmail_replaces_an_installed_postfix_only_when_asked(tmp_path: Path) -> None:
    with bare_host("sendmail", tmp_path, "postfix") as lab:
        lab.host.run(["sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download postfix"])
        refused = lab.play("auth.enabled=false", sendmail_install_packages=True)
        assert refused.returncode != 0 and "postfix installed on mx" in refused.output, refused.output[-4000:]
        assert "Nothing was changed" in refused.output and lab.host.path("/usr/sbin/postfix").exists()
        result = lab.play("auth.enabled=false", sendmail_install_packages=True, mtaharden_replace_mta=True)
        assert result.returncode == 0, why(lab, result)
        assert not lab.host.path("/usr/sbin/postfix").exists(), "apt replaced Postfix with Sendmail"
        assert lab.running() and lab.greeting().startswith("220 "), lab.greeting()
