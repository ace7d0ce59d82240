"""Load a policy file: YAML → pydantic model → cross-field rules.

Every failure becomes a :class:`Problem` at ``file:line:col`` with a fix. YAML aliases, anchors and
custom tags are refused before anything is built, so an alias bomb costs nothing.

Locations come from ruamel.yaml, which is slow on long lists, and only a failure needs them: a
policy is first read with libyaml (:mod:`.fastyaml`) and validated; only when that fails, or the
fast reader will not decide, is it read again with ruamel to say where each problem is.
"""

from __future__ import annotations

import difflib
import io
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionStartEvent, DocumentStartEvent, ScalarEvent

from ..safe_read import UnsafeFile, read_regular
from . import characters, fastyaml, rules, yaml_words
from .errors import PolicyError, Problem
from .finding import Finding
from .lists import ListFileError
from .model import INLINE, LIST_FILE, LISTS_ROOT, POLICY_FOLDER, Policy
from .types import PolicyValueError
from .wording import bound_message, shown, type_message

MAX_POLICY_BYTES = 16 * 2**20
MAX_DEPTH = 32
IMPLICIT_TAGS = {None, "!"}

_GENERIC_HINTS = {
    "missing": "add this key",
    "bool_type": "write true or false",
    "bool_parsing": "write true or false",
    "int_type": "write a whole number",
    "int_parsing": "write a whole number",
    "int_from_float": "write a whole number",
    "literal_error": "use one of the values listed",
    "list_type": "write a list, e.g. [a, b] or one '- item' per line",
    "model_type": "write a mapping of keys to values",
    "model_attributes_type": "write a mapping of keys to values",
    "dict_type": "write a mapping of keys to values",
    "string_type": "write text",
    "too_short": "add at least one item",
    "string_pattern_mismatch": "use letters, digits and . _ / - only",
}


def load_policy(path: str | Path, overrides: Sequence[str] = (), lists_root: str | Path | None = None) -> Policy:
    """Read and validate the policy at ``path``; raise :class:`PolicyError` with every problem.

    ``overrides`` are ``dotted.key=VALUE`` settings (VALUE in YAML flow syntax) applied on top of the
    file before validation: per-host values such as the host name or listen addresses.
    ``lists_root`` is the folder tree list files must lie in (default: the policy's folder); only
    the command line names it, never the policy. A policy file that is a symbolic link must resolve
    inside that tree too: a pull request that turns policy.yml into a link to a secret file would
    otherwise have CI echo the secret's values in validation messages.
    """
    source = str(path)
    within = Path(lists_root) if lists_root is not None else Path(os.path.abspath(path)).parent
    try:
        raw = read_regular(path, MAX_POLICY_BYTES, within=within)
    except UnsafeFile as exc:
        hint = "keep the policy small; long lists belong in list files" if "larger" in exc.reason else exc.hint
        raise PolicyError([Problem(source, 1, 1, "", f"cannot read the policy: it {exc.reason}", hint)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError([Problem(source, line, 1, "", "policy is not valid UTF-8",
                                   "save the file as UTF-8")]) from None
    return load_policy_text(text, source, overrides, lists_root)


def load_policy_text(text: str, source: str = "<policy>", overrides: Sequence[str] = (),
                     lists_root: str | Path | None = None) -> Policy:
    """Validate policy YAML given as text; ``source`` names it in error messages.

    List files named by the policy are read relative to the folder of ``source`` and must lie in
    ``lists_root`` (default: that folder). Characters and directives the two YAML readers could
    read differently are refused first (:mod:`.characters`), in the file and in each override.
    """
    text = text.removeprefix(characters.BOM)
    refused = characters.problems(text, source)
    for setting in overrides:
        refused += characters.problems(setting, _override_source(setting))
    if refused:
        raise PolicyError(refused)
    folder = Path(source).parent
    context = {POLICY_FOLDER: folder, LISTS_ROOT: folder if lists_root is None else Path(lists_root)}
    try:
        return _load_fast(text, overrides, context)
    except (fastyaml.Undecided, ValidationError, PolicyError):
        return _load_located(text, source, overrides, context)


def _load_fast(text: str, overrides: Sequence[str], context: dict[str, Any]) -> Policy:
    """The happy path: libyaml, pydantic, rules; any problem raises for the located path to report."""
    document = fastyaml.parse(text)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise fastyaml.Undecided("not a mapping")
    for setting in overrides:
        _apply_override(document, setting, lambda raw, _setting: fastyaml.parse(raw))
    policy = Policy.model_validate(document, context=context)
    if rules.check(policy):
        raise fastyaml.Undecided("the rules found problems")
    return policy


def _load_located(text: str, source: str, overrides: Sequence[str], context: dict[str, Any]) -> Policy:
    """Read with ruamel.yaml, which knows where every value is, and raise every problem located."""
    document = _parse(text, source)
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise PolicyError([Problem(source, 1, 1, "", "the policy must be a mapping of keys (version, domains, …)",
                                   "start from examples/policy.yml")])
    overridden = [_apply_override(document, text_, _parse_override) for text_ in overrides]

    def locate(path: tuple[Any, ...], message: str, hint: str, *, at_key: bool = False) -> Problem:
        for override in reversed(overridden):  # the last --set of a key is the one that counts
            found = override.locate(path, message, hint, at_key=at_key)
            if found:
                return found
        return _locate(document, path, source, message, hint, at_key=at_key)

    try:
        policy = Policy.model_validate(document, context=context)
    except ValidationError as exc:
        raise PolicyError([p for err in exc.errors() for p in _problems_from_pydantic(err, locate)]) from None
    findings = rules.check(policy)
    if findings:
        raise PolicyError([Problem(f.where[0], f.where[1], f.where[2], ".".join(map(str, f.path)), f.message, f.hint)
                           if f.where else locate(f.path, f.message, f.hint) for f in findings])
    return policy


@dataclass(frozen=True)
class _Override:
    """One ``--set KEY=VALUE``: its problems are located in the argument (line 1, columns of ``KEY=VALUE``)."""

    setting: str
    keys: tuple[str, ...]
    value: Any
    created: int  # how many leading keys name mappings that were there before this --set

    def locate(self, path: tuple[Any, ...], message: str, hint: str, *, at_key: bool) -> Problem | None:
        """The problem at ``path`` placed in this argument, or None when ``path`` is not this key's."""
        dotted = ".".join(map(str, path))
        where = _override_source(self.setting)
        if path[: len(self.keys)] != self.keys:
            if self.created < len(path) and self.keys[: len(path)] == path:  # a mapping this --set made
                return Problem(where, 1, _key_column(self.setting, len(path) - 1), dotted, message, hint)
            return None
        inner = path[len(self.keys):]
        if not inner and at_key:
            return Problem(where, 1, _key_column(self.setting, len(self.keys) - 1), dotted, message, hint)
        offset = self.setting.index("=") + 1
        if inner and isinstance(self.value, CommentedMap | CommentedSeq):
            found = _locate(self.value, inner, where, message, hint, at_key=at_key)
            column = found.column + offset if found.line == 1 else found.column
            return Problem(where, found.line, column, dotted, message, hint)
        raw = self.setting[offset:]
        return Problem(where, 1, offset + 1 + len(raw) - len(raw.lstrip()), dotted, message, hint)


def _override_source(setting: str) -> str:
    return f"--set {setting.partition('=')[0].strip()}"


def _key_column(setting: str, index: int) -> int:
    """The 1-based column of the ``index``-th dotted part of the argument's key."""
    dotted = setting.partition("=")[0]
    lead = len(dotted) - len(dotted.lstrip())
    return lead + 1 + sum(len(part) + 1 for part in dotted.strip().split(".")[:index])


def _parse_override(raw: str, setting: str) -> Any:
    """An override's VALUE read by ruamel; a YAML error is located in the whole argument."""
    try:
        return _parse(raw, _override_source(setting))
    except PolicyError as exc:
        offset = setting.index("=") + 1
        raise PolicyError([replace(p, column=p.column + offset) if p.line == 1 else p for p in exc.problems]) from None


def _apply_override(document: dict[str, Any], setting: str, parse: Callable[[str, str], Any]) -> _Override:
    """Set ``a.b.c=VALUE`` in the document (creating mappings on the way)."""
    dotted, equals, raw = setting.partition("=")
    keys = tuple(dotted.strip().split("."))
    if not equals or not all(keys):
        raise PolicyError([Problem(_override_source(setting), 1, 1, "", f"{setting!r} is not KEY=VALUE",
                                   "write --set dotted.key=value, e.g. --set hostname=mx2.example.org")])
    value = parse(raw, setting) if raw.strip() else ""
    node, created = document, len(keys)
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if not isinstance(child, dict):
            child = type(document)()
            node[key] = child
            created = min(created, depth)
        node = child
    node[keys[-1]] = value
    return _Override(setting, keys, value, created)


def _parse(text: str, source: str) -> Any:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    try:
        _refuse_unsafe_constructs(yaml.parse(io.StringIO(text)), source)
        return yaml.load(text)
    except PolicyError:
        raise
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (exc.problem or str(exc)).strip()
        known = yaml_words.meaning(f"{exc.context or ''} {what}")
        if known is not None:
            what, hint = f"{known[0]} (the YAML reader: {what})", known[1]
        else:
            hint = "give each key once" if "duplicate" in what else "fix the YAML syntax at this place"
        raise PolicyError([Problem(source, line, column, "", f"YAML: {what}", hint)]) from None
    except (YAMLError, RecursionError) as exc:
        raise PolicyError([Problem(source, 1, 1, "", f"YAML: {exc}", "fix the YAML syntax")]) from None
    except (ValueError, IndexError) as exc:  # ruamel fails so on a few number-like words, e.g. "-_"
        raise PolicyError([Problem(source, 1, 1, "", f"YAML: a value could not be read ({exc})",
                                   "quote values that look almost like numbers, e.g. '-_'")]) from None


def _refuse_unsafe_constructs(events: Iterable[Any], source: str) -> None:
    depth = 0
    for event in events:
        mark = event.start_mark
        where = (mark.line + 1, mark.column + 1)
        if isinstance(event, DocumentStartEvent) and (event.version or event.tags):  # the text screen saw them first
            raise PolicyError([Problem(source, *where, "", "YAML directives (%YAML, %TAG) are not allowed",
                                       "delete the line: a policy is always read as YAML 1.2 with the standard tags")])
        merge_key = isinstance(event, ScalarEvent) and event.value == "<<" and event.style is None
        if isinstance(event, AliasEvent) or getattr(event, "anchor", None) or merge_key:
            raise PolicyError([Problem(source, *where, "", "YAML anchors, aliases and merge keys are not allowed",
                                       "write the value out in full where it is used")])
        tag = getattr(event, "tag", None)
        if isinstance(event, ScalarEvent | CollectionStartEvent) and tag not in IMPLICIT_TAGS:
            raise PolicyError([Problem(source, *where, "", f"YAML tag {tag} is not allowed",
                                       "remove the tag; quote a value to make it text")])
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise PolicyError([Problem(source, *where, "", "the policy is nested too deeply",
                                           "the policy is at most a few levels deep; check the indentation")])
        elif type(event).__name__ in ("MappingEndEvent", "SequenceEndEvent"):
            depth -= 1


def _problems_from_pydantic(err: ErrorDetails, locate: Callable[..., Problem]) -> list[Problem]:
    tagged = tuple(err["loc"])
    path = _untagged(tagged)
    kind = err["type"]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, ListFileError):
        dotted = ".".join(map(str, path))
        return [Problem(cause.source, p.line, p.column, dotted, p.message, p.hint) for p in cause.problems]
    if isinstance(cause, PolicyValueError):
        return [locate(path, str(cause), _stray_colon(err.get("input")) or cause.hint)]
    if kind == "extra_forbidden":
        return [locate(path, f"unknown key {path[-1]!r}", _did_you_mean(tagged), at_key=True)]
    given = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "literal_error":
        message = f"expected {ctx.get('expected', 'one of the listed values')} here, not {shown(given)}"
    elif kind == "string_pattern_mismatch":
        return [locate(path, f"{shown(given)} does not have the form this key takes",
                       f"write text matching the regular expression {ctx.get('pattern')}")]
    elif (bounded := bound_message(kind, ctx, given)) is not None:
        return [locate(path, *bounded)]
    else:
        message = type_message(kind, err["msg"].removeprefix("Value error, "), given)
    return [locate(path, message, _stray_colon(given) or _mapping_hint(kind, tagged)
                   or _GENERIC_HINTS.get(kind, "see the policy reference in README.md"))]


def _mapping_hint(kind: str, path: tuple[Any, ...]) -> str | None:
    """For a mapping written as something else: the keys it takes, indented below its own key."""
    model = _model_at(path) if kind in ("model_type", "model_attributes_type") else None
    if model is None:
        return None
    keys, name = ", ".join(model.model_fields), _untagged(path)[-1]
    if isinstance(name, str):
        return f"write {name}: on a line of its own and its keys ({keys}) indented below it"
    return f"write the item as a mapping with the keys {keys}"


def _stray_colon(given: Any) -> str | None:
    """The fix for a word written with a ':' after it: ``discard:`` is a key with no value to YAML (or,
    inside ``[ ]``/``{ }``, the text ``discard:``)."""
    if isinstance(given, Mapping) and len(given) == 1 and next(iter(given.values())) is None:
        word = next(iter(given))
    elif isinstance(given, str) and given.endswith(":") and given[:-1].strip().isidentifier():
        word = given[:-1].strip()
    else:
        return None
    return f"write {word} without the ':' after it (YAML reads '{word}:' as a key, or as text with a colon)"


def _untagged(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """An error path without the tags pydantic puts after a list index for inline/list-file items."""
    return tuple(step for position, step in enumerate(loc)
                 if not (step in (INLINE, LIST_FILE) and position and isinstance(loc[position - 1], int)))


def _did_you_mean(path: tuple[Any, ...]) -> str:
    model = _model_at(path[:-1])
    known = sorted(model.model_fields) if model else []
    close = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    homes = _homes(str(path[-1]))
    if homes:
        return f"{path[-1]} is a key of {' or '.join(homes)}: move it there (indent it under that key)"
    return "remove it; known keys here: " + ", ".join(known) if known else "remove it"


def _homes(name: str, model: type[BaseModel] = Policy, prefix: str = "", depth: int = 4) -> list[str]:
    """Where in the policy ``name`` is a key (dotted paths of the mappings that have it), for a key
    written at the wrong level; ``targets.<t>`` knobs are left out (every target has its own)."""
    found: list[str] = []
    for key, field in model.model_fields.items():
        if key == name and prefix:
            found.append(prefix.rstrip("."))
        inner = _find_model(field.annotation)
        if inner is not None and depth > 1 and key != "targets":
            found += _homes(name, inner, f"{prefix}{key}.", depth - 1)
    return found[:3]


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model at ``path`` (with pydantic's union tags, which pick the member of an item union)."""
    model: type[BaseModel] | None = Policy
    annotation: Any = None
    for step in path:
        if model is None or isinstance(step, int):
            continue
        if step in (INLINE, LIST_FILE):
            model = _find_model(annotation, step)
            continue
        field = model.model_fields.get(step)
        annotation = field.annotation if field else None
        model = _find_model(annotation)
    return model


def _find_model(annotation: Any, tag: str | None = None) -> type[BaseModel] | None:
    """The first model in ``annotation``; with ``tag``, the union member carrying that tag."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated and tag is not None:
        tags = [getattr(meta, "tag", None) for meta in args[1:]]
        if any(tags) and tag not in tags:
            return None
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in args:
            found = _find_model(arg, tag)
            if found:
                return found
    return None


def locate_findings(path: str | Path, findings: Sequence[Finding]) -> list[Problem]:
    """Findings about the policy file at ``path`` (a valid one: warnings, a command's own refusals), located in
    its YAML as the loader locates errors; the file is read again only for this."""
    if not findings:
        return []
    document = _parse(Path(path).read_text(encoding="utf-8"), str(path))
    return sorted(_locate(document, f.path, str(path), f.message, f.hint) for f in findings)


def _locate(document: Any, path: tuple[Any, ...], source: str, message: str, hint: str,
            *, at_key: bool = False) -> Problem:
    """Find the line and column of ``path`` in the YAML, falling back to the nearest existing parent."""
    line, column = 0, 0
    node = document
    for position, step in enumerate(path):
        last = position == len(path) - 1
        position_of = _map_position if isinstance(node, CommentedMap) else _seq_position
        found = position_of(node, step, key=at_key and last)
        if found is None:
            break
        (line, column), node = found, node[step]
    dotted = ".".join(str(step) for step in path)
    return Problem(source, line + 1, column + 1, dotted, message, hint)


def _map_position(node: Any, step: Any, *, key: bool) -> tuple[int, int] | None:
    if not isinstance(node, CommentedMap) or step not in node:
        return None
    try:
        return tuple(node.lc.key(step) if key else node.lc.value(step))
    except (KeyError, TypeError):
        return None


def _seq_position(node: Any, step: Any, *, key: bool) -> tuple[int, int] | None:
    if not isinstance(node, CommentedSeq) or not isinstance(step, int) or not 0 <= step < len(node):
        return None
    return tuple(node.lc.item(step))
