"""What a real daemon answered, as ``mtaharden test`` cases: the contract must give each the same reply class."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

VERDICTS = {2: "accept", 4: "defer", 5: "reject"}  # a reply's first digit; anything else no verdict matches


def verdict(code: int) -> str:
    """The verdict a reply code stands for in a cases file (an unknown class stays a number, never matching)."""
    return VERDICTS.get(code // 100, str(code // 100))


def agrees(policy_file: Path, cases: list[dict[str, Any]]) -> None:
    """``mtaharden test POLICY --cases`` on the lab's sessions (written beside the policy) exits 0: every
    stage the daemon answered is the contract's answer too. Its report is the failure message."""
    assert cases, "no session to compare"
    path = policy_file.with_name("lab-cases.yml")
    path.write_text(json.dumps({"cases": cases}, indent=1))
    result = subprocess.run([sys.executable, "-m", "mtaharden", "test", str(policy_file), "--cases", str(path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
