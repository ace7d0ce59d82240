"""The HostKind interface: what one kind of stock host (Postfix, Sendmail, qmail, …) tells the lab.

A kind is data plus three small actions. The lab core (roots, host, network) knows nothing about any
MTA; the behaviour suite runs once per registered kind. One module per kind (``tests/lab/postfix.py``,
``sendmail.py``, ``qmail.py``) defines a subclass and calls :func:`register` at import time; the
suite imports ``tests/lab/<target>.py`` for every registered target that has one (Exchange has none).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mtaharden.targets.base import Plan, registered

if TYPE_CHECKING:
    from tests.lab.host import LabHost



class DeployError(AssertionError):
    """A deploy step (install, build, check, start) failed on the host: the product's output is at fault
    or the host kind is; either way the test fails with the step's output."""


class HostKind(ABC):
    """One kind of stock host.

    ``packages``, ``setup`` and ``inputs`` define its root (and its cache key, see ``roots.py``):
    ``packages`` are Debian package names for ``mmdebstrap --include``; ``setup`` are shell command
    lines run once, chrooted in the new root, after ``inputs`` (host files) were copied to
    ``/lab-inputs/<file name>`` inside it. ``target`` is the mtaharden target whose output the host runs;
    ``policy_targets`` are the ``targets.<target>`` knobs the lab sets (empty = the defaults, which is
    how a user deploys; anything here must be a documented knob). ``sasl_owner`` owns the lab's sasldb
    (the user the MTA's SMTP server reads it as).
    """

    name: ClassVar[str]
    target: ClassVar[str]
    packages: ClassVar[tuple[str, ...]]
    setup: ClassVar[tuple[str, ...]] = ()
    inputs: ClassVar[tuple[Path, ...]] = ()
    policy_targets: ClassVar[Mapping[str, Any]] = {}
    sasl_owner: ClassVar[str] = "root"

    def sasldb_copies(self, path: str) -> tuple[str, ...]:
        """Where else the MTA's SMTP server opens the sasldb at ``path`` (a chroot), so the lab puts a copy
        there as the distribution's documentation tells an admin to. Default: nowhere else."""
        return ()

    @abstractmethod
    def deploy(self, host: LabHost, rendered: Path, plan: Plan) -> None:
        """Install the plan's files at their destinations with their modes (:func:`install_plan`), run the
        plan's build and check steps inside the host, then start (or restart) the MTA as Debian does.
        Raise :class:`DeployError` when any of it fails; return once the MTA accepts connections."""

    @abstractmethod
    def stop(self, host: LabHost) -> None:
        """Stop the MTA as Debian does (the host's processes are killed anyway when the host stops)."""

    @abstractmethod
    def log_text(self, host: LabHost) -> str:
        """The MTA's log so far (for failure messages and log assertions)."""

    @abstractmethod
    def queue_empty(self, host: LabHost) -> bool:
        """True when the MTA holds no message any more (delivered, bounced or dropped): the suite waits
        for this (bounded) before it reads the sink."""


def install_plan(host: LabHost, rendered: Path, plan: Plan) -> None:
    """Copy each planned file that has a destination to it, with the plan's mode, as the roles do."""
    for planned in plan.files:
        if planned.dest is None:
            continue
        host.put(planned.dest, (rendered / planned.path).read_bytes(), mode=planned.mode)


def run_steps(host: LabHost, plan: Plan, phases: Sequence[str] = ("build", "check")) -> None:
    """Run the plan's steps of ``phases`` inside the host, in plan order. A check step must exit 0 and
    print nothing that looks like a warning; it runs under a terminal (``script``) because some tools
    (``postfix check``) print their messages only to one."""
    for step in plan.steps:
        if step.phase not in phases:
            continue
        argv = list(step.argv)
        if step.phase == "check":
            argv = ["script", "-qec", shlex.join(argv), "/dev/null"]
        result = host.run(argv, check=False)
        output = result.stdout + result.stderr
        if result.returncode != 0 or (step.phase == "check" and _warns(output)):
            raise DeployError(f"{step.phase} step {shlex.join(step.argv)} ({step.why}) exited "
                              f"{result.returncode}:\n{output}")


# A complaint starts its line, after the tool's name: "postconf: warning: …", "newaliases: fatal: …", "error: …".
# Anywhere else the word is data (Postfix's "local_transport = error:local delivery is disabled").
_WARNING = re.compile(r"^(?:[\w./\[\]-]+: ?)*(warning|fatal|error|panic):", re.IGNORECASE | re.MULTILINE)


def _warns(output: str) -> bool:
    """A tool's complaint, as the MTAs' tools word it: at the start of a line, after the tool's name."""
    return _WARNING.search(output) is not None



def wait_until(kind: HostKind, host: LabHost, done: Callable[[], bool], problem: str, seconds: float = 20.0) -> None:
    """Poll ``done`` (bounded); on time-out fail with ``problem`` and the kind's log."""
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise DeployError(f"{problem} after {seconds} s:\n{kind.log_text(host)}")
        time.sleep(0.2)

class InitScriptKind(HostKind):
    """A kind whose MTA Debian's init script starts and stops, and whose PID file names the listener."""

    init: ClassVar[str]  # Debian's init script, e.g. /etc/init.d/exim4
    pid_file: ClassVar[str]  # the PID file the script writes
    stop_seconds: ClassVar[float] = 20.0

    def restart(self, host: LabHost, *, refuse_warnings: bool = False) -> None:
        """``init restart`` (a stop that finds nothing running, then a start: what a role does after
        changed files), then wait for port 25."""
        started = host.run([self.init, "restart"], check=False)
        output = started.stdout + started.stderr
        if started.returncode != 0 or (refuse_warnings and "arning" in output):
            raise DeployError(f"{self.init} restart exited {started.returncode}:\n{output}\n{self.log_text(host)}")
        host.wait_for_port(25)

    def stop(self, host: LabHost) -> None:
        host.run([self.init, "stop"], check=False)
        wait_until(self, host, lambda: not self.running(host), f"{self.name} did not stop", self.stop_seconds)

    def running(self, host: LabHost) -> bool:
        """The daemon named in the PID file is alive."""
        pid_file = host.path(self.pid_file)
        if not pid_file.exists():
            return False
        first = pid_file.read_text().split()
        return bool(first) and host.run(["kill", "-0", first[0]], check=False).returncode == 0

_REGISTRY: dict[str, HostKind] = {}


def register(kind: HostKind) -> HostKind:
    """Add a kind to the lab (called by each kind's module at import time)."""
    _REGISTRY[kind.name] = kind
    return kind


def registered_kinds() -> dict[str, HostKind]:
    """The kind of every registered target whose module ``tests/lab/<target>.py`` exists."""
    for module in (f"{__package__}.{name}" for name in registered()):
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    return dict(_REGISTRY)
