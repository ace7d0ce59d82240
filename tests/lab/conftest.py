"""Fixtures of the stock-host lab: a lab network, and a deployed stock host per registered kind."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mtaharden.targets.base import Plan
from tests.lab.host import LabHost
from tests.lab.kind import HostKind, registered_kinds
from tests.lab.network import LabNet
from tests.lab.policy import prepare_auth, render
from tests.lab.roots import need_lab

LAB_TOOLS = ("dnsmasq", "rbldnsd", "dig", "openssl")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="module")
def lab_net() -> Iterator[LabNet]:
    need_lab(*LAB_TOOLS)
    with LabNet() as net:
        yield net


@dataclass(frozen=True)
class Stock:
    """A stock host of one kind with the behaviour policy deployed, on its own lab network."""

    kind: HostKind
    net: LabNet
    host: LabHost
    plan: Plan
    policy_file: Path
    rendered: Path


@contextlib.contextmanager
def deployed(kind: HostKind, work: Path, policy: dict[str, Any] | None = None, *,
             net: LabNet | None = None) -> Iterator[Stock]:
    """One stock host of ``kind`` running ``policy`` (default: the behaviour policy), on ``net`` or on a
    fresh lab network of its own."""
    need_lab(*LAB_TOOLS)
    policy_file, plan, rendered = render(kind, work, policy)
    with contextlib.ExitStack() as stack:
        network = net if net is not None else stack.enter_context(LabNet())
        host = stack.enter_context(network.host(kind))
        prepare_auth(host, kind)
        kind.deploy(host, rendered, plan)
        try:
            yield Stock(kind, network, host, plan, policy_file, rendered)
        finally:
            kind.stop(host)


@pytest.fixture(scope="module", params=sorted(registered_kinds()))
def stock(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stock]:
    kind = registered_kinds()[request.param]
    with deployed(kind, tmp_path_factory.mktemp(kind.name)) as running:
        yield running
