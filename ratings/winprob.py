"""Win probabilities predicted from Gaussian ratings (TrueSkill's performance model).

A player's performance in one game is drawn from ``N(mu, sigma^2 + beta^2)``: ``sigma`` is what we
do not know about the skill, ``beta`` is the game's own randomness.  The best performance wins.
Draws are not modelled here: these are probabilities of a strictly better performance, which is
what opponent sampling needs.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.special import log_ndtr

from ratings.rating import Rating, check_rating

__all__ = ["win_probability", "first_place_probability"]

# The integration grid spans +-_SPAN performance standard deviations; beyond that every factor of
# the integrand is below 1e-40, far under double precision.
_SPAN = 13.0
# Grid step as a fraction of the narrowest performance spread.  The trapezoid rule on a smooth,
# fast-decaying integrand converges geometrically in 1/step, so 1/8 is already at rounding level.
_STEPS_PER_SD = 8.0
_MAX_POINTS = 400_001


def _check_beta(beta: float) -> float:
    beta = float(beta)
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    return beta


def win_probability(a: Rating, b: Rating, beta: float) -> float:
    """Probability that ``a`` outperforms ``b`` in a 1v1 game.

    ``Phi((mu_a - mu_b) / sqrt(2 beta^2 + sigma_a^2 + sigma_b^2))``.
    """
    a, b = check_rating(a, "a"), check_rating(b, "b")
    beta = _check_beta(beta)
    z = (a.mu - b.mu) / math.sqrt(2.0 * beta * beta + a.sigma**2 + b.sigma**2)
    # erfc keeps full relative precision in the far tail, where 1 - erf(...) would round to 0.
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _first_place_by_quadrature(mus: np.ndarray, sds: np.ndarray) -> np.ndarray:
    """P(i has the highest performance) for performances ``N(mus[i], sds[i]^2)``, by quadrature.

    P_i = integral of pdf_i(x) * prod_{j != i} cdf_j(x) dx, evaluated on a fixed grid so the
    result is deterministic.  Accurate to rounding while the widest performance spread is under
    ~1900 times the narrowest (the grid is capped at ``_MAX_POINTS``); with ``beta`` >= 1 that
    means any sigma below ~1900.  Everything is summed in log space so that a player far below the
    rest gets a tiny positive probability instead of 0 * inf.
    """
    # Below max_j(mu_j - SPAN sd_j) some cdf_j is negligible, above max_i(mu_i + SPAN sd_i) every
    # pdf is: the interval is at most 2*SPAN*max(sd) wide however far apart the means are.
    lo = float(np.max(mus - _SPAN * sds))
    hi = float(np.max(mus + _SPAN * sds))
    step = float(np.min(sds)) / _STEPS_PER_SD
    n = int(min(_MAX_POINTS, max(2001, math.ceil((hi - lo) / step) + 1)))
    x = np.linspace(lo, hi, n)
    z = (x[None, :] - mus[:, None]) / sds[:, None]  # [players, points]
    log_cdf = log_ndtr(z)
    log_pdf = -0.5 * z * z - np.log(sds[:, None] * math.sqrt(2.0 * math.pi))
    log_integrand = log_pdf + (log_cdf.sum(axis=0, keepdims=True) - log_cdf)
    dx = x[1] - x[0]
    weights = np.full(n, dx)
    weights[[0, -1]] = dx / 2.0
    p = np.exp(log_integrand) @ weights
    return p / p.sum()


def first_place_probability(ratings: Sequence[Rating], beta: float) -> np.ndarray:
    """For an N-seat free-for-all, the probability that each seat has the best performance.

    Deterministic, sums to 1, and for two seats equals :func:`win_probability` exactly.
    """
    rs = [check_rating(r, f"ratings[{i}]") for i, r in enumerate(ratings)]
    beta = _check_beta(beta)
    if len(rs) < 2:
        raise ValueError(f"first_place_probability needs at least 2 ratings, got {len(rs)}")
    if len(rs) == 2:
        p = win_probability(rs[0], rs[1], beta)
        return np.array([p, 1.0 - p])
    mus = np.array([r.mu for r in rs])
    sds = np.sqrt(np.array([r.sigma for r in rs]) ** 2 + beta * beta)
    return _first_place_by_quadrature(mus, sds)
