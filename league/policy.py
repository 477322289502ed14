"""Members as policies: ``load_policy(pool, who)`` and ``predict`` on plain observations.

``who`` names a member (its id), the best-rated member of a role (``"best:<role>"``: highest
conservative rating ``mu - 3 sigma`` among the role's active members) or a
role's population policy (``"population:<role>"``: the ``{member id: weight}`` mixture the run
solved after its last turn, ``RunState.population``), from which one member is drawn at
construction and at every ``reset()``, so call ``reset()`` at the start of each episode.

The pool is opened read-only (a run may still be writing it) and closed again once the
weights are in memory; a ``Pool`` object passed in is only read.  The returned policy also
follows the ``envs`` policy protocol (``probs`` and ``act``), so it can be seated in a
``SelfPlayEnv`` or a ``MatchEngine`` as it is, and it samples exactly as the member does there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from envs.reference import sample_from_probs
from league.errors import MissingWeightsError, SpecError, UnknownMemberError, UnknownRoleError
from league.models import build_policy, is_weightless
from league.pool import Member, Pool

__all__ = ["LoadedPolicy", "load_policy", "resolve_members", "pool_path"]


def pool_path(path: str | os.PathLike[str]) -> Path:
    """The pool directory of ``path``: a run's output directory (holding ``pool/``) or a pool itself."""
    p = Path(path)
    return p / "pool" if (p / "pool").is_dir() else p


def _best(pool: Pool, role: str) -> Member:
    if role not in pool.roles:
        raise UnknownRoleError(f"pool has no role {role!r}; roles: {list(pool.roles)}")
    # Active members only: a retired member's weights may have been deleted.
    usable = pool.active(role)
    if not usable:
        raise UnknownMemberError(f"role {role!r} has no active member in the pool")
    return max(usable, key=lambda m: (m.conservative, m.id))


def resolve_members(pool: Pool, who: int | str) -> tuple[list[Member], np.ndarray]:
    """The members ``who`` names and the probability of each (one member with weight 1 unless
    ``who`` is ``"population:<role>"``)."""
    if isinstance(who, str) and ":" in who:
        kind, _, role = who.partition(":")
        if kind == "best":
            return [_best(pool, role)], np.ones(1)
        if kind == "population":
            if role not in pool.roles:
                raise UnknownRoleError(f"pool has no role {role!r}; roles: {list(pool.roles)}")
            mix = (pool.state.get("population") or {}).get(role)
            if not mix:
                raise UnknownMemberError(
                    f"the pool has no population policy for role {role!r} (a run writes one after its "
                    "first finished turn); name a member id or 'best:<role>' instead")
            ids = [int(k) for k, w in mix.items() if float(w) > 0]
            weights = np.array([float(mix[str(i)]) for i in ids])
            return [pool.member(i) for i in ids], weights / weights.sum()
        raise UnknownMemberError(f"unknown member {who!r}: expected an id, 'best:<role>' or 'population:<role>'")
    try:
        member_id = int(who)
    except (TypeError, ValueError):
        raise UnknownMemberError(
            f"unknown member {who!r}: expected an id, 'best:<role>' or 'population:<role>'") from None
    if not 0 <= member_id < len(pool):
        raise UnknownMemberError(f"the pool has no member {member_id} (ids 0..{len(pool) - 1})")
    return [pool.member(member_id)], np.ones(1)


class LoadedPolicy:
    """One member (or a population mixture of members) as a callable policy.

    ``predict(obs, mask=None, deterministic=False)`` takes one observation ``[obs_dim]`` (and
    mask ``[n_actions]``) and returns an ``int``, or a batch ``[B, obs_dim]`` and returns ``[B]``
    actions.  Sampling uses the policy's own generator (``seed`` / ``reset(seed)``);
    ``deterministic`` takes the most likely legal action.
    """

    def __init__(self, members: list[Member], weights: np.ndarray, policies: list[Any], *,
                 game: str, seed: int | None = None):
        self.members = members
        self.weights = np.asarray(weights, dtype=np.float64)
        self._policies = policies
        self.game = game
        self.rng = np.random.default_rng(seed)
        self._current = 0
        self.reset()

    @property
    def member(self) -> Member:
        """The member acting now (drawn from the population at each ``reset``)."""
        return self.members[self._current]

    @property
    def name(self) -> str:
        return f"member {self.member.id}"

    def reset(self, seed: int | None = None) -> LoadedPolicy:
        """Start an episode: reseed (if ``seed`` is given) and draw the member that plays it."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        if len(self.members) > 1:
            self._current = int(self.rng.choice(len(self.members), p=self.weights))
        return self

    def probs(self, obs: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Action probabilities ``[B, n_actions]`` of the current member (0 on masked actions);
        discrete actions only (``SpecError`` for multi-discrete and Box members: use ``act``)."""
        policy = self._policies[self._current]
        if getattr(policy, "probs", None) is None:
            raise SpecError(f"{self.name} has {self.member.spec['action']['type']} actions, which have no "
                            "probability table; use act() or predict()")
        return policy.probs(*self._rows(obs, mask))

    @staticmethod
    def _rows(obs: Any, mask: Any) -> tuple[np.ndarray, np.ndarray | None]:
        obs2 = np.atleast_2d(np.asarray(obs, dtype=np.float32))
        return obs2, None if mask is None else np.atleast_2d(np.asarray(mask, dtype=bool))

    def act(self, obs: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """The ``envs`` policy protocol: ``[B]`` actions (``[B, k]`` rows for multi-discrete and Box
        members) drawn with ``rng``."""
        policy = self._policies[self._current]
        if getattr(policy, "probs", None) is None:
            return policy.act(*self._rows(obs, mask), rng)
        return sample_from_probs(self.probs(obs, mask), rng)

    def predict(self, obs: Any, mask: Any = None, deterministic: bool = False) -> Any:
        """An action for one observation (an ``int``; a row for multi-discrete and Box members) or
        a batch of them (``[B]``, ``[B, k]``)."""
        single = np.ndim(obs) == 1
        policy = self._policies[self._current]
        if getattr(policy, "probs", None) is None:
            greedy = getattr(policy, "greedy", None)
            if greedy is not None:
                policy.greedy = deterministic
            try:
                rows = policy.act(*self._rows(obs, mask), self.rng)
            finally:
                if greedy is not None:
                    policy.greedy = greedy
            return rows[0] if single else rows
        p = self.probs(obs, mask)
        actions = p.argmax(axis=1) if deterministic else sample_from_probs(p, self.rng)
        return int(actions[0]) if single else actions

    def __repr__(self) -> str:
        ids = [m.id for m in self.members]
        return f"LoadedPolicy(game={self.game!r}, members={ids}, current={self.member.id})"


def load_policy(pool_or_path: Pool | str | os.PathLike[str], who: int | str, *,
                seed: int | None = None) -> LoadedPolicy:
    """The policy of ``who`` (a member id, ``"best:<role>"`` or ``"population:<role>"``) in a pool
    (a ``Pool``, a pool directory or a run's output directory), opened read-only."""
    if isinstance(pool_or_path, Pool):
        return _load(pool_or_path, who, seed)
    with Pool.open(pool_path(pool_or_path), "r") as pool:
        return _load(pool, who, seed)


def _load(pool: Pool, who: int | str, seed: int | None) -> LoadedPolicy:
    members, weights = resolve_members(pool, who)
    policies = []
    for m in members:
        try:
            w = None if is_weightless(m.spec) else pool.weights(m.id)
        except MissingWeightsError as exc:
            raise MissingWeightsError(f"{exc}; choose an active member (see the leaderboard)") from None
        policies.append(build_policy(m.spec, w, name=f"member {m.id}"))
    return LoadedPolicy(members, weights, policies, game=pool.game, seed=seed)
