"""The lab itself: roots, hosts, the network, DNS, the sink, and that nothing is left behind.

These run on the Postfix kind's root (any stock root would do; that one is always registered).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from tests.lab import roots
from tests.lab.host import LabHost
from tests.lab.network import BLOCKED, DNSBL_ZONE, FOREIGN_LITERALS, SINK, TRUSTED, UNTRUSTED, LabNet
from tests.lab.postfix import PostfixKind
from tests.lab.smtp import Session, body, talk


@pytest.fixture(scope="module")
def lab_host(lab_net: LabNet) -> Iterator[LabHost]:
    with lab_net.host(PostfixKind(), fqdn="lab1.example.test") as host:
        yield host


def test_cache_key_follows_packages_setup_and_inputs(tmp_path: Path) -> None:
    class Base(PostfixKind):
        packages: ClassVar[tuple[str, ...]] = ("postfix",)

    class MorePackages(Base):
        packages: ClassVar[tuple[str, ...]] = ("postfix", "procmail")

    class WithSetup(Base):
        setup = ("true",)

    source = tmp_path / "input.txt"
    source.write_text("one")

    class WithInput(Base):
        inputs = (source,)

    keys = {roots.cache_key(k()) for k in (Base, MorePackages, WithSetup, WithInput)}
    assert len(keys) == 4
    assert roots.cache_key(Base()) == roots.cache_key(Base())
    before = roots.cache_key(WithInput())
    source.write_text("two")
    assert roots.cache_key(WithInput()) != before


def test_build_command_uses_the_machines_own_sources_and_runs_setup_chrooted(tmp_path: Path) -> None:
    class Kind(PostfixKind):
        setup = ("make -C /lab-inputs it",)
        inputs = (tmp_path / "src.tar.gz",)

    argv = roots.build_command(Kind(), tmp_path / "root")
    assert argv[-3:] == ["bookworm", str(tmp_path / "root"), str(roots.SOURCES)]
    assert f"--include={','.join(Kind.packages)}" in argv and "postfix" in Kind.packages
    assert f"--customize-hook=copy-in {tmp_path / 'src.tar.gz'} /lab-inputs" in argv
    assert "--customize-hook=chroot \"$1\" /bin/sh -ec 'make -C /lab-inputs it'" in argv
    assert not any("http" in a for a in argv)


def test_host_has_its_fqdn_and_its_own_pid_1(lab_host: LabHost) -> None:
    assert lab_host.run(["hostname"]).stdout.strip() == "lab1.example.test"
    assert lab_host.run(["hostname", "-f"]).stdout.strip() == "lab1.example.test"
    init = lab_host.run(["cat", "/proc/1/cmdline"]).stdout
    assert "while :" in init
    assert os.readlink(f"/proc/{lab_host.pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert lab_host.run(["cat", "/etc/debian_version"]).stdout.startswith("12.")


def test_host_writes_go_to_its_overlay_never_to_the_cached_root(lab_host: LabHost) -> None:
    lab_host.put("/etc/lab-marker", b"x")
    assert lab_host.run(["cat", "/etc/lab-marker"]).stdout == "x"
    assert not (lab_host.root / "etc/lab-marker").exists()


def test_client_reaches_the_host_from_each_source_address(lab_net: LabNet, lab_host: LabHost) -> None:
    server = subprocess.Popen(lab_host.command(["busybox", "nc", "-ll", "-p", "2500", "-e", "/bin/echo", "hello"]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lab_host.wait_for_port(2500)
        for source in (TRUSTED, UNTRUSTED, BLOCKED):
            reply = lab_net.client(["python3", "-c", (
                "import socket; s = socket.create_connection(('" + lab_host.address + "', 2500), 5, ('"
                + source + "', 0)); print(s.recv(100).decode().strip())")])
            assert reply.stdout.strip() == "hello"
    finally:
        server.kill()
        server.wait(timeout=10)


def test_dns_answers_foreign_names_with_the_sink_and_the_dnsbl_from_rbldnsd(lab_host: LabHost) -> None:
    def lookup(name: str) -> str:
        return lab_host.run(["getent", "ahostsv4", name], check=False).stdout.split(" ")[0]

    assert lookup("anything.foreign.test") == SINK
    assert lookup("relay.example.test") == SINK
    assert lookup("lab1.example.test") == lab_host.address
    assert lookup(f"30.2.0.192.{DNSBL_ZONE}") == "127.0.0.2"
    assert lookup(f"31.2.0.192.{DNSBL_ZONE}") == "127.0.0.9"
    assert lookup(f"20.2.0.192.{DNSBL_ZONE}") == ""
    assert lab_host.run(["getent", "hosts", TRUSTED]).stdout.split() == [TRUSTED, "trusted.client.test"]
    assert lab_host.run(["getent", "hosts", BLOCKED]).stdout.split()[1] == "blocked.client.test"


def test_sink_records_a_message_sent_to_it(lab_net: LabNet) -> None:
    token = f"token-{time.time_ns()}"
    conversation = talk(lab_net, [Session(SINK, UNTRUSTED, ["EHLO client.test", "MAIL FROM:<a@client.test>",
                                                            "RCPT TO:<b@foreign.test>", "DATA",
                                                            body(f"Subject: {token}\n\nhello")])])[0]
    assert conversation.last[0] == 250
    recorded = [m for m in lab_net.sink_messages() if token in m["data"]]
    assert len(recorded) == 1
    assert recorded[0]["rcpt_tos"] == ["b@foreign.test"] and recorded[0]["peer"][0] == UNTRUSTED


@pytest.mark.parametrize("address", [SINK, *FOREIGN_LITERALS])
def test_a_host_reaches_the_sink_at_every_foreign_address(lab_host: LabHost, address: str) -> None:
    """What a host relays to a foreign name or to a foreign literal of the relay matrix lands in the sink."""
    greeting = lab_host.run(["bash", "-c", f"exec 3<>/dev/tcp/{address}/25 && head -1 <&3"], timeout=20).stdout
    assert greeting.startswith("220 sink.lab.test")


def test_nothing_is_left_after_exit() -> None:
    roots.need_lab("dnsmasq", "rbldnsd")
    with LabNet() as net, net.host(PostfixKind()) as host:
        namespaces, work, pid = [*net.namespaces], [net.work, host.work], host.pid
        helpers = [p.pid for p in net.processes]
        host.run(["sh", "-c", "sleep 300 >/dev/null 2>&1 &"])  # a stray daemon, as an MTA leaves them
        pid_namespace = os.readlink(f"/proc/{pid}/ns/pid")
        assert any(_in_namespace(p, pid_namespace) for p in Path("/proc").glob("[0-9]*") if p.name != str(pid))
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name in listed.split() for name in namespaces)
    assert not any(folder.exists() for folder in work)
    assert not Path(f"/proc/{pid}").exists()
    assert not any(Path(f"/proc/{p}").exists() for p in helpers)
    mounts = Path("/proc/mounts").read_text()
    assert not any(str(folder) in mounts for folder in work)
    assert not any(_in_namespace(p, pid_namespace) for p in Path("/proc").glob("[0-9]*"))


def _in_namespace(proc: Path, namespace: str) -> bool:
    try:
        return os.readlink(proc / "ns/pid") == namespace
    except OSError:
        return False


@pytest.mark.parametrize(("euid", "missing", "reason"), [(1000, "", "the lab needs root"),
                                                          (0, "mmdebstrap", "the lab needs mmdebstrap")])
def test_the_lab_skips_outside_ci_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, euid: int, missing: str,
                                                  reason: str) -> None:
    real_which = shutil.which
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    monkeypatch.setattr(shutil, "which", lambda c: None if c == missing else real_which(c))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=reason):
        roots.need_lab()
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match=reason):
        roots.need_lab()


def test_the_local_domain_has_an_mx_like_a_real_mail_domain(lab_net: LabNet) -> None:
    """Sendmail refuses senders whose domain does not resolve: the lab's local domain has its MX."""
    answer = lab_net.client(["dig", "+short", f"@{SINK}", "example.test", "MX"]).stdout.split()
    assert answer == ["10", "mx.example.test."]
