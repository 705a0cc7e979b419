"""``[quality]``: how audit samples are drawn, and the grid their interactions are scored on.

``per_advisor`` interactions are drawn per advisor and channel among those closed in the period
(fewer when fewer were closed), with ``seed`` unless the request names its own: the same seed
over the same journal draws the same sample. ``[quality.grid.<criterion>]`` names each criterion
of the audit grid with its ``weight``; every criterion is scored from 0 to ``scale`` (4 by
default), and the weighted score is ``sum(weight * score) / (sum(weight) * scale) * 100``.
Mystery-shopper results are scored on the same grid.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from aiguillage.engine.audits import MAX_PER_ADVISOR, is_code

__all__ = ["DEFAULT_GRID", "Criterion", "QualitySettings", "weighted_score"]


class Criterion(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """One criterion of the audit grid."""

    weight: Annotated[float, msgspec.Meta(gt=0, le=100)]
    """Its weight in the weighted score, relative to the others'."""


DEFAULT_GRID: dict[str, Criterion] = {
    "tone_charter": Criterion(weight=3.0),
    "accuracy": Criterion(weight=3.0),
    "completeness": Criterion(weight=2.0),
    "deadline": Criterion(weight=2.0),
}
"""PLACEHOLDER weights, until the contract's grid is known."""


class QualitySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Audit sampling and the audit grid."""

    per_advisor: Annotated[int, msgspec.Meta(ge=1, le=MAX_PER_ADVISOR)] = 5
    """How many closed interactions an audit draws per advisor and channel."""
    seed: int = 0
    """The draw's seed when a request names none."""
    scale: Annotated[int, msgspec.Meta(ge=1, le=100)] = 4
    """Each criterion is scored from 0 to this."""
    grid: dict[str, Criterion] = msgspec.field(default_factory=lambda: dict(DEFAULT_GRID))
    """``[quality.grid.<criterion>]``: the criteria, each with its weight."""

    def __post_init__(self) -> None:
        # msgspec reports a ValueError raised here with the table's path.
        if not self.grid:
            raise ValueError("grid: name at least one criterion, as [quality.grid.accuracy]")
        for name in self.grid:
            if not is_code(name):
                raise ValueError(
                    f"grid: {name!r} is not a criterion name: use letters, digits, _ - or ."
                )


def weighted_score(scores: dict[str, int], quality: QualitySettings) -> float:
    """Return the weighted score (0 to 100) of scores on every criterion of the grid."""
    total = sum(criterion.weight for criterion in quality.grid.values())
    earned = sum(quality.grid[name].weight * scores[name] for name in quality.grid)
    return round(earned / (total * quality.scale) * 100, 2)
