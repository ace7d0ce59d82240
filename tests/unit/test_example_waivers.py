"""The example policy's waivers are derived from the registry: each registered target's plan of the example
says which stated elements it cannot enforce, and ``targets.<t>.allow_unsupported`` lists exactly those
(a waiver that covers nothing is stale, a gap without one would stop ``render --target all``)."""

from __future__ import annotations

import pytest

from mtaharden.policy import Policy, load_policy
from mtaharden.targets.base import registered
from tests.conftest import EXAMPLE_POLICY


@pytest.fixture(scope="module")
def example() -> Policy:
    return load_policy(EXAMPLE_POLICY)


def _covers(waiver: str, element: str) -> bool:
    return element == waiver or element.startswith((waiver + ".", waiver + "["))


@pytest.mark.parametrize("name", sorted(registered()))
def test_the_waivers_are_exactly_the_stated_gaps(example: Policy, name: str) -> None:
    plan = registered()[name].plan(example)
    gaps = [item.element for item in plan.coverage if item.status == "unsupported" and example.states(item.element)]
    waivers = getattr(example.targets, name).allow_unsupported
    assert [gap for gap in gaps if not any(_covers(w, gap) for w in waivers)] == [], "unwaived: render would fail"
    assert [w for w in waivers if not any(_covers(w, gap) for gap in gaps)] == [], f"stale waivers of {name}"
    assert len(set(waivers)) == len(waivers)
