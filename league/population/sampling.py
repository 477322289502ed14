"""Opponent sampling: which member sits in each opponent seat of the learner's next episode.

A *scheme* is a small pure function ``scheme(candidates, x, config) -> probabilities`` over the
candidates of one seat, where ``x[k]`` is the learner's estimated probability of beating candidate
``k``.  Schemes live in a registry (``SCHEMES``); everything that takes a scheme accepts its name
or any callable with that signature, and an unknown name raises ``UnknownNameError`` listing the
valid ones.

=================  ====================================================================
``latest``         naive self-play: always the newest candidate
``uniform``        fictitious self-play: uniform over the candidates (the active index)
``pfsp_hard``      prioritized FSP, weight ``(1 - x) ** p``: favour those the learner loses to
``pfsp_var``       prioritized FSP, weight ``x (1 - x)``: favour even matches
``window``         ML-Agents style: the newest with probability ``latest_prob``, else uniform
                   over the ``window`` newest
``alphastar_main`` AlphaStar's main agent: a mix of self-play (newest), ``pfsp_hard`` over all,
                   and verification games (``pfsp_hard`` over anchors and members older than
                   the window)
=================  ====================================================================

``x`` comes from the ratings (the rating system's ``win_probability`` on ``(mu, sigma)``; docs/design.md
says sampling weights use ``mu``, never the conservative rating) or, for a pair that has played at
least ``min_games`` games, from the empirical payoff table the evaluator keeps.

A candidate is anything with ``id, role, version, mu, sigma, games, anchor`` attributes; a
``league.pool.Member`` qualifies.  ``OpponentSampler`` picks one member per opponent seat with a
seeded ``numpy.random.Generator`` so that runs are repeatable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from league.checks import check_range
from league.lookup import resolve
from league.specs import is_reference
from league.errors import ConfigError
from ratings import Rating, TrueSkillSystem

__all__ = [
    "Candidate",
    "CandidateInfo",
    "PayoffLookup",
    "WinModel",
    "SamplingConfig",
    "Scheme",
    "SCHEMES",
    "get_scheme",
    "scheme_names",
    "latest",
    "uniform",
    "pfsp_hard",
    "pfsp_var",
    "window",
    "alphastar_main",
    "win_probabilities",
    "scheme_probabilities",
    "sample_opponent",
    "OpponentSampler",
]


@runtime_checkable
class Candidate(Protocol):
    """What sampling needs to know about a member (``league.pool.Member`` has all of it)."""

    id: int
    role: str
    version: int
    mu: float
    sigma: float
    games: int
    anchor: bool


@dataclass(frozen=True)
class CandidateInfo:
    """A lightweight stand-in for a pool member, for tests, benchmarks and remote workers."""

    id: int
    """Member id."""
    role: str = "agent"
    """The role (lineage) the member belongs to."""
    version: int = 0
    """Per-role counter from 0; higher is newer."""
    mu: float = 25.0
    """TrueSkill mean."""
    sigma: float = 25.0 / 3.0
    """TrueSkill standard deviation."""
    games: int = 0
    """Rated games played."""
    anchor: bool = False
    """Pinned member (never pruned); verification games are played against these."""


class PayoffLookup(Protocol):
    """The part of the evaluator's empirical payoff table sampling reads."""

    def games(self, a: int, b: int) -> int:
        """Games played between members ``a`` and ``b`` (either seat)."""

    def win_rate(self, a: int, b: int) -> float:
        """``a``'s score against ``b``: (wins + draws / 2) / games."""


class WinModel(Protocol):
    """A rating system that predicts 1v1 outcomes (``ratings.TrueSkillSystem`` is one)."""

    def win_probability(self, a: Rating, b: Rating) -> float:
        """Probability that ``a`` beats ``b``."""


@dataclass
class SamplingConfig:
    """How opponents are sampled for the learner's episodes."""

    scheme: str = "pfsp_hard"
    """Sampling scheme: latest, uniform, pfsp_hard, pfsp_var, window or alphastar_main."""
    p: float = 2.0
    """Exponent of pfsp_hard's weight (1 - x)^p; AlphaStar used 2."""
    window: int = 10
    """window/alphastar_main: how many of the newest versions count as recent."""
    latest_prob: float = 0.5
    """window: probability of playing the newest candidate; otherwise uniform over the window."""
    self_play: float = 0.35
    """alphastar_main: share of self-play games (against the newest candidate)."""
    pfsp: float = 0.5
    """alphastar_main: share of pfsp_hard games over all candidates."""
    verification: float = 0.15
    """alphastar_main: share of pfsp_hard games over anchors and members older than the window."""
    min_games: int = 20
    """Games a pair needs before its empirical win rate replaces the rating-based estimate."""
    anchor_share: float = 0.0
    """Share of draws put on the uniform-random anchors (not the reference anchors) on top of the
    scheme, whatever it thinks of them: games against random play keep the learner visiting every
    kind of position."""
    reference_share: float = 0.0
    """Share of draws put on the reference anchors (``game.references``, e.g. minimax) on top of the
    scheme: AlphaStar's games against fixed opponents, so a learner keeps beating (or drawing)
    perfect play while it trains against a population that moves."""
    online: bool = False
    """Re-estimate ``x`` during a training turn from the learner's own results against each
    candidate (AlphaStar's PFSP reads current win rates), instead of fixing the weights at the
    turn's start from the starting member's rating."""
    online_prior_games: float = 10.0
    """online: weight, in games, of the turn-start estimate before the turn's own results."""
    online_halflife: float = 200.0
    """online: games against a candidate after which an old result counts half (the learner moves)."""
    online_refresh: int = 64
    """online: finished training episodes between recomputations of the sampling weights."""

    def __post_init__(self) -> None:
        if not isinstance(self.scheme, str) or self.scheme not in SCHEMES:
            raise ConfigError(f"sampling.scheme = {self.scheme!r}: expected one of {scheme_names()}")
        check_range("sampling.p", self.p, low=0.0, low_open=True)
        check_range("sampling.window", self.window, low=1, integer=True)
        check_range("sampling.latest_prob", self.latest_prob, low=0.0, high=1.0)
        for name in ("self_play", "pfsp", "verification"):
            check_range(f"sampling.{name}", getattr(self, name), low=0.0, high=1.0)
        total = self.self_play + self.pfsp + self.verification
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            raise ConfigError(
                f"sampling.self_play + sampling.pfsp + sampling.verification = {total!r}: "
                f"expected the three shares to sum to 1")
        check_range("sampling.min_games", self.min_games, low=0, integer=True)
        check_range("sampling.anchor_share", self.anchor_share, low=0.0, high=1.0)
        check_range("sampling.reference_share", self.reference_share, low=0.0, high=1.0)
        if self.anchor_share + self.reference_share > 1.0:
            raise ConfigError(f"sampling.anchor_share + sampling.reference_share = "
                              f"{self.anchor_share + self.reference_share!r}: expected at most 1")
        check_range("sampling.online_prior_games", self.online_prior_games, low=0.0, low_open=True)
        check_range("sampling.online_halflife", self.online_halflife, low=0.0, low_open=True)
        check_range("sampling.online_refresh", self.online_refresh, low=1, integer=True)


# --------------------------------------------------------------------------------------------
# The schemes.  Each maps (candidates, x, config) to a probability vector over candidates.
# --------------------------------------------------------------------------------------------

Scheme = Callable[[Sequence[Candidate], np.ndarray, SamplingConfig], np.ndarray]
"""A sampling scheme: (candidates, learner's win probabilities, config) -> probabilities."""


def _normalized(weights: np.ndarray) -> np.ndarray:
    """``weights / sum``; uniform when nothing has weight (e.g. the learner beats everyone surely),
    because a scheme must always name some opponent."""
    weights = np.clip(np.nan_to_num(np.asarray(weights, dtype=float), nan=0.0), 0.0, None)
    total = weights.sum()
    if not np.isfinite(total) or total <= 0.0:
        return np.full(len(weights), 1.0 / len(weights))
    return weights / total


def _recency_order(candidates: Sequence[Candidate]) -> np.ndarray:
    """Indices of ``candidates`` from newest to oldest: by version, then id (ids grow with time)."""
    keys = [(int(c.version), int(c.id)) for c in candidates]
    return np.array(sorted(range(len(candidates)), key=lambda k: keys[k], reverse=True), dtype=int)


def latest(candidates: Sequence[Candidate], x: np.ndarray, config: SamplingConfig) -> np.ndarray:
    """Naive self-play: all mass on the newest candidate."""
    probs = np.zeros(len(candidates))
    probs[_recency_order(candidates)[0]] = 1.0
    return probs


def uniform(candidates: Sequence[Candidate], x: np.ndarray, config: SamplingConfig) -> np.ndarray:
    """Fictitious self-play: every candidate equally likely."""
    return np.full(len(candidates), 1.0 / len(candidates))


def pfsp_hard(candidates: Sequence[Candidate], x: np.ndarray, config: SamplingConfig) -> np.ndarray:
    """PFSP with weight ``(1 - x) ** p``: most mass on opponents the learner still loses to."""
    return _normalized((1.0 - np.clip(x, 0.0, 1.0)) ** config.p)


def pfsp_var(candidates: Sequence[Candidate], x: np.ndarray, config: SamplingConfig) -> np.ndarray:
    """PFSP with weight ``x (1 - x)``: most mass on opponents of about the learner's strength."""
    x = np.clip(x, 0.0, 1.0)
    return _normalized(x * (1.0 - x))


def window(candidates: Sequence[Candidate], x: np.ndarray, config: SamplingConfig) -> np.ndarray:
    """ML-Agents self-play: the newest with probability ``latest_prob``, else uniform over the
    ``window`` newest candidates (the newest included)."""
    order = _recency_order(candidates)
    recent = order[:config.window]
    probs = np.zeros(len(candidates))
    probs[recent] = (1.0 - config.latest_prob) / len(recent)
    probs[order[0]] += config.latest_prob
    return probs


def alphastar_main(candidates: Sequence[Candidate], x: np.ndarray,
                   config: SamplingConfig) -> np.ndarray:
    """AlphaStar's main-agent mix: ``self_play`` on the newest, ``pfsp`` as ``pfsp_hard`` over all,
    ``verification`` as ``pfsp_hard`` over anchors and members older than the window.

    When no candidate qualifies for verification (a young league without anchors) that share goes
    to the PFSP part, so the result is always a distribution.
    """
    order = _recency_order(candidates)
    recent = set(order[:config.window].tolist())
    verify = np.array([bool(c.anchor) or k not in recent for k, c in enumerate(candidates)])
    probs = config.self_play * latest(candidates, x, config)
    pfsp_share = config.pfsp
    if verify.any():
        sub = pfsp_hard([c for c, v in zip(candidates, verify) if v], x[verify], config)
        probs[verify] += config.verification * sub
    else:
        pfsp_share += config.verification
    probs += pfsp_share * pfsp_hard(candidates, x, config)
    return _normalized(probs)


def _registry() -> dict[str, Scheme]:
    return {"latest": latest, "uniform": uniform, "pfsp_hard": pfsp_hard, "pfsp_var": pfsp_var,
            "window": window, "alphastar_main": alphastar_main}


SCHEMES: Mapping[str, Scheme] = _registry()
"""Scheme name -> scheme function (read-only by convention; pass a callable for a new scheme)."""


def scheme_names() -> list[str]:
    """The registered scheme names, sorted."""
    return sorted(SCHEMES)


def get_scheme(scheme: str | Scheme) -> Scheme:
    """The scheme function for a name, or ``scheme`` itself when it is callable."""
    return resolve(SCHEMES, scheme, "sampling scheme")


# --------------------------------------------------------------------------------------------
# Win probabilities and sampling.
# --------------------------------------------------------------------------------------------

def win_probabilities(learner: object, candidates: Sequence[Candidate], *,
                      model: WinModel | None = None, payoff: PayoffLookup | None = None,
                      min_games: int = 20, learner_id: int | None = None) -> np.ndarray:
    """The learner's estimated probability of beating each candidate.

    Args:
        learner: anything with ``mu`` and ``sigma`` (the learner's rating; its parent member's).
        candidates: the members that may fill the seat.
        model: the rating system that predicts 1v1 outcomes; a default ``TrueSkillSystem`` if None.
        payoff: the empirical payoff table; a pair with at least ``min_games`` games uses it.
        min_games: games a pair needs before its empirical win rate is trusted.
        learner_id: the member id the payoff table knows the learner by (default ``learner.id``
            when it has one).
    """
    model = TrueSkillSystem() if model is None else model
    me = Rating(float(learner.mu), float(learner.sigma))  # type: ignore[attr-defined]
    if learner_id is None:
        learner_id = getattr(learner, "id", None)
    x = np.empty(len(candidates))
    for k, c in enumerate(candidates):
        if (payoff is not None and learner_id is not None
                and payoff.games(int(learner_id), int(c.id)) >= max(min_games, 1)):
            x[k] = payoff.win_rate(int(learner_id), int(c.id))
        else:
            x[k] = model.win_probability(me, Rating(float(c.mu), float(c.sigma)))
    return x


def scheme_probabilities(scheme: str | Scheme, candidates: Sequence[Candidate], x: np.ndarray,
                         config: SamplingConfig | None = None) -> np.ndarray:
    """Run a scheme and check that it returned a distribution over ``candidates``.

    A user-supplied callable that returns negative or non-finite weights is an error here rather
    than an obscure failure inside ``Generator.choice``.
    """
    if not candidates:
        raise ValueError("no candidates to sample an opponent from (is the active index empty?)")
    config = SamplingConfig() if config is None else config
    x = np.asarray(x, dtype=float)
    if x.shape != (len(candidates),):
        raise ValueError(f"x has shape {x.shape}, expected ({len(candidates)},): one per candidate")
    probs = np.asarray(get_scheme(scheme)(candidates, x, config), dtype=float)
    if probs.shape != (len(candidates),) or not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError(f"scheme {scheme!r} returned {probs!r}: expected {len(candidates)} "
                         f"finite non-negative weights")
    probs = _normalized(probs)
    refs = np.array([is_reference(getattr(c, "spec", None)) for c in candidates])
    anchors = np.array([bool(getattr(c, "anchor", False)) for c in candidates]) & ~refs
    # Each share goes to its group uniformly; a group the candidates lack leaves its share to the scheme.
    shares = [(share, chosen) for share, chosen in ((config.anchor_share, anchors), (config.reference_share, refs))
              if share > 0 and chosen.any()]
    probs = (1.0 - sum(share for share, _ in shares)) * probs
    for share, chosen in shares:
        probs = probs + share * chosen / chosen.sum()
    return probs


def sample_opponent(candidates: Sequence[Candidate], learner: object, rng: np.random.Generator, *,
                    scheme: str | Scheme | None = None, config: SamplingConfig | None = None,
                    model: WinModel | None = None, payoff: PayoffLookup | None = None,
                    learner_id: int | None = None) -> Candidate:
    """One opponent for one seat, drawn with ``rng`` from ``scheme``'s distribution."""
    config = SamplingConfig() if config is None else config
    scheme = config.scheme if scheme is None else scheme
    x = win_probabilities(learner, candidates, model=model, payoff=payoff,
                          min_games=config.min_games, learner_id=learner_id)
    probs = scheme_probabilities(scheme, candidates, x, config)
    return candidates[int(rng.choice(len(candidates), p=probs))]


class OpponentSampler:
    """Picks a member for every opponent seat, reproducibly.

    Args:
        config: the sampling settings (scheme name, PFSP exponent, window, mix shares, ...).
        scheme: overrides ``config.scheme``; a name or a callable ``(candidates, x, config)``.
        model: the rating system predicting 1v1 outcomes (default ``TrueSkillSystem()``).
        payoff: the evaluator's empirical payoff table, or None to use ratings only.
        seed: seed of the generator used when ``pick`` is not given one.
    """

    def __init__(self, config: SamplingConfig | None = None, *, scheme: str | Scheme | None = None,
                 model: WinModel | None = None, payoff: PayoffLookup | None = None,
                 seed: int | None = None) -> None:
        self.config = SamplingConfig() if config is None else config
        self.scheme = get_scheme(self.config.scheme if scheme is None else scheme)
        self.model = TrueSkillSystem() if model is None else model
        self.payoff = payoff
        self.rng = np.random.default_rng(seed)

    def probabilities(self, learner: object, candidates: Sequence[Candidate], *,
                      learner_id: int | None = None) -> np.ndarray:
        """The distribution the sampler draws one seat's opponent from."""
        x = win_probabilities(learner, candidates, model=self.model, payoff=self.payoff,
                              min_games=self.config.min_games, learner_id=learner_id)
        return scheme_probabilities(self.scheme, candidates, x, self.config)

    def weigher(self, learner: object, *,
                learner_id: int | None = None) -> Callable[[Sequence[Candidate]], np.ndarray]:
        """``probabilities`` bound to the learner: the per-seat weighing ``league.population.opponents``
        computes once per training turn (ratings do not move during one)."""
        return lambda candidates: self.probabilities(learner, candidates, learner_id=learner_id)

    def pick(self, learner: object, candidates_by_seat: Mapping[str, Sequence[Candidate]],
             rng: np.random.Generator | None = None, *,
             learner_id: int | None = None) -> dict[str, int]:
        """A member id for each seat in ``candidates_by_seat`` (the learner's seat left out).

        Seats are visited in sorted order so that one generator state gives one seating whatever
        order the mapping was built in.
        """
        rng = self.rng if rng is None else rng
        seating: dict[str, int] = {}
        for seat in sorted(candidates_by_seat):
            candidates = list(candidates_by_seat[seat])
            probs = self.probabilities(learner, candidates, learner_id=learner_id)
            seating[seat] = int(candidates[int(rng.choice(len(candidates), p=probs))].id)
        return seating
