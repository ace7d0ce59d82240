"""Read a file that a command line or a policy names, without letting it hang, flood or leak.

A FIFO blocks ``open`` or ``read`` forever, a device such as /dev/zero never ends, and /proc or /sys
files report no size and hold secrets (/proc/self/environ). So a file is read only when it is a
regular file on an ordinary file system, and that is checked before a byte is read: ``stat`` of the
resolved path (a device is never even opened), ``open`` with O_NONBLOCK and O_NOFOLLOW (a FIFO or a
link swapped in after the check cannot block or redirect it), ``fstat`` of what was opened (the same
regular file), the size bounded before reading, and a refusal when the file yields more bytes than
its size says (pseudo files say 0). No message holds the file's content or what a link points to.
"""

from __future__ import annotations

import functools
import os
import stat
from pathlib import Path

PSEUDO_ROOTS = ("/proc", "/sys")
_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class UnsafeFile(Exception):
    """Why a file was not read, in the user's terms (``reason`` completes "FILE …"); never its content."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


def kind_of(mode: int) -> str:
    """What a file of ``mode`` is, for messages: "a FIFO (named pipe)", "a regular file", …."""
    return next((name for test, name in _KINDS if test(mode)), "a regular file" if stat.S_ISREG(mode) else
                "not a regular file")


def size_text(limit: int) -> str:
    """A byte limit as the messages write it: 256 MiB, 4 KiB."""
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 2**10} KiB"


def read_regular(path: str | os.PathLike[str], limit: int, *, within: Path | None = None,
                 follow_links: bool = True) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``), or :class:`UnsafeFile` saying why not.

    ``within``: the file, after resolving every link, must lie in that folder tree. ``follow_links``
    False refuses a path whose last part is a symbolic link instead of reading what it points to.
    """
    descriptor, opened = _open(path, limit, within, follow_links)
    try:
        data = _read_at_most(descriptor, min(opened.st_size, limit) + 1)
    finally:
        os.close(descriptor)
    if len(data) > opened.st_size:
        raise UnsafeFile("is a pseudo file (it holds more than its size says, as /proc and /sys files do)",
                         "copy the content you mean into a regular file")
    return data


def read_head(path: str | os.PathLike[str], count: int) -> bytes:
    """The first ``count`` bytes of the regular file ``path``, never following a link at its end."""
    descriptor, _ = _open(path, 2**62, None, False)
    try:
        return _read_at_most(descriptor, count)
    finally:
        os.close(descriptor)


def _open(path: str | os.PathLike[str], limit: int, within: Path | None,
          follow_links: bool) -> tuple[int, os.stat_result]:
    """A descriptor of the checked regular file and its fstat; the caller closes it."""
    name = os.fspath(path)
    try:
        if not follow_links and stat.S_ISLNK(os.lstat(name).st_mode):
            raise UnsafeFile("is a symbolic link", "replace the link by the file itself")
        real = os.path.realpath(name)
        before = os.stat(real, follow_symlinks=False)
    except OSError as exc:
        raise UnsafeFile(f"cannot be opened ({exc.strerror})", "check the path and its permissions") from None
    if within is not None and not _inside(real, os.path.realpath(within)):
        raise UnsafeFile(f"lies outside {within} once links are resolved",
                         f"keep the file inside {within}, or name another folder on the command line")
    _require_ordinary(real, before, limit)
    try:
        descriptor = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafeFile(f"cannot be opened ({exc.strerror})", "check the path and its permissions") from None
    try:
        opened = os.fstat(descriptor)
        if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino):
            raise UnsafeFile("changed while it was being opened", "make sure nothing replaces it, and retry")
        _require_ordinary(real, opened, limit)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor, opened


def _require_ordinary(real: str, info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFile(f"is {kind_of(info.st_mode)}, not a regular file", "name a regular file")
    if any(_inside(real, root) for root in PSEUDO_ROOTS) or info.st_dev in _pseudo_devices():
        raise UnsafeFile("is a /proc or /sys file, not a regular file", "copy the content you mean into a regular file")
    if info.st_size > limit:
        raise UnsafeFile(f"is larger than {size_text(limit)}", f"keep it under {size_text(limit)}")


def _read_at_most(descriptor: int, count: int) -> bytes:
    chunks: list[bytes] = []
    while count > 0:
        chunk = os.read(descriptor, min(count, 2**24))
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@functools.cache
def _pseudo_devices() -> frozenset[int]:
    """The devices /proc and /sys live on here (a copy mounted elsewhere is caught by its size)."""
    devices = set()
    for root in PSEUDO_ROOTS:
        try:
            devices.add(os.stat(root).st_dev)
        except OSError:
            continue
    return frozenset(devices)
