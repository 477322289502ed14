"""TrueSkill for any number of seats and teams, through the ``trueskill`` package.

``TrueSkillSystem`` owns a ``trueskill.TrueSkill`` environment built from its own settings; the
package's global environment (``trueskill.setup``) is never touched, so two systems with
different settings can live in one process.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import trueskill

from ratings.rating import Rating, check_ranks, check_rating
from ratings.winprob import first_place_probability, win_probability

__all__ = ["TrueSkillSystem"]


class TrueSkillSystem:
    """TrueSkill settings plus the operations the league needs.

    Ranks follow the league's convention: 1 is best, equal ranks are a draw (any numbers work,
    only their order matters).

    Args:
        mu: initial mean of a new rating.
        sigma: initial standard deviation of a new rating.
        beta: performance noise of one game; ``None`` means ``sigma / 2`` (trueskill's default).
        tau: dynamics added to sigma before each update.  0 by default because a member is a
            frozen checkpoint: its skill does not drift, so its uncertainty should only shrink.
        draw_probability: prior probability that a game between two equal teams is a draw.
    """

    def __init__(self, mu: float = 25.0, sigma: float = 25.0 / 3.0, beta: float | None = None,
                 tau: float = 0.0, draw_probability: float = 0.1) -> None:
        self.mu = float(mu)
        self.sigma = float(sigma)
        self.beta = self.sigma / 2.0 if beta is None else float(beta)
        self.tau = float(tau)
        self.draw_probability = float(draw_probability)
        if not math.isfinite(self.mu):
            raise ValueError(f"mu must be finite, got {mu!r}")
        if not (math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
        if not (math.isfinite(self.tau) and self.tau >= 0):
            raise ValueError(f"tau must be a finite number >= 0, got {tau!r}")
        if not 0.0 <= self.draw_probability < 1.0:
            raise ValueError(f"draw_probability must be in [0, 1), got {draw_probability!r}")
        self._env = self._make_env(None)
        self._precise_env: trueskill.TrueSkill | None = None

    def _make_env(self, backend: str | None) -> trueskill.TrueSkill:
        return trueskill.TrueSkill(mu=self.mu, sigma=self.sigma, beta=self.beta, tau=self.tau,
                                   draw_probability=self.draw_probability, backend=backend)

    @property
    def env(self) -> trueskill.TrueSkill:
        """The ``trueskill.TrueSkill`` environment this system rates with (do not mutate)."""
        return self._env

    def __repr__(self) -> str:
        return (f"TrueSkillSystem(mu={self.mu!r}, sigma={self.sigma!r}, beta={self.beta!r}, "
                f"tau={self.tau!r}, draw_probability={self.draw_probability!r})")

    def new_rating(self, mu: float | None = None, sigma: float | None = None) -> Rating:
        """A rating with this system's defaults for whatever is not given."""
        return check_rating((self.mu if mu is None else mu, self.sigma if sigma is None else sigma),
                            "new_rating")

    def rate(self, teams: Sequence[Sequence[Rating]], ranks: Sequence[float],
             weights: Sequence[Sequence[float]] | None = None) -> list[list[Rating]]:
        """New ratings after one match between ``teams``.

        Args:
            teams: one sequence of ratings per team (at least two teams, none empty).
            ranks: one rank per team, 1 = best; equal ranks are a draw.
            weights: optional partial-play weights in [0, 1], same shape as ``teams``: the share
                of the match each player took part in (1 = the whole match, 0 = not at all).

        Returns:
            New ratings, same shape and order as ``teams``.
        """
        try:
            teams = [list(t) for t in teams]
        except TypeError:
            raise ValueError("teams must be a sequence of sequences of ratings") from None
        if len(teams) < 2:
            raise ValueError(f"a match needs at least 2 teams, got {len(teams)}")
        for i, team in enumerate(teams):
            if not team:
                raise ValueError(f"teams[{i}] is empty; every team needs at least one rating")
        checked = [[check_rating(r, f"teams[{i}][{j}]") for j, r in enumerate(team)]
                   for i, team in enumerate(teams)]
        ranks = check_ranks(ranks, len(teams), "teams")
        if self.draw_probability == 0.0 and len(set(ranks)) < len(ranks):
            # trueskill divides by the draw margin's probability mass and fails obscurely.
            raise ValueError(f"ranks {ranks!r} contain a draw but draw_probability is 0")
        tweights = None if weights is None else self._check_weights(weights, checked)
        groups = [tuple(trueskill.Rating(r.mu, r.sigma) for r in team) for team in checked]
        try:
            rated = self._env.rate(groups, ranks=ranks, weights=tweights)
        except FloatingPointError:
            # A huge upset underflows the default backend's normal cdf; mpmath's arbitrary
            # precision gets through.  Built lazily because it is slow and rarely needed.
            if "mpmath" not in trueskill.backends.available_backends():
                raise
            if self._precise_env is None:
                self._precise_env = self._make_env("mpmath")
            rated = self._precise_env.rate(groups, ranks=ranks, weights=tweights)
        return [[Rating(float(r.mu), float(r.sigma)) for r in team] for team in rated]

    @staticmethod
    def _check_weights(weights: Sequence[Sequence[float]],
                       teams: list[list[Rating]]) -> list[tuple[float, ...]]:
        try:
            weights = [list(w) for w in weights]
        except TypeError:
            raise ValueError("weights must be a sequence of sequences of numbers, one per team") from None
        if len(weights) != len(teams):
            raise ValueError(f"weights has {len(weights)} teams but there are {len(teams)} teams")
        out = []
        for i, (w, team) in enumerate(zip(weights, teams)):
            if len(w) != len(team):
                raise ValueError(f"weights[{i}] has {len(w)} entries but teams[{i}] has {len(team)} players")
            for j, x in enumerate(w):
                try:
                    x = float(x)
                except (TypeError, ValueError):
                    raise ValueError(f"weights[{i}][{j}] must be a number, got {x!r}") from None
                if not 0.0 <= x <= 1.0:
                    raise ValueError(f"weights[{i}][{j}] must be in [0, 1], got {x!r}")
            out.append(tuple(float(x) for x in w))
        return out

    def rate_seats(self, ratings: Sequence[Rating], ranks: Sequence[float],
                   players: Sequence[object] | None = None) -> list[Rating]:
        """New ratings after a free-for-all where every seat is its own team.

        ``players`` (one key per seat, e.g. member ids) marks seats played by one player: a
        team played by one member in all its seats.  Such seats must share a rank; the player
        is rated once, as one entry, from its first seat's rating, and every one of its seats
        gets the result.
        """
        ratings = list(ratings)
        ranks = check_ranks(ranks, len(ratings), "seats")
        if players is None:
            return [team[0] for team in self.rate([[r] for r in ratings], ranks)]
        players = list(players)
        if len(players) != len(ratings):
            raise ValueError(f"players has {len(players)} entries but there are {len(ratings)} seats")
        first: dict[object, int] = {}
        for k, p in enumerate(players):
            j = first.setdefault(p, k)
            if ranks[j] != ranks[k]:
                raise ValueError(f"player {p!r} sits in seats {j} and {k} with different ranks "
                                 f"{ranks[j]!r} and {ranks[k]!r}; one player's seats share a rank")
        entries = list(first.values())
        rated = self.rate([[ratings[k]] for k in entries], [ranks[k] for k in entries])
        by_player = {players[k]: team[0] for k, team in zip(entries, rated)}
        return [by_player[p] for p in players]

    def quality(self, teams: Sequence[Sequence[Rating]]) -> float:
        """TrueSkill match quality (the draw probability the model predicts), in (0, 1]."""
        teams = [list(t) for t in teams]
        if len(teams) < 2 or not all(teams):
            raise ValueError("quality needs at least 2 non-empty teams")
        groups = [tuple(trueskill.Rating(*check_rating(r, f"teams[{i}][{j}]")) for j, r in enumerate(t))
                  for i, t in enumerate(teams)]
        return float(self._env.quality(groups))

    def win_probability(self, a: Rating, b: Rating) -> float:
        """Probability that ``a`` beats ``b`` 1v1: ``Phi((mu_a-mu_b)/sqrt(2 beta^2+sigma_a^2+sigma_b^2))``."""
        return win_probability(a, b, self.beta)

    def first_place_probability(self, ratings: Sequence[Rating]) -> np.ndarray:
        """Probability that each seat of an N-seat free-for-all finishes first (sums to 1)."""
        return first_place_probability(ratings, self.beta)
