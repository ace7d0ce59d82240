"""Golden files for the Exchange target's second deployment kind: the bundled example with Edge servers.

The example itself is Mailbox-only (tests/golden/example/exchange). Regenerate after an intended change
with ``MTAHARDEN_UPDATE_GOLDEN=1 pytest tests/golden`` and review the diff like any other change.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mtaharden.policy import load_policy
from mtaharden.render import render_plan, write_outputs
from mtaharden.targets.exchange import ExchangeTarget
from tests.conftest import EXAMPLE_POLICY

GOLDEN = Path(__file__).parent / "exchange-edge"
EDGE = ("targets.exchange.deployment=edge", "targets.exchange.server_addresses=[202.112.57.10]")


def test_example_policy_with_edge_matches_golden_files(tmp_path: Path) -> None:
    target = ExchangeTarget()
    write_outputs(tmp_path, {target.name: render_plan(target.plan(load_policy(EXAMPLE_POLICY, EDGE)), target)})
    rendered = tmp_path / target.name
    if os.environ.get("MTAHARDEN_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(rendered, GOLDEN)
    produced = sorted(p.relative_to(rendered) for p in rendered.rglob("*") if p.is_file())
    assert produced == sorted(p.relative_to(GOLDEN) for p in GOLDEN.rglob("*") if p.is_file())
    for relative in produced:
        assert (rendered / relative).read_bytes() == (GOLDEN / relative).read_bytes(), relative
