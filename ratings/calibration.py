"""Do the ratings' predictions come true?  First-place probabilities against what happened.

A rating system claims, for every match, a probability that each seat finishes first
(``ratings.first_place_probability``).  Pooled over many matches, among the seats given ~30 %
about 30 % should have won: a *reliability diagram* plots the observed frequency against the
predicted probability, bin by bin, and the *expected calibration error* (ECE) is the mean gap,
weighted by how many predictions fall in each bin.  The Brier score (mean squared error of the
probability) is compared with that of the constant predictor ``1 / seats``, which knows nothing
of skill: ratings that do not beat it say nothing.

A shared first place counts ``1 / k`` for each of the ``k`` seats sharing it, so the observed
values of a match sum to 1 as the predicted ones do.

Two ways to get predictions:

* :func:`predict_first_place`: fixed ratings (say, the leaderboard's) on matches they did not
  see (held-out matches, ``benchmarks/rating_calibration.py``).
* :func:`prequential_first_place`: on the match log itself, each match predicted from the
  ratings of the matches *before* it (replayed with ``ratings.replay_trueskill``), so no match
  is predicted by ratings that already know its result.

Matches are anything ``ratings.replay`` accepts (``member_ids`` and ``ranks``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ratings.rating import Rating
from ratings.replay import _seating, replay_trueskill
from ratings.trueskill_system import TrueSkillSystem
from ratings.winprob import first_place_probability

__all__ = ["Calibration", "Reliability", "calibration", "ece_interval", "first_place_observed",
           "predict_first_place", "prequential_first_place", "reliability"]

BINS = 10
"""Equal-width probability bins of the ECE and the reliability diagram."""


class Calibration(NamedTuple):
    """How well predicted first-place probabilities match outcomes."""

    ece: float
    """Expected calibration error over ``BINS`` equal-width bins (0 = perfect)."""
    brier: float
    """Mean squared error of the predicted probabilities."""
    brier_constant: float
    """The Brier score of predicting ``1 / seats`` for every seat (the no-skill baseline)."""
    n: int
    """Predictions (seats) scored."""


class Reliability(NamedTuple):
    """The points of a reliability diagram: per bin with enough predictions, in bin order."""

    predicted: np.ndarray
    """Mean predicted probability in the bin."""
    observed: np.ndarray
    """Observed frequency of first place in the bin."""
    count: np.ndarray
    """Predictions in the bin."""


def first_place_observed(ranks: Sequence[Any]) -> np.ndarray:
    """Per seat, 1 for the sole winner, ``1 / k`` for each of ``k`` seats sharing first, else 0."""
    ranks = list(ranks)
    best = min(ranks)
    firsts = sum(r == best for r in ranks)
    return np.array([1.0 / firsts if r == best else 0.0 for r in ranks])


def predict_first_place(matches: Iterable[Any], ratings: Mapping[Any, Rating],
                        beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, observed) first place per seat of every match, from fixed ``ratings``."""
    pred: list[np.ndarray] = []
    obs: list[np.ndarray] = []
    for i, match in enumerate(matches):
        ids, ranks = _seating(match, i)
        pred.append(first_place_probability([ratings[m] for m in ids], beta))
        obs.append(first_place_observed(ranks))
    return _flat(pred), _flat(obs)


def prequential_first_place(matches: Iterable[Any], system: TrueSkillSystem,
                            initial: Mapping[Any, Rating] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, observed) first place per seat of every match in the log, each match
    predicted by the ratings replayed from the matches before it (players missing from
    ``initial`` start at ``system.new_rating()``)."""
    pred: list[np.ndarray] = []
    obs: list[np.ndarray] = []

    def observe(before: Sequence[Rating], ranks: Sequence[Any]) -> None:
        pred.append(first_place_probability(list(before), system.beta))
        obs.append(first_place_observed(ranks))

    replay_trueskill(matches, system, initial, observe=observe)
    return _flat(pred), _flat(obs)


def _flat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0)


def _bins(pred: np.ndarray, bins: int) -> np.ndarray:
    edges = np.linspace(0.0, 1.0, bins + 1)
    # digitize puts p = 1.0 past the last edge: clip it into the top bin.
    return np.clip(np.digitize(pred, edges) - 1, 0, bins - 1)


def calibration(pred: np.ndarray, obs: np.ndarray, seats: int, bins: int = BINS) -> Calibration:
    """ECE, Brier score and the constant predictor's Brier score of ``pred`` against ``obs``.

    ``seats``: seats per match, for the constant predictor ``1 / seats``.
    """
    pred, obs = np.asarray(pred, dtype=float), np.asarray(obs, dtype=float)
    if pred.shape != obs.shape:
        raise ValueError(f"{pred.shape} predictions but {obs.shape} observations")
    if len(pred) == 0:
        return Calibration(float("nan"), float("nan"), float("nan"), 0)
    which = _bins(pred, bins)
    ece = sum(abs(pred[which == b].mean() - obs[which == b].mean()) * (which == b).mean()
              for b in range(bins) if (which == b).any())
    return Calibration(float(ece), float(np.mean((pred - obs) ** 2)),
                       float(np.mean((1.0 / seats - obs) ** 2)), int(len(pred)))


def ece_interval(pred: np.ndarray, obs: np.ndarray, seats: int, *, level: float = 0.9, draws: int = 1000,
                 bins: int = BINS, seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval of the ECE: matches (``seats`` consecutive predictions each, as
    ``predict_first_place`` lays them out) resampled with replacement, ``draws`` times.

    The ECE of a finite sample is itself noisy (and biased up: every bin's gap picks up its
    sampling error), so a single value near a bar says little without it.
    """
    pred, obs = np.asarray(pred, dtype=float), np.asarray(obs, dtype=float)
    if pred.shape != obs.shape or len(pred) % seats:
        raise ValueError(f"{pred.shape} predictions and {obs.shape} observations are not whole matches of {seats}")
    if len(pred) == 0:
        return float("nan"), float("nan")
    p, o = pred.reshape(-1, seats), obs.reshape(-1, seats)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        pick = rng.integers(len(p), size=len(p))
        values.append(calibration(p[pick].ravel(), o[pick].ravel(), seats, bins).ece)
    tail = 50.0 * (1.0 - level)
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return float(lo), float(hi)


def reliability(pred: np.ndarray, obs: np.ndarray, bins: int = BINS, min_count: int = 5) -> Reliability:
    """Reliability diagram points; bins with fewer than ``min_count`` predictions are left out
    (their observed frequency is mostly noise)."""
    pred, obs = np.asarray(pred, dtype=float), np.asarray(obs, dtype=float)
    which = _bins(pred, bins)
    keep = [b for b in range(bins) if (which == b).sum() >= min_count]
    return Reliability(np.array([pred[which == b].mean() for b in keep]),
                       np.array([obs[which == b].mean() for b in keep]),
                       np.array([int((which == b).sum()) for b in keep], dtype=int))
