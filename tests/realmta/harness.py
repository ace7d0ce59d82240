"""Start, wait for and stop real MTAs (and helpers such as rbldnsd) on loopback for tests.

Reusable by every target's behaviour tests and by the Ansible tests: each daemon gets a private
directory and a free loopback port, optionally inside a network namespace, and is always stopped.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

WAIT_SECONDS = 20.0
SANDBOX_PARENT = Path("/var/lib/mtaharden-tests")  # outside the world-writable /tmp that Sendmail distrusts


class HarnessError(AssertionError):
    """A real daemon did not behave (failed to start, logged a fatal error, warned on check)."""


def run(argv: Sequence[str], *, netns: str | None = None, check: bool = True, timeout: float = 60,
        input_text: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command (inside ``netns`` when given) and capture its output."""
    full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    result = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=input_text, check=False,
                            cwd=cwd)
    if check and result.returncode != 0:
        raise HarnessError(f"{' '.join(full)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@contextlib.contextmanager
def daemon_dir(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A private folder that unprivileged daemon users can traverse (pytest's tmp is 0700), removed after.

    ``parent`` puts it outside the world-writable /tmp, for daemons (Sendmail) that distrust such paths."""
    import tempfile

    if parent:
        parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"mtaharden-{prefix}-", dir=parent))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def settle(folder: Path) -> None:
    """Date a config folder's files a minute back: Postfix pauses about 2 s before it reads a main.cf
    changed within the last second (it could be half written), and a test need not wait for that."""
    past = time.time() - 60
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (past, past))


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def wait_for_port(address: str, port: int, *, netns: str | None = None, seconds: float = WAIT_SECONDS) -> None:
    """Wait until something accepts TCP connections on ``address:port``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if netns:
            probe = run(["bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"], netns=netns, check=False, timeout=5)
            if probe.returncode == 0:
                return
        else:
            with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
                return
        time.sleep(0.1)
    raise HarnessError(f"nothing listens on {address}:{port} after {seconds} s")


@dataclass
class Netns:
    """A network namespace with loopback up and its own resolv.conf (``ip netns exec`` mounts it)."""

    name: str
    nameserver: str = "127.0.0.53"

    def __enter__(self) -> Netns:
        run(["ip", "netns", "add", self.name])
        run(["ip", "link", "set", "lo", "up"], netns=self.name)
        etc = Path("/etc/netns") / self.name
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(f"nameserver {self.nameserver}\noptions timeout:1 attempts:1\n")
        return self

    def __exit__(self, *exc: object) -> None:
        run(["ip", "netns", "del", self.name], check=False)
        shutil.rmtree(Path("/etc/netns") / self.name, ignore_errors=True)


@dataclass
class Rbldnsd:
    """rbldnsd serving one ip4set zone from ``listed`` addresses, with a TXT reason."""

    base: Path
    zone: str
    listed: Sequence[str]
    reason: str
    address: str = "127.0.0.53"
    netns: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Rbldnsd:
        self.base.mkdir(parents=True, exist_ok=True)
        lines = [f"$SOA 60 ns.{self.zone}. hostmaster.{self.zone}. 1 3600 600 86400 60",
                 f"$NS 60 ns.{self.zone}.", f":127.0.0.2:{self.reason}", *self.listed]
        (self.base / "zone").write_text("\n".join(lines) + "\n")
        os.chmod(self.base, 0o755)
        argv = ["rbldnsd", "-n", "-r", str(self.base), "-b", f"{self.address}/53", f"{self.zone}:ip4set:zone"]
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv
        self.process = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT_SECONDS
        query = ["dig", "+short", "+time=1", "+tries=1", f"@{self.address}", f"{self.zone}", "SOA"]
        while time.monotonic() < deadline:
            if run(query, netns=self.netns, check=False, timeout=5).stdout.strip():
                return self
            time.sleep(0.1)
        self.__exit__()
        raise HarnessError("rbldnsd did not answer")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@dataclass
class Postfix:
    """A private Postfix instance whose config folder holds mtaharden's rendered files.

    The rendered files are used as they are; the harness adds only what a sandbox needs and
    production has elsewhere (private queue and data folders, a log file, no aliases).
    """

    config_dir: Path
    port: int
    address: str = "127.0.0.1"
    netns: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> Path:
        return self.config_dir.parent

    @property
    def log(self) -> Path:
        return self.base / "maillog"

    def sandbox(self) -> None:
        """Point the instance at private folders and a log file (what /etc and /var give in production)."""
        for name in ("spool", "data"):
            (self.base / name).mkdir(exist_ok=True)
        shutil.chown(self.base / "data", "postfix", "postfix")
        settings = {
            "queue_directory": str(self.base / "spool"),
            "data_directory": str(self.base / "data"),
            "maillog_file": str(self.log),
            "maillog_file_prefixes": str(self.base),
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "local_transport": "discard:",
            "default_transport": "discard:",
            "smtpd_peername_lookup": "no",
            **self.extra,
        }
        settle(self.config_dir)
        run(["postconf", "-c", str(self.config_dir), "-e", *(f"{k}={v}" for k, v in settings.items())])
        settle(self.config_dir)

    def run_steps(self, steps: Sequence[Sequence[str]]) -> None:
        """Run the plan's post-install steps that index maps (reload/check are done by start())."""
        for argv in steps:
            if argv[0] == "postmap":
                run(argv)

    def check(self) -> None:
        """postconf -n / -M and postfix check must be silent: any warning is a failure."""
        for args in (["-n"], ["-M"]):
            result = run(["postconf", "-c", str(self.config_dir), *args])
            if result.stderr.strip():
                raise HarnessError(f"postconf {' '.join(args)} warned:\n{result.stderr}")
        # postfix(1) prints its messages only to a terminal, so give it one.
        result = run(["script", "-qec", f"postfix -c {self.config_dir} check", "/dev/null"], check=False)
        if result.returncode != 0 or any(w in result.stdout for w in ("warning", "fatal", "error")):
            raise HarnessError(f"postfix check failed (rc {result.returncode}):\n{result.stdout}")

    def start(self) -> None:
        started = run(["script", "-qec", f"postfix -c {self.config_dir} start", "/dev/null"],
                      netns=self.netns, check=False)
        if started.returncode != 0:
            raise HarnessError(f"postfix start failed:\n{started.stdout}\n{self.log_text()}")
        wait_for_port(self.address, self.port, netns=self.netns)
        self.assert_log_clean()

    def assert_log_clean(self) -> None:
        text = self.log.read_text() if self.log.exists() else ""
        bad = [line for line in text.splitlines() if " fatal: " in line or " panic: " in line]
        if bad:
            raise HarnessError("Postfix logged:\n" + "\n".join(bad))

    def log_text(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def stop(self) -> None:
        run(["postfix", "-c", str(self.config_dir), "stop"], netns=self.netns, check=False)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            status = run(["postfix", "-c", str(self.config_dir), "status"], netns=self.netns, check=False)
            if status.returncode != 0:
                return
            time.sleep(0.1)
        raise HarnessError("Postfix did not stop")

    @classmethod
    def install(cls, rendered: Path, config_dir: Path, port: int, steps: Sequence[Sequence[str]], *,
                netns: str | None = None, extra: dict[str, str] | None = None) -> Postfix:
        """Copy rendered files into ``config_dir``, sandbox them, run the plan's map steps, check all."""
        shutil.copytree(rendered, config_dir)
        instance = cls(config_dir, port, netns=netns, extra=dict(extra or {}))
        instance.sandbox()
        instance.run_steps(steps)
        instance.check()
        return instance

    @contextlib.contextmanager
    def running(self) -> Iterator[Postfix]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


SENDMAIL_ROOT = Path(os.environ.get("MTAHARDEN_SENDMAIL_ROOT", "/var/cache/mtaharden/sendmail-root"))
# Sandbox-only: no local delivery from the unpacked tree, verbose logs. What a host may need as well
# (DontBlameSendmail, unresolvable senders) comes from targets.sendmail knobs in options() instead.
SENDMAIL_TEST_LINES = (
    "define(`LOCAL_MAILER_PATH', `/bin/true')dnl",
    "define(`LOCAL_MAILER_ARGS', `true')dnl",
    "define(`confLOG_LEVEL', `9')dnl",
)


@dataclass
class Sendmail:
    """Debian's Sendmail from a ``dpkg -x`` tree, run as a daemon on loopback in a private UTS namespace.

    The unshared host name is fully qualified, which spares Sendmail its 60-second wait for one.
    """

    settings_dir: Path
    port: int
    address: str = "127.0.0.1"
    hostname: str = "mx.example.test"
    netns: str | None = None
    process: subprocess.Popen[bytes] | None = None

    root = SENDMAIL_ROOT
    binary = SENDMAIL_ROOT / "usr/libexec/sendmail/sendmail"
    makemap = SENDMAIL_ROOT / "usr/libexec/sendmail/makemap"
    cf_dir = SENDMAIL_ROOT / "usr/share/sendmail/cf"

    @property
    def cf(self) -> Path:
        return self.settings_dir / "sendmail.cf"

    @classmethod
    def options(cls, base: Path, port: int) -> dict[str, object]:
        """The policy's targets.sendmail knobs that place an instance under ``base``."""
        return {"settings_dir": str(base / "etc"), "cf_dir": str(cls.cf_dir), "ostype": "linux",
                "sendmail": str(cls.binary), "makemap": str(cls.makemap), "smtp_port": port,
                "listen_address": "127.0.0.1", "queue_dir": str(base / "spool"),
                "pid_file": str(base / "run/sendmail.pid"), "status_file": str(base / "run/statistics"),
                "alias_file": str(base / "etc/aliases"), "dont_blame_sendmail": ["TrustStickyBit"],
                "accept_unresolvable_domains": True,
                "ca_path": "/etc/ssl/certs", "ca_file": "/etc/ssl/certs/ca-certificates.crt"}

    @classmethod
    def install(cls, rendered: Path, base: Path, port: int, *, netns: str | None = None) -> Sendmail:
        """Copy the rendered files, add the sandbox-only m4 lines, compile, build access.db and aliases."""
        for name in ("spool", "run"):
            (base / name).mkdir(parents=True, exist_ok=True)
        shutil.copytree(rendered, base / "etc")
        instance = cls(base / "etc", port, netns=netns)
        mc = instance.settings_dir / "sendmail.mc"
        lines = mc.read_text().splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("OSTYPE(")) + 1
        mc.write_text("\n".join([*lines[:at], *SENDMAIL_TEST_LINES, *lines[at:]]) + "\n")
        instance.compile()
        (instance.settings_dir / "aliases").write_text("postmaster: root\n")
        access = (instance.settings_dir / "access").read_text()
        run([str(cls.makemap), "-C", str(instance.cf), "hash", str(instance.settings_dir / "access")],
            input_text=access)
        instance.in_uts([str(cls.binary), "-C", str(instance.cf), "-bi"])
        return instance

    def compile(self) -> None:
        """m4 the .mc with the unpacked sendmail-cf; any message on stderr is a failure."""
        result = run(["m4", str(self.cf_dir / "m4/cf.m4"), str(self.settings_dir / "sendmail.mc")], check=False)
        if result.returncode != 0 or result.stderr.strip():
            raise HarnessError(f"m4 failed (rc {result.returncode}):\n{result.stderr}")
        self.cf.write_text(result.stdout)

    def in_uts(self, argv: Sequence[str], *, input_text: str | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        command = " ".join(shlex.quote(a) for a in argv)
        return run(["unshare", "--uts", "sh", "-c", f"hostname {self.hostname} && exec {command}"],
                   netns=self.netns, input_text=input_text, check=check)

    def address_test(self, script: str) -> str:
        """Run ``sendmail -bt`` with ``script`` on stdin and return what it printed."""
        return self.in_uts([str(self.binary), "-C", str(self.cf), "-bt"], input_text=script).stdout

    def start(self) -> None:
        command = f"hostname {self.hostname} && exec {shlex.quote(str(self.binary))} -C {shlex.quote(str(self.cf))} -bD"
        argv = ["unshare", "--uts", "sh", "-c", command]
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv
        self.process = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.address, self.port, netns=self.netns)
        except HarnessError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=WAIT_SECONDS)

    @contextlib.contextmanager
    def running(self) -> Iterator[Sendmail]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


@dataclass
class RbldnsdZones:
    """rbldnsd serving several ip4set zones at once: zone -> (listed addresses, TXT reason; ``$`` = the IP)."""

    base: Path
    zones: Mapping[str, tuple[Sequence[str], str]]
    address: str = "127.0.0.53"
    netns: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RbldnsdZones:
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        specs = []
        for index, (zone, (listed, reason)) in enumerate(self.zones.items()):
            lines = [f"$SOA 60 ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60", f"$NS 60 ns.{zone}.",
                     f":127.0.0.2:{reason}", *listed]
            (self.base / f"zone{index}").write_text("\n".join(lines) + "\n")
            specs.append(f"{zone}:ip4set:zone{index}")
        argv = ["rbldnsd", "-n", "-r", str(self.base), "-b", f"{self.address}/53", *specs]
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv
        self.process = subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            answers = [run(["dig", "+short", "+time=1", "+tries=1", f"@{self.address}", zone, "SOA"],
                           netns=self.netns, check=False, timeout=5).stdout.strip() for zone in self.zones]
            if all(answers):
                return self
            time.sleep(0.1)
        self.__exit__()
        raise HarnessError("rbldnsd did not answer for every zone")

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@dataclass
class RunService:
    """A daemontools-style service folder whose ``run`` execs a listening daemon (e.g. tcpserver).

    Started as supervise would start it (working folder = the service folder), optionally inside a
    network namespace; its output goes to ``run.log`` there; stopped by PID (``ip netns exec`` and
    the script both exec, so the PID is the daemon's).
    """

    folder: Path
    address: str
    port: int
    netns: str | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "run.log"

    def __enter__(self) -> RunService:
        argv = [str(self.folder / "run")]
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(full, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.address, self.port, netns=self.netns)
        except HarnessError as exc:
            self.__exit__()
            raise HarnessError(f"{exc}; run.log:\n{self.log.read_text()}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
