"""The bases of the policy models, in their own module so the per-target option models can share them.

Why here: ``model.py`` builds ``Targets`` from ``policy/options/``, whose modules need these bases;
kept apart, neither imports the other while it is half loaded.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .types import ElementPath


class StrictModel(BaseModel):
    """Base: unknown keys are errors, no coercion (a quoted "yes" is not a boolean), values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class TargetOptions(StrictModel):
    """What every target's options have: the policy elements the site lets the target leave unenforced."""

    allow_unsupported: list[ElementPath] = Field(
        default_factory=list,
        description="policy elements (dotted, e.g. header_checks) this target may leave unenforced",
    )
