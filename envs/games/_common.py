"""Pieces several game definitions share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from envs.errors import GameConfigError
from envs.game import Game
from envs.opponents import Policy
from envs.reference import UniformRandomPolicy, uniform_policy


def random_reference(game: Game) -> Policy:
    """The uniform-random reference: every game has one.

    Seats whose action specs differ (Box bounds, MultiDiscrete components, unmasked discrete
    actions of different counts) get the policy of their own spec, told apart by observation
    length, since a reference sees only the rows.
    """
    counts = set(game.action_counts.values())
    if game.action_specs is None or (all(sp["type"] == "discrete" for sp in game.action_specs.values())
                                     and (len(counts) == 1 or game.masked)):
        # One count for every seat, or a mask that tells each seat's legal actions.
        return UniformRandomPolicy(max(counts))
    specs = {s: game.action_spec(s) for s in game.seats}
    first = specs[game.seats[0]]
    if all(sp == first for sp in specs.values()):
        return uniform_policy(first)
    by_dim: dict[int, dict] = {}
    for s, sp in specs.items():
        if by_dim.setdefault(game.obs_dim(s), sp) != sp:
            raise GameConfigError(f"game {game.name!r}: seats with observation length {game.obs_dim(s)} have "
                                  "different action spaces, so one random reference cannot tell them apart")
    return _BySize({d: uniform_policy(sp) for d, sp in by_dim.items()})


class _BySize:
    """Per-seat uniform-random policies, chosen by the observation row's length."""

    def __init__(self, policies: dict[int, Policy]):
        self.policies = policies

    def act(self, obs: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        return self.policies[obs.shape[1]].act(obs, mask, rng)


def seat_roles(seats: Sequence[str], roles: dict[str, str] | None, default: dict[str, str] | None = None
               ) -> dict[str, str]:
    """The seat -> role binding: ``default`` (every seat its own role if None), overridden by ``roles``."""
    bound = dict(default) if default is not None else {s: s for s in seats}
    if roles is not None:
        unknown = sorted(set(roles) - set(seats))
        if unknown:
            raise GameConfigError(f"roles names unknown seat(s) {unknown}; seats: {list(seats)}")
        bound.update({s: str(r) for s, r in roles.items()})
    return bound
