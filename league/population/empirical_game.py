"""The empirical game: a payoff tensor per role over the members of every role, and what to read
off it.

With roles ``r_1 .. r_k`` holding ``n_1 .. n_k`` members, ``payoffs[r]`` has shape
``(n_1, .., n_k)``: entry ``(i_1, .., i_k)`` is role ``r``'s expected return when member ``i_j`` of
role ``r_j`` sits in role ``r_j``'s seat.  Axis ``j`` of every tensor belongs to role ``j``.

This module is pure numpy and knows nothing of the pool or the match log: ``payoff_table`` takes
plain ``(seating, returns)`` samples, so whatever records matches can feed it.

Missing entries (seatings never played) are NaN in the table ``payoff_table`` builds.
``fill_missing`` replaces them with the additive main-effects estimate

    fill(i_1, .., i_k) = g + sum_j (m_j(i_j) - g)

where ``g`` is the mean of that tensor's observed entries and ``m_j(i)`` the mean of its observed
entries in which role ``j`` seats member ``i`` (``g`` itself when there are none): the overall
level plus each seated member's observed advantage.  The estimate is a weighted sum of observed
entries whose weights sum to 1, so when every role misses the same seatings (as in a table built
by ``payoff_table``) a constant-sum game stays exactly constant-sum, and zero-sum solvers still
apply.  A tensor with nothing observed is filled with 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

__all__ = [
    "PayoffTable",
    "payoff_table",
    "fill_missing",
    "action_values",
    "expected_payoffs",
    "nash_conv",
]

Sample = tuple[Mapping[str, int], Mapping[str, float]]
"""One played episode (or match): (role -> seated member index, role -> that role's return)."""


class PayoffTable(NamedTuple):
    """Averaged returns over the seatings that were played."""

    payoffs: dict[str, np.ndarray]
    """role -> mean return tensor of shape ``counts.shape``; NaN where ``counts == 0``."""
    counts: np.ndarray
    """Samples seen per seating (int tensor, axis ``j`` = ``roles[j]``)."""


def payoff_table(samples: Iterable[Sample], roles: Sequence[str],
                 sizes: Mapping[str, int] | Sequence[int] | None = None) -> PayoffTable:
    """Average ``samples`` into one mean-return tensor per role.

    Args:
        samples: ``(seating, returns)`` pairs; ``seating`` names a member index for every role,
            ``returns`` a return for every role (extra keys are ignored).
        roles: the roles in axis order.
        sizes: members per role (a mapping by role, or a sequence in ``roles`` order); by default
            one more than the largest index seen, so members after the last played one are absent.

    Raises:
        ValueError: a sample misses a role, seats an index out of range, or returns a non-finite
            value; or ``roles`` is empty or repeats a role.
    """
    roles = list(roles)
    if not roles or len(set(roles)) != len(roles):
        raise ValueError(f"roles = {roles!r}: expected distinct role names, at least one")
    rows: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
    for n, (seating, returns) in enumerate(samples):
        missing = [r for r in roles if r not in seating or r not in returns]
        if missing:
            raise ValueError(f"sample {n}: no seat or no return for roles {missing}")
        index = tuple(int(seating[r]) for r in roles)
        values = tuple(float(returns[r]) for r in roles)
        if min(index) < 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"sample {n}: seating {index} / returns {values}: expected member "
                             f"indices >= 0 and finite returns")
        rows.append((index, values))
    if sizes is None:
        shape = tuple(1 + max((ix[j] for ix, _ in rows), default=-1) for j in range(len(roles)))
    elif isinstance(sizes, Mapping):
        shape = tuple(int(sizes[r]) for r in roles)
    else:
        shape = tuple(int(s) for s in sizes)
    if len(shape) != len(roles):
        raise ValueError(f"sizes = {sizes!r}: expected one size per role of {roles}")
    totals = np.zeros((len(roles),) + shape)
    counts = np.zeros(shape, dtype=np.int64)
    for n, (index, values) in enumerate(rows):
        if any(i >= s for i, s in zip(index, shape)):
            raise ValueError(f"sample {n}: seating {index} outside the table's sizes {shape}")
        counts[index] += 1
        totals[(slice(None),) + index] += values
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)
    return PayoffTable({r: means[j] for j, r in enumerate(roles)}, counts)


def fill_missing(payoff: np.ndarray) -> np.ndarray:
    """A copy of ``payoff`` with NaN entries replaced by the main-effects estimate (module doc)."""
    payoff = np.asarray(payoff, dtype=float)
    seen = ~np.isnan(payoff)
    if seen.all():
        return payoff.copy()
    if not seen.any():
        return np.zeros_like(payoff)
    values = np.where(seen, payoff, 0.0)
    overall = values.sum() / seen.sum()
    estimate = np.full(payoff.shape, overall)
    for axis in range(payoff.ndim):
        others = tuple(a for a in range(payoff.ndim) if a != axis)
        n_seen = seen.sum(axis=others)
        member_mean = np.where(n_seen > 0, values.sum(axis=others) / np.maximum(n_seen, 1), overall)
        shape = [1] * payoff.ndim
        shape[axis] = -1
        estimate = estimate + (member_mean - overall).reshape(shape)
    return np.where(seen, payoff, estimate)


def action_values(payoff: np.ndarray, strategies: Sequence[np.ndarray], role: int) -> np.ndarray:
    """Role ``role``'s expected payoff for each of its members when every other role plays its
    mixed strategy in ``strategies`` (``strategies[role]`` is not read)."""
    values = np.moveaxis(np.asarray(payoff, dtype=float), role, 0)
    others = [s for j, s in enumerate(strategies) if j != role]
    for strategy in reversed(others):  # contract the last axis first: shapes stay aligned
        values = values @ np.asarray(strategy, dtype=float)
    return values


def expected_payoffs(payoffs: Sequence[np.ndarray], strategies: Sequence[np.ndarray]) -> np.ndarray:
    """Each role's expected payoff when every role plays its mixed strategy."""
    return np.array([float(action_values(p, strategies, r) @ strategies[r])
                     for r, p in enumerate(payoffs)])


def nash_conv(payoffs: Sequence[np.ndarray], strategies: Sequence[np.ndarray]) -> float:
    """Sum over roles of what a role gains by switching to its best member while the others keep
    their mixtures: 0 exactly at a Nash equilibrium of the empirical game."""
    return float(sum(np.max(action_values(p, strategies, r)) - action_values(p, strategies, r)
                     @ strategies[r] for r, p in enumerate(payoffs)))
