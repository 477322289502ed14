"""Elo, kept for comparison with the literature; multi-player games are scored pairwise."""

from __future__ import annotations

import math
from typing import Sequence

from ratings.rating import check_ranks

__all__ = ["Elo"]


class Elo:
    """Elo ratings with update factor ``k`` and starting rating ``initial`` (400-point logistic scale).

    A game with N players counts as every pair playing each other once (win 1, draw 0.5,
    loss 0); the summed changes are divided by N - 1 so that a 2-player game is ordinary Elo
    and a player's largest possible change does not grow with the number of seats.
    """

    def __init__(self, k: float = 32.0, initial: float = 1500.0) -> None:
        self.k = float(k)
        self.initial = float(initial)
        if not (math.isfinite(self.k) and self.k > 0):
            raise ValueError(f"k must be a finite number > 0, got {k!r}")
        if not math.isfinite(self.initial):
            raise ValueError(f"initial must be finite, got {initial!r}")

    def __repr__(self) -> str:
        return f"Elo(k={self.k!r}, initial={self.initial!r})"

    @staticmethod
    def expected(a: float, b: float) -> float:
        """Expected score of a player rated ``a`` against one rated ``b``."""
        return 1.0 / (1.0 + 10.0 ** ((float(b) - float(a)) / 400.0))

    def rate(self, ratings: Sequence[float], ranks: Sequence[float]) -> list[float]:
        """New ratings after one game; ``ranks``: 1 = best, equal ranks draw."""
        rs = [float(r) for r in ratings]
        if len(rs) < 2:
            raise ValueError(f"a game needs at least 2 players, got {len(rs)}")
        for i, r in enumerate(rs):
            if not math.isfinite(r):
                raise ValueError(f"ratings[{i}] must be finite, got {r!r}")
        ranks = check_ranks(ranks, len(rs), "players")
        n = len(rs)
        new = []
        for i in range(n):
            delta = 0.0
            for j in range(n):
                if i == j:
                    continue
                score = 1.0 if ranks[i] < ranks[j] else 0.5 if ranks[i] == ranks[j] else 0.0
                delta += score - self.expected(rs[i], rs[j])
            new.append(rs[i] + self.k * delta / (n - 1))
        return new
