"""Debian's real Exim for the unit tests: the lab's cached stock Exim root behind a private overlay.

Why not an unpacked tree (``dpkg -x``, as Sendmail and OpenSMTPD run): Debian's exim4 looks up its compiled-in
user Debian-exim in /etc/passwd before it reads any configuration, so on a machine without Exim installed it
exits with "failed to find uid for user name" — and its spool, log and configuration paths are compiled in too.
The cached root (tests/lab/exim.py) has that user and those paths. It is only the overlay's read-only lower
layer (running lab hosts may share it, so it is never written): files go into an upper folder under the test's
tmp_path, and every command runs in its own mount namespace that mounts the overlay and chroots into it, so the
mount ends with the command — nothing to unmount, nothing left behind when a test dies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lab.exim import EximKind
from tests.lab.roots import CACHE, cache_key

# $1..$4: lower, upper, overlay work folder, merged; the rest is the command run chrooted in the merged tree.
_MOUNT_AND_CHROOT = ('merged=$4; mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$merged"'
                     ' && shift 4 && exec chroot "$merged" "$@"')


def cached_root() -> Path | None:
    """The lab's current stock Exim root (the one tests/lab/exim.py keys), if it is built: a unit test does not
    spend minutes on mmdebstrap (scripts/bootstrap.sh --test and python -m tests.lab.roots --build do)."""
    root = CACHE / f"exim-{cache_key(EximKind())}"
    return root if (root / "usr/sbin/exim4").exists() else None


class EximChroot:
    """One private copy-on-write view of the stock root; ``put`` writes into its upper layer between commands."""

    def __init__(self, root: Path, work: Path) -> None:
        self.root = root
        self.upper, self.overlay_work, self.merged = (work / name for name in ("upper", "overlay-work", "merged"))
        for folder in (self.upper, self.overlay_work, self.merged):
            folder.mkdir(parents=True)

    def put(self, path: str, text: str, mode: int = 0o644) -> None:
        """Write a file at ``path`` as the chrooted commands see it (never while a command runs)."""
        target = self.upper / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def run(self, argv: list[str], stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``argv`` chrooted in the overlay, in a mount namespace of its own."""
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", _MOUNT_AND_CHROOT, "sh",
                               str(self.root), str(self.upper), str(self.overlay_work), str(self.merged), *argv],
                              input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


def exim_chroot(work: Path) -> EximChroot:
    """The real Exim, or a skip (a failure in CI, where a missing Exim must not pass unnoticed)."""
    root = cached_root()
    problems = [f"{tool} is missing" for tool in ("unshare", "mount", "chroot") if shutil.which(tool) is None]
    if os.geteuid() != 0:
        problems.append("it needs root")
    if root is None:
        problems.append(f"the lab's Exim root is not built in {CACHE} (python -m tests.lab.roots --build exim)")
    if problems or root is None:
        problem = "the real Exim cannot run: " + "; ".join(problems)
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    return EximChroot(root, work)
