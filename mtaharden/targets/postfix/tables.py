"""What a Postfix lookup table is: the file, its map type, its lines, and whether postmap must index it."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import Block
from .syntax import CONFIG

MAP_SUFFIXES = {"hash": "db", "btree": "db", "lmdb": "lmdb", "cdb": "cdb"}  # the file postmap builds


@dataclass(frozen=True)
class Table:
    """A lookup table file (and its template context): its name in the config folder, Postfix map type
    and key/value lines.

    ``blocks`` (list file entries) follow the lines; only tables where order does not matter (hash,
    or one list file's own cidr table) have both.
    """

    name: str
    kind: str
    lines: tuple[tuple[str, str], ...]
    blocks: tuple[Block, ...] = ()
    comments: tuple[str, ...] = ()  # one per line ("" for none): what a generated line stands for

    @property
    def reference(self) -> str:
        return f"{self.kind}:{CONFIG}/{self.name}"

    @property
    def needs_postmap(self) -> bool:
        return self.kind in MAP_SUFFIXES

    @property
    def empty(self) -> bool:
        return not self.lines and not any(block.keys for block in self.blocks)
