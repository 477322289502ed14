"""Opponent weights that follow the learner during a turn (``sampling.online``).

PFSP weighs opponents by the learner's chance of beating them; estimated once at the start of a
turn, that chance describes the member the learner started from, not the learner it becomes
(issue 11, cause 1).  ``OnlineWinRates`` starts from the turn-start estimate and moves it with
every result the learner gets, as AlphaStar's PFSP uses current win rates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from league.population.sampling import Candidate, OpponentSampler, scheme_probabilities, win_probabilities

__all__ = ["OnlineWinRates"]


class OnlineWinRates:
    """A per-seat weigher whose ``x`` follows the learner's results during the turn.

    Each candidate's estimate starts at the turn-start ``x`` (ratings or payoff table) with the
    weight of ``prior_games`` games; every result the learner gets against it (1 win, 1/2 draw,
    0 loss) is added with older ones discounted by half every ``halflife`` games, so the weights
    track the learner as it improves instead of the member it started from.  Called with a
    seat's candidates it returns the scheme's distribution over them.
    """

    def __init__(self, sampler: OpponentSampler, learner: object, *, learner_id: int | None = None):
        self.sampler = sampler
        self.learner = learner
        self.learner_id = learner_id
        cfg = sampler.config
        self.prior_games = float(cfg.online_prior_games)
        self.decay = 0.5 ** (1.0 / float(cfg.online_halflife))
        self._score: dict[int, float] = {}
        self._weight: dict[int, float] = {}
        self.games: dict[int, int] = {}
        """Results recorded per candidate id this turn."""

    def _start(self, candidates: Sequence[Candidate]) -> None:
        new = [c for c in candidates if int(c.id) not in self._weight]
        if not new:
            return
        x = win_probabilities(self.learner, new, model=self.sampler.model, payoff=self.sampler.payoff,
                              min_games=self.sampler.config.min_games, learner_id=self.learner_id)
        for c, xk in zip(new, x):
            self._score[int(c.id)] = float(xk) * self.prior_games
            self._weight[int(c.id)] = self.prior_games

    def x(self, candidates: Sequence[Candidate]) -> np.ndarray:
        """The current estimate of the learner's score against each candidate."""
        self._start(candidates)
        return np.array([self._score[int(c.id)] / self._weight[int(c.id)] for c in candidates])

    def record(self, member_id: int, score: float) -> None:
        """One result of the learner against ``member_id`` (ignored for a member never weighed)."""
        k = int(member_id)
        if k not in self._weight:
            return
        self._score[k] = self._score[k] * self.decay + float(score)
        self._weight[k] = self._weight[k] * self.decay + 1.0
        self.games[k] = self.games.get(k, 0) + 1

    def __call__(self, candidates: Sequence[Candidate]) -> np.ndarray:
        return scheme_probabilities(self.sampler.scheme, candidates, self.x(candidates), self.sampler.config)
