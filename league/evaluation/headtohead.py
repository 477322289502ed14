"""Paired head-to-head play: the check a leaderboard's order has to pass.

A rating is a claim that one member is stronger than another.  The direct test: seat each
member of a role in that role's seat for the same ``episodes`` episodes (the same deal seeds,
the same opponents in the other seats, drawn uniformly from the other roles' active members),
and compare mean returns.  Pairing by episode removes the cards and the opponents from the
difference, so its standard error is small; a pair ordered by conservative rating opposite to
its paired difference by more than ``z`` standard errors is an *inversion*: the leaderboard
says the wrong thing there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from envs import Game, Match, MatchEngine
from envs.opponents import MemberId, Policy

__all__ = ["PairedReturns", "Inversion", "HeadToHead", "paired_returns", "inversions", "mean_interval",
           "check_order"]


class PairedReturns(NamedTuple):
    """Per member of one role, its return in each of the shared episodes (same order for all)."""

    role: str
    seat: str
    returns: dict[int, np.ndarray]


class Inversion(NamedTuple):
    """Two members of a role the ratings order opposite to their paired head-to-head play."""

    role: str
    ranked_higher: int
    ranked_lower: int
    mean_difference: float
    """Mean return per episode of ``ranked_higher`` minus ``ranked_lower`` (negative here)."""
    standard_error: float


def mean_interval(values: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """Mean and half-width of its normal ``z`` interval (0 for fewer than two values)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return float(values.mean()) if len(values) else math.nan, 0.0
    return float(values.mean()), float(z * values.std(ddof=1) / math.sqrt(len(values)))


def paired_returns(game: Game, members: Mapping[str, Sequence[int]],
                   load: Callable[[MemberId], Policy], *, episodes: int, seed: int,
                   roles: Sequence[str] | None = None, max_copies: int = 512) -> list[PairedReturns]:
    """Play every member of each role in ``roles`` (all roles with a member by default) in its
    role's first seat for the same ``episodes`` episodes.

    ``members``: role -> member ids (e.g. each role's active members).  Opponents in the other
    seats are drawn uniformly from their roles' members, one draw per episode shared by every
    candidate of the role; the deals come from ``seed``.
    """
    engine = MatchEngine(game, load, max_copies=max_copies)
    rng = np.random.default_rng(seed)
    out = []
    try:
        for role in (roles if roles is not None else [r for r in members if members[r]]):
            seat = next(s for s in game.seats if game.roles[s] == role)
            others = [s for s in game.seats if s != seat]
            draws = [{s: int(rng.choice(members[game.roles[s]])) for s in others} for _ in range(episodes)]
            deals = [int(x) for x in rng.integers(2 ** 31 - 1, size=episodes)]
            returns = {}
            for m in members[role]:
                results = engine.play(Match({**d, seat: int(m)}, k) for d, k in zip(draws, deals))
                returns[int(m)] = np.array([r.returns[seat] for r in results], dtype=float)
            out.append(PairedReturns(role, seat, returns))
    finally:
        engine.close()
    return out


def inversions(paired: Sequence[PairedReturns], score: Mapping[int, float], *, z: float = 2.5) -> list[Inversion]:
    """Pairs within a role whose order by ``score`` (higher = ranked better, e.g. conservative
    rating) is opposite to their paired mean return by more than ``z`` standard errors."""
    found = []
    for p in paired:
        ids = sorted(p.returns, key=lambda m: -score[m])
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                if score[a] == score[b]:
                    continue
                d = p.returns[a] - p.returns[b]
                mean, half = mean_interval(d, z=1.0)
                if half > 0 and mean < -z * half:
                    found.append(Inversion(p.role, a, b, mean, half))
                elif half == 0 and mean < 0:
                    found.append(Inversion(p.role, a, b, mean, 0.0))
    return found


class HeadToHead(NamedTuple):
    """A leaderboard's order checked against paired play (``check_order``)."""

    means: dict[int, tuple[float, float]]
    """Member -> (mean return per episode over the shared episodes, half-width of its 95 % interval)."""
    inversions: list[Inversion]
    pairs: int
    """Pairs of members compared (within each role)."""


def check_order(game: Game, members: Mapping[str, Sequence[int]], load: Callable[[MemberId], Policy],
                score: Mapping[int, float], *, episodes: int, seed: int, z: float = 2.5) -> HeadToHead:
    """Paired play of every role's ``members`` (``paired_returns``) and the pairs ``score``
    (higher = ranked better) orders opposite to it by more than ``z`` standard errors."""
    paired = paired_returns(game, members, load, episodes=episodes, seed=seed)
    means = {m: mean_interval(v) for p in paired for m, v in p.returns.items()}
    pairs = sum(len(p.returns) * (len(p.returns) - 1) // 2 for p in paired)
    return HeadToHead(means, inversions(paired, score, z=z), pairs)
