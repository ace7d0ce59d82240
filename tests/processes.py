"""Stopping a daemon a test started: politely first, then for sure, each step bounded."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL and wait again (nothing is left running)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
