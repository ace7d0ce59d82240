"""Compare what a policy renders now with files on disk: the committed output, or a host's current config.

Two questions, two rules. ``render --check`` asks whether the committed output is exactly what
``render`` would write, so every byte, the executable bit and files render would delete all count.
``diff --against`` asks what installing the output would change on a host, so only the files
render installs are compared (COVERAGE.md is documentation; other files on the host stay as they
are) and Postfix's main.cf is compared by meaning, as postconf reads it.
"""

from __future__ import annotations

import difflib
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..render import RenderedFile
from .postconf import compare_main_cf

DOCUMENTATION = frozenset({"COVERAGE.md"})
# (target, file) → comparison by meaning: lines of difference, empty when the files mean the same;
# a ValueError when the current file is one the MTA itself would refuse
SEMANTIC: Mapping[tuple[str, str], Callable[[str, str], list[str]]] = {("postfix", "main.cf"): compare_main_cf}


class ConfigSyntaxError(ValueError):
    """A current config file the MTA would refuse, so it cannot be compared by meaning."""


def check_tree(root: Path, rendered: Mapping[str, Sequence[RenderedFile]]) -> list[str]:
    """Each difference between ``root/<target>/`` and the rendered files, as a unified diff or a note."""
    differences: list[str] = []
    for target, files in rendered.items():
        expected = {item.path: item for item in files}
        folder = root / target
        present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()
        for path in sorted(expected.keys() | present):
            where = folder / path
            item = expected.get(path)
            current = _read(where) if path in present else None
            new = item.content if item else None
            if current != new:
                differences.append(unified(where, current, new, "committed", "rendered"))
            elif item and _executable(where.stat().st_mode) != _executable(item.mode):
                differences.append(f"{where}: mode {stat.filemode(where.stat().st_mode)}, rendered "
                                   f"{stat.filemode(stat.S_IFREG | item.mode)}\n")
    return differences


def host_diff(folder: Path, target: str, files: Sequence[RenderedFile]) -> list[str]:
    """What installing ``files`` over the current config in ``folder`` would change, file by file."""
    differences: list[str] = []
    for item in files:
        if item.path in DOCUMENTATION:
            continue
        where = folder / item.path
        current = _read(where) if where.is_file() else None
        semantic = SEMANTIC.get((target, item.path))
        if semantic and current is not None:
            try:
                lines = semantic(current, item.content)
            except ValueError as exc:
                raise ConfigSyntaxError(f"{where}: {exc}") from None
            if lines:
                differences.append(f"--- {where}\tcurrent\n+++ {where}\trendered (parameters, by meaning)\n"
                                   + "".join(f"{line}\n" for line in lines))
        elif current != item.content:
            differences.append(unified(where, current, item.content, "current", "rendered"))
    return differences


def unified(path: Path, old: str | None, new: str | None, old_label: str, new_label: str) -> str:
    """A unified diff of one file that ``patch -p0`` understands; ``None`` means the file is absent."""
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
        str(path) if old is not None else "/dev/null", str(path) if new is not None else "/dev/null",
        old_label, new_label,
    )
    text = "".join(line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines)
    # an empty file that appears or goes away has no lines to show
    return text or f"{path}: empty file {'missing' if old is None else 'that would be removed'}\n"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _executable(mode: int) -> bool:
    return bool(mode & 0o111)
