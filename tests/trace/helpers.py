"""Running ``mtaharden trace`` for the tests: in process (click's runner) for speed, JSON parsed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from mtaharden.cli import main
from tests.conftest import REPO

CORPUS = REPO / "tests" / "fixtures" / "trace"
POLICY = REPO / "examples" / "policy.yml"


def trace(*args: str, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, ["trace", *args], input=stdin, catch_exceptions=False)


def trace_json(*args: str, stdin: bytes | None = None) -> dict[str, Any]:
    result = trace("--format", "json", *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def corpus_files() -> list[Path]:
    return sorted(path for path in CORPUS.iterdir() if path.suffix in (".eml", ".mbox", ".txt"))
