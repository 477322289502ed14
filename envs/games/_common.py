"""Pieces several game definitions share."""

from __future__ import annotations

from collections.abc import Sequence

from envs.errors import GameConfigError
from envs.game import Game
from envs.opponents import Policy
from envs.reference import UniformRandomPolicy


def random_reference(game: Game) -> Policy:
    """The uniform-random reference: every game has one."""
    return UniformRandomPolicy(max(game.action_counts.values()))


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
