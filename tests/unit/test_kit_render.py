"""What the kit changed in render and the registry: typed contexts, one fitness check, targets as packages."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import jinja2
import pytest

from mtaharden.render import RenderError, _render_file, key_block, lines, one_line
from mtaharden.targets import base
from mtaharden.targets.base import Block, PlannedFile
from mtaharden.targets.kit.escape import Unexpressible


@dataclasses.dataclass(frozen=True)
class Inner:
    name: str


@dataclasses.dataclass(frozen=True)
class Context:
    title: str
    inner: Inner
    items: tuple[str, ...]


def environment(text: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.j2": text}), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    env.filters["one_line"] = one_line
    return env


def test_a_dataclass_context_gives_its_fields_as_variables_shallowly() -> None:
    env = environment("{{ title }} {{ inner.name }} {{ items | join(',') }} {{ inner.__class__.__name__ }}\n")
    planned = PlannedFile("out.txt", "t.j2", Context("T", Inner("n"), ("a", "b")), comment="none")
    assert _render_file(env, planned).content == "T n a,b Inner\n"  # inner stays an object: no asdict


def test_a_mapping_context_still_works_and_anything_else_is_refused() -> None:
    env = environment("{{ title }}\n")
    assert _render_file(env, PlannedFile("o", "t.j2", {"title": "T"}, comment="none")).content == "T\n"
    with pytest.raises(RenderError, match="a mapping or a dataclass instance, not type"):
        _render_file(env, PlannedFile("o", "t.j2", Context, comment="none"))  # type: ignore[arg-type]


def test_a_variable_the_dataclass_lacks_is_a_render_error() -> None:
    env = environment("{{ missing }}\n")
    with pytest.raises(RenderError, match=r"out\.txt: 'missing' is undefined"):
        _render_file(env, PlannedFile("out.txt", "t.j2", Context("T", Inner("n"), ()), comment="none"))


@pytest.mark.parametrize("bad", ["\n", "\r", "\t", "\x00", "\u2028", "\u2029", "\x85", "\u202e", "\ufeff"])
def test_one_line_refuses_what_the_kit_calls_unfit_and_echoes_no_value(bad: str) -> None:
    with pytest.raises(RenderError) as caught:
        one_line(f"hunter2{bad}more")
    assert f"U+{ord(bad):04X}" in str(caught.value) and "hunter2" not in str(caught.value)
    assert str(caught.value).endswith("into a configuration file")


def test_key_blocks_refuse_unicode_line_breaks_too() -> None:
    assert key_block(Block(["café.example", "b"], "OK")) == "café.example\tOK\nb\tOK"
    for bad in (["a\u2028b"], ["a\x85"], ["a\u2029"], ["a\x1e"]):
        with pytest.raises(RenderError):
            key_block(Block(bad, "OK"))
    with pytest.raises(RenderError):
        lines(["one", "two\u2028three"])


def test_unexpressible_from_a_filter_is_a_render_error() -> None:
    def refuse(value: object) -> str:
        raise Unexpressible("refusing to write it into a test file")

    env = environment("{{ title | refuse }}\n")
    env.filters["refuse"] = refuse
    with pytest.raises(RenderError, match="refusing to write it"):
        _render_file(env, PlannedFile("o", "t.j2", {"title": "x"}, comment="none"))


def test_the_registry_skips_the_kit_and_imports_target_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    monkeypatch.setattr("importlib.import_module", _recording(imported))
    base.registered()
    folder = Path(base.__file__).parent
    targets = sorted(p.name.removesuffix(".py") for p in folder.iterdir()
                     if p.name not in ("base.py", "kit", "__init__.py", "__pycache__")
                     and (p.suffix == ".py" or (p / "__init__.py").is_file()))
    assert "mtaharden.targets.kit" not in imported and "mtaharden.targets.base" not in imported
    by_registry = [name for name in imported if name.startswith("mtaharden.targets.") and name.count(".") == 2]
    assert by_registry == [f"mtaharden.targets.{t}" for t in targets] and targets


def _recording(imported: list[str]) -> Callable[[str, str | None], object]:
    import importlib

    real = importlib.import_module

    def record(name: str, package: str | None = None) -> object:
        imported.append(name)
        return real(name, package)

    return record


def test_an_unexpressible_value_exits_2_with_the_reason_and_writes_nothing(tmp_path: Path) -> None:
    """qmail's tcprules quoting needs a delimiter the value lacks: a reply using every punctuation mark has none."""
    import string
    import subprocess
    import sys

    message = json.dumps("x " + string.punctuation)
    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\nrole: mx\nhostname: mx.example.org\ndomains:\n  local: [example.org]\n"
                      f"access:\n  clients:\n    - {{match: 192.0.2.0/24, action: reject, message: {message}}}\n")
    result = subprocess.run([sys.executable, "-m", "mtaharden", "render", str(policy), "--target", "qmail",
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert f"{policy}: qmail: no delimiter left for this tcp.smtp value" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
