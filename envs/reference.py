"""Weightless reference policies shared by every game, and the sampler they use.

``sample_from_probs`` and ``UniformRandomPolicy`` live here (not in ``league``) because the env
needs them without importing ``league``; ``league.models`` re-exports them.

Policies may offer ``probs(obs, mask) -> [B, n_actions]`` besides ``act``: the self-play envs
then draw each copy's action with that copy's own generator, which is what makes a vectorized
run reproduce single-env runs draw for draw.
"""

from __future__ import annotations

import abc

import numpy as np

__all__ = ["BestMovePolicy", "sample_from_probs", "sample_with_uniforms", "UniformRandomPolicy"]


def sample_with_uniforms(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling of one action per row from given uniforms ``u`` in [0, 1).

    Never returns an action of probability 0, even when rounding pushes ``u`` past the last
    cumulative value (it then takes the last action with positive probability).
    """
    cdf = np.cumsum(probs, axis=1)
    target = u.reshape(-1, 1) * cdf[:, -1:]
    actions = (target >= cdf).sum(axis=1)
    last_positive = probs.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
    return np.minimum(actions, last_positive)


def sample_from_probs(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Inverse-CDF sampling of one action per row, driven by a numpy generator (seedable)."""
    return sample_with_uniforms(probs, rng.random(probs.shape[0]))


class UniformRandomPolicy:
    """Uniform over legal actions (over all actions when there is no mask)."""

    def __init__(self, n_actions: int):
        self.n_actions = int(n_actions)

    def probs(self, obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Equal probability on every legal action of each row."""
        if mask is None:
            return np.full((obs.shape[0], self.n_actions), 1.0 / self.n_actions)
        legal = np.asarray(mask, dtype=np.float64)
        return legal / legal.sum(axis=1, keepdims=True)

    def act(self, obs: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """One uniformly drawn legal action per row."""
        return sample_from_probs(self.probs(obs, mask), rng)


class BestMovePolicy(abc.ABC):
    """Plays a best-scoring legal move, ties broken uniformly (the minimax references).

    Subclasses give ``move_scores(obs_row) -> [n_actions]`` scores for one observation.
    """

    n_actions: int

    @abc.abstractmethod
    def move_scores(self, obs_row: np.ndarray) -> np.ndarray:
        """Scores of every action for one observation (higher is better)."""

    def probs(self, obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Equal probability on every best-scoring legal action of each row."""
        out = np.zeros((obs.shape[0], self.n_actions))
        for b in range(obs.shape[0]):
            scores = np.asarray(self.move_scores(obs[b]), dtype=np.float64)
            if mask is not None:
                scores[~np.asarray(mask[b], dtype=bool)] = -np.inf
            best = scores == scores.max()
            out[b] = best / best.sum()
        return out

    def act(self, obs: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        return sample_from_probs(self.probs(obs, mask), rng)
