"""Compare what a policy renders now with files on disk: the committed output, or a host's current config.

Two questions, two rules. ``render --check`` asks whether the committed output is exactly what
``render`` would write, so every byte, the executable bit and files render would delete all count.
``diff --against`` asks what installing the output would change on a host, so only the files
render installs are compared (COVERAGE.md is documentation; other files on the host stay as they
are) and a file its MTA reads by meaning (Postfix's main.cf, as postconf reads it: ``semantic/``) is
compared by meaning.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..render import RenderedFile, has_header
from ..safe_read import UnsafeFile, kind_of, read_regular
from .semantic import comparer

DOCUMENTATION = frozenset({"COVERAGE.md"})


class ConfigSyntaxError(ValueError):
    """A current config file the MTA would refuse, so it cannot be compared by meaning."""


def check_tree(root: Path, rendered: Mapping[str, Sequence[RenderedFile]]) -> list[str]:
    """Each difference between ``root/<target>/`` and the rendered files, as a unified diff or a note.

    Anything in the folder that is not a regular file or a folder (a symbolic link, a FIFO, …) is a
    difference of its own, reported by kind: it is never followed, read, or its target printed.
    """
    differences: list[str] = []
    for target, files in rendered.items():
        expected = {item.path: item for item in files}
        folder = root / target
        found = _inventory(folder)
        if found is None:
            differences.append(_odd(folder, folder, "a folder"))
            continue
        differences += [_odd(folder / path, folder / path, "a regular file") for path, kind in sorted(found.items())
                        if kind not in (_REGULAR, _FOLDER) or (kind == _FOLDER and path in expected)]
        present = {path for path, kind in found.items() if kind == _REGULAR}
        for path in sorted(expected.keys() | present):
            if path not in present and path in found:
                continue  # not a regular file: reported above as what it is
            where, item = folder / path, expected.get(path)
            current = _read(where) if path in present else None
            new = item.content if item else None
            if isinstance(current, _Note):
                differences.append(current)
            elif current != new:
                differences.append(unified(where, current, new, "committed", "rendered"))
            elif item and _executable(where.lstat().st_mode) != _executable(item.mode):
                differences.append(f"{where}: mode {stat.filemode(where.lstat().st_mode)}, rendered "
                                   f"{stat.filemode(stat.S_IFREG | item.mode)}\n")
    return differences


def host_diff(folder: Path, target: str, files: Sequence[RenderedFile]) -> list[str]:
    """What installing ``files`` over the current config in ``folder`` would change, file by file.

    A current file that is a symbolic link (or anything but a regular file), or lies below one, is
    reported as such, never followed or read: installing would replace it by a regular file.
    """
    found = _inventory(folder)
    if found is None:
        return [_odd(folder, folder, "a folder")]
    differences: list[str] = []
    for item in files:
        if item.path in DOCUMENTATION:
            continue
        where = folder / item.path
        culprit = _blocker(found, item.path)
        if culprit is not None:
            differences.append(_odd(where, folder / culprit, "a regular file"))
            continue
        current = _read(where) if item.path in found else None
        if isinstance(current, _Note):
            differences.append(current)
            continue
        semantic = comparer(target, item.path)
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
    return differences + _left_behind(folder, found, {item.path for item in files})


def _left_behind(folder: Path, found: Mapping[str, str], rendered: set[str]) -> list[str]:
    """Files an earlier render wrote (they carry its header) that this render no longer writes.

    Installing copies the rendered files only, so these stay on the host: unused by the new
    configuration, yet read by anything that still names them (a hand-edited main.cf, a cron job).
    """
    return [_Note(f"{folder / path}: written by an earlier mtaharden render, not rendered now: installing leaves "
                  "it in place (fix: remove it after the new configuration is in place)\n")
            for path, kind in sorted(found.items())
            if kind == _REGULAR and path not in rendered and path not in DOCUMENTATION
            and has_header(folder / path)]


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


_REGULAR, _FOLDER = "a regular file", "a folder"
MAX_CONFIG_BYTES = 512 * 2**20  # a rendered access map of a 256 MiB list file, with room


class _Note(str):
    """A difference that is a sentence about a file (not a diff): what it is, or why it was not read."""


def _inventory(folder: Path) -> dict[str, str] | None:
    """Every path below ``folder`` → what it is, links never followed; None when ``folder`` is no folder.

    A missing folder has nothing in it (render would create it).
    """
    try:
        if not stat.S_ISDIR(folder.lstat().st_mode):
            return None
    except FileNotFoundError:
        return {}
    found: dict[str, str] = {}
    for current, folders, names in os.walk(folder, followlinks=False):
        for name in (*folders, *names):
            path = os.path.join(current, name)
            found[os.path.relpath(path, folder)] = kind_of(os.lstat(path).st_mode)
    return found


def _blocker(found: dict[str, str], path: str) -> str | None:
    """The first part of ``path`` (itself included) that exists and is not what render writes there."""
    parts = Path(path).parts
    for depth in range(1, len(parts)):
        part = str(Path(*parts[:depth]))
        if found.get(part, _FOLDER) != _FOLDER:
            return part
    return path if found.get(path, _REGULAR) != _REGULAR else None


def _odd(where: Path, culprit: Path, wanted: str) -> _Note:
    """The note for a path that is not what render writes; never what a link points to."""
    try:
        kind = kind_of(culprit.lstat().st_mode)
    except OSError:
        kind = "not readable"
    what = f"is {kind}, not {wanted}" if culprit == where else f"lies below {culprit}, which is {kind}"
    return _Note(f"{where}: {what}: not followed, not read (fix: replace it by what render writes)\n")


def _read(path: Path) -> str | _Note:
    try:
        return read_regular(path, MAX_CONFIG_BYTES, follow_links=False).decode("utf-8", errors="replace")
    except UnsafeFile as exc:
        return _Note(f"{path}: {exc.reason}: not compared (fix: {exc.hint})\n")


def _executable(mode: int) -> bool:
    return bool(mode & 0o111)
