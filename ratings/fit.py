"""TrueSkill fitted to a game: beta and draw probability by maximum likelihood on its match log.

TrueSkill's defaults (``beta = sigma / 2``, a draw probability of 0.1) describe no game in
particular.  ``beta`` is how much one match's result varies for fixed skills: a hand of poker
varies a lot, a game of chess between the same two programs little.  Too small a beta makes the
ratings overconfident in noise; too large, slow to separate real skill.

The likelihood is *prequential*: each match is scored by the probability that the ratings from
the matches before it give its outcome, then the ratings are updated with it.  Settings that
predict the next match win, not settings that explain the log after the fact (which would always
prefer a tiny beta).

One match's probability is a *pairwise composite likelihood*: the product, over every pair of
seats, of TrueSkill's probability of that pair's result.  With ``d`` the difference of the two
seats' performances, ``d ~ N(mu_a - mu_b, 2 beta^2 + sigma_a^2 + sigma_b^2)``, and ``eps`` the draw
margin of a two-player comparison (:func:`draw_margin`, what ``trueskill.calc_draw_margin`` gives
for two players: two players of known, equal skill draw with probability ``draw_probability``):

    a ahead of b:  P(d > eps)       tied:  P(|d| <= eps)

For two seats this is the exact predictive probability of the outcome.  For more seats the exact
probability of a whole ordering is an orthant probability of correlated normals (with draws, not
even well defined away from adjacent ranks); the pairwise product is its standard, cheap
stand-in, and every pair's factor is exactly TrueSkill's marginal.  It counts an N-seat match as
N(N-1)/2 pairs, so the reported log-likelihood is a sum over pairs, not over matches.

Matches are anything ``ratings.replay`` accepts (``member_ids`` and ``ranks``: a pool
``MatchRecord`` or a mapping); every seat is its own team.  Final ratings under a fitted system
come from ``ratings.replay_trueskill(matches, fit.system(base))``.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_ndtr, logit, ndtri

from ratings.rating import Rating
from ratings.replay import _seating, replay_trueskill
from ratings.trueskill_system import TrueSkillSystem

__all__ = ["TrueSkillFit", "draw_margin", "fit_trueskill", "predictive_log_likelihood"]

# Search ranges, relative to the prior sigma for beta.  Below ~sigma/50 one upset moves a rating
# by many prior widths; above ~20 sigma a match says next to nothing about skill.
_BETA_RANGE = (1.0 / 50.0, 20.0)
_DRAW_RANGE = (1e-4, 0.99)
# Optimizer tolerances in log(beta) / logit(draw probability) and in nats: 1 % in beta is well
# inside the statistical error of any log worth fitting.
_XTOL = 1e-2
_FTOL = 2e-2


class TrueSkillFit(NamedTuple):
    """The result of :func:`fit_trueskill` (unpacks as ``beta, draw_probability, log_likelihood``)."""

    beta: float
    """Performance noise of one match."""
    draw_probability: float
    """Probability that two players of equal, known skill draw (0 when the log has no draws)."""
    log_likelihood: float
    """Prequential pairwise log-likelihood of the log at these settings (nats, summed over pairs)."""

    def system(self, base: TrueSkillSystem | None = None) -> TrueSkillSystem:
        """A ``TrueSkillSystem`` with ``base``'s mu, sigma and tau and these beta / draw probability."""
        base = TrueSkillSystem() if base is None else base
        return TrueSkillSystem(mu=base.mu, sigma=base.sigma, beta=self.beta, tau=base.tau,
                               draw_probability=self.draw_probability)


def draw_margin(draw_probability: float, beta: float) -> float:
    """The draw margin of a two-player comparison: ``Phi^-1((p + 1) / 2) * sqrt(2) * beta``.

    ``trueskill.calc_draw_margin(p, 2, env)`` computes the same through the package's ~1e-7
    approximation of ``Phi^-1``; this one is exact, so a draw probability of 0 is a margin of 0.
    """
    return float(ndtri((draw_probability + 1.0) / 2.0)) * math.sqrt(2.0) * beta


def _pair_terms(before: Sequence[Rating], ranks: Sequence[float],
                out: tuple[list[float], list[float], list[bool]]) -> None:
    """Append, for every pair of seats, (mean lead of the one ranked ahead, summed variance, tied)."""
    lead, var, tied = out
    for i in range(len(before)):
        for j in range(i + 1, len(before)):
            a, b = (i, j) if ranks[i] <= ranks[j] else (j, i)
            lead.append(before[a].mu - before[b].mu)
            var.append(before[a].sigma ** 2 + before[b].sigma ** 2)
            tied.append(ranks[i] == ranks[j])


def _log_probability(lead: np.ndarray, var: np.ndarray, tied: np.ndarray, system: TrueSkillSystem) -> float:
    """Sum of log P(pair result) for the collected pairs under ``system``'s beta and draw margin."""
    c = np.sqrt(var + 2.0 * system.beta ** 2)
    eps = draw_margin(system.draw_probability, system.beta)
    total = float(log_ndtr((lead[~tied] - eps) / c[~tied]).sum())
    if tied.any():
        # P(|d| <= eps) = Phi(hi) - Phi(lo), taken in log space so that a draw between far-apart
        # ratings is a tiny probability rather than 0.
        x, ct = np.abs(lead[tied]), c[tied]
        hi, lo = log_ndtr((eps - x) / ct), log_ndtr((-eps - x) / ct)
        with np.errstate(divide="ignore"):  # eps = 0: a draw has probability 0, log -inf
            total += float((hi + np.log1p(-np.exp(lo - hi))).sum())
    return total


def _replay_scored(matches: Sequence[Any], system: TrueSkillSystem,
                   initial: Mapping[Any, Rating] | None) -> tuple[dict[Any, Rating], float]:
    """Replay ``matches`` in order (``replay_trueskill``) and score each before its update."""
    terms: tuple[list[float], list[float], list[bool]] = ([], [], [])
    ratings = replay_trueskill(matches, system, initial,
                               observe=lambda before, ranks: _pair_terms(before, ranks, terms))
    lead, var, tied = (np.asarray(t) for t in terms)
    return ratings, _log_probability(lead, var, tied.astype(bool), system) if len(lead) else 0.0


def predictive_log_likelihood(matches: Iterable[Any], system: TrueSkillSystem,
                              initial: Mapping[Any, Rating] | None = None) -> float:
    """Prequential pairwise log-likelihood of ``matches`` under ``system`` (see the module doc).

    Players missing from ``initial`` start at ``system.new_rating()``.  A log with a draw
    cannot be rated with ``system.draw_probability == 0`` and raises ``ValueError``.
    """
    return _replay_scored(list(matches), system, initial)[1]


def _has_draw(matches: Sequence[Any]) -> bool:
    for i, match in enumerate(matches):
        ranks = _seating(match, i)[1]
        if len(set(ranks)) < len(ranks):
            return True
    return False


def _check_fixed(beta: float | None, draw_probability: float | None) -> tuple[float | None, float | None]:
    if beta is not None and not (math.isfinite(float(beta)) and float(beta) > 0):
        raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    if draw_probability is not None and not 0.0 <= float(draw_probability) < 1.0:
        raise ValueError(f"draw_probability must be in [0, 1), got {draw_probability!r}")
    return (None if beta is None else float(beta),
            None if draw_probability is None else float(draw_probability))


def fit_trueskill(matches: Iterable[Any], base: TrueSkillSystem | None = None, *,
                  initial: Mapping[Any, Rating] | None = None,
                  beta: float | None = None, draw_probability: float | None = None,
                  beta_bounds: tuple[float, float] | None = None) -> TrueSkillFit:
    """Maximum-likelihood beta and draw probability of TrueSkill on a match log.

    Args:
        matches: the log, in the order it was played.
        base: supplies mu, sigma (the prior of a new player) and tau, which are not fitted;
            ``TrueSkillSystem()`` if None.  Use the prior the ratings were made with (a pool's
            ``initial_mu`` / ``initial_sigma``): beta is measured in the prior's units.
        initial: starting ratings by player (others start at the prior).
        beta: fix beta at this value instead of fitting it.
        draw_probability: fix the draw probability instead of fitting it.  When it is not fixed
            and the log has no draw, it is 0: the maximum likelihood for a log without draws.
        beta_bounds: range searched for beta; ``(sigma / 50, 20 sigma)`` by default.

    Returns:
        ``TrueSkillFit(beta, draw_probability, log_likelihood)``; ``fit.system(base)`` rates with it.

    Raises:
        ValueError: an empty log with something left to fit, a malformed match, a fixed value
            out of range, or a draw in the log with ``draw_probability=0``.
    """
    base = TrueSkillSystem() if base is None else base
    log = list(matches)
    beta, draw_probability = _check_fixed(beta, draw_probability)
    if not log and (beta is None or draw_probability is None):
        raise ValueError("the match log is empty: there is nothing to fit beta or the draw probability to")
    if draw_probability is None and not _has_draw(log):
        draw_probability = 0.0
    lo, hi = beta_bounds if beta_bounds is not None else (base.sigma * _BETA_RANGE[0], base.sigma * _BETA_RANGE[1])
    if not (0 < lo < hi and math.isfinite(hi)):
        raise ValueError(f"beta_bounds must be 0 < low < high < inf, got {beta_bounds!r}")

    cache: dict[tuple[float, float], float] = {}

    def loglik(b: float, p: float) -> float:
        key = (b, p)
        if key not in cache:
            system = TrueSkillSystem(mu=base.mu, sigma=base.sigma, beta=b, tau=base.tau, draw_probability=p)
            value = _replay_scored(log, system, initial)[1]
            cache[key] = value if math.isfinite(value) else -math.inf
        return cache[key]

    def neg(b: float, p: float) -> float:
        value = -loglik(b, p)
        return value if math.isfinite(value) else 1e300  # optimizers need a number, not inf

    dlo, dhi = logit(_DRAW_RANGE[0]), logit(_DRAW_RANGE[1])
    if beta is not None and draw_probability is not None:
        pass
    elif draw_probability is not None:
        res = minimize_scalar(lambda x: neg(math.exp(x), draw_probability), bounds=(math.log(lo), math.log(hi)),
                              method="bounded", options={"xatol": _XTOL})
        beta = math.exp(res.x)
    elif beta is not None:
        res = minimize_scalar(lambda x: neg(beta, float(expit(x))), bounds=(dlo, dhi),
                              method="bounded", options={"xatol": _XTOL})
        draw_probability = float(expit(res.x))
    else:
        b0 = min(max(base.beta, lo), hi)
        # The observed share of tied pairs is a lower bound of the draw probability (rating
        # uncertainty only lowers the predicted share), so it is a sensible start.
        terms: tuple[list[float], list[float], list[bool]] = ([], [], [])
        for i, match in enumerate(log):
            ids, ranks = _seating(match, i)
            _pair_terms([Rating(0.0, 1.0)] * len(ids), ranks, terms)
        p0 = min(max(float(np.mean(terms[2])), 0.01), 0.9)
        res = minimize(lambda x: neg(math.exp(x[0]), float(expit(x[1]))), x0=[math.log(b0), logit(p0)],
                       method="Nelder-Mead", bounds=[(math.log(lo), math.log(hi)), (dlo, dhi)],
                       options={"xatol": _XTOL, "fatol": _FTOL,
                                "initial_simplex": [[math.log(b0), logit(p0)], [math.log(b0) + 0.5, logit(p0)],
                                                    [math.log(b0), logit(p0) + 0.5]]})
        beta, draw_probability = math.exp(res.x[0]), float(expit(res.x[1]))
    return TrueSkillFit(float(beta), float(draw_probability), loglik(float(beta), float(draw_probability)))
