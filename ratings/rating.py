"""The ``Rating`` value type, the conservative rating, and input checks shared by the systems."""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple, Sequence

__all__ = ["Rating", "conservative"]


class Rating(NamedTuple):
    """A Gaussian belief about one player's skill: mean ``mu`` and standard deviation ``sigma``."""

    mu: float
    """Estimated skill."""
    sigma: float
    """Uncertainty of the estimate (one standard deviation); always > 0."""


def conservative(mu: float, sigma: float, k: float = 3.0) -> float:
    """The conservative rating ``mu - k*sigma``: a skill the player exceeds with high confidence.

    With ``k=3`` a new, unproven member ranks below any member whose games have pinned it down,
    which is what leaderboards and pruning want.
    """
    return float(mu) - float(k) * float(sigma)


def check_rating(rating: object, where: str) -> Rating:
    """Return ``rating`` as a ``Rating``, or raise ``ValueError`` naming ``where`` and the problem.

    Accepts anything with ``mu`` and ``sigma`` attributes (a ``trueskill.Rating``, a pool member)
    or a ``(mu, sigma)`` pair, so callers need not convert first.
    """
    if hasattr(rating, "mu") and hasattr(rating, "sigma"):
        mu, sigma = rating.mu, rating.sigma  # type: ignore[attr-defined]
    else:
        try:
            mu, sigma = rating  # type: ignore[misc]
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected a Rating (mu, sigma), got {rating!r}") from None
    try:
        mu, sigma = float(mu), float(sigma)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: mu and sigma must be numbers, got mu={mu!r}, sigma={sigma!r}") from None
    if not math.isfinite(mu):
        raise ValueError(f"{where}: mu must be finite, got {mu!r}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"{where}: sigma must be a finite number > 0, got {sigma!r}")
    return Rating(mu, sigma)


def check_ranks(ranks: Sequence[float], n: int, what: str) -> list[float]:
    """Ranks as a list of numbers, one per team/seat; ``ValueError`` names what is wrong."""
    try:
        ranks = list(ranks)
    except TypeError:
        raise ValueError(f"ranks must be a sequence of numbers, got {ranks!r}") from None
    if len(ranks) != n:
        raise ValueError(f"ranks has {len(ranks)} entries but there are {n} {what}: {ranks!r}")
    for i, r in enumerate(ranks):
        if isinstance(r, bool) or not isinstance(r, numbers.Real) or not math.isfinite(r):
            raise ValueError(f"ranks[{i}] must be a finite number (1 = best), got {r!r}")
    return ranks
