"""LabHost: one stock host, a fresh overlay over a cached root in its own mount, PID, UTS and network namespaces.

Why this shape: every mount (the overlay, /dev, /proc, /sys, /tmp) is made inside the host's own mount
namespace, so nothing of it is visible on the machine and all of it vanishes when the host's last
process dies; killing the host's PID 1 kills every process in its PID namespace. The cached root is
the overlay's lower layer and is never written.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.lab.roots import LabUnavailable

WORK = Path(os.environ.get("MTAHARDEN_LAB_WORK", "/var/lib/mtaharden-lab"))
START_SECONDS = 20.0
ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root",
       "TERM=dumb")
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))
# PID 1 of a host: a shell that reaps the daemons that double-fork to it and exits on TERM.
INIT = "trap 'exit 0' TERM; while :; do sleep 3600 & wait; done"


class LabHost:
    """A running stock host; use as a context manager (``LabNet.host`` makes and attaches one)."""

    def __init__(self, root: Path, name: str, fqdn: str, netns: str, address: str, address6: str) -> None:
        self.root, self.name, self.fqdn, self.netns = root, name, fqdn, netns
        self.address, self.address6 = address, address6
        self.work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work_parent()))
        self.process: subprocess.Popen[bytes] | None = None
        self.pid = 0

    def __enter__(self) -> LabHost:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Mount the overlay and the pseudo file systems in a new mount namespace, then chroot into it."""
        upper, lower_work, merged = (self.work / n for n in ("upper", "overlay-work", "merged"))
        for folder in (upper, lower_work, merged):
            folder.mkdir()
        dev = merged / "dev"
        devices = " && ".join(f"mknod -m 666 {dev}/{n} c {major} {minor}" for n, major, minor in DEVICES)
        script = " && ".join([
            "mount --make-rprivate /",
            f"mount -t overlay overlay -o lowerdir={self.root},upperdir={upper},workdir={lower_work} {merged}",
            f"mount -t tmpfs -o mode=755,nosuid dev {dev}", devices,
            f"mkdir -p {dev}/pts {dev}/shm && mount -t devpts -o newinstance,ptmxmode=666 devpts {dev}/pts",
            f"ln -s pts/ptmx {dev}/ptmx && ln -s /proc/self/fd {dev}/fd",
            f"mount -t proc proc {merged}/proc", f"mount -t sysfs sysfs {merged}/sys",
            f"mount -t tmpfs -o mode=1777 tmp {merged}/tmp", f"mount -t tmpfs -o mode=755 run {merged}/run",
            f"hostname {self.fqdn}",
            f"exec chroot {merged} /bin/sh -c {shlex.quote(INIT)}",
        ])
        argv = ["ip", "netns", "exec", self.netns, "unshare", "--fork", "--pid", "--mount", "--uts", "--ipc",
                "sh", "-c", script]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        self.pid = self._wait_for_init()

    def _wait_for_init(self) -> int:
        """The PID (as the machine sees it) of the host's PID 1, once it runs chrooted."""
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise LabUnavailable(f"host {self.name} did not start: {error}")
            with contextlib.suppress(OSError):
                pids = children.read_text().split()
                if pids and os.readlink(f"/proc/{pids[0]}/root") != "/":
                    return int(pids[0])
            time.sleep(0.05)
        raise LabUnavailable(f"host {self.name} did not start within {START_SECONDS} s")

    def close(self) -> None:
        """Kill every process of the host (its PID namespace dies with PID 1), then remove its files."""
        if self.process is not None:
            if self.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            if self.process.poll() is None:
                self.process.terminate()
            try:
                self.process.wait(timeout=START_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=START_SECONDS)
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None
        shutil.rmtree(self.work, ignore_errors=True)

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as a command line that runs it inside the host as root, in a clean environment."""
        return ["nsenter", "-t", str(self.pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd",
                "--", "/usr/bin/env", "-i", *ENV, *argv]

    def run(self, argv: Sequence[str], *, check: bool = True, input_text: str | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a command inside the host as root and capture its output."""
        result = subprocess.run(self.command(argv), capture_output=True, text=True, input=input_text,
                                timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"in {self.fqdn}: {shlex.join(argv)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def path(self, inside: str) -> Path:
        """Where a file inside the host is seen from the machine (through its PID 1's root)."""
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def put(self, inside: str, data: bytes, *, mode: int = 0o644, owner: str | None = None) -> None:
        """Write a file inside the host (parents created), with ``mode`` and optionally ``owner``."""
        target = self.path(inside)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, mode)
        if owner:
            self.run(["chown", owner, inside])

    def wait_for_port(self, port: int, seconds: float = START_SECONDS) -> None:
        """Wait until something inside the host listens on TCP ``port`` (read from /proc/net, no client)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if port in self.listening():
                return
            time.sleep(0.1)
        raise AssertionError(f"nothing listens on {self.fqdn}:{port} after {seconds} s")


    def listening(self) -> set[int]:
        """The TCP ports something listens on inside the host."""
        return listening(self.pid)


def listening(pid: int) -> set[int]:
    """The TCP ports something listens on in the network namespace of process ``pid`` (its /proc/PID/net)."""
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":  # TCP_LISTEN
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def work_parent() -> Path:
    """The folder every lab run's private folders go in (created on first use)."""
    WORK.mkdir(mode=0o755, parents=True, exist_ok=True)
    return WORK
