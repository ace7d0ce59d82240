"""Start-up of the ``mtaharden`` command against system tools, in the same run; prints figures, asserts nothing.

Whole process, wall time, min / median / max of ``--runs`` runs (default 20), each command run in turn so
that load on the shared machine hits all of them alike:

- ``python -c pass`` (the interpreter's floor) and ``postconf -d mail_version`` (a C system tool), the peers;
- ``mtaharden --version``;
- a one-host probe start: ``mtaharden probe 127.0.0.1:PORT`` on a port where nothing listens, so the run is
  start-up, one refused connect and the report (exit 2);

then ``python -X importtime`` of each mtaharden command: the modules that cost most, cumulative.
Children run with byte code cached (``PYTHONPYCACHEPREFIX`` in a temporary folder, so nothing is written
into the tree), as an installed wheel runs; the mtaharden rows are repeated without ``.pyc`` files
(``PYTHONDONTWRITEBYTECODE=1``, as in this checkout's environment) for comparison.

    python bench/startup.py [--runs 20] [--src DIR]

``--src DIR`` adds the probe start of ``python -m mtaharden`` from DIR (e.g. the tree before a change:
``git archive HEAD mtaharden | tar -x -C DIR``) beside the same command from this tree, interleaved.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from child import MTAHARDEN

POSTCONF = shutil.which("postconf") or next((p for p in ("/usr/sbin/postconf",) if Path(p).exists()), None)


def _refused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(cache: str | None) -> dict[str, str]:
    """The children's environment: byte code cached under ``cache``, or (None) never cached."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONDONTWRITEBYTECODE",
                                                                          "PYTHONPYCACHEPREFIX")}
    if cache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # the standard library keeps its own .pyc files
    else:
        env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _wall(argv: Sequence[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False, timeout=60, env=env)
    return time.perf_counter() - started


def _importtime(argv: Sequence[str], top: int, env: dict[str, str]) -> list[tuple[int, str]]:
    """The ``top`` imports with the largest cumulative microseconds under ``python -X importtime``."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mtaharden", *argv], capture_output=True,
                          text=True, check=False, timeout=60, env=env)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.removeprefix("import time:").split("|")
            if not name.startswith("  "):  # top level of the tree only: what `import X` at module level paid
                rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--src", metavar="DIR", help="also time the probe start of the mtaharden found in DIR")
    args = parser.parse_args()
    port = _refused_port()
    with tempfile.TemporaryDirectory(prefix="mtaharden-pyc-") as cache:
        cached, uncached = _environment(cache), _environment(None)
        commands: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], cached)}
        if POSTCONF:
            commands["postconf -d mail_version"] = ([POSTCONF, "-d", "mail_version"], cached)
        for label, env in (("", cached), (" (no .pyc)", uncached)):
            commands[f"mtaharden --version{label}"] = ([MTAHARDEN, "--version"], env)
            commands[f"mtaharden probe 127.0.0.1:{port}, refused{label}"] = (
                [MTAHARDEN, "probe", f"127.0.0.1:{port}"], env)
        if args.src:
            here = str(Path(__file__).resolve().parent.parent)
            for label, tree in (("this tree", here), ("--src", args.src)):
                commands[f"python -m mtaharden probe, refused ({label})"] = (
                    [sys.executable, "-m", "mtaharden", "probe", f"127.0.0.1:{port}"], {**cached, "PYTHONPATH": tree})
        for argv, env in commands.values():  # warm the page cache and write the .pyc files before timing
            _wall(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (argv, env) in commands.items():
                times[name].append(_wall(argv, env))
        imports = {" ".join(argv): _importtime(argv, 8, cached) for argv in (["--version"],
                                                                             ["probe", f"127.0.0.1:{port}"])}
    print(f"start-up, whole process, {args.runs} runs each, interleaved: min / median / max")
    floor = statistics.median(times["python -c pass"])
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"    {name:42} {min(seconds):6.3f} / {median:6.3f} / {max(seconds):6.3f} s"
              f"   {median / floor:5.1f}x python -c pass")
    if not POSTCONF:
        print("    postconf not installed: skipped")
    for command, rows in imports.items():
        print(f"python -X importtime -m mtaharden {command} (.pyc): top-level imports, cumulative")
        for microseconds, name in rows:
            print(f"    {microseconds / 1000:7.1f} ms  {name}")


if __name__ == "__main__":
    main()
