"""Read generated PowerShell as a syntax tree (tree-sitter-powershell), so tests assert on structure.

No PowerShell runs here: the grammar proves the script parses, and the tree shows which commands,
parameters, hashtable entries and string literals it holds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

_PARSER = Parser(Language(tree_sitter_powershell.language()))

# Expression wrappers the grammar nests around every value; values are read through them.
_WRAPPERS = frozenset({
    "pipeline", "pipeline_chain", "logical_expression", "bitwise_expression", "comparison_expression",
    "additive_expression", "multiplicative_expression", "format_expression", "range_expression",
    "array_literal_expression", "unary_expression", "statement_list",
})


@dataclass(frozen=True)
class Command:
    name: str
    parameters: tuple[str, ...]
    splats: tuple[str, ...]
    node: Node


class Script:
    """A parsed script and the questions tests ask of it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.source = text.encode()
        self.root = _PARSER.parse(self.source).root_node

    def errors(self) -> list[str]:
        """``line:column kind`` for every ERROR or MISSING node."""
        return [f"{n.start_point[0] + 1}:{n.start_point[1] + 1} {'missing ' + n.type if n.is_missing else 'error'}"
                for n in walk(self.root) if n.is_error or n.is_missing]

    def commands(self, name: str | None = None) -> list[Command]:
        found = []
        for node in walk(self.root):
            if node.type != "command" or node.child_by_field_name("command_name") is None:
                continue
            command_name = node_text(node.child_by_field_name("command_name"))
            elements = node.child_by_field_name("command_elements")
            children = elements.children if elements is not None else []
            parameters = tuple(node_text(c).lstrip("-").rstrip(":") for c in children if c.type == "command_parameter")
            splats = tuple(node_text(v)[1:] for c in children for v in walk(c)
                           if v.type == "variable" and node_text(v).startswith("@"))
            if name is None or command_name.lower() == name.lower():
                found.append(Command(command_name, parameters, splats, node))
        return found

    def entries(self, key: str, within: Node | None = None) -> list[Node]:
        """The values of every hashtable entry named ``key`` (case-insensitive)."""
        return [value for entry_key, value in self._entries(within or self.root) if entry_key.lower() == key.lower()]

    def _entries(self, node: Node) -> Iterator[tuple[str, Node]]:
        for entry in walk(node):
            if entry.type == "hash_entry":
                key, value = entry.named_children[0], entry.named_children[-1]
                yield node_text(key), value

    def table(self, key: str, value: str) -> dict[str, Node]:
        """The hashtable holding ``key = 'value'`` (e.g. ``Name = 'mtaharden header_checks[0]'``)."""
        for node in walk(self.root):
            if node.type == "hash_literal_expression":
                entries = {k.lower(): v for k, v in _direct_entries(node)}
                if key.lower() in entries and strings(entries[key.lower()]) == [value]:
                    return entries
        raise KeyError(f"no hashtable with {key} = {value!r}")

    def settings_after(self, marker: str) -> dict[str, Node]:
        """The first ``$settings = @{...}`` after the text ``marker`` (a connector identity, say)."""
        start = self.source.index(marker.encode())
        for node in walk(self.root):
            if node.type == "assignment_expression" and node.start_byte > start:
                target = node_text(node.named_children[0])
                value = unwrap(node.named_children[-1])
                if target == "$settings" and value.type == "hash_literal_expression":
                    return {k.lower(): v for k, v in _direct_entries(value)}
        raise KeyError(f"no $settings hashtable after {marker!r}")

    def assigned(self, variable: str) -> Node:
        """The value first assigned to ``$variable``."""
        for node in walk(self.root):
            if node.type == "assignment_expression" and node_text(node.named_children[0]) == f"${variable}":
                return unwrap(node.named_children[-1])
        raise KeyError(variable)

    def string_nodes(self) -> list[Node]:
        return [n for n in walk(self.root) if n.type == "string_literal"]


def arguments(command: Command) -> dict[str, Node]:
    """A command's named arguments: ``-Name value`` as ``{"name": value}`` (switches map to None-less absence)."""
    elements = command.node.child_by_field_name("command_elements")
    children = [c for c in (elements.children if elements is not None else []) if c.type != "command_argument_sep"]
    found = {}
    for parameter, value in itertools.pairwise(children):
        if parameter.type == "command_parameter" and value.type != "command_parameter":
            found[node_text(parameter).lstrip("-").rstrip(":").lower()] = value
    return found


def _direct_entries(table: Node) -> Iterator[tuple[str, Node]]:
    body = next((c for c in table.named_children if c.type == "hash_literal_body"), None)
    for entry in body.named_children if body is not None else []:
        if entry.type == "hash_entry":
            yield node_text(entry.named_children[0]), entry.named_children[-1]


def walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def node_text(node: Node | None) -> str:
    assert node is not None and node.text is not None
    return node.text.decode()


def unwrap(node: Node) -> Node:
    """The value inside the grammar's single-child expression wrappers."""
    while node.type in _WRAPPERS and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def verbatim(node: Node) -> str | None:
    """The value of a single-quoted (verbatim) string literal, or None for anything else."""
    node = unwrap(node)
    if node.type != "string_literal" or [c.type for c in node.children] != ["verbatim_string_characters"]:
        return None
    text = node_text(node)
    return text[1:-1].replace("''", "'")


def strings(node: Node) -> list[str]:
    """The verbatim strings a value holds: one for ``'a'``, each item for ``@('a', 'b')``."""
    single = verbatim(node)
    if single is not None:
        return [single]
    return [v for n in walk(node) if n.type == "string_literal" and (v := verbatim(n)) is not None]


def inside(node: Node, kind: str) -> Node | None:
    """The nearest ancestor of ``node`` of type ``kind``."""
    parent = node.parent
    while parent is not None and parent.type != kind:
        parent = parent.parent
    return parent
