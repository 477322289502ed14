"""Meta-solvers: a mixture over each role's members, read off the empirical payoff table.

A *meta-solver* is a small pure function ``solver(payoffs, config) -> strategies``: ``payoffs[r]``
is role ``r``'s payoff tensor over the members of every role (axis ``j`` = role ``j``; see
``league.population.empirical_game``), and ``strategies[r]`` a probability vector over role
``r``'s members.  Solvers live in a registry (``METASOLVERS``); ``solve`` accepts a name or any
callable with that signature, and an unknown name raises ``UnknownNameError`` listing the valid
ones.  Every solver here is deterministic: the same table gives the same weights.

=============  =========================================================================
``uniform``    every member equally likely
``nash``       two roles, constant-sum (``payoffs[0] + payoffs[1]`` the same in every
               entry, up to ``zero_sum_tol``): exact, by linear programming (the maximin
               LP of each role, scipy's HiGHS).  Any other game (three or more roles, or
               general-sum): the average strategy of ``iterations`` rounds of regret
               matching, which is only *approximate* -- it converges to a coarse
               correlated equilibrium, whose marginals we return; check the result with
               ``empirical_game.nash_conv``.  One role: equal weight on its best members.
``prd``        projected replicator dynamics (Lanctot et al. 2017, the PSRO paper): the
               replicator flow with step ``prd_dt``, every weight kept >= ``prd_gamma``,
               averaged over ``iterations`` steps; approximate, as in PSRO.
``alpharank``  multi-population alpha-Rank (Omidshafiei et al. 2019): each role's marginal
               of the stationary distribution of the Markov chain over seatings, with
               ranking intensity ``alpha`` and population size ``population_size``.
=============  =========================================================================

``solve`` does what every solver needs before and after:

* missing (NaN) entries are filled by ``empirical_game.fill_missing`` (the overall mean plus
  each seated member's observed advantage; constant-sum tables stay constant-sum);
* with ``merge_duplicates`` (default), members of one role whose slices are equal in *every*
  role's tensor (within ``duplicate_tol`` times the largest payoff) are strategically the same
  member: the solver sees one copy, and its weight is split equally between the copies.  So
  duplicating a member never changes the solution: the summed weight of each group of copies
  is exactly what the table without the duplicate gets, whatever the solver;
* the weights are checked (finite, non-negative, one per member) and renormalized.

Tie-breaking in ``nash`` (zero-sum): when the equilibrium is not unique, the LP picks among the
maximin strategies one whose largest weight is smallest (remaining ties: HiGHS's vertex, which
is deterministic); e.g. a table where all members of a role are equally good gives them equal
weight even without merging.  The price is that a near-tie, a member whose use costs less than
1e-6 of the payoff range per unit of weight, may be used; anything worse -- a member strictly
dominated by more than that -- gets weight exactly 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
from scipy.optimize import linprog

from league.errors import ConfigError
from league.lookup import resolve
from league.population.empirical_game import action_values, fill_missing

__all__ = [
    "MetaSolverConfig",
    "MetaSolver",
    "METASOLVERS",
    "get_metasolver",
    "metasolver_names",
    "solve",
    "uniform",
    "nash",
    "prd",
    "alpharank",
    "population_scheme",
]

ALPHARANK_MAX_SEATINGS = 4096
"""alpharank builds a dense chain over every seating; larger tables are refused."""
_SPREAD = 1e-6  # value (on payoffs rescaled to [0, 1]) the zero-sum LP trades per unit of spread


@dataclass
class MetaSolverConfig:
    """How a population's mixture is computed from its payoff table."""

    solver: str = "nash"
    """Meta-solver: uniform, nash, prd or alpharank."""
    iterations: int = 10_000
    """nash (general-sum or 3+ roles: regret matching) and prd: number of iterations."""
    prd_gamma: float = 1e-6
    """prd: floor on every member's weight (capped at 1 / members)."""
    prd_dt: float = 0.03
    """prd: step of the replicator flow, on payoffs rescaled to [0, 1] per role (0.03 was the
    most accurate of 0.01-0.3 on rock-paper-scissors variants and random 8x8 tables)."""
    alpha: float = 100.0
    """alpharank: ranking intensity, in the table's own payoff units."""
    population_size: int = 50
    """alpharank: size of each role's population in the evolutionary model (>= 2)."""
    zero_sum_tol: float = 1e-6
    """nash: payoffs[0] + payoffs[1] may vary by this times the largest payoff and still count
    as constant-sum (solved exactly)."""
    merge_duplicates: bool = True
    """Solve with strategically identical members merged, then split their weight equally."""
    duplicate_tol: float = 1e-9
    """Members whose payoff slices differ by at most this times the largest payoff are copies."""

    def __post_init__(self) -> None:
        if not isinstance(self.solver, str) or self.solver not in METASOLVERS:
            raise ConfigError(
                f"metasolver.solver = {self.solver!r}: expected one of {metasolver_names()}")
        for key, low in (("iterations", 1), ("population_size", 2)):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"metasolver.{key} = {value!r}: expected an integer >= {low}")
        for key, high in (("prd_gamma", 1.0), ("prd_dt", None), ("alpha", None),
                          ("zero_sum_tol", None), ("duplicate_tol", None)):
            value = getattr(self, key)
            bad = (isinstance(value, bool) or not isinstance(value, (int, float))
                   or not math.isfinite(value) or value < 0 or (high is not None and value > high))
            if bad or (key == "prd_dt" and value == 0):
                what = "a finite number " + ("in [0, 1]" if high else
                                              "> 0" if key == "prd_dt" else ">= 0")
                raise ConfigError(f"metasolver.{key} = {value!r}: expected {what}")
        if not isinstance(self.merge_duplicates, bool):
            raise ConfigError(
                f"metasolver.merge_duplicates = {self.merge_duplicates!r}: expected true or false")


MetaSolver = Callable[[list[np.ndarray], MetaSolverConfig], list[np.ndarray]]
"""A meta-solver: (complete payoff tensors, config) -> one probability vector per role."""


# --------------------------------------------------------------------------------------------
# The solvers.  Each gets complete (NaN-free) tensors of one common shape, one per role.
# --------------------------------------------------------------------------------------------

def _unit_range(payoff: np.ndarray) -> np.ndarray:
    """``payoff`` mapped affinely onto [0, 1]: every equilibrium is unchanged, and step sizes
    and tolerances mean the same in every game."""
    low, high = float(payoff.min()), float(payoff.max())
    return np.zeros_like(payoff) if high <= low else (payoff - low) / (high - low)


def uniform(payoffs: list[np.ndarray], config: MetaSolverConfig) -> list[np.ndarray]:
    """Every member of every role equally likely."""
    return [np.full(n, 1.0 / n) for n in payoffs[0].shape]


def _maximin(a: np.ndarray) -> np.ndarray:
    """The row player's maximin strategy of payoff matrix ``a`` (rows: its members; entries in
    [0, 1]), ties broken towards the smallest largest weight (the module doc).

    One LP over (x, v, t): maximize ``v - _SPREAD * t`` with ``a^T x >= v``, ``x <= t``.  Leaving
    the maximin set costs value at a rate above ``_SPREAD`` except in near-ties, so the optimum
    is an exact vertex of the maximin set.
    """
    m, n = a.shape
    cost = np.r_[np.zeros(m), -1.0, _SPREAD]
    a_ub = np.r_[np.c_[-a.T, np.ones(n), np.zeros(n)], np.c_[np.eye(m), np.zeros(m), -np.ones(m)]]
    a_eq = np.r_[np.ones(m), 0.0, 0.0][None, :]
    bounds = [(0.0, None)] * m + [(None, None), (None, None)]
    result = linprog(cost, A_ub=a_ub, b_ub=np.zeros(n + m), A_eq=a_eq, b_eq=[1.0], bounds=bounds,
                     method="highs")
    if result.status != 0:
        raise RuntimeError(f"the maximin LP of a {m}x{n} table failed ({result.message}); "
                           f"please report the table")
    return result.x[:m]


def _zero_sum_nash(payoff0: np.ndarray) -> list[np.ndarray]:
    """Exact equilibrium of a two-role constant-sum game given role 0's payoffs."""
    a = _unit_range(payoff0)
    return [_maximin(a), _maximin(1.0 - a.T)]  # role 1's payoffs, constant sum 1


def _regret_matching(payoffs: list[np.ndarray], iterations: int) -> list[np.ndarray]:
    """Average strategies of simultaneous regret matching (Hart & Mas-Colell), from uniform."""
    tensors = [_unit_range(p) for p in payoffs]
    strategies = uniform(tensors, MetaSolverConfig())
    regrets = [np.zeros_like(s) for s in strategies]
    total = [np.zeros_like(s) for s in strategies]
    for _ in range(iterations):
        values = [action_values(t, strategies, r) for r, t in enumerate(tensors)]
        for r, s in enumerate(strategies):
            regrets[r] += values[r] - values[r] @ s
            total[r] += s
        positive = [np.maximum(g, 0.0) for g in regrets]
        strategies = [p / p.sum() if p.sum() > 0 else np.full(len(p), 1.0 / len(p))
                      for p in positive]
    return [t / iterations for t in total]


def nash(payoffs: list[np.ndarray], config: MetaSolverConfig) -> list[np.ndarray]:
    """A Nash equilibrium: exact for two constant-sum roles, approximate otherwise (module doc)."""
    scale = max(1e-300, max(float(np.max(np.abs(p))) for p in payoffs))
    if len(payoffs) == 1:
        best = payoffs[0] >= payoffs[0].max() - config.zero_sum_tol * scale
        return [best / best.sum()]
    if len(payoffs) == 2 and np.ptp(payoffs[0] + payoffs[1]) <= config.zero_sum_tol * scale:
        return _zero_sum_nash(payoffs[0])
    return _regret_matching(payoffs, config.iterations)


def _project_with_floor(v: np.ndarray, floor: float) -> np.ndarray:
    """Euclidean projection of ``v`` onto {x : x >= floor, sum x = 1}."""
    total = 1.0 - floor * len(v)
    if total <= 0.0:
        return np.full(len(v), 1.0 / len(v))
    y = v - floor
    u = np.sort(y)[::-1]
    excess = np.cumsum(u) - total
    k = np.arange(1, len(u) + 1)
    rho = np.flatnonzero(u - excess / k > 0)[-1]
    return np.maximum(y - excess[rho] / (rho + 1), 0.0) + floor


def prd(payoffs: list[np.ndarray], config: MetaSolverConfig) -> list[np.ndarray]:
    """Projected replicator dynamics from uniform, averaged over the trajectory."""
    tensors = [_unit_range(p) for p in payoffs]
    strategies = uniform(tensors, config)
    floors = [min(config.prd_gamma, 1.0 / len(s)) for s in strategies]
    total = [s.copy() for s in strategies]
    for _ in range(config.iterations):
        values = [action_values(t, strategies, r) for r, t in enumerate(tensors)]
        strategies = [_project_with_floor(s + config.prd_dt * s * (values[r] - values[r] @ s),
                                          floors[r]) for r, s in enumerate(strategies)]
        for r, s in enumerate(strategies):
            total[r] += s
    return [t / (config.iterations + 1) for t in total]


def _fixation(u: np.ndarray, m: int) -> np.ndarray:
    """Probability that one mutant with fitness advantage ``u`` (times alpha) takes over a
    population of ``m``: (1 - e^-u) / (1 - e^-mu), written so no exponential overflows."""
    out = np.full(u.shape, 1.0 / m)
    pos, neg = u > 0, u < 0
    out[pos] = np.expm1(-u[pos]) / np.expm1(-m * u[pos])
    out[neg] = np.exp((m - 1) * u[neg]) * np.expm1(u[neg]) / np.expm1(m * u[neg])
    return out


def alpharank(payoffs: list[np.ndarray], config: MetaSolverConfig) -> list[np.ndarray]:
    """Each role's marginal of the multi-population alpha-Rank stationary distribution."""
    shape = payoffs[0].shape
    n_seatings = int(np.prod(shape))
    if n_seatings == 1:
        return [np.ones(1) for _ in shape]
    if n_seatings > ALPHARANK_MAX_SEATINGS:
        raise ValueError(f"alpharank: {n_seatings} seatings in a {shape} table, more than "
                         f"{ALPHARANK_MAX_SEATINGS}; use nash or prd for tables this large")
    seatings = np.array(list(np.ndindex(*shape)))
    ids = np.arange(n_seatings)
    eta = 1.0 / sum(n - 1 for n in shape)
    chain = np.zeros((n_seatings, n_seatings))
    for r, payoff in enumerate(payoffs):
        flat = payoff.reshape(-1)
        for member in range(shape[r]):
            moved = seatings.copy()
            moved[:, r] = member
            target = np.ravel_multi_index(moved.T, shape)
            rho = _fixation(config.alpha * (flat[target] - flat), config.population_size)
            change = seatings[:, r] != member
            chain[ids[change], target[change]] += eta * rho[change]
    chain[ids, ids] = 1.0 - chain.sum(axis=1)
    # Stationary pi: pi (chain - I) = 0 with sum(pi) = 1 replacing one redundant equation.
    system = chain.T - np.eye(n_seatings)
    system[-1] = 1.0
    rhs = np.zeros(n_seatings)
    rhs[-1] = 1.0
    pi = np.clip(np.linalg.lstsq(system, rhs, rcond=None)[0], 0.0, None).reshape(shape)
    return [pi.sum(axis=tuple(a for a in range(len(shape)) if a != r)) for r in range(len(shape))]


def _registry() -> dict[str, MetaSolver]:
    return {"uniform": uniform, "nash": nash, "prd": prd, "alpharank": alpharank}


METASOLVERS: Mapping[str, MetaSolver] = _registry()
"""Meta-solver name -> function (read-only by convention; pass a callable for a new one)."""


def metasolver_names() -> list[str]:
    """The registered meta-solver names, sorted."""
    return sorted(METASOLVERS)


def get_metasolver(solver: str | MetaSolver) -> MetaSolver:
    """The meta-solver for a name, or ``solver`` itself when it is callable."""
    return resolve(METASOLVERS, solver, "meta-solver")


# --------------------------------------------------------------------------------------------
# solve: validation, missing entries and duplicates around any solver.
# --------------------------------------------------------------------------------------------

def _copies(tensors: list[np.ndarray], tol: float) -> list[list[list[int]]]:
    """Per role, its members grouped into copies (first member of a group is its representative)."""
    groups_by_role = []
    for r, n in enumerate(tensors[0].shape):
        groups: list[list[int]] = []
        for i in range(n):
            for group in groups:
                if all(np.max(np.abs(np.take(t, i, axis=r) - np.take(t, group[0], axis=r)),
                              initial=0.0) <= tol for t in tensors):
                    group.append(i)
                    break
            else:
                groups.append([i])
        groups_by_role.append(groups)
    return groups_by_role


@overload
def solve(payoffs: Mapping[str, np.ndarray], solver: str | MetaSolver | None = ...,
          config: MetaSolverConfig | None = ...) -> dict[str, np.ndarray]: ...
@overload
def solve(payoffs: Sequence[np.ndarray], solver: str | MetaSolver | None = ...,
          config: MetaSolverConfig | None = ...) -> list[np.ndarray]: ...
def solve(payoffs: Mapping[str, np.ndarray] | Sequence[np.ndarray],
          solver: str | MetaSolver | None = None,
          config: MetaSolverConfig | None = None) -> dict[str, np.ndarray] | list[np.ndarray]:
    """Each role's mixture over its members.

    Args:
        payoffs: one tensor per role, all of shape ``(n_1, .., n_k)`` with ``k`` roles: a mapping
            role -> tensor (its order is the axis order) or a sequence in axis order.  NaN marks
            an entry never measured (see the module doc).
        solver: a name in ``METASOLVERS`` or a callable; ``config.solver`` by default.
        config: solver settings; ``MetaSolverConfig()`` by default.

    Returns:
        Per role a probability vector over its members, keyed like ``payoffs``.

    Raises:
        UnknownNameError: ``solver`` names no meta-solver.
        ValueError: the tensors do not fit one table, hold infinities, or the solver returned
            something other than one non-negative finite weight per member.
    """
    config = MetaSolverConfig() if config is None else config
    function = get_metasolver(config.solver if solver is None else solver)
    roles = list(payoffs) if isinstance(payoffs, Mapping) else None
    raw = [np.asarray(payoffs[r] if roles is not None else r, dtype=float)  # type: ignore[index]
           for r in (roles if roles is not None else payoffs)]
    shape = raw[0].shape if raw else ()
    if (not raw or any(t.shape != shape for t in raw) or len(shape) != len(raw)
            or min(shape) < 1 or any(np.isinf(t).any() for t in raw)):
        raise ValueError(f"payoff tensors of shapes {[t.shape for t in raw]}: expected one per "
                         f"role, all of one shape with one axis per role and >= 1 member each, "
                         f"finite or NaN")
    tensors = [fill_missing(t) for t in raw]
    scale = max(float(np.max(np.abs(t))) for t in tensors)
    groups = (_copies(tensors, config.duplicate_tol * scale) if config.merge_duplicates
              else [[[i] for i in range(n)] for n in shape])
    keep = np.ix_(*[[g[0] for g in role_groups] for role_groups in groups])
    weights = function([t[keep] for t in tensors], config)
    out = []
    for r, role_groups in enumerate(groups):
        w = np.asarray(weights[r], dtype=float) if r < len(weights) else None
        if (w is None or w.shape != (len(role_groups),) or not np.all(np.isfinite(w))
                or np.any(w < -1e-9) or w.sum() <= 0):
            raise ValueError(f"meta-solver {solver or config.solver!r} returned {weights!r} for "
                             f"role {r}: expected {len(role_groups)} finite non-negative weights")
        w = np.clip(w, 0.0, None) / np.clip(w, 0.0, None).sum()
        full = np.zeros(shape[r])
        for weight, group in zip(w, role_groups):
            full[group] = weight / len(group)
        out.append(full)
    return dict(zip(roles, out)) if roles is not None else out


def population_scheme(weights: Mapping[int, float]) -> Callable[[Sequence[Any], np.ndarray, Any],
                                                                 np.ndarray]:
    """A sampling scheme (``league.population.sampling`` signature) that draws opponents from a
    population policy, PSRO-style: candidate ``c`` gets ``weights[c.id]`` (0 if absent),
    renormalized over the candidates; uniform when none of them has weight."""
    table = {int(k): float(v) for k, v in weights.items()}

    def scheme(candidates: Sequence[Any], x: np.ndarray, config: Any) -> np.ndarray:
        w = np.array([max(table.get(int(c.id), 0.0), 0.0) for c in candidates])
        return w / w.sum() if w.sum() > 0 else np.full(len(candidates), 1.0 / len(candidates))

    return scheme
