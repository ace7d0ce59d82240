"""Every target says what it does with every element a policy states: no element is dropped unsaid.

A target that decides element by element (a guide, a checklist, a delivery filter) can miss a section the
policy gained later; this runs every registered target on a policy that states every section, today's
hardening keys included, and asks for a coverage row that speaks for each stated element.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from mtaharden.policy import load_policy_text
from mtaharden.targets.base import registered
from mtaharden.targets.kit.coverage import Recorder, stated_elements
from tests.conftest import EXAMPLE_POLICY

HARDENING: dict[str, Any] = {
    "screening": {"enabled": True, "dnsbl": {"sites": [{"zone": "zen.spamhaus.org", "weight": 2}], "threshold": 2}},
    "sender_auth": {"spf": {"enabled": True}, "dkim": {"enabled": True}, "dmarc": {"enabled": True}},
    "dkim_signing": [{"domain": "example.edu.cn", "selector": "s1", "key": "/etc/dkimkeys/a.key"}],
    "outbound": {"tls": "dane"},
}


def _everything_stated() -> str:
    data = copy.deepcopy(yaml.safe_load(EXAMPLE_POLICY.read_text()))
    data.update(copy.deepcopy(HARDENING))
    data["smtp"]["bare_newlines"] = "reject"
    for options in data["targets"].values():
        options.pop("allow_unsupported", None)  # the rows are asked for, not whether rendering may go on
    return yaml.safe_dump(data)


@pytest.mark.parametrize("name", sorted(registered()))
def test_every_stated_element_has_a_row(name: str) -> None:
    policy = load_policy_text(_everything_stated())
    stated = list(stated_elements(policy))
    assert {"screening.enabled", "sender_auth.spf.enabled", "dkim_signing", "outbound.tls",
            "smtp.bare_newlines", "tls.cert"} <= set(stated)
    rows = Recorder()
    for row in registered()[name].plan(policy).coverage:
        rows.record(row.element, row.status, row.detail)
    assert [element for element in stated if not rows.covers(element)] == []


def test_the_rest_is_recorded_once_and_only_where_no_row_speaks() -> None:
    policy = load_policy_text(_everything_stated())
    rec = Recorder()
    rec.enforced("screening", "done")
    rec.unsupported_rest(policy, "no step")
    elements = [row.element for row in rec.items()]
    assert not any(e.startswith("screening.") for e in elements)  # the section's row speaks for its parts
    assert "sender_auth.dmarc.enabled" in elements and "published.spf" not in elements and len(set(elements)) \
        == len(elements)
