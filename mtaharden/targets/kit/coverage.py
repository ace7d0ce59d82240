# kit: ready
"""One coverage recorder per plan: each lowering step states what it did at the point it decides it.

A target that describes its coverage in a separate pass re-tests the conditions its lowering already
tested, and the two drift apart; recording while deciding makes each gap decided once (the way SQLGlot's
generator collects ``unsupported()`` while it generates). An element recorded twice is a bug in the
target (two steps claim one element), so it raises at once instead of showing two rows in COVERAGE.md.
"""

from __future__ import annotations

from ..base import Coverage, Status


class RecordedTwice(RuntimeError):
    """A target recorded one element twice: a programming error, not bad input (so not a ValueError)."""


class Recorder:
    """Coverage collected while lowering: each step states what it did at the point it decides it."""

    def __init__(self) -> None:
        self._items: dict[str, Coverage] = {}  # dicts keep insertion order: the order recorded

    def enforced(self, element: str, detail: str) -> None:
        """``element`` is carried out as the policy says."""
        self.record(element, "enforced", detail)

    def approximated(self, element: str, detail: str) -> None:
        """``element`` is carried out with a difference ``detail`` names."""
        self.record(element, "approximated", detail)

    def unsupported(self, element: str, detail: str) -> None:
        """``element`` is not carried out; ``detail`` says why (and what to do instead)."""
        self.record(element, "unsupported", detail)

    def record(self, element: str, status: Status, detail: str) -> None:
        """Record ``element`` once; a status computed elsewhere (e.g. from a capability table) goes here."""
        earlier = self._items.get(element)
        if earlier is not None:
            raise RecordedTwice(f"coverage of {element!r} recorded twice: {earlier.status} ({earlier.detail!r}), "
                                f"then {status} ({detail!r})")
        self._items[element] = Coverage(element, status, detail)

    def items(self) -> tuple[Coverage, ...]:
        """Everything recorded, in the order recorded (a :class:`~mtaharden.targets.base.Plan`'s coverage)."""
        return tuple(self._items.values())
