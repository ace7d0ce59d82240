"""Golden files: the bundled example policy renders to exactly these bytes.

Regenerate after an intended change with ``MTAHARDEN_UPDATE_GOLDEN=1 pytest tests/golden`` and
review the diff like any other change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mtaharden.policy import load_policy
from mtaharden.render import render_plan, write_outputs
from mtaharden.targets.base import registered
from tests.conftest import EXAMPLE_POLICY

GOLDEN = Path(__file__).parent / "example"


@pytest.mark.parametrize("target", sorted(registered()))
def test_example_policy_matches_golden_files(tmp_path: Path, target: str) -> None:
    chosen = registered()[target]
    plan = chosen.plan(load_policy(EXAMPLE_POLICY))
    write_outputs(tmp_path, {target: render_plan(plan, chosen)})
    rendered, golden = tmp_path / target, GOLDEN / target
    if os.environ.get("MTAHARDEN_UPDATE_GOLDEN"):
        shutil.rmtree(golden, ignore_errors=True)
        shutil.copytree(rendered, golden)
    produced = sorted(p.relative_to(rendered) for p in rendered.rglob("*") if p.is_file())
    expected = sorted(p.relative_to(golden) for p in golden.rglob("*") if p.is_file())
    assert produced == expected
    for relative in produced:
        assert (rendered / relative).read_bytes() == (golden / relative).read_bytes(), relative
