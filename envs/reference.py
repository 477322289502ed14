"""Weightless reference policies shared by every game, and the sampler they use.

``sample_from_probs`` and ``UniformRandomPolicy`` live here (not in ``league``) because the env
needs them without importing ``league``; ``league.models`` re-exports them.

Policies may offer ``probs(obs, mask) -> [B, n_actions]`` besides ``act``: the self-play envs
then draw each copy's action with that copy's own generator, which is what makes a vectorized
run reproduce single-env runs draw for draw.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["BestMovePolicy", "sample_from_probs", "sample_with_uniforms", "UniformRandomPolicy",
           "UniformBoxPolicy", "UniformMultiDiscretePolicy", "uniform_policy"]


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


class UniformBoxPolicy:
    """Uniform over a ``Box`` action space's bounds (``envs.spaces`` box spec); no mask."""

    def __init__(self, low: Sequence[float], high: Sequence[float]):
        self.low = np.asarray(low, np.float64).reshape(-1)
        self.high = np.asarray(high, np.float64).reshape(-1)

    def act(self, obs: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """``[B, d]`` float32 actions, each component uniform in its bounds."""
        u = rng.random((obs.shape[0], self.low.size))
        return (self.low + u * (self.high - self.low)).astype(np.float32)


class UniformMultiDiscretePolicy:
    """Each component uniform over its legal values (a mask is the components' masks concatenated)."""

    def __init__(self, nvec: Sequence[int]):
        self.nvec = [int(n) for n in nvec]
        self.offsets = np.cumsum([0, *self.nvec[:-1]]).tolist()

    def act(self, obs: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """``[B, k]`` int64 actions."""
        out = np.empty((obs.shape[0], len(self.nvec)), np.int64)
        for k, (n, off) in enumerate(zip(self.nvec, self.offsets)):
            probs = np.full((obs.shape[0], n), 1.0 / n) if mask is None else \
                np.asarray(mask[:, off:off + n], np.float64)
            out[:, k] = sample_from_probs(probs / probs.sum(axis=1, keepdims=True), rng)
        return out


def uniform_policy(spec: Mapping[str, Any]) -> Any:
    """The uniform-random policy of an action spec (``envs.spaces``)."""
    kind = spec.get("type", "discrete")
    if kind == "box":
        return UniformBoxPolicy(spec["low"], spec["high"])
    if kind == "multi_discrete":
        return UniformMultiDiscretePolicy(spec["nvec"])
    return UniformRandomPolicy(int(spec["n"]))


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
