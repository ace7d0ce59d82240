"""Stock Debian 12 roots for lab hosts, built once with mmdebstrap and cached on the machine.

Why a cache keyed by content: a root takes about half a minute to build and never changes for the
same packages, setup commands, input files and root-building code, so a rerun must cost nothing and
any change to one of those must build a new root. The build goes to a temporary folder that is
renamed into place only when complete (a half-built root is never used), under a lock so that two
runs do not build the same root at once. Hosts never write to a cached root (they overlay it).

``python -m tests.lab.roots --build`` builds every registered kind's root (CI does it once, up front).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.lab.kind import HostKind, registered_kinds

CACHE = Path(os.environ.get("MTAHARDEN_LAB_CACHE", "/var/cache/mtaharden/lab"))
SUITE = "bookworm"
SOURCES = Path("/etc/apt/sources.list.d/debian.sources")  # the machine's own mirror; no host named here
BUILD_SECONDS = 900


class LabUnavailable(Exception):
    """The lab cannot run here (not root, a tool missing, a root that does not build)."""


def need_lab(*commands: str) -> None:
    """Skip outside CI when the lab cannot run; in CI the same problem is a failure."""
    missing = [c for c in ("mmdebstrap", "unshare", "nsenter", "ip", *commands) if shutil.which(c) is None]
    problem = "the lab needs root" if os.geteuid() != 0 else (f"the lab needs {', '.join(missing)}" if missing else "")
    if problem:
        unavailable(problem)


def unavailable(problem: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the lab: {problem} (see scripts/bootstrap.sh)")
    pytest.skip(problem)


def cache_key(kind: HostKind) -> str:
    """A hash of everything a root is made of: packages, setup lines, input files and this module's code."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"suite": SUITE, "packages": sorted(kind.packages), "setup": list(kind.setup)}).encode())
    for source in kind.inputs:
        digest.update(source.name.encode() + b"\0" + hashlib.sha256(source.read_bytes()).digest())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:20]


def stock_root(kind: HostKind) -> Path:
    """The cached root for ``kind``, built first when missing. Raises :class:`LabUnavailable`."""
    root = CACHE / f"{kind.name}-{cache_key(kind)}"
    if (root / "etc/debian_version").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    with _locked(CACHE / f"{kind.name}.lock"):
        if not (root / "etc/debian_version").exists():
            _build(kind, root)
    return root


@contextlib.contextmanager
def _locked(lock: Path) -> Iterator[None]:
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(kind: HostKind, root: Path) -> None:
    """mmdebstrap into a temporary folder beside ``root``, then rename it into place."""
    if shutil.which("mmdebstrap") is None:
        raise LabUnavailable("mmdebstrap is not installed (scripts/bootstrap.sh --test installs it)")
    staging = Path(tempfile.mkdtemp(prefix=f".{kind.name}-", dir=CACHE))
    target = staging / "root"
    try:
        argv = build_command(kind, target)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_SECONDS, check=False)
        if result.returncode != 0:
            raise LabUnavailable(f"mmdebstrap for {kind.name} exited {result.returncode}:\n{result.stderr[-4000:]}")
        _drop_old(kind.name)
        target.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_command(kind: HostKind, target: Path) -> list[str]:
    """The mmdebstrap command line: the packages, the inputs copied in, then each setup line chrooted."""
    hooks: list[str] = []
    if kind.inputs:
        hooks += ["--customize-hook=mkdir -p \"$1/lab-inputs\""]
        hooks += [f"--customize-hook=copy-in {shlex.quote(str(p))} /lab-inputs" for p in kind.inputs]
    hooks += [f"--customize-hook=chroot \"$1\" /bin/sh -ec {shlex.quote(line)}" for line in kind.setup]
    return ["mmdebstrap", "--variant=apt", "--quiet", f"--include={','.join(kind.packages)}", *hooks,
            SUITE, str(target), str(SOURCES)]


def _drop_old(name: str) -> None:
    """Remove this kind's roots of earlier keys: only the current one is ever used again."""
    for old in CACHE.glob(f"{name}-*"):
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def build_all(names: Sequence[str] = ()) -> dict[str, float]:
    """Build (or find) the root of every registered kind, or of those named; seconds per kind."""
    timings: dict[str, float] = {}
    for name, kind in registered_kinds().items():
        if names and name not in names:
            continue
        started = time.monotonic()
        stock_root(kind)
        timings[name] = time.monotonic() - started
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab.roots", description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="build every registered kind's root now")
    parser.add_argument("kinds", nargs="*", help="only these kinds")
    args = parser.parse_args(argv)
    if not args.build:
        for name, kind in registered_kinds().items():
            root = CACHE / f"{name}-{cache_key(kind)}"
            print(f"{name}\t{root}\t{'cached' if root.exists() else 'missing'}")
        return 0
    try:
        for name, seconds in build_all(args.kinds).items():
            print(f"{name}\t{seconds:.1f} s")
    except LabUnavailable as exc:
        print(f"lab root build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
