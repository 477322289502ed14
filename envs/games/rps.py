"""Rock-paper-scissors (PettingZoo classic ``rps_v2``) on the parallel API."""

from __future__ import annotations

from pettingzoo.classic.rps import rps
from pettingzoo.utils.conversions import aec_to_parallel

from envs.errors import GameConfigError
from envs.game import Game, one_hot_encoder
from envs.games._common import random_reference, seat_roles

SEATS = ("player_0", "player_1")


def game(roles: dict[str, str] | None = None, max_cycles: int = 15) -> Game:
    """Rock-paper-scissors over ``max_cycles`` rounds; the observation (the opponent's last move,
    or "none" before the first) is one-hot encoded to 4 features; 3 unmasked actions."""
    if not isinstance(max_cycles, int) or max_cycles < 1:
        raise GameConfigError(f"rps max_cycles must be a positive integer, got {max_cycles!r}")
    return Game(
        name="rps", seats=SEATS, roles=seat_roles(SEATS, roles), api="parallel", symmetric=True,
        masked=False, env_fn=lambda: aec_to_parallel(rps.raw_env(num_actions=3, max_cycles=max_cycles)),
        obs_dims=dict.fromkeys(SEATS, 4), action_counts=dict.fromkeys(SEATS, 3),
        encoder=one_hot_encoder, references={"random": random_reference},
        config={"roles": roles, "max_cycles": max_cycles})
