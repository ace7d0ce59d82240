"""Atomic output and file modes: a failure half-way leaves the previous output as it was, with no
temporary files, and every rendered file and folder gets exactly its planned mode.

tests/unit/test_cli.py already shows that a successful render leaves no staging folder, that a refused
policy writes nothing into a fresh folder, and that Postfix's files are 0644 whatever the umask. Here:
failures injected while files are written and while a folder is swapped in, a refusal of one target
after others rendered, the modes of every target's files, and a 0600 file kept 0600.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from mtaharden.policy import load_policy
from mtaharden.render import RenderedFile, render_plan, write_outputs
from mtaharden.targets.base import registered
from tests.conftest import EXAMPLE_POLICY
from tests.unit.test_cli import command, tree


def example_outputs() -> dict[str, list[RenderedFile]]:
    policy = load_policy(EXAMPLE_POLICY)
    return {name: render_plan(target.plan(policy), target)
            for name, target in registered().items()}


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """An output folder holding a complete earlier render of every target."""
    out = tmp_path / "out"
    write_outputs(out, example_outputs())
    return out


def unwritable(files: list[RenderedFile]) -> list[RenderedFile]:
    """A target's files and a last one that cannot be encoded: writing fails after the others are on disk."""
    return [*files, RenderedFile("sub/three", "a lone surrogate \ud800\n", 0o644)]


def test_a_failure_while_writing_keeps_every_previous_folder(previous: Path) -> None:
    before = tree(previous)
    outputs = example_outputs()
    outputs["sendmail"] = unwritable(outputs["sendmail"])
    with pytest.raises(UnicodeEncodeError):
        write_outputs(previous, outputs)
    assert tree(previous) == before, "no target changed, not even the ones written before the failure"


def test_a_failure_while_swapping_a_folder_in_keeps_it(previous: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree(previous)
    rename = Path.rename

    def failing(self: Path, target: str | os.PathLike[str]) -> Path:
        if Path(target) == previous / "postfix" and self.parent != previous:  # the new folder, from staging
            raise OSError(28, "No space left on device")
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", failing)
    outputs = example_outputs()
    with pytest.raises(OSError, match="No space"):
        write_outputs(previous, {"postfix": outputs["postfix"]})
    monkeypatch.undo()
    assert tree(previous) == before


def test_a_target_refused_after_others_rendered_writes_nothing(previous: Path) -> None:
    """Without its waivers, qmail refuses the example: the CLI stops, though Exchange and Postfix rendered."""
    before = tree(previous)
    result = subprocess.run([*command(), "render", str(EXAMPLE_POLICY), "--out", str(previous),
                             "--set", "targets.qmail.allow_unsupported=[]"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert "qmail cannot enforce" in result.stderr
    assert tree(previous) == before


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_every_file_gets_its_planned_mode_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    """No rendered file holds a secret today: all are 0644, scripts 0755, folders 0755."""
    outputs = example_outputs()
    previous_umask = os.umask(umask)
    try:
        write_outputs(tmp_path, outputs)
    finally:
        os.umask(previous_umask)
    for name, files in outputs.items():
        root = tmp_path / name
        for item in files:
            assert item.mode == (0o755 if item.content.startswith("#!") else 0o644), item.path
            assert stat.S_IMODE((root / item.path).stat().st_mode) == item.mode, item.path
        for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder


def test_a_secret_file_stays_0600(tmp_path: Path) -> None:
    target = registered()["postfix"]
    plan = target.plan(load_policy(EXAMPLE_POLICY))
    private = replace(plan, files=tuple(replace(f, mode=0o600) if f.path == "sasl/smtpd.conf" else f
                                        for f in plan.files))
    previous_umask = os.umask(0)
    try:
        write_outputs(tmp_path, {"postfix": render_plan(private, target)})
    finally:
        os.umask(previous_umask)
    assert stat.S_IMODE((tmp_path / "postfix" / "sasl" / "smtpd.conf").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "postfix" / "main.cf").stat().st_mode) == 0o644
