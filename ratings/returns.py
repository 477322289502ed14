"""Mean return per episode of every member against the league, with a confidence interval.

A rating says who ranks ahead; the match log also keeps what each seat won (``returns``: a
seat's return summed over the match's ``episodes``).  This is the same evidence in the game's
own units (chips per hand, points per game), beside the rating on the leaderboard.

The unit of sampling is the match, not the episode: the episodes of a block share deals and
opponents, so they are not independent.  The mean is the ratio ``sum(returns) / sum(episodes)``
over the member's matches, and its standard error is the ratio estimator's
``sqrt(sum((r_i - mean * e_i)^2) / (n (n - 1))) / mean(e)``; the interval is ``mean +- z * SE``.

Seats where the member also sits in another seat of the same match (a mirror match in a
symmetric game) are left out: there it plays itself, not the league.  Matches logged without
returns are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

__all__ = ["MeanReturn", "mean_returns"]


class MeanReturn(NamedTuple):
    """A member's mean return per episode against the league."""

    mean: float
    """Return per episode, over all its logged matches."""
    half_width: float
    """Half-width of the interval (NaN with fewer than two matches)."""
    matches: int
    """Matches it counts."""
    episodes: int
    """Episodes those matches were played over."""


def _fields(match: Any) -> tuple[list[Any], Any, int, Any]:
    if isinstance(match, Mapping):
        return list(match["member_ids"]), match.get("returns"), int(match.get("episodes", 1)), match.get("kind")
    return list(match.member_ids), getattr(match, "returns", None), int(getattr(match, "episodes", 1)), \
        getattr(match, "kind", None)


def mean_returns(matches: Iterable[Any], *, kinds: Iterable[str] | None = None,
                 z: float = 1.96) -> dict[Any, MeanReturn]:
    """Per member id, its mean return per episode with a normal ``z`` interval (1.96: 95 %).

    Args:
        matches: a match log (``pool.matches()``) or mappings with ``member_ids``, ``returns``
            and ``episodes`` (and ``kind`` when filtering).
        kinds: count only matches of these kinds (all when None).
        z: interval half-width in standard errors.
    """
    wanted = None if kinds is None else set(kinds)
    per: dict[Any, tuple[list[float], list[int]]] = {}
    for match in matches:
        ids, returns, episodes, kind = _fields(match)
        if returns is None or (wanted is not None and kind not in wanted):
            continue
        if len(returns) != len(ids):
            raise ValueError(f"a match has {len(ids)} member ids but {len(returns)} returns")
        for member, r in zip(ids, returns):
            if ids.count(member) > 1:
                continue
            rs, es = per.setdefault(member, ([], []))
            rs.append(float(r))
            es.append(episodes)
    out: dict[Any, MeanReturn] = {}
    for member, (rs, es) in per.items():
        r, e = np.asarray(rs), np.asarray(es, dtype=float)
        mean = float(r.sum() / e.sum())
        n = len(r)
        if n < 2:
            half = math.nan
        else:
            se = math.sqrt(float(((r - mean * e) ** 2).sum()) / (n * (n - 1))) / float(e.mean())
            half = z * se
        out[member] = MeanReturn(mean, half, n, int(e.sum()))
    return out
