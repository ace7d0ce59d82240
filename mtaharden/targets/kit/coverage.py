# kit: ready
"""One coverage recorder per plan: each lowering step states what it did at the point it decides it.

A target that describes its coverage in a separate pass re-tests the conditions its lowering already
tested, and the two drift apart; recording while deciding makes each gap decided once (the way SQLGlot's
generator collects ``unsupported()`` while it generates). An element recorded twice is a bug in the
target (two steps claim one element), so it raises at once instead of showing two rows in COVERAGE.md.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from ...policy import Policy
from ..base import Coverage, Status

# Sections no MTA target carries out: DNS records (``mtaharden dns``) and mail-client settings (``mtaharden clients``).
NOT_SERVER_ELEMENTS = frozenset({"version", "targets", "published", "clients"})


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

    def covers(self, element: str) -> bool:
        """Whether a row already speaks for ``element``: itself, a section above it, or a part of it."""
        return any(element == row or element.startswith((row + ".", row + "[")) or row.startswith(
            (element + ".", element + "[")) for row in self._items)

    def unsupported_rest(self, policy: Policy, detail: str) -> None:
        """Each element the policy states that no row speaks for yet, unsupported with ``detail``: what a target
        that decides element by element (a guide, a checklist) has no step for is reported, never dropped."""
        for element in stated_elements(policy):
            if not self.covers(element):
                self.unsupported(element, detail)

    def items(self) -> tuple[Coverage, ...]:
        """Everything recorded, in the order recorded (a :class:`~mtaharden.targets.base.Plan`'s coverage)."""
        return tuple(self._items.values())


def stated_elements(model: BaseModel, policy: Policy | None = None, prefix: str = "") -> Iterator[str]:
    """The server elements the policy file states, as dotted paths down to the first value that is no section
    (a list is one element); ``targets``, ``published`` and ``clients`` are no server's."""
    whole = policy or model
    assert isinstance(whole, Policy)
    for name in type(model).model_fields:
        path = f"{prefix}{name}"
        if (not prefix and name in NOT_SERVER_ELEMENTS) or not whole.states(path):
            continue
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from stated_elements(value, whole, path + ".")
        else:
            yield path
