"""The fast way to read a policy: libyaml (PyYAML's C parser) instead of ruamel's pure-Python one.

ruamel.yaml gives every node its line and column, which only an error report needs, and costs about
twenty times more on a policy with long inline lists. So a policy is first read here; the loader
falls back to ruamel (and its located errors) whenever this raises :class:`Undecided`: PyYAML
missing, a YAML error, or anything this reader refuses to decide. It refuses exactly what the round-trip
loader refuses (anchors, aliases, merge keys, tags, duplicate keys, deep nesting) and every plain
scalar whose type YAML 1.1 (PyYAML) and YAML 1.2 (ruamel) could read differently, so both paths
always yield the same data.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from typing import Any

try:  # without PyYAML's C parser every policy takes the located path
    import yaml
    from yaml._yaml import CParser
    from yaml.resolver import Resolver

    AVAILABLE = True
except ImportError:  # pragma: no cover - the fallback test switches AVAILABLE off instead
    AVAILABLE = False

MAX_DEPTH = 32
_STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{name}" for name in ("str", "int", "bool", "null"))
_TRUE = frozenset({"true", "True", "TRUE"})
_WORDS = {**dict.fromkeys((*_TRUE, "false", "False", "FALSE"), _BOOL),
          **dict.fromkeys(("", "~", "null", "Null", "NULL"), _NULL)}
_NUMBER_START = frozenset("-+.0123456789=<")  # any other first character makes a plain scalar text
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
# What could be a number, infinity, NaN, timestamp or 1.1's value/merge key in either YAML version
# (their characters only, at most one dot): the two versions disagree on many of these.
# A block scalar's header as YAML says it: its indicators, then a blank (and a comment) or the line's end.
# libyaml also takes ``>#`` (a comment without a blank before it), which ruamel refuses.
_BLOCK_HEADER = re.compile(r"[|>](?:[1-9][-+]?|[-+][1-9]?)?(?:[ \t].*)?")
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # libyaml's line breaks, as its marks count lines
_MAYBE_NUMBER = re.compile(r"[-+]?\.?[0-9_][-+0-9a-fA-FxXoObBtTzZ_.:\s]*|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)|=|<<")


class Undecided(Exception):
    """This reader will not decide; the round-trip loader must (and then says where the problem is)."""


def parse(text: str) -> Any:
    """The document as plain dicts, lists and scalars; raises :class:`Undecided` for the located loader."""
    if not AVAILABLE:
        raise Undecided("PyYAML with libyaml is not installed")
    collecting = gc.isenabled()
    gc.disable()  # a long list is many small objects and no cycles: collections would triple the time
    try:
        _check_events(text)
        composer = _Composer(text)
        try:
            node = composer.get_single_node()
        finally:
            composer.dispose()
        return None if node is None else _build(node)
    except (yaml.YAMLError, RecursionError) as exc:
        raise Undecided(str(exc)) from None
    finally:
        if collecting:
            gc.enable()


def _build(node: Any) -> Any:
    """Plain Python values from libyaml's node tree (PyYAML's generic constructor is slower by far)."""
    kind = type(node)
    if kind is yaml.ScalarNode:
        tag, value = node.tag, node.value
        if tag == _STR:
            return value
        if tag == _INT:
            return int(value)  # the resolver lets only plain decimals through
        return value in _TRUE if tag == _BOOL else None
    if kind is yaml.SequenceNode:
        return [_build(item) for item in node.value]
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = _build(key_node)
        if isinstance(key, list | dict) or key in mapping:
            raise Undecided("duplicate or unhashable key")
        mapping[key] = _build(value_node)
    return mapping


def _check_events(text: str) -> None:
    """Refuse, before anything is built, what the round-trip loader refuses (it then says where)."""
    depth = 0
    lines = _LINE_BREAK.split(text)
    parser = CParser(text)
    try:
        events: Iterator[Any] = iter(parser.get_event, None)  # ScalarEvent, AliasEvent, …: attributes vary
        for event in events:
            kind = type(event)
            if kind in _NODE_STARTS and (event.anchor or event.tag is not None):
                raise Undecided("anchor or tag")  # even the tag "!": the two parsers read it differently
            if kind is yaml.ScalarEvent:
                if event.value == "<<" and event.style is None:
                    raise Undecided("merge key")
                if event.style in ("|", ">") and not _block_header(lines, event.start_mark):
                    raise Undecided("block scalar header")
            elif kind in _NODE_STARTS:
                depth += 1
                if depth > MAX_DEPTH:
                    raise Undecided("nested too deeply")
            elif kind in _NODE_ENDS:
                depth -= 1
            elif kind is yaml.AliasEvent or (kind is yaml.DocumentStartEvent and (event.version or event.tags)):
                raise Undecided("alias or %YAML directive")
            elif kind is yaml.DocumentEndEvent and event.explicit:
                raise Undecided("document end marker")  # libyaml takes a stray second '...', ruamel does not
    finally:
        parser.dispose()


def _block_header(lines: list[str], mark: Any) -> bool:
    """Whether the block scalar at ``mark`` (libyaml's line and column, in characters) has a header both
    readers take."""
    line = lines[mark.line] if mark.line < len(lines) else ""
    return _BLOCK_HEADER.fullmatch(line[mark.column:]) is not None


if AVAILABLE:
    _NODE_STARTS = frozenset({yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent})
    _NODE_ENDS = frozenset({yaml.SequenceEndEvent, yaml.MappingEndEvent})

    class _Composer(CParser, Resolver):
        """libyaml's parser and composer, resolving plain scalars by YAML 1.2's core schema as ruamel does."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Resolver.__init__(self)

        def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
            if kind is not yaml.ScalarNode:
                return str(super().resolve(kind, value, implicit))  # type: ignore[no-untyped-call]
            if not implicit[0]:
                return _STR  # quoted or block scalars are text on both paths
            if value in _WORDS:
                return _WORDS[value]
            if value[0] not in _NUMBER_START:
                return _STR
            if _DECIMAL.fullmatch(value):
                return _INT
            if _MAYBE_NUMBER.fullmatch(value) and value.count(".") <= 1:
                raise Undecided(value)
            return _STR
