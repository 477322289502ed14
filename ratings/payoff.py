"""The empirical payoff table: wins, draws and games per ordered pair of members.

Opponent sampling reads it (a pair's win rate once it has enough games), the evaluator extends it
match by match, and reports draw it; it is rebuilt from any match log whose rows carry
``member_ids``, ``ranks`` and ``kind`` (``league.pool.Pool.matches()`` gives one).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["PayoffTable"]


class PayoffTable:
    """Wins, draws and games per ordered pair of members, from every pair of seats in a match.

    In an N-seat match each pair of seats counts as one game between those two members: the
    better-ranked one wins, equal ranks draw.  ``win_rate(a, b)`` is ``a``'s score against ``b``
    ((wins + draws / 2) / games); opponent sampling reads it once a pair has enough games.
    """

    def __init__(self) -> None:
        self._table: dict[tuple[int, int], list[int]] = {}  # (a, b) -> [a's wins, draws, games]

    def record(self, member_ids: Sequence[int], ranks: Sequence[int]) -> None:
        """Count one match: member ids and their ranks, seat by seat."""
        if len(member_ids) != len(ranks):
            raise ValueError(f"{len(member_ids)} member ids but {len(ranks)} ranks")
        for s, t in itertools.combinations(range(len(member_ids)), 2):
            a, b = int(member_ids[s]), int(member_ids[t])
            if a == b:
                continue  # a member against itself says nothing about who is better
            ab = self._table.setdefault((a, b), [0, 0, 0])
            ba = self._table.setdefault((b, a), [0, 0, 0])
            ab[2] += 1
            ba[2] += 1
            if ranks[s] < ranks[t]:
                ab[0] += 1
            elif ranks[t] < ranks[s]:
                ba[0] += 1
            else:
                ab[1] += 1
                ba[1] += 1

    @classmethod
    def from_matches(cls, matches: Iterable[Any], kinds: Iterable[str] | None = None) -> PayoffTable:
        """Rebuild the table from a match log (``pool.matches()``), optionally only some kinds."""
        wanted = None if kinds is None else set(kinds)
        table = cls()
        for m in matches:
            if wanted is None or getattr(m, "kind", None) in wanted:
                table.record(m.member_ids, m.ranks)
        return table

    def wins(self, a: int, b: int) -> int:
        """Games ``a`` won against ``b``."""
        return self._table.get((a, b), (0, 0, 0))[0]

    def draws(self, a: int, b: int) -> int:
        """Games between ``a`` and ``b`` that were draws."""
        return self._table.get((a, b), (0, 0, 0))[1]

    def games(self, a: int, b: int) -> int:
        """Games between ``a`` and ``b``."""
        return self._table.get((a, b), (0, 0, 0))[2]

    def win_rate(self, a: int, b: int) -> float:
        """``a``'s score against ``b``: (wins + draws / 2) / games; 0.5 before any game."""
        w, d, n = self._table.get((a, b), (0, 0, 0))
        return 0.5 if n == 0 else (w + 0.5 * d) / n

    def matrix(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(win rates, games) as ``[len(ids), len(ids)]`` arrays; row = the scoring member."""
        n = len(ids)
        rates, games = np.full((n, n), 0.5), np.zeros((n, n), dtype=int)
        for i, a in enumerate(ids):
            for j, b in enumerate(ids):
                rates[i, j], games[i, j] = self.win_rate(a, b), self.games(a, b)
        return rates, games

    def pairs(self) -> list[tuple[int, int]]:
        """Every ordered pair with at least one game."""
        return sorted(self._table)

