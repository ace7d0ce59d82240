"""Declared divergences: a failed check the probed host's target says it cannot enforce is no finding.

Why: mtaharden's own output for some MTAs cannot do everything the policy asks, and its coverage says so
(qmail-smtpd's HELP answer is compiled in and names the software). A probe that calls such a host
``deviates`` rolls every one of them back, although the operator was told. With ``--policy`` and
``--mta`` the probe takes that target's coverage for the policy (computed by the target itself, never
read from templates or COVERAGE.md) and turns a deviation into ``declared`` when the most specific
coverage row for the check's element (``smtp.banner[HELP]``, else ``smtp.banner``) is not ``enforced``.
The quoted reply stays in the detail and the coverage text is added, so the divergence stays visible.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from mtaharden.targets.base import HOST_ITSELF, Coverage, registered_target

from .verdict import CheckResult, CheckStatus

if TYPE_CHECKING:
    from mtaharden.policy import Policy


@dataclasses.dataclass(frozen=True)
class Declarations:
    """The coverage of one target for one policy, by element path."""

    target: str
    rows: Mapping[str, Coverage]

    @classmethod
    def for_target(cls, target: str, policy: Policy) -> Declarations:
        chosen = registered_target(target)
        if chosen is None:  # the command line checked the name against the registered targets
            raise KeyError(target)
        coverage = chosen.plan(policy).coverage
        return cls(target, {row.element: row for row in coverage})

    def row_for(self, element: str) -> Coverage | None:
        """The most specific row for ``element``: itself, then each parent (``a.b[HELP]`` → ``a.b`` → ``a``)."""
        path = element
        while path:
            if path in self.rows:
                return self.rows[path]
            cut = max(path.rfind("["), path.rfind("."))
            path = path[:cut] if cut > 0 else ""
        return None

    def trusts_itself(self) -> Coverage | None:
        """The row saying the target relays for clients on the host itself (Sendmail's class w), if any."""
        row = self.rows.get(f"networks.trusted[{HOST_ITSELF}]")
        return row if row is not None and row.status != "enforced" else None

    def judge(self, check: CheckResult) -> CheckResult:
        """``check`` as ``declared`` when it deviates where the target declares its element not enforced."""
        if check.status is not CheckStatus.DEVIATION or not check.element:
            return check
        row = self.row_for(check.element)
        if row is None or row.status == "enforced":
            return check
        return dataclasses.replace(check, status=CheckStatus.DECLARED,
                                   declared=f"{self.target} coverage of {row.element}: {row.status}: {row.detail}")


def declare(checks: Iterable[CheckResult], declarations: Declarations | None) -> list[CheckResult]:
    """Every check, the declared divergences marked; without declarations (no --mta or --policy) as they are."""
    if declarations is None:
        return list(checks)
    return [declarations.judge(check) for check in checks]
