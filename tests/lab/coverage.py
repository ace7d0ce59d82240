"""The rows of a rendered COVERAGE.md, as the lab suites read them (one reader, not one regex per suite)."""

from __future__ import annotations

import re
from pathlib import Path

_ROW = re.compile(r"^\| `([^`]+)` \| (\w+) \| (.*) \|$")


def coverage_rows(rendered: Path) -> dict[str, tuple[str, str]]:
    """Element -> (status, detail) of every row of ``rendered``/COVERAGE.md, the cells' escaped pipes undone."""
    rows = {}
    for line in (rendered / "COVERAGE.md").read_text().splitlines():
        if match := _ROW.match(line):
            rows[match.group(1)] = (match.group(2), match.group(3).replace("\\|", "|"))
    return rows
