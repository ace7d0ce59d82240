"""Wall time and peak memory of one command, for the benchmarks in this folder.

Peak RSS and CPU seconds are the child's own (getrusage through GNU time's wait4): a child forked straight
from the benchmark's Python process would inherit that process's resident pages as a floor, which hides
what small tools such as tcprules really use. CPU seconds (user + system) say what a run cost on a machine
whose load changes under it, where wall time also counts the other processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
MTAHARDEN = str(VENV_BIN / "mtaharden") if (VENV_BIN / "mtaharden").exists() else "mtaharden"
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None  # without it peak RSS reads 0


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mib: float
    stdout: str = ""
    cpu_seconds: float = 0.0


def measure(argv: Sequence[str], *, stdin: Path | None = None, repeat: int = 1, ok: Collection[int] = (0,),
            env: Mapping[str, str] | None = None) -> Run:
    """The median run (by wall time) of ``argv`` over ``repeat`` runs; exits on a code not in ``ok``."""
    runs = sorted((_once(argv, stdin, ok, env) for _ in range(repeat)), key=lambda run: run.seconds)
    return runs[len(runs) // 2]


def _once(argv: Sequence[str], stdin: Path | None, ok: Collection[int], env: Mapping[str, str] | None) -> Run:
    with tempfile.NamedTemporaryFile("r") as usage, open(stdin or os.devnull, "rb") as source:
        launcher = [GNU_TIME, "-q", "-f", "%M %U %S", "-o", usage.name] if GNU_TIME else []
        started = time.perf_counter()
        done = subprocess.run([*launcher, *argv], stdin=source, capture_output=True, check=False, env=env)
        elapsed = time.perf_counter() - started
        if done.returncode not in ok:
            raise SystemExit(f"{' '.join(map(str, argv))} failed ({done.returncode}):\n{done.stderr.decode()}")
        peak_kib, user, system = usage.read().split()[-3:] if GNU_TIME else ("0", "0", "0")
    return Run(elapsed, int(peak_kib) / 1024, done.stdout.decode(), float(user) + float(system))
