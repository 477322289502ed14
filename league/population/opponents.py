"""The ``envs`` opponent-source protocol implemented on top of the pool and a sampler.

The self-play env asks, at each redraw point, for a member id per NPC seat
(``pick``) and for the policy of a member (``load``; the env caches it).  Here a
seat's candidates are the active members of the role bound to that seat, and a
sampling scheme (``league.population.sampling``) weighs them by the learner's estimated
chance of beating each.  The candidate lists are a snapshot taken when the
source is built: the pool only changes between training turns.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from envs.opponents import MemberId, Policy
from league.errors import UnknownMemberError
from league.models import build_policy, is_weightless
from league.pool import Member, Pool

__all__ = ["PoolOpponents", "MemberLoader"]

Weigher = Callable[[Sequence[Member]], np.ndarray]
"""The sampling distribution over one seat's candidates (a scheme bound to the learner's rating)."""


class MemberLoader:
    """Builds NPC policies from pool members: spec + weights -> policy."""

    def __init__(self, pool: Pool):
        self.pool = pool

    def __call__(self, member_id: MemberId) -> Policy:
        if not isinstance(member_id, (int, np.integer)):
            raise UnknownMemberError(f"{member_id!r} is not a pool member id (an integer)")
        member = self.pool.member(int(member_id))
        weights = None if is_weightless(member.spec) else self.pool.weights(member.id)
        # Named, so a member seated in another game's seat says which one it is.
        return build_policy(member.spec, weights, name=f"member {member.id}")


class PoolOpponents:
    """Opponents for every NPC seat, drawn from the active members of the seat's role.

    ``weigh`` gives the sampling distribution over one role's candidates; it is
    computed once per role when the source is built, so a redraw costs one generator
    call per seat.  A weigher that learns from the turn's games (one with ``record(member_id,
    score)``, e.g. ``online.OnlineWinRates``) is fed every finished training episode through
    ``observe`` and the distributions are recomputed every ``refresh`` episodes.
    """

    def __init__(self, pool: Pool, roles: Mapping[str, str], weigh: Weigher, *,
                 candidates: Mapping[str, Sequence[Member]] | None = None,
                 loader: Callable[[MemberId], Policy] | None = None, refresh: int = 64):
        self.roles = dict(roles)
        self.weigh = weigh
        self.refresh = int(refresh)
        self._since_refresh = 0
        self.loader = loader if loader is not None else MemberLoader(pool)
        if candidates is None:
            candidates = {role: pool.active(role) for role in set(self.roles.values())}
        self.candidates = {role: list(ms) for role, ms in candidates.items()}
        self.probs = {role: np.asarray(weigh(ms), dtype=float) for role, ms in self.candidates.items() if ms}

    def pick(self, seats: Sequence[str], rng: np.random.Generator) -> dict[str, MemberId]:
        seating: dict[str, MemberId] = {}
        for seat in seats:
            pool_of_role = self.candidates.get(self.roles[seat], [])
            if not pool_of_role:
                raise UnknownMemberError(f"no active member of role {self.roles[seat]!r} to seat in {seat!r}")
            k = int(rng.choice(len(pool_of_role), p=self.probs[self.roles[seat]]))
            seating[seat] = pool_of_role[k].id
        return seating

    def load(self, member_id: MemberId) -> Policy:
        return self.loader(member_id)

    @property
    def adaptive(self) -> bool:
        """True when the weights follow the learner's results (``observe`` does something)."""
        return callable(getattr(self.weigh, "record", None))

    def observe(self, outcome: Any) -> None:
        """A finished training episode (an ``envs.Outcome``): the learner's score against each
        NPC seat's member goes to the weigher; every ``refresh`` episodes the weights are redone."""
        record = getattr(self.weigh, "record", None)
        if record is None or outcome.learner_seat is None:
            return
        mine = outcome.ranks[outcome.learner_seat]
        for seat, member_id in outcome.seating.items():
            if seat == outcome.learner_seat or not isinstance(member_id, (int, np.integer)):
                continue
            theirs = outcome.ranks[seat]
            record(int(member_id), 1.0 if mine < theirs else 0.0 if mine > theirs else 0.5)
        self._since_refresh += 1
        if self._since_refresh >= self.refresh:
            self._since_refresh = 0
            self.probs = {role: np.asarray(self.weigh(ms), dtype=float)
                          for role, ms in self.candidates.items() if ms}

    def with_loader(self, loader: Callable[[MemberId], Policy]) -> PoolOpponents:
        """The same seats, candidates and probabilities (so ``pick`` draws exactly what this
        source draws), with policies from ``loader``: e.g. for a Ray worker, which never opens
        the pool."""
        shipped = copy.copy(self)
        shipped.loader = loader
        return shipped


def describe(member: Member) -> dict[str, Any]:
    """A short JSON-able description of a member for logs."""
    return {"id": member.id, "role": member.role, "version": member.version,
            "mu": round(member.mu, 3), "sigma": round(member.sigma, 3)}
